//! The queue of embedded mode: bounded channels inside the process.
//!
//! Messages are moved, not serialised. A rejected or abandoned delivery is sent again with
//! its delivery count raised. A task past the delivery limit, or rejected without requeue,
//! goes to the dead-task channel, as RabbitMQ dead-letters it, so that the results service
//! records a failed result and no task stays queued forever; a result past the limit is
//! dropped with an error log.
//! Closing it ends its consumers and refuses publishes, as closing the RabbitMQ queue does.

use std::sync::Arc;

use async_trait::async_trait;
use bazaar_domain::{ResultMessage, Signal, SignalTopic, TaskMessage};
use bazaar_telemetry::TraceContext;
use bazaar_telemetry::metrics::metrics;
use tokio::sync::{Mutex, broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::{Acknowledge, Consumer, Delivery, QueueError, Subscription, TaskQueue};

struct Envelope<T> {
    message: T,
    previous_deliveries: u32,
    trace_context: TraceContext,
}

struct Channel<T> {
    sender: mpsc::Sender<Envelope<T>>,
    receiver: Arc<Mutex<mpsc::Receiver<Envelope<T>>>>,
    delivery_limit: u32,
    /// The queue's name in metrics: `tasks` or `results`.
    label: &'static str,
    /// Cancelled by [`TaskQueue::close`]. The channel itself never closes: every consumer
    /// holds a sender, to send rejected deliveries again.
    closed: CancellationToken,
    /// Where given-up messages go, if anywhere.
    dead_letters: Option<mpsc::Sender<Envelope<T>>>,
}

impl<T: Send + Clone + 'static> Channel<T> {
    fn new(
        capacity: usize,
        delivery_limit: u32,
        label: &'static str,
        closed: CancellationToken,
    ) -> Self {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        Channel {
            sender,
            receiver: Arc::new(Mutex::new(receiver)),
            delivery_limit,
            label,
            closed,
            dead_letters: None,
        }
    }

    /// The channel, sending what it gives up to `dead_letters`.
    fn dead_lettering_to(mut self, dead_letters: &Channel<T>) -> Self {
        self.dead_letters = Some(dead_letters.sender.clone());
        self
    }

    fn publish(&self, message: T) -> Result<(), QueueError> {
        if self.closed.is_cancelled() {
            metrics().queue.published(self.label, false);
            return Err(closed());
        }
        let sent = self
            .sender
            .try_send(Envelope {
                message,
                previous_deliveries: 0,
                trace_context: TraceContext::current(),
            })
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => QueueError::Full,
                mpsc::error::TrySendError::Closed(_) => closed(),
            });
        metrics().queue.published(self.label, sent.is_ok());
        sent
    }

    fn consumer(&self) -> ChannelConsumer<T> {
        ChannelConsumer {
            receiver: self.receiver.clone(),
            sender: self.sender.clone(),
            delivery_limit: self.delivery_limit,
            label: self.label,
            closed: self.closed.clone(),
            dead_letters: self.dead_letters.clone(),
        }
    }
}

fn closed() -> QueueError {
    QueueError::Unavailable("the queue is closed".to_owned())
}

struct ChannelConsumer<T> {
    receiver: Arc<Mutex<mpsc::Receiver<Envelope<T>>>>,
    sender: mpsc::Sender<Envelope<T>>,
    delivery_limit: u32,
    label: &'static str,
    closed: CancellationToken,
    dead_letters: Option<mpsc::Sender<Envelope<T>>>,
}

#[async_trait]
impl<T: Send + Clone + 'static> Consumer<T> for ChannelConsumer<T> {
    async fn next(&mut self) -> Option<Delivery<T>> {
        let receiving = async { self.receiver.lock().await.recv().await };
        let envelope = tokio::select! {
            // Ends at once, whatever is still queued.
            biased;
            () = self.closed.cancelled() => return None,
            envelope = receiving => envelope?,
        };
        metrics().queue.consumed(self.label, true);
        let acknowledger = Requeue {
            envelope: Envelope {
                message: envelope.message.clone(),
                previous_deliveries: envelope.previous_deliveries,
                trace_context: envelope.trace_context.clone(),
            },
            sender: self.sender.clone(),
            delivery_limit: self.delivery_limit,
            dead_letters: self.dead_letters.clone(),
        };
        Some(
            Delivery::new(
                envelope.message,
                envelope.previous_deliveries,
                Box::new(acknowledger),
            )
            .with_trace_context(envelope.trace_context),
        )
    }
}

/// Settles an in-process delivery: acknowledging forgets the copy, rejecting sends it again.
struct Requeue<T> {
    envelope: Envelope<T>,
    sender: mpsc::Sender<Envelope<T>>,
    delivery_limit: u32,
    dead_letters: Option<mpsc::Sender<Envelope<T>>>,
}

impl<T: Send + 'static> Requeue<T> {
    fn send_again(self) {
        let deliveries = self.envelope.previous_deliveries + 1;
        if deliveries >= self.delivery_limit {
            self.give_up("it reached the delivery limit");
            return;
        }
        let envelope = Envelope {
            message: self.envelope.message,
            previous_deliveries: deliveries,
            trace_context: self.envelope.trace_context,
        };
        send_even_when_full(self.sender, envelope);
    }

    /// Dead-letters the message, or drops it with an error log where there is no dead-letter
    /// channel.
    fn give_up(self, why: &str) {
        match self.dead_letters {
            Some(dead_letters) => {
                tracing::warn!("dead-lettering a message: {why}");
                let envelope = Envelope {
                    previous_deliveries: 0,
                    ..self.envelope
                };
                send_even_when_full(dead_letters, envelope);
            }
            None => tracing::error!("dropping a message: {why}"),
        }
    }
}

/// Sends a copy even when the channel is at capacity: it was counted when first published.
fn send_even_when_full<T: Send + 'static>(
    sender: mpsc::Sender<Envelope<T>>,
    envelope: Envelope<T>,
) {
    if let Err(mpsc::error::TrySendError::Full(envelope)) = sender.try_send(envelope) {
        tokio::spawn(async move {
            let _ = sender.send(envelope).await;
        });
    }
}

#[async_trait]
impl<T: Send + 'static> Acknowledge for Requeue<T> {
    async fn ack(self: Box<Self>) -> Result<(), QueueError> {
        Ok(())
    }

    async fn reject(self: Box<Self>, requeue: bool) -> Result<(), QueueError> {
        if requeue {
            self.send_again();
        } else {
            self.give_up("it was rejected without requeue");
        }
        Ok(())
    }

    fn abandon(self: Box<Self>) {
        self.send_again();
    }
}

/// The in-process queue of embedded mode.
pub struct InProcessQueue {
    tasks: Channel<TaskMessage>,
    results: Channel<ResultMessage>,
    /// Tasks given up: past the delivery limit, or rejected without requeue.
    dead_tasks: Channel<TaskMessage>,
    /// Cancellations, to every worker: apart from the output, so that a follower that falls
    /// behind never makes a worker miss one.
    cancellations: broadcast::Sender<Signal>,
    /// Starts and output, to every follower, which keeps those of its task.
    task_signals: broadcast::Sender<Signal>,
    closed: CancellationToken,
}

/// How many signals a slow subscriber may fall behind before it misses some.
const SIGNAL_BACKLOG: usize = 4096;

impl InProcessQueue {
    /// A queue holding at most `capacity` messages of each kind; a message is delivered at
    /// most `delivery_limit` times.
    pub fn new(capacity: usize, delivery_limit: u32) -> Self {
        let closed = CancellationToken::new();
        let dead_tasks = Channel::new(capacity, delivery_limit, "dead_tasks", closed.clone());
        InProcessQueue {
            tasks: Channel::new(capacity, delivery_limit, "tasks", closed.clone())
                .dead_lettering_to(&dead_tasks),
            results: Channel::new(capacity, delivery_limit, "results", closed.clone()),
            dead_tasks,
            cancellations: broadcast::channel(SIGNAL_BACKLOG).0,
            task_signals: broadcast::channel(SIGNAL_BACKLOG).0,
            closed,
        }
    }
}

#[async_trait]
impl TaskQueue for InProcessQueue {
    async fn publish_task(&self, task: TaskMessage) -> Result<(), QueueError> {
        self.tasks.publish(task)
    }

    async fn publish_result(&self, result: ResultMessage) -> Result<(), QueueError> {
        self.results.publish(result)
    }

    async fn consume_tasks(&self) -> Result<Box<dyn Consumer<TaskMessage>>, QueueError> {
        Ok(Box::new(self.tasks.consumer()))
    }

    async fn consume_results(&self) -> Result<Box<dyn Consumer<ResultMessage>>, QueueError> {
        Ok(Box::new(self.results.consumer()))
    }

    async fn consume_dead_tasks(
        &self,
    ) -> Result<Option<Box<dyn Consumer<TaskMessage>>>, QueueError> {
        Ok(Some(Box::new(self.dead_tasks.consumer())))
    }

    async fn publish_signal(&self, signal: Signal) -> Result<(), QueueError> {
        if self.closed.is_cancelled() {
            return Err(closed());
        }
        // Nobody listening is not an error: the signal is simply not seen.
        let _ = match signal {
            Signal::Cancel(_) => self.cancellations.send(signal),
            Signal::Running { .. } | Signal::Output { .. } => self.task_signals.send(signal),
        };
        Ok(())
    }

    async fn subscribe(&self, topic: SignalTopic) -> Result<Box<dyn Subscription>, QueueError> {
        let channel = match topic {
            SignalTopic::Cancellations => &self.cancellations,
            SignalTopic::Task(_) => &self.task_signals,
        };
        Ok(Box::new(SignalReceiver {
            receiver: channel.subscribe(),
            topic,
            closed: self.closed.clone(),
        }))
    }

    async fn check(&self) -> Result<(), QueueError> {
        if self.closed.is_cancelled() {
            return Err(closed());
        }
        Ok(())
    }

    /// Ends the consumers and refuses publishes from now on. Unsettled deliveries are not
    /// waited for: in one process they have nowhere else to go.
    async fn close(&self) {
        self.closed.cancel();
    }
}

/// One subscriber's view of the broadcast: the signals of its topic.
struct SignalReceiver {
    receiver: broadcast::Receiver<Signal>,
    topic: SignalTopic,
    closed: CancellationToken,
}

#[async_trait]
impl Subscription for SignalReceiver {
    async fn next(&mut self) -> Option<Signal> {
        loop {
            let received = tokio::select! {
                biased;
                () = self.closed.cancelled() => return None,
                received = self.receiver.recv() => received,
            };
            match received {
                Ok(signal) if self.topic.admits(&signal) => return Some(signal),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, topic = ?self.topic, "a signal subscriber fell behind and missed signals");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bazaar_domain::{AgentId, Sha256, TaskId, TaskMessage, UserId};

    use super::*;

    fn task() -> TaskMessage {
        TaskMessage {
            task_id: TaskId::generate(),
            agent_id: AgentId::generate(),
            owner: UserId::generate(),
            binary_hash: Sha256::digest(b"wasm"),
            input: Arc::from(&b"input"[..]),
            timeout_ms: 1000,
        }
    }

    #[tokio::test]
    async fn a_rejected_task_is_delivered_again_with_its_count_raised() {
        let queue = InProcessQueue::new(8, 3);
        let sent = task();
        queue.publish_task(sent.clone()).await.unwrap();
        let mut consumer = queue.consume_tasks().await.unwrap();
        let first = consumer.next().await.unwrap();
        assert_eq!(first.previous_deliveries, 0);
        first.reject(true).await.unwrap();
        let second = consumer.next().await.unwrap();
        assert_eq!(second.message, sent);
        assert_eq!(second.previous_deliveries, 1);
        second.ack().await.unwrap();
    }

    #[tokio::test]
    async fn a_dropped_delivery_comes_back_until_the_delivery_limit_then_is_dead_lettered() {
        let queue = InProcessQueue::new(8, 2);
        let sent = task();
        queue.publish_task(sent.clone()).await.unwrap();
        let mut consumer = queue.consume_tasks().await.unwrap();
        drop(consumer.next().await.unwrap());
        drop(consumer.next().await.unwrap());
        let nothing =
            tokio::time::timeout(std::time::Duration::from_millis(50), consumer.next()).await;
        assert!(
            nothing.is_err(),
            "the message should be gone after two deliveries"
        );
        let mut dead = queue.consume_dead_tasks().await.unwrap().unwrap();
        let given_up = dead.next().await.unwrap();
        assert_eq!(given_up.message, sent);
        given_up.ack().await.unwrap();
    }

    #[tokio::test]
    async fn a_full_queue_refuses_new_tasks() {
        let queue = InProcessQueue::new(1, 3);
        queue.publish_task(task()).await.unwrap();
        assert!(matches!(
            queue.publish_task(task()).await,
            Err(QueueError::Full)
        ));
    }
}
