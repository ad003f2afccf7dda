//! Bazaar's vocabulary, shared by every service.
//!
//! Values that cross a boundary (HTTP, the queue, the database) are parsed into the newtypes
//! here once, at the edge; inside the services an `AgentId` is always a well-formed agent id
//! and a `Price` is never negative. The records (`Agent`, `TaskResult`, …) and the messages
//! that travel through the queue live here too, so every backend speaks the same types.

#![warn(missing_docs)]

mod error;
mod ids;
mod messages;
mod records;
mod secret;
mod values;
mod webhooks;

pub use error::{ErrorCode, ParseError};
pub use ids::{AgentId, TaskId, UserId};
pub use messages::{OutputStream, ResultMessage, Signal, SignalTopic, TaskMessage};
pub use records::{
    Agent, AgentChanges, AgentFilter, AgentSort, AgentStats, AgentStatus, Badge,
    IDEMPOTENCY_WINDOW, IdempotencyClaim, NewAgent, NewReview, Page, ResultFilter, ResultStatus,
    Review, Task, TaskProgress, TaskResult, TaskRun, TaskStarted,
};
pub use secret::{REDACTED, SecretUrl};

#[doc(hidden)]
pub use serde as __serde;
pub use values::{
    AgentName, Capabilities, Capability, IdempotencyKey, Password, Price, Sha256, Username, Version,
};
pub use webhooks::{
    DeliveryStatus, MAX_WEBHOOK_URL_LENGTH, WebhookAttempt, WebhookDelivery, WebhookEvent,
    WebhookSecret, WebhookSubscription,
};
