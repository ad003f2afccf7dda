//! The task queue between the gateway, the workers and the results service.
//!
//! Two message kinds travel through it durably: [`TaskMessage`]s from the gateway to a
//! worker, and [`ResultMessage`]s (a start, then a result) from a worker to the results
//! service. Beside them travel [`Signal`]s, which are not kept: cancellations to every
//! worker, and a task's start and output to whoever follows it at that moment. Delivery is at least once: a
//! consumer acknowledges a [`Delivery`] only after its work is safe elsewhere, and a rejected
//! delivery comes back (up to the delivery limit). Embedded mode uses the in-process queue
//! here; distributed mode uses RabbitMQ behind the same trait (durable quorum queues, publisher
//! confirms, a dead-letter queue for messages past the delivery limit).
//!
//! A message carries the trace context of the span that published it (in AMQP headers, or
//! beside the message in process), so that its consumer's span continues the same trace:
//! see [`Delivery::trace_context`]. Both backends count what they publish and consume in
//! [`bazaar_telemetry::metrics`].

#![warn(missing_docs)]

mod in_process;
mod location;
mod rabbitmq;

use async_trait::async_trait;
use bazaar_domain::{ErrorCode, ResultMessage, Signal, SignalTopic, TaskMessage};
use bazaar_telemetry::TraceContext;

pub use in_process::InProcessQueue;
pub use location::QueueLocation;
pub use rabbitmq::{RabbitMqConfig, RabbitMqQueue};

/// A queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue holds as many messages as it may; the caller should shed load.
    #[error("the task queue is full")]
    Full,
    /// The broker cannot be reached, or did not confirm the message.
    #[error("the task queue is unavailable: {0}")]
    Unavailable(String),
}

impl QueueError {
    /// What this failure means to a caller on any protocol: either way, try again later.
    pub fn code(&self) -> ErrorCode {
        match self {
            QueueError::Full | QueueError::Unavailable(_) => ErrorCode::Unavailable,
        }
    }
}

/// The queue as the services see it.
#[async_trait]
pub trait TaskQueue: Send + Sync + 'static {
    /// Queues a task; returns once the queue has taken responsibility for it. The message
    /// carries the trace context of the current span.
    async fn publish_task(&self, task: TaskMessage) -> Result<(), QueueError>;

    /// Queues a result; returns once the queue has taken responsibility for it.
    async fn publish_result(&self, result: ResultMessage) -> Result<(), QueueError>;

    /// Starts consuming tasks (a worker).
    async fn consume_tasks(&self) -> Result<Box<dyn Consumer<TaskMessage>>, QueueError>;

    /// Starts consuming results (the results service).
    async fn consume_results(&self) -> Result<Box<dyn Consumer<ResultMessage>>, QueueError>;

    /// Starts consuming the tasks that were given up: rejected without requeue, or past the
    /// delivery limit (a task that keeps killing workers). The results service records a
    /// failed result for each, so that no task stays queued forever. Both backends have one
    /// (the in-process queue keeps a channel of its own); `None` is for a backend without.
    async fn consume_dead_tasks(
        &self,
    ) -> Result<Option<Box<dyn Consumer<TaskMessage>>>, QueueError>;

    /// Sends a signal to whoever subscribed to its topic now; nobody else ever sees it. Best
    /// effort: a signal is not stored, and one lost with a broken connection is not resent.
    async fn publish_signal(&self, signal: Signal) -> Result<(), QueueError>;

    /// Receives the signals of `topic` published from the moment it returns (if the broker
    /// cannot be reached, from when it can), until dropped. A subscription
    /// outlives broken connections (what is published meanwhile is missed).
    async fn subscribe(&self, topic: SignalTopic) -> Result<Box<dyn Subscription>, QueueError>;

    /// Whether the queue can be reached; used by readiness checks.
    async fn check(&self) -> Result<(), QueueError>;

    /// Closes the queue at the end of a graceful shutdown, once every delivery is settled:
    /// what was sent (acknowledgements included) reaches the broker before the process
    /// exits. Publishing afterwards fails.
    async fn close(&self) {}
}

/// A stream of deliveries.
#[async_trait]
pub trait Consumer<T>: Send {
    /// The next delivery; `None` once the queue is closed.
    async fn next(&mut self) -> Option<Delivery<T>>;
}

/// A stream of signals of one topic.
#[async_trait]
pub trait Subscription: Send {
    /// The next signal; `None` once the queue is closed.
    async fn next(&mut self) -> Option<Signal>;
}

/// One message handed to a consumer, to be acknowledged or rejected exactly once.
/// Dropping it unacknowledged counts as a rejection with requeue.
pub struct Delivery<T> {
    /// Already decoded: a message that does not decode never becomes a delivery (it is
    /// dead-lettered; in process, messages are not encoded at all).
    pub message: T,
    /// How many times this message was delivered before (0 on the first delivery).
    pub previous_deliveries: u32,
    /// The trace context of the span that published the message (empty when traces are
    /// off): the consumer's span for this delivery continues that trace.
    pub trace_context: TraceContext,
    acknowledger: Option<Box<dyn Acknowledge>>,
}

impl<T> std::fmt::Debug for Delivery<T> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Delivery")
            .field("previous_deliveries", &self.previous_deliveries)
            .finish_non_exhaustive()
    }
}

/// How a backend settles a delivery.
#[async_trait]
pub trait Acknowledge: Send {
    /// Backs [`Delivery::ack`]. `Unavailable` when the link to the broker is gone before the
    /// acknowledgement is sent; the message will then be delivered again.
    async fn ack(self: Box<Self>) -> Result<(), QueueError>;
    /// Backs [`Delivery::reject`]: with `requeue` the message is delivered again, without it
    /// it is dead-lettered (a result in process, which has no dead-letter channel, is dropped
    /// with an error log).
    async fn reject(self: Box<Self>, requeue: bool) -> Result<(), QueueError>;
    /// Called when a delivery is dropped unsettled; must not block.
    fn abandon(self: Box<Self>);
}

impl<T> Delivery<T> {
    /// Made by a backend's consumer: `previous_deliveries` as the backend counts them, and
    /// `acknowledger` to settle the message. The trace context starts empty; see
    /// [`with_trace_context`](Self::with_trace_context).
    pub fn new(message: T, previous_deliveries: u32, acknowledger: Box<dyn Acknowledge>) -> Self {
        Delivery {
            message,
            previous_deliveries,
            trace_context: TraceContext::default(),
            acknowledger: Some(acknowledger),
        }
    }

    /// The delivery with the trace context its message arrived with.
    pub fn with_trace_context(mut self, trace_context: TraceContext) -> Self {
        self.trace_context = trace_context;
        self
    }

    /// The work is done and safe elsewhere; the queue may forget the message.
    pub async fn ack(mut self) -> Result<(), QueueError> {
        match self.acknowledger.take() {
            Some(acknowledger) => acknowledger.ack().await,
            None => Ok(()),
        }
    }

    /// The work failed; with `requeue` the message is delivered again (subject to the
    /// delivery limit), without it the message is dead-lettered.
    pub async fn reject(mut self, requeue: bool) -> Result<(), QueueError> {
        match self.acknowledger.take() {
            Some(acknowledger) => acknowledger.reject(requeue).await,
            None => Ok(()),
        }
    }
}

impl<T> Drop for Delivery<T> {
    fn drop(&mut self) {
        if let Some(acknowledger) = self.acknowledger.take() {
            acknowledger.abandon();
        }
    }
}
