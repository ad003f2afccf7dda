//! What only the RabbitMQ queue promises, seen in the broker itself: the wire format, the
//! parking of dead results, dead-lettering what does not decode, recovery from lost
//! connections (closed by the broker, or cut in the network by a proxy the test controls),
//! confirmed publishes, and refusals at connect (wrong credentials, queues declared
//! otherwise). What every backend promises is in the contract beside it.
//!
//! Each test declares its own queues under a unique prefix and deletes them at the end; the
//! broker is found as for the contract (see `backends::broker_url`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bazaar_domain::TaskMessage;
use bazaar_queue::{QueueError, RabbitMqConfig, RabbitMqQueue, TaskQueue};
use lapin::options::{BasicGetOptions, BasicPublishOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::uri::AMQPUri;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

use bazaar_test_support::ThrowawayTopology;

use crate::backends::{broker_url, init_logs, unique_prefix};
use crate::fixtures::{PATIENCE, assert_quiet, next, result, task};
use crate::proxy::FaultyNetwork;

/// A queue under a fresh prefix, with a plain lapin connection beside it to look behind the
/// queue's back.
struct Fixture {
    config: RabbitMqConfig,
    queue: Arc<RabbitMqQueue>,
    admin: Connection,
    channel: Channel,
    topology: ThrowawayTopology,
}

impl Fixture {
    async fn start(configure: impl FnOnce(&mut RabbitMqConfig)) -> Option<Fixture> {
        let url = broker_url().await?;
        Some(Fixture::connect(&url, &url, configure).await)
    }

    /// The queue reaches the broker at `queue_url` (through a proxy, say); the test's own
    /// connection goes straight to `url`.
    async fn connect(
        url: &str,
        queue_url: &str,
        configure: impl FnOnce(&mut RabbitMqConfig),
    ) -> Fixture {
        let prefix = unique_prefix();
        let topology = ThrowawayTopology::new(url, &prefix);
        let mut config = RabbitMqConfig {
            connection_name: prefix.clone(),
            prefix,
            ..RabbitMqConfig::default()
        };
        configure(&mut config);
        let queue = RabbitMqQueue::connect(queue_url, config.clone())
            .await
            .expect("failed to connect to RabbitMQ");
        let admin = Connection::connect(url, ConnectionProperties::default())
            .await
            .expect("failed to open the test's own connection");
        let channel = admin.create_channel().await.unwrap();
        Fixture {
            config,
            queue: Arc::new(queue),
            admin,
            channel,
            topology,
        }
    }

    fn name(&self, suffix: &str) -> String {
        format!("{}.{suffix}", self.config.prefix)
    }

    /// Publishes raw bytes to one of the queues, as a foreign or broken publisher would.
    async fn publish_raw(&self, suffix: &str, payload: &[u8]) {
        let channel = self.admin.create_channel().await.unwrap();
        channel.confirm_select(Default::default()).await.unwrap();
        let confirmation = channel
            .basic_publish(
                "".into(),
                self.name(suffix).as_str().into(),
                BasicPublishOptions::default(),
                payload,
                BasicProperties::default().with_message_id("garbage".into()),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(confirmation.is_ack());
    }

    /// Takes one message straight from a queue, waiting for it to arrive.
    async fn get(&self, suffix: &str) -> lapin::message::BasicGetMessage {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let got = self
                .channel
                .basic_get(
                    self.name(suffix).as_str().into(),
                    BasicGetOptions { no_ack: true },
                )
                .await
                .unwrap();
            if let Some(message) = got {
                return message;
            }
            assert!(
                Instant::now() < deadline,
                "nothing arrived in {}",
                self.name(suffix)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How many messages wait in one of the queues.
    async fn depth(&self, suffix: &str) -> u32 {
        let queue = self
            .channel
            .queue_declare(
                self.name(suffix).as_str().into(),
                lapin::options::QueueDeclareOptions::durable().passive(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        queue.message_count()
    }

    /// Closes the queue and deletes what it declared (which dropping the fixture does as
    /// well, should the test fail before it gets here).
    async fn finish(self) {
        self.queue.close().await;
        let _ = self.admin.close(200, "done".into()).await;
        self.topology.delete().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_are_persistent_protobuf_named_by_their_task() {
    let Some(fixture) = Fixture::start(|_| {}).await else {
        return;
    };
    let sent = task();
    fixture.queue.publish_task(sent.clone()).await.unwrap();
    let message = fixture.get("tasks").await;
    let properties = &message.delivery.properties;
    assert_eq!(
        properties
            .content_type()
            .as_ref()
            .map(|value| value.as_str()),
        Some("application/x-protobuf")
    );
    assert_eq!(*properties.delivery_mode(), Some(2));
    assert_eq!(
        properties.message_id().as_ref().map(|value| value.as_str()),
        Some(sent.task_id.as_str())
    );
    use prost::Message;
    let wire = bazaar_proto::v1::TaskMessage::decode(message.delivery.data.as_slice()).unwrap();
    assert_eq!(TaskMessage::try_from(wire).unwrap(), sent);
    fixture.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_result_past_the_delivery_limit_is_parked_in_its_dead_letter_queue() {
    let Some(fixture) = Fixture::start(|config| config.delivery_limit = 2).await else {
        return;
    };
    fixture.queue.publish_result(result()).await.unwrap();
    let mut results = fixture.queue.consume_results().await.unwrap();
    next(&mut results).await.reject(true).await.unwrap();
    next(&mut results).await.reject(true).await.unwrap();
    assert_quiet(&mut results).await;
    let parked = fixture.get("results.dead").await;
    assert!(!parked.delivery.data.is_empty());
    drop(results);
    fixture.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_undecodable_message_is_dead_lettered_and_the_consumer_moves_on() {
    let Some(fixture) = Fixture::start(|_| {}).await else {
        return;
    };
    fixture.publish_raw("tasks", b"\xff\xff not protobuf").await;
    let sent = task();
    fixture.queue.publish_task(sent.clone()).await.unwrap();
    let mut tasks = fixture.queue.consume_tasks().await.unwrap();
    let delivery = next(&mut tasks).await;
    assert_eq!(delivery.message, sent);
    delivery.ack().await.unwrap();
    let dead = fixture.get("tasks.dead").await;
    assert_eq!(dead.delivery.data, b"\xff\xff not protobuf");
    drop(tasks);
    fixture.finish().await;
}

/// Closes this test's connections from the broker's side, as a broker restart or a network
/// failure would; without `rabbitmqctl` (a remote broker), drops them from the client side.
async fn close_connections(fixture: &Fixture) {
    let name = fixture.config.connection_name.clone();
    let closed = tokio::task::spawn_blocking(move || close_connections_named(&name))
        .await
        .unwrap();
    match closed {
        Ok(0) => panic!("rabbitmqctl found none of the queue's connections"),
        Ok(_) => {}
        Err(reason) => {
            eprintln!("closing the connections from the client side: {reason}");
            fixture.queue.sever_connections_for_tests();
        }
    }
}

/// Closes, with rabbitmqctl, the connections whose name starts with `name`; returns how many.
fn close_connections_named(name: &str) -> Result<usize, String> {
    // One line per connection: its pid, a tab, its client properties (connection_name
    // among them) in Erlang's notation.
    let output = std::process::Command::new("rabbitmqctl")
        .args(["-s", "list_connections", "pid", "client_properties"])
        .output()
        .map_err(|error| format!("rabbitmqctl cannot run: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "rabbitmqctl list_connections failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let listing = String::from_utf8_lossy(&output.stdout);
    let needle = format!("{{\"connection_name\",\"{name} ");
    let mut closed = 0;
    for line in listing.lines().filter(|line| line.contains(&needle)) {
        let pid = line.split('\t').next().unwrap_or_default();
        let status = std::process::Command::new("rabbitmqctl")
            .args(["-q", "close_connection", pid, "test: simulated failure"])
            .status()
            .map_err(|error| format!("rabbitmqctl cannot run: {error}"))?;
        if !status.success() {
            return Err(format!("rabbitmqctl close_connection {pid} failed"));
        }
        closed += 1;
    }
    Ok(closed)
}

#[tokio::test(flavor = "multi_thread")]
async fn consuming_and_publishing_resume_after_the_connections_are_closed() {
    let Some(fixture) = Fixture::start(|_| {}).await else {
        return;
    };
    let first = task();
    fixture.queue.publish_task(first.clone()).await.unwrap();
    let mut tasks = fixture.queue.consume_tasks().await.unwrap();
    let unsettled = next(&mut tasks).await;
    assert_eq!(unsettled.message, first);

    close_connections(&fixture).await;

    // The broker took the task back when the connection closed; the consumer subscribes
    // again by itself and receives it a second time. The old delivery cannot be settled any
    // more (or its acknowledgement is lost with the connection).
    let again = next(&mut tasks).await;
    assert_eq!(again.message, first);
    assert_eq!(again.previous_deliveries, 1);
    again.ack().await.unwrap();
    let _ = unsettled.ack().await;

    // Publishing works again once the publisher has reconnected (it may have been
    // reconnecting a moment ago).
    let second = task();
    publish_once_reconnected(&fixture.queue, &second).await;
    let delivery = next(&mut tasks).await;
    assert_eq!(delivery.message, second);
    delivery.ack().await.unwrap();
    fixture.queue.check().await.unwrap();
    drop(tasks);
    fixture.finish().await;
}

/// Publishes `task`, retrying while the publisher reconnects (publishes fail fast meanwhile),
/// failing the test if it never recovers.
async fn publish_once_reconnected(queue: &RabbitMqQueue, task: &TaskMessage) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match queue.publish_task(task.clone()).await {
            Ok(()) => return,
            Err(error) if Instant::now() < deadline => {
                eprintln!("publish during reconnection: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("publishing never recovered: {error}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn consuming_and_publishing_resume_after_the_network_drops_the_connections() {
    let Some(url) = broker_url().await else {
        return;
    };
    let network = FaultyNetwork::start(&url).await;
    let fixture = Fixture::connect(&url, &network.url, |_| {}).await;
    let first = task();
    fixture.queue.publish_task(first.clone()).await.unwrap();
    let mut tasks = fixture.queue.consume_tasks().await.unwrap();
    let unsettled = next(&mut tasks).await;
    assert_eq!(unsettled.message, first);

    // Unlike a broker closing a connection, this says nothing to the client: its socket
    // just ends.
    network.cut().await;

    let again = next(&mut tasks).await;
    assert_eq!(again.message, first);
    assert_eq!(again.previous_deliveries, 1);
    again.ack().await.unwrap();
    let _ = unsettled.ack().await;
    let second = task();
    publish_once_reconnected(&fixture.queue, &second).await;
    let delivery = next(&mut tasks).await;
    assert_eq!(delivery.message, second);
    delivery.ack().await.unwrap();
    fixture.queue.check().await.unwrap();
    drop(tasks);
    fixture.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn publishes_fail_fast_while_the_broker_is_unreachable_and_resume_after() {
    let Some(url) = broker_url().await else {
        return;
    };
    let network = FaultyNetwork::start(&url).await;
    let fixture = Fixture::connect(&url, &network.url, |config| {
        // Reconnection attempts follow each other quickly, so the test does too.
        config.reconnect_delay_max = Duration::from_millis(200);
    })
    .await;
    fixture.queue.check().await.unwrap();

    network.set_reachable(false);
    network.cut().await;

    let started = Instant::now();
    let published = fixture.queue.publish_task(task()).await;
    assert!(
        matches!(published, Err(QueueError::Unavailable(_))),
        "{published:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "a publish to an unreachable broker took {:?}",
        started.elapsed()
    );
    assert!(fixture.queue.check().await.is_err());

    network.set_reachable(true);
    let sent = task();
    publish_once_reconnected(&fixture.queue, &sent).await;
    let mut tasks = fixture.queue.consume_tasks().await.unwrap();
    let delivery = next(&mut tasks).await;
    assert_eq!(delivery.message, sent);
    delivery.ack().await.unwrap();
    fixture.queue.check().await.unwrap();
    drop(tasks);
    fixture.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn publishing_to_an_unreachable_broker_fails_fast() {
    // Not a broker test as such, but it belongs with them.
    init_logs();
    let started = Instant::now();
    let config = RabbitMqConfig::default();
    let queue = match RabbitMqQueue::connect("amqp://guest:guest@127.0.0.1:1/%2f", config).await {
        Ok(queue) => queue,
        Err(error) => {
            panic!("an unreachable broker should be retried in the background, got {error}")
        }
    };
    assert!(matches!(
        queue.check().await,
        Err(QueueError::Unavailable(_))
    ));
    let published = queue.publish_task(task()).await;
    assert!(
        matches!(published, Err(QueueError::Unavailable(_))),
        "{published:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    queue.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_are_an_error_at_connect() {
    let Some(url) = broker_url().await else {
        return;
    };
    let mut uri: AMQPUri = url.parse().unwrap();
    uri.authority.userinfo.password = "certainly-not-the-password".to_owned();
    let url = format!(
        "amqp://{}:{}@{}:{}/{}",
        uri.authority.userinfo.username,
        uri.authority.userinfo.password,
        uri.authority.host,
        uri.authority.port,
        urlencode(&uri.vhost)
    );
    let connected = RabbitMqQueue::connect(&url, RabbitMqConfig::default()).await;
    let error = connected.expect_err("wrong credentials should be refused");
    eprintln!("{error}");
    assert!(
        !error.to_string().contains("certainly-not-the-password"),
        "the error shows the password: {error}"
    );
}

fn urlencode(vhost: &str) -> String {
    vhost.replace('%', "%25").replace('/', "%2f")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_concurrent_publishes_are_all_confirmed() {
    let Some(fixture) = Fixture::start(|config| config.prefetch = 200).await else {
        return;
    };
    let started = Instant::now();
    let mut publishes = tokio::task::JoinSet::new();
    for _ in 0..1000 {
        let queue = fixture.queue.clone();
        publishes.spawn(async move { queue.publish_task(task()).await });
    }
    while let Some(published) = publishes.join_next().await {
        published.unwrap().unwrap();
    }
    eprintln!("1000 confirmed publishes took {:?}", started.elapsed());
    assert_eq!(fixture.depth("tasks").await, 1000);

    let started = Instant::now();
    let mut tasks = fixture.queue.consume_tasks().await.unwrap();
    for _ in 0..1000 {
        next(&mut tasks).await.ack().await.unwrap();
    }
    eprintln!("1000 deliveries took {:?}", started.elapsed());
    drop(tasks);
    fixture.finish().await;
}

/// lapin drives each connection from a thread of its own through the runtime's handle; a
/// single-threaded runtime (tokio's default for tests) must do as well.
#[tokio::test]
async fn a_single_threaded_runtime_is_enough() {
    let Some(fixture) = Fixture::start(|_| {}).await else {
        return;
    };
    let sent = task();
    fixture.queue.publish_task(sent.clone()).await.unwrap();
    let mut tasks = fixture.queue.consume_tasks().await.unwrap();
    let delivery = next(&mut tasks).await;
    assert_eq!(delivery.message, sent);
    delivery.ack().await.unwrap();
    drop(tasks);
    fixture.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queue_declared_with_other_arguments_is_an_error_at_connect() {
    let Some(url) = broker_url().await else {
        return;
    };
    let admin = Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = admin.create_channel().await.unwrap();
    let prefix = format!("{}-classic", unique_prefix());
    let tasks = format!("{prefix}.tasks");
    // A classic queue where a quorum queue belongs, as an older deployment might have left.
    channel
        .queue_declare(
            tasks.as_str().into(),
            lapin::options::QueueDeclareOptions::durable(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let config = RabbitMqConfig {
        prefix: prefix.clone(),
        ..RabbitMqConfig::default()
    };
    let connected = RabbitMqQueue::connect(&url, config).await;
    let error = connected.expect_err("the queue's arguments differ");
    assert!(
        error.to_string().contains("PRECONDITION_FAILED"),
        "unexpected error: {error}"
    );
    for queue in [
        tasks,
        format!("{prefix}.tasks.dead"),
        format!("{prefix}.results.dead"),
    ] {
        let _ = channel
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
    let _ = channel
        .exchange_delete(
            format!("{prefix}.dead-letter").as_str().into(),
            Default::default(),
        )
        .await;
    let _ = admin.close(200, "done".into()).await;
}
