//! Webhooks: a task's owner is told of its events (`running`, `completed`) by an HTTP POST
//! to the URL the task named, signed as the Standard Webhooks specification says.
//!
//! The messages themselves are made by the database: triggers on `task_results` and
//! `task_runs` insert them into an outbox (`webhook_deliveries`) in the transaction that
//! stores the fact they tell of, so no service has to remember to send anything and a
//! restart loses nothing. This crate holds what the rest takes:
//!
//! - [`signing`]: each user's `whsec_…` secret and the `webhook-signature` of a message;
//! - [`targets`]: the guard against server-side request forgery, applied when a task is
//!   submitted (by the gateway) and again when a message is sent (by its own resolver);
//! - [`RetrySchedule`]: exponential backoff;
//! - [`Deliverer`]: the webhooks service (`bazaar --target webhooks`, and part of `all`),
//!   which claims due messages, sends them and records every attempt. It runs apart from
//!   the results service so that a slow or dead receiver never holds up storing results,
//!   and so that it can be scaled or stopped on its own; it needs only the database.

#![warn(missing_docs)]

mod deliverer;
pub mod payload;
mod schedule;
pub mod signing;
pub mod targets;

use std::time::Duration;

pub use deliverer::{AttemptReport, Deliverer};
pub use schedule::{BACKOFF_FACTOR, RetrySchedule};
pub use targets::{TargetPolicy, TargetRefused};

/// The `User-Agent` of every message.
pub const USER_AGENT: &str = concat!("Bazaar-Webhooks/", env!("CARGO_PKG_VERSION"));

/// How the webhooks service delivers.
#[derive(Debug, Clone)]
pub struct WebhooksConfig {
    /// How long one attempt may take, connecting included, before it is cut off and
    /// counted as failed.
    pub timeout: Duration,
    /// When failed messages are tried again, and how often.
    pub schedule: RetrySchedule,
    /// How often the outbox is looked at for due messages while there are none.
    pub poll_interval: Duration,
    /// Attempts in flight at once.
    pub concurrency: usize,
    /// Private and other refused targets the operator allows anyway.
    pub allowed_targets: TargetPolicy,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            timeout: Duration::from_secs(5),
            schedule: RetrySchedule::default(),
            poll_interval: Duration::from_millis(250),
            concurrency: 32,
            allowed_targets: TargetPolicy::default(),
        }
    }
}
