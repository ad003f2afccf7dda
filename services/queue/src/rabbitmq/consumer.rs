//! Consuming one queue: a subscription that survives reconnections, and the settling of its
//! deliveries.

use std::sync::Arc;

use async_trait::async_trait;
use bazaar_telemetry::TraceContext;
use bazaar_telemetry::metrics::metrics;
use futures_util::{FutureExt, StreamExt};
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Acker, BasicProperties, Channel};

use super::link::{Link, Session};
use super::{Settings, declare_topology};
use crate::{Acknowledge, Consumer, Delivery, QueueError};

/// The three queues a consumer can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Tasks,
    Results,
    /// Tasks that were given up; nothing is dead-lettered from here.
    DeadTasks,
}

impl Kind {
    /// The queue's name in metrics.
    fn label(self) -> &'static str {
        match self {
            Kind::Tasks => "tasks",
            Kind::Results => "results",
            Kind::DeadTasks => "dead_tasks",
        }
    }
}

/// What is consumed, and how.
pub(super) struct Route<T> {
    pub(super) kind: Kind,
    pub(super) queue: String,
    /// Where the broker moves a message past the delivery limit or rejected without
    /// requeue; `None` where such a message is dropped.
    pub(super) dead_letter_queue: Option<String>,
    /// Decodes a message given its AMQP `type` property, refusing an unexpected type.
    pub(super) decode: fn(Option<&str>, &[u8]) -> Result<T, String>,
}

/// A subscription to one queue on one session.
struct Subscription {
    session: Arc<Session>,
    channel: Channel,
    consumer: lapin::Consumer,
}

impl Subscription {
    /// Cancels the subscription and hands back the deliveries that arrived but were never
    /// handed out, rather than leaving them unacknowledged until the channel closes (which
    /// waits for the deliveries still being worked on).
    fn release(self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let Subscription {
                channel,
                mut consumer,
                ..
            } = self;
            if !channel.status().connected() {
                return;
            }
            let _ = channel
                .basic_cancel(consumer.tag(), BasicCancelOptions::default())
                .await;
            while let Some(Some(Ok(delivery))) = consumer.next().now_or_never() {
                let _ = delivery
                    .acker
                    .reject(BasicRejectOptions { requeue: true })
                    .await;
            }
        });
    }
}

/// Consumes one queue, subscribing again on a new connection whenever the old one dies.
pub(super) struct QueueConsumer<T> {
    link: Link,
    route: Arc<Route<T>>,
    subscription: Option<Subscription>,
    /// The generation of the last session whose connection failed under this consumer: the
    /// next subscription waits for a newer one.
    failed_generation: u64,
}

impl<T> QueueConsumer<T> {
    pub(super) fn new(link: Link, route: Route<T>) -> Self {
        QueueConsumer {
            link,
            route: Arc::new(route),
            subscription: None,
            failed_generation: 0,
        }
    }

    /// Subscribes on the current session, waiting for one and retrying with backoff;
    /// `None` once the queue is closed.
    async fn subscribe(&mut self) -> Option<Subscription> {
        let settings = self.link.settings().clone();
        let mut failures: u32 = 0;
        loop {
            let session = self
                .link
                .session_for_consume(self.failed_generation)
                .await?;
            match open_subscription(&session, &settings, &self.route).await {
                Ok(subscription) => return Some(subscription),
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(queue = %self.route.queue, %error, failures, "failed to subscribe; retrying");
                    if !session.connection.status().connected() {
                        self.link.report_broken(session.generation);
                        self.failed_generation = session.generation;
                    }
                }
            }
            tokio::select! {
                _ = self.link.shutting_down() => return None,
                _ = tokio::time::sleep(settings.reconnect_delay(failures)) => {}
            }
        }
    }

    /// Drops the subscription after it failed; the connection is replaced if it is the
    /// connection that failed.
    fn drop_subscription(&mut self) {
        if let Some(subscription) = self.subscription.take() {
            if !subscription.session.connection.status().connected() {
                self.link.report_broken(subscription.session.generation);
                self.failed_generation = subscription.session.generation;
            }
            subscription.release();
        }
    }
}

impl<T> Drop for QueueConsumer<T> {
    fn drop(&mut self) {
        if let Some(subscription) = self.subscription.take() {
            subscription.release();
        }
    }
}

async fn open_subscription<T>(
    session: &Arc<Session>,
    settings: &Settings,
    route: &Route<T>,
) -> Result<Subscription, lapin::Error> {
    let channel = session.connection.create_channel().await?;
    // Again, in case the queue was deleted under a live connection.
    let dead_letters = declare_topology(&channel, settings).await?;
    if route.kind == Kind::Results && dead_letters.results > 0 {
        tracing::error!(
            queue = %settings.names.results_dead,
            count = dead_letters.results,
            "results were dead-lettered: they were never stored, and their tasks will look unfinished"
        );
    }
    channel
        .basic_qos(settings.config.prefetch.max(1), BasicQosOptions::default())
        .await?;
    let consumer = channel
        .basic_consume(
            route.queue.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(Subscription {
        session: session.clone(),
        channel,
        consumer,
    })
}

#[async_trait]
impl<T: Send + Sync + 'static> Consumer<T> for QueueConsumer<T> {
    async fn next(&mut self) -> Option<Delivery<T>> {
        loop {
            if self.subscription.is_none() {
                self.subscription = Some(self.subscribe().await?);
            }
            let Some(subscription) = self.subscription.as_mut() else {
                continue;
            };
            let item = tokio::select! {
                // A closed queue hands out nothing more, though deliveries wait in the
                // prefetch buffer: they could not be settled any more.
                biased;
                () = self.link.shutting_down() => return None,
                item = subscription.consumer.next() => item,
            };
            match item {
                Some(Ok(delivery)) => {
                    let channel = subscription.channel.clone();
                    let settings = self.link.settings();
                    if let Some(delivery) = accept(settings, &self.route, delivery, channel) {
                        return Some(delivery);
                    }
                }
                Some(Err(error)) => {
                    tracing::warn!(queue = %self.route.queue, %error, "the subscription failed; subscribing again");
                    self.drop_subscription();
                }
                None => {
                    tracing::warn!(queue = %self.route.queue, "the broker cancelled the subscription; subscribing again");
                    self.drop_subscription();
                }
            }
        }
    }
}

/// Turns a broker delivery into a [`Delivery`]; a message that does not decode is rejected
/// without requeue (dead-lettered) with an error log, and `None` returned.
fn accept<T: 'static>(
    settings: &Settings,
    route: &Arc<Route<T>>,
    delivery: lapin::message::Delivery,
    channel: Channel,
) -> Option<Delivery<T>> {
    let properties = &delivery.properties;
    let previous_deliveries = delivery_count(properties);
    let message_id = properties
        .message_id()
        .as_ref()
        .map(|id| id.as_str().to_owned())
        .unwrap_or_default();
    let kind = properties.kind().as_ref().map(|kind| kind.as_str());
    let decoded = (route.decode)(kind, &delivery.data);
    metrics()
        .queue
        .consumed(route.kind.label(), decoded.is_ok());
    let message = match decoded {
        Ok(message) => message,
        Err(reason) => {
            match &route.dead_letter_queue {
                Some(dead_letter_queue) => tracing::error!(
                    queue = %route.queue, message_id, %reason, %dead_letter_queue,
                    "a message does not decode; it goes to the dead-letter queue"
                ),
                None => tracing::error!(
                    queue = %route.queue, message_id, %reason,
                    "a message does not decode; dropping it"
                ),
            }
            let acker = delivery.acker;
            tokio::spawn(async move {
                let _ = acker.reject(BasicRejectOptions { requeue: false }).await;
            });
            return None;
        }
    };
    if route.kind == Kind::DeadTasks {
        tracing::warn!(
            queue = %route.queue,
            message_id,
            reason = header_string(properties, "x-first-death-reason").unwrap_or_default(),
            "a task was given up"
        );
    }
    let last_delivery =
        route.dead_letter_queue.is_some() && settings.is_last_delivery(previous_deliveries);
    let acknowledger = Acknowledger {
        acker: delivery.acker,
        _channel: channel,
        route: route.clone(),
        message_id,
        last_delivery,
    };
    let trace_context = trace_context(properties);
    Some(
        Delivery::new(message, previous_deliveries, Box::new(acknowledger))
            .with_trace_context(trace_context),
    )
}

/// The publisher's trace context, from the message's headers.
fn trace_context(properties: &BasicProperties) -> TraceContext {
    let Some(headers) = properties.headers().as_ref() else {
        return TraceContext::default();
    };
    TraceContext::from_fields(headers.inner().iter().filter_map(|(name, value)| {
        match value {
            AMQPValue::LongString(text) => std::str::from_utf8(text.as_bytes())
                .ok()
                .map(|text| (name.as_str(), text)),
            _ => None,
        }
    }))
}

/// Settles one delivery on the channel it came from.
struct Acknowledger<T> {
    acker: Acker,
    /// Keeps the channel open until the delivery is settled, even if the consumer is gone.
    _channel: Channel,
    route: Arc<Route<T>>,
    message_id: String,
    /// The broker dead-letters the message if this delivery is returned.
    last_delivery: bool,
}

impl<T> Acknowledger<T> {
    fn log_if_dead_lettered(&self, requeue: bool) {
        if requeue && !self.last_delivery {
            return;
        }
        let route = &self.route;
        let message_id = self.message_id.as_str();
        match (route.kind, &route.dead_letter_queue) {
            (Kind::Results, Some(dead_letter_queue)) => tracing::error!(
                %dead_letter_queue, message_id,
                "a result is dead-lettered: it was never stored, and its task will look unfinished"
            ),
            (_, Some(dead_letter_queue)) => tracing::warn!(
                %dead_letter_queue, message_id, requeue,
                "a task is dead-lettered"
            ),
            (_, None) if !requeue => tracing::error!(
                queue = %route.queue, message_id,
                "a dead task is rejected without requeue and dropped"
            ),
            (_, None) => {}
        }
    }
}

#[async_trait]
impl<T: 'static> Acknowledge for Acknowledger<T> {
    async fn ack(self: Box<Self>) -> Result<(), QueueError> {
        settled(self.acker.ack(BasicAckOptions::default()).await)
    }

    async fn reject(self: Box<Self>, requeue: bool) -> Result<(), QueueError> {
        self.log_if_dead_lettered(requeue);
        settled(self.acker.reject(BasicRejectOptions { requeue }).await)
    }

    fn abandon(self: Box<Self>) {
        self.log_if_dead_lettered(true);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let _ = self
                        .acker
                        .reject(BasicRejectOptions { requeue: true })
                        .await;
                });
            }
            // Without a runtime the message goes back when its channel closes.
            Err(_) => drop(self),
        }
    }
}

fn settled(outcome: Result<bool, lapin::Error>) -> Result<(), QueueError> {
    match outcome {
        Ok(true) => Ok(()),
        Ok(false) => Err(QueueError::Unavailable(
            "the channel closed before the delivery was settled; it will be delivered again"
                .to_owned(),
        )),
        Err(error) => Err(QueueError::Unavailable(format!(
            "failed to settle a delivery: {error}"
        ))),
    }
}

/// How many times the quorum queue delivered the message before (`x-delivery-count`,
/// absent on the first delivery).
fn delivery_count(properties: &BasicProperties) -> u32 {
    let value = properties
        .headers()
        .as_ref()
        .and_then(|headers| headers.inner().get("x-delivery-count"));
    let count = match value {
        Some(AMQPValue::ShortShortUInt(count)) => i64::from(*count),
        Some(AMQPValue::ShortShortInt(count)) => i64::from(*count),
        Some(AMQPValue::ShortUInt(count)) => i64::from(*count),
        Some(AMQPValue::ShortInt(count)) => i64::from(*count),
        Some(AMQPValue::LongUInt(count)) => i64::from(*count),
        Some(AMQPValue::LongInt(count)) => i64::from(*count),
        Some(AMQPValue::LongLongInt(count)) => *count,
        _ => 0,
    };
    u32::try_from(count.max(0)).unwrap_or(u32::MAX)
}

fn header_string(properties: &BasicProperties, name: &str) -> Option<String> {
    match properties.headers().as_ref()?.inner().get(name)? {
        AMQPValue::LongString(value) => Some(value.to_string()),
        AMQPValue::ShortString(value) => Some(value.as_str().to_owned()),
        _ => None,
    }
}
