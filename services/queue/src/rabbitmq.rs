//! The queue of distributed mode: RabbitMQ, through lapin.
//!
//! Topology, declared idempotently by every connection before it is used (so a restarted
//! broker or a deleted queue is repaired by the next reconnection):
//!
//! ```text
//! <prefix>.tasks     quorum, x-delivery-limit ──┐ rejected without requeue, or
//! <prefix>.results   quorum, x-delivery-limit ──┤ past the delivery limit
//!                                               ▼
//!                          <prefix>.dead-letter (direct exchange)
//!                            ├─► <prefix>.tasks.dead     consumed by the results service
//!                            └─► <prefix>.results.dead   parked; logged as errors
//!
//! <prefix>.signals   topic exchange, not durable messages: `cancel` to every worker's
//!                    exclusive queue, `task.<id>` to the gateways following that task
//! ```
//!
//! Messages are protobuf (`bazaar.v1.TaskMessage`; `bazaar.v1.TaskStarted` and
//! `bazaar.v1.TaskResult` on the results queue, told apart by the AMQP `type`), persistent, with
//! the task id as message id and the publishing span's W3C trace context (`traceparent`,
//! `tracestate`) as headers. A publish returns only after the broker's positive confirm;
//! confirms are pipelined, so many publishes share one channel, each awaiting its own.
//! Consumers acknowledge manually with a prefetch limit; the quorum queue counts deliveries
//! (`x-delivery-count`) and dead-letters a message past the limit, at least once
//! (`x-dead-letter-strategy`), so a message that keeps killing workers is neither lost nor
//! looping forever. A message that does not decode is dead-lettered at once.
//!
//! Publishing and consuming use separate connections, so that the broker throttling
//! publishers (a memory alarm) never stalls the acknowledgements that would relieve it. Each
//! connection is supervised ([`link`]): when it dies it is reopened with capped exponential
//! backoff, the topology is declared again, publishes retry on the new connection within
//! their deadline and consumers subscribe again by themselves. Deliveries that were in flight
//! when a connection died are redelivered by the broker: at least once.

mod consumer;
mod link;
mod signals;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bazaar_domain::{ResultMessage, Signal, SignalTopic, TaskMessage};
use bazaar_proto::v1;
use bazaar_telemetry::TraceContext;
use bazaar_telemetry::metrics::metrics;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::uri::{AMQPScheme, AMQPUri};
use lapin::{BasicProperties, Channel, ExchangeKind};
use prost::Message;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::{Consumer, QueueError, Subscription, TaskQueue};
use consumer::{Kind, QueueConsumer, Route};
use link::{Destination, Link, PublishFailure};
use signals::SignalSubscription;

/// The content type of every message: protobuf from `proto/bazaar/v1/queue.proto`.
const CONTENT_TYPE: &str = "application/x-protobuf";
/// The AMQP `type` property of each message kind: the protobuf message's full name.
const TASK_TYPE: &str = "bazaar.v1.TaskMessage";
const RESULT_TYPE: &str = "bazaar.v1.TaskResult";
const STARTED_TYPE: &str = "bazaar.v1.TaskStarted";
const SIGNAL_TYPE: &str = "bazaar.v1.Signal";
/// How long a signal's publish may take, confirm included.
const SIGNAL_TIMEOUT: Duration = Duration::from_secs(1);
/// AMQP delivery mode 1: the broker keeps the message in memory only.
const TRANSIENT: u8 = 1;
/// AMQP delivery mode 2: the broker writes the message to disk.
const PERSISTENT: u8 = 2;

/// How the RabbitMQ queue behaves.
#[derive(Debug, Clone)]
pub struct RabbitMqConfig {
    /// Prefix of every queue and exchange name (`<prefix>.tasks`, `<prefix>.results`, ...);
    /// lets several deployments share one virtual host.
    pub prefix: String,
    /// Unacknowledged deliveries one consumer holds at once; for a worker, its concurrency.
    /// At least 1 (AMQP's 0 would mean unlimited).
    pub prefetch: u16,
    /// Deliveries of one message before it is dead-lettered, counting the first, as the
    /// in-process queue does (the quorum queue's `x-delivery-limit` is one less). Fixed when
    /// the queues are first declared: RabbitMQ refuses to redeclare a queue with other
    /// arguments, so changing it later needs the queues deleted (or a policy).
    pub delivery_limit: u32,
    /// How long a publish may take, confirm included, before it fails as unavailable.
    pub publish_timeout: Duration,
    /// How long one connection attempt (TCP, handshake, topology) may take.
    pub connect_timeout: Duration,
    /// The delay before the second reconnection attempt; it doubles with each failure.
    pub reconnect_delay_min: Duration,
    /// The longest delay between reconnection attempts.
    pub reconnect_delay_max: Duration,
    /// Names this process's connections as the broker shows them (`rabbitmqctl
    /// list_connections client_properties`), followed by `publisher` or `consumer`.
    pub connection_name: String,
}

impl Default for RabbitMqConfig {
    fn default() -> Self {
        RabbitMqConfig {
            prefix: "bazaar".to_owned(),
            prefetch: 16,
            delivery_limit: 5,
            publish_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            reconnect_delay_min: Duration::from_millis(100),
            reconnect_delay_max: Duration::from_secs(5),
            connection_name: "bazaar".to_owned(),
        }
    }
}

/// The names of the queues and the exchange.
#[derive(Debug)]
struct Names {
    tasks: String,
    results: String,
    tasks_dead: String,
    results_dead: String,
    dead_letter_exchange: String,
    signals_exchange: String,
}

impl Names {
    fn new(prefix: &str) -> Self {
        Names {
            tasks: format!("{prefix}.tasks"),
            results: format!("{prefix}.results"),
            tasks_dead: format!("{prefix}.tasks.dead"),
            results_dead: format!("{prefix}.results.dead"),
            dead_letter_exchange: format!("{prefix}.dead-letter"),
            signals_exchange: format!("{prefix}.signals"),
        }
    }
}

/// What every connection and consumer of one queue shares.
#[derive(Debug)]
struct Settings {
    config: RabbitMqConfig,
    names: Names,
    uri: AMQPUri,
    /// The broker's address without credentials, for logs and errors.
    address: String,
}

impl Settings {
    /// Whether a delivery that was delivered `previous_deliveries` times before is the last
    /// one before the broker dead-letters it.
    fn is_last_delivery(&self, previous_deliveries: u32) -> bool {
        previous_deliveries.saturating_add(1) >= self.config.delivery_limit.max(1)
    }

    /// The delay before reconnection attempt number `failures + 1`: none after a connection
    /// that had been up a while, then doubling up to the maximum, with up to a quarter taken
    /// off at random so that many processes do not reconnect in lockstep.
    fn reconnect_delay(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let doubled = self
            .config
            .reconnect_delay_min
            .saturating_mul(1 << failures.saturating_sub(1).min(20));
        let delay = doubled.min(self.config.reconnect_delay_max);
        let fraction = f64::from(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .subsec_nanos(),
        ) / 1e9;
        delay.mul_f64(1.0 - fraction / 4.0)
    }
}

/// The RabbitMQ queue of distributed mode. Cheap to share behind an `Arc`; dropping it (or
/// [`RabbitMqQueue::close`]) closes its connections, and its consumers then end.
pub struct RabbitMqQueue {
    settings: Arc<Settings>,
    publisher: Link,
    /// Opened by the first consumer, so that a gateway, which only publishes, holds one
    /// connection.
    consumer: OnceLock<Link>,
    shutdown: CancellationToken,
    _close_on_drop: DropGuard,
}

impl std::fmt::Debug for RabbitMqQueue {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RabbitMqQueue")
            .field("address", &self.settings.address)
            .field("prefix", &self.settings.config.prefix)
            .finish_non_exhaustive()
    }
}

impl RabbitMqQueue {
    /// Connects to the broker at `url` (`amqp://user:password@host:5672/vhost`, the vhost
    /// percent-encoded: `%2f` is `/`) and declares the topology.
    ///
    /// Returns once the first connection attempt is over. If the broker refused it (wrong
    /// credentials, unknown vhost, queues that exist with other arguments) that is an error;
    /// if the broker was merely unreachable, the queue is returned anyway and keeps trying in
    /// the background, failing publishes with [`QueueError::Unavailable`] meanwhile, so a
    /// service can start before its broker (readiness follows [`TaskQueue::check`]).
    /// `amqps://` needs the crate's `amqps` feature.
    pub async fn connect(url: &str, config: RabbitMqConfig) -> Result<Self, QueueError> {
        let uri: AMQPUri = url
            .parse()
            .map_err(|error| QueueError::Unavailable(format!("invalid AMQP URL: {error}")))?;
        if uri.scheme == AMQPScheme::AMQPS && !cfg!(feature = "amqps") {
            return Err(QueueError::Unavailable(
                "amqps:// needs bazaar-queue built with its `amqps` feature".to_owned(),
            ));
        }
        let scheme = match uri.scheme {
            AMQPScheme::AMQP => "amqp",
            AMQPScheme::AMQPS => "amqps",
        };
        let address = format!(
            "{scheme}://{}:{}/{}",
            uri.authority.host,
            uri.authority.port,
            uri.vhost.replace('%', "%25").replace('/', "%2f")
        );
        let settings = Arc::new(Settings {
            names: Names::new(&config.prefix),
            config,
            uri,
            address,
        });
        let shutdown = CancellationToken::new();
        let publisher = Link::start("publisher", settings.clone(), shutdown.clone());
        if let Err(refusal) = publisher.first_attempt().await {
            shutdown.cancel();
            return Err(refusal);
        }
        Ok(RabbitMqQueue {
            settings,
            publisher,
            consumer: OnceLock::new(),
            _close_on_drop: shutdown.clone().drop_guard(),
            shutdown,
        })
    }

    /// Closes the connections, returning unacknowledged deliveries to the queues at once,
    /// and ends the consumers. Publishing afterwards fails.
    pub async fn close(&self) {
        self.shutdown.cancel();
        self.publisher.closed().await;
        if let Some(consumer) = self.consumer.get() {
            consumer.closed().await;
        }
    }

    /// Drops the current connections as if the network had failed, so that tests can watch
    /// the queue recover. Not for production use.
    #[doc(hidden)]
    pub fn sever_connections_for_tests(&self) {
        self.publisher.report_current_broken();
        if let Some(consumer) = self.consumer.get() {
            consumer.report_current_broken();
        }
    }

    fn consumer_link(&self) -> &Link {
        self.consumer
            .get_or_init(|| Link::start("consumer", self.settings.clone(), self.shutdown.clone()))
    }

    /// Publishes `payload` to `queue` and waits for the broker's positive confirm, retrying
    /// on a new connection if the current one dies, all within the publish timeout. A retry
    /// after a lost confirm may duplicate the message: delivery is at least once.
    async fn publish(
        &self,
        destination: Destination<'_>,
        kind: &'static str,
        message_id: &str,
        payload: Vec<u8>,
    ) -> Result<(), QueueError> {
        // A signal is worth little late, and a lost one is not resent: one attempt, briefly.
        let (timeout, retry) = if destination.mandatory {
            (self.settings.config.publish_timeout, true)
        } else {
            (
                self.settings.config.publish_timeout.min(SIGNAL_TIMEOUT),
                false,
            )
        };
        let delivery_mode = if destination.mandatory {
            PERSISTENT
        } else {
            TRANSIENT
        };
        let mut properties = BasicProperties::default()
            .with_content_type(CONTENT_TYPE.into())
            .with_delivery_mode(delivery_mode)
            .with_message_id(message_id.into())
            .with_type(kind.into())
            .with_timestamp(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs(),
            );
        let trace_context = TraceContext::current();
        if !trace_context.is_empty() {
            let mut headers = FieldTable::default();
            for (name, value) in trace_context.fields() {
                headers.insert(name.into(), long_string(value));
            }
            properties = properties.with_headers(headers);
        }
        let confirmed = async {
            let mut newer_than = 0;
            loop {
                let session = self.publisher.session_for_publish(newer_than).await?;
                match session
                    .publish(&destination, properties.clone(), &payload)
                    .await
                {
                    Ok(()) => return Ok(()),
                    Err(PublishFailure::Refused(reason)) => {
                        return Err(QueueError::Unavailable(reason));
                    }
                    Err(PublishFailure::Lost(reason)) if !retry => {
                        self.publisher.report_broken(session.generation);
                        return Err(QueueError::Unavailable(reason));
                    }
                    Err(PublishFailure::Lost(reason)) => {
                        tracing::debug!(%reason, message_id, "a publish was lost; retrying on a new connection");
                        self.publisher.report_broken(session.generation);
                        newer_than = session.generation;
                    }
                }
            }
        };
        let outcome = match tokio::time::timeout(timeout, confirmed).await {
            Ok(outcome) => outcome,
            Err(_) => Err(QueueError::Unavailable(format!(
                "RabbitMQ did not confirm the message within {timeout:?}"
            ))),
        };
        let label = match kind {
            TASK_TYPE => "tasks",
            SIGNAL_TYPE => "signals",
            _ => "results",
        };
        metrics().queue.published(label, outcome.is_ok());
        outcome
    }
}

#[async_trait]
impl TaskQueue for RabbitMqQueue {
    async fn publish_task(&self, task: TaskMessage) -> Result<(), QueueError> {
        let payload = v1::TaskMessage::from(&task).encode_to_vec();
        let destination = work_queue(&self.settings.names.tasks);
        self.publish(destination, TASK_TYPE, task.task_id.as_str(), payload)
            .await
    }

    async fn publish_result(&self, report: ResultMessage) -> Result<(), QueueError> {
        let (kind, payload) = match &report {
            ResultMessage::Started(started) => {
                (STARTED_TYPE, v1::TaskStarted::from(started).encode_to_vec())
            }
            ResultMessage::Finished(result) => {
                (RESULT_TYPE, v1::TaskResult::from(result).encode_to_vec())
            }
        };
        let destination = work_queue(&self.settings.names.results);
        self.publish(destination, kind, report.task_id().as_str(), payload)
            .await
    }

    async fn publish_signal(&self, signal: Signal) -> Result<(), QueueError> {
        let payload = v1::Signal::from(&signal).encode_to_vec();
        let routing_key = signal_routing_key(&signal);
        let destination = Destination {
            exchange: &self.settings.names.signals_exchange,
            routing_key: &routing_key,
            mandatory: false,
        };
        self.publish(destination, SIGNAL_TYPE, signal.task_id().as_str(), payload)
            .await
    }

    async fn subscribe(&self, topic: SignalTopic) -> Result<Box<dyn Subscription>, QueueError> {
        let binding = match &topic {
            SignalTopic::Cancellations => "cancel".to_owned(),
            SignalTopic::Task(task_id) => format!("task.{task_id}"),
        };
        let mut subscription =
            SignalSubscription::new(self.consumer_link().clone(), binding, topic);
        subscription
            .bind_within(self.settings.config.publish_timeout)
            .await;
        Ok(Box::new(subscription))
    }

    async fn consume_tasks(&self) -> Result<Box<dyn Consumer<TaskMessage>>, QueueError> {
        let route = Route {
            kind: Kind::Tasks,
            queue: self.settings.names.tasks.clone(),
            dead_letter_queue: Some(self.settings.names.tasks_dead.clone()),
            decode: decode_task,
        };
        Ok(Box::new(QueueConsumer::new(
            self.consumer_link().clone(),
            route,
        )))
    }

    async fn consume_results(&self) -> Result<Box<dyn Consumer<ResultMessage>>, QueueError> {
        let route = Route {
            kind: Kind::Results,
            queue: self.settings.names.results.clone(),
            dead_letter_queue: Some(self.settings.names.results_dead.clone()),
            decode: decode_result,
        };
        Ok(Box::new(QueueConsumer::new(
            self.consumer_link().clone(),
            route,
        )))
    }

    async fn consume_dead_tasks(
        &self,
    ) -> Result<Option<Box<dyn Consumer<TaskMessage>>>, QueueError> {
        let route = Route {
            kind: Kind::DeadTasks,
            queue: self.settings.names.tasks_dead.clone(),
            dead_letter_queue: None,
            decode: decode_task,
        };
        Ok(Some(Box::new(QueueConsumer::new(
            self.consumer_link().clone(),
            route,
        ))))
    }

    async fn check(&self) -> Result<(), QueueError> {
        self.publisher.check()?;
        match self.consumer.get() {
            Some(consumer) => consumer.check(),
            None => Ok(()),
        }
    }

    async fn close(&self) {
        RabbitMqQueue::close(self).await;
    }
}

/// The default exchange's route to a durable work queue.
fn work_queue(queue: &str) -> Destination<'_> {
    Destination {
        exchange: "",
        routing_key: queue,
        mandatory: true,
    }
}

/// `cancel` for every worker, `task.<id>` for whoever follows the task.
fn signal_routing_key(signal: &Signal) -> String {
    match signal {
        Signal::Cancel(_) => "cancel".to_owned(),
        Signal::Running { task_id, .. } | Signal::Output { task_id, .. } => {
            format!("task.{task_id}")
        }
    }
}

/// A message whose AMQP `type` is not `expected` (a message without one is decoded).
fn check_type(kind: Option<&str>, expected: &[&str]) -> Result<(), String> {
    match kind {
        Some(kind) if !expected.contains(&kind) => Err(format!(
            "the message is a {kind}, not a {}",
            expected.join(" or ")
        )),
        _ => Ok(()),
    }
}

fn decode_task(kind: Option<&str>, bytes: &[u8]) -> Result<TaskMessage, String> {
    check_type(kind, &[TASK_TYPE])?;
    let wire = v1::TaskMessage::decode(bytes).map_err(|error| error.to_string())?;
    TaskMessage::try_from(wire).map_err(|error| error.to_string())
}

/// A result, or a start when the `type` says so (a message without a type is a result, as
/// every message on this queue was before starts were announced).
fn decode_result(kind: Option<&str>, bytes: &[u8]) -> Result<ResultMessage, String> {
    check_type(kind, &[RESULT_TYPE, STARTED_TYPE])?;
    if kind == Some(STARTED_TYPE) {
        let wire = v1::TaskStarted::decode(bytes).map_err(|error| error.to_string())?;
        let started =
            bazaar_domain::TaskStarted::try_from(wire).map_err(|error| error.to_string())?;
        return Ok(ResultMessage::Started(started));
    }
    let wire = v1::TaskResult::decode(bytes).map_err(|error| error.to_string())?;
    bazaar_domain::TaskResult::try_from(wire)
        .map(ResultMessage::Finished)
        .map_err(|error| error.to_string())
}

fn decode_signal(bytes: &[u8]) -> Result<Signal, String> {
    let wire = v1::Signal::decode(bytes).map_err(|error| error.to_string())?;
    Signal::try_from(wire).map_err(|error| error.to_string())
}

/// How many messages wait in the dead-letter queues, as seen when the topology was declared.
#[derive(Debug, Clone, Copy)]
struct DeadLetters {
    results: u32,
}

/// Declares the exchange, the queues and the bindings; idempotent. Fails if a queue exists
/// with other arguments (RabbitMQ's `PRECONDITION_FAILED`), which closes `channel`.
async fn declare_topology(
    channel: &Channel,
    settings: &Settings,
) -> Result<DeadLetters, lapin::Error> {
    let names = &settings.names;
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            names.dead_letter_exchange.as_str().into(),
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await?;
    channel
        .exchange_declare(
            names.signals_exchange.as_str().into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await?;
    // The dead-letter queues have no delivery limit: a dead task whose failed result cannot
    // be stored yet is retried until it can.
    declare_quorum_queue(channel, &names.tasks_dead, FieldTable::default()).await?;
    let dead_results =
        declare_quorum_queue(channel, &names.results_dead, FieldTable::default()).await?;
    for dead in [&names.tasks_dead, &names.results_dead] {
        channel
            .queue_bind(
                dead.as_str().into(),
                names.dead_letter_exchange.as_str().into(),
                dead.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    for (queue, dead) in [
        (&names.tasks, &names.tasks_dead),
        (&names.results, &names.results_dead),
    ] {
        let arguments = work_queue_arguments(settings, dead);
        declare_quorum_queue(channel, queue, arguments).await?;
    }
    Ok(DeadLetters {
        results: dead_results,
    })
}

/// The arguments of a work queue: delivery limit and dead-lettering to `dead_letter_queue`.
fn work_queue_arguments(settings: &Settings, dead_letter_queue: &str) -> FieldTable {
    let mut arguments = FieldTable::default();
    // RabbitMQ dead-letters a message returned more than `x-delivery-limit` times, that is
    // delivered `x-delivery-limit + 1` times; the configured limit counts deliveries.
    let returns = settings.config.delivery_limit.max(1) - 1;
    arguments.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(i64::from(returns)),
    );
    arguments.insert(
        "x-dead-letter-exchange".into(),
        long_string(&settings.names.dead_letter_exchange),
    );
    arguments.insert(
        "x-dead-letter-routing-key".into(),
        long_string(dead_letter_queue),
    );
    // At-least-once dead-lettering: the message leaves this queue only once the dead-letter
    // queue has confirmed it. RabbitMQ requires `reject-publish` overflow for it.
    arguments.insert(
        "x-dead-letter-strategy".into(),
        long_string("at-least-once"),
    );
    arguments.insert("x-overflow".into(), long_string("reject-publish"));
    arguments
}

/// Declares a durable quorum queue; returns how many messages it holds.
async fn declare_quorum_queue(
    channel: &Channel,
    name: &str,
    mut arguments: FieldTable,
) -> Result<u32, lapin::Error> {
    arguments.insert("x-queue-type".into(), long_string("quorum"));
    let queue = channel
        .queue_declare(
            ShortString::from(name),
            QueueDeclareOptions::durable(),
            arguments,
        )
        .await?;
    Ok(queue.message_count())
}

fn long_string(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(config: RabbitMqConfig) -> Settings {
        Settings {
            names: Names::new(&config.prefix),
            config,
            uri: AMQPUri::default(),
            address: "amqp://localhost:5672/".to_owned(),
        }
    }

    #[test]
    fn reconnection_delays_double_up_to_the_maximum() {
        let settings = settings(RabbitMqConfig::default());
        assert_eq!(settings.reconnect_delay(0), Duration::ZERO);
        let first = settings.reconnect_delay(1);
        assert!(first <= Duration::from_millis(100) && first >= Duration::from_millis(75));
        let fourth = settings.reconnect_delay(4);
        assert!(fourth <= Duration::from_millis(800) && fourth >= Duration::from_millis(600));
        let late = settings.reconnect_delay(1000);
        assert!(late <= Duration::from_secs(5) && late >= Duration::from_millis(3750));
    }

    #[test]
    fn the_delivery_limit_counts_the_first_delivery() {
        let config = RabbitMqConfig {
            delivery_limit: 3,
            ..RabbitMqConfig::default()
        };
        let settings = settings(config);
        let arguments = work_queue_arguments(&settings, "bazaar.tasks.dead");
        assert_eq!(
            arguments.inner().get("x-delivery-limit"),
            Some(&AMQPValue::LongLongInt(2))
        );
        assert!(!settings.is_last_delivery(1));
        assert!(settings.is_last_delivery(2));
    }
}
