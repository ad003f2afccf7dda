//! The RabbitMQ queue against a real broker.
//!
//! The broker is `BAZAAR_TEST_AMQP_URL` (default `amqp://guest:guest@127.0.0.1:5672/%2f`).
//! When it cannot be reached the tests pass with `SKIPPED` on stderr, unless `CI` is set:
//! then they fail, so that CI never passes without having run them. Each test declares its
//! own queues under a unique prefix and deletes them at the end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bazaar_domain::{AgentId, ResultMessage, ResultStatus, Sha256, TaskId, TaskMessage, UserId};
use bazaar_queue::{Consumer, Delivery, QueueError, RabbitMqConfig, RabbitMqQueue, TaskQueue};
use chrono::{DateTime, Utc};
use lapin::options::{BasicGetOptions, BasicPublishOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::uri::AMQPUri;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

const DEFAULT_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// Long enough for a broker on a busy two-core machine; a working queue answers in
/// milliseconds.
const PATIENCE: Duration = Duration::from_secs(15);

/// The broker's URL, or `None` (the test is skipped) when it cannot be reached outside CI.
async fn broker_url() -> Option<String> {
    init_logs();
    let url = std::env::var("BAZAAR_TEST_AMQP_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let uri: AMQPUri = url
        .parse()
        .unwrap_or_else(|error| panic!("BAZAAR_TEST_AMQP_URL is not an AMQP URL: {error}"));
    let host = uri.authority.host.clone();
    let port = uri.authority.port;
    let connecting = tokio::net::TcpStream::connect((host.as_str(), port));
    if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(3), connecting).await {
        return Some(url);
    }
    let message = format!("RabbitMQ not reachable at {host}:{port}");
    if std::env::var_os("CI").is_some() {
        panic!(
            "{message}; CI is set, so the RabbitMQ tests must run (scripts/services.sh starts the broker)"
        );
    }
    eprintln!("SKIPPED: {message}");
    None
}

/// The queue's logs in the test output (shown for failing tests); `RUST_LOG` filters them.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "bazaar_queue=debug,lapin=warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// A queue under a fresh prefix, with a plain lapin connection beside it to look behind the
/// queue's back.
struct Fixture {
    config: RabbitMqConfig,
    queue: Arc<RabbitMqQueue>,
    admin: Connection,
    channel: Channel,
}

impl Fixture {
    async fn start(configure: impl FnOnce(&mut RabbitMqConfig)) -> Option<Fixture> {
        let url = broker_url().await?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let prefix = format!("bazaar-test-{}-{nanos}", std::process::id());
        let mut config = RabbitMqConfig {
            connection_name: prefix.clone(),
            prefix,
            ..RabbitMqConfig::default()
        };
        configure(&mut config);
        let queue = RabbitMqQueue::connect(&url, config.clone())
            .await
            .expect("failed to connect to RabbitMQ");
        let admin = Connection::connect(&url, ConnectionProperties::default())
            .await
            .expect("failed to open the test's own connection");
        let channel = admin.create_channel().await.unwrap();
        Some(Fixture {
            config,
            queue: Arc::new(queue),
            admin,
            channel,
        })
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

    /// Closes the queue and deletes what it declared.
    async fn finish(self) {
        self.queue.close().await;
        for suffix in ["tasks", "results", "tasks.dead", "results.dead"] {
            self.channel
                .queue_delete(
                    self.name(suffix).as_str().into(),
                    QueueDeleteOptions::default(),
                )
                .await
                .unwrap();
        }
        self.channel
            .exchange_delete(self.name("dead-letter").as_str().into(), Default::default())
            .await
            .unwrap();
        let _ = self.admin.close(200, "done".into()).await;
    }
}

fn task() -> TaskMessage {
    TaskMessage {
        task_id: TaskId::generate(),
        agent_id: AgentId::generate(),
        owner: UserId::generate(),
        binary_hash: Sha256::digest(b"wasm"),
        input: Arc::from(&b"some input \x00\xff"[..]),
        timeout_ms: 2500,
    }
}

fn result() -> ResultMessage {
    ResultMessage {
        task_id: TaskId::generate(),
        agent_id: AgentId::generate(),
        owner: UserId::generate(),
        status: ResultStatus::TimedOut,
        exit_code: -1,
        stdout: b"partial output".to_vec(),
        stderr: b"\xff\x00".to_vec(),
        stdout_truncated: true,
        stderr_truncated: false,
        duration_ms: 5001,
        error: Some("timed out after 5000 ms".to_owned()),
        created_at: DateTime::<Utc>::from_timestamp_micros(1_790_000_000_123_456).unwrap(),
    }
}

async fn next<T>(consumer: &mut Box<dyn Consumer<T>>) -> Delivery<T> {
    tokio::time::timeout(PATIENCE, consumer.next())
        .await
        .expect("no delivery in time")
        .expect("the consumer ended")
}

/// Nothing is delivered within a short while.
async fn assert_quiet<T>(consumer: &mut Box<dyn Consumer<T>>) {
    let delivery = tokio::time::timeout(Duration::from_millis(500), consumer.next()).await;
    assert!(delivery.is_err(), "expected no delivery");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_and_a_result_travel_intact() {
    let Some(fixture) = Fixture::start(|_| {}).await else {
        return;
    };
    let sent_task = task();
    let sent_result = result();
    fixture.queue.publish_task(sent_task.clone()).await.unwrap();
    fixture
        .queue
        .publish_result(sent_result.clone())
        .await
        .unwrap();

    let mut tasks = fixture.queue.consume_tasks().await.unwrap();
    let delivery = next(&mut tasks).await;
    assert_eq!(delivery.message, sent_task);
    assert_eq!(delivery.previous_deliveries, 0);
    delivery.ack().await.unwrap();

    let mut results = fixture.queue.consume_results().await.unwrap();
    let delivery = next(&mut results).await;
    assert_eq!(delivery.message, sent_result);
    assert_eq!(delivery.previous_deliveries, 0);
    delivery.ack().await.unwrap();

    assert_quiet(&mut tasks).await;
    assert_quiet(&mut results).await;
    drop((tasks, results));
    fixture.queue.check().await.unwrap();
    fixture.finish().await;
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
async fn a_task_rejected_with_requeue_comes_back_with_its_count_raised() {
    let Some(fixture) = Fixture::start(|_| {}).await else {
        return;
    };
    let sent = task();
    fixture.queue.publish_task(sent.clone()).await.unwrap();
    let mut tasks = fixture.queue.consume_tasks().await.unwrap();
    let first = next(&mut tasks).await;
    assert_eq!(first.previous_deliveries, 0);
    first.reject(true).await.unwrap();
    let second = next(&mut tasks).await;
    assert_eq!(second.message, sent);
    assert_eq!(second.previous_deliveries, 1);
    second.ack().await.unwrap();
    drop(tasks);
    fixture.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_past_the_delivery_limit_is_dead_lettered() {
    let Some(fixture) = Fixture::start(|config| config.delivery_limit = 3).await else {
        return;
    };
    let sent = task();
    fixture.queue.publish_task(sent.clone()).await.unwrap();
    let mut tasks = fixture.queue.consume_tasks().await.unwrap();
    for attempt in 0..3 {
        let delivery = next(&mut tasks).await;
        assert_eq!(delivery.message, sent);
        assert_eq!(delivery.previous_deliveries, attempt);
        delivery.reject(true).await.unwrap();
    }
    assert_quiet(&mut tasks).await;

    let mut dead = fixture
        .queue
        .consume_dead_tasks()
        .await
        .unwrap()
        .expect("RabbitMQ has a dead-letter queue");
    let delivery = next(&mut dead).await;
    assert_eq!(delivery.message, sent);
    delivery.ack().await.unwrap();
    assert_quiet(&mut dead).await;
    drop((tasks, dead));
    fixture.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_rejected_without_requeue_is_dead_lettered_at_once() {
    let Some(fixture) = Fixture::start(|_| {}).await else {
        return;
    };
    let sent = task();
    fixture.queue.publish_task(sent.clone()).await.unwrap();
    let mut tasks = fixture.queue.consume_tasks().await.unwrap();
    next(&mut tasks).await.reject(false).await.unwrap();
    assert_quiet(&mut tasks).await;
    let mut dead = fixture.queue.consume_dead_tasks().await.unwrap().unwrap();
    let delivery = next(&mut dead).await;
    assert_eq!(delivery.message, sent);
    delivery.ack().await.unwrap();
    drop((tasks, dead));
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

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_delivery_is_delivered_again() {
    let Some(fixture) = Fixture::start(|_| {}).await else {
        return;
    };
    let sent = task();
    fixture.queue.publish_task(sent.clone()).await.unwrap();
    let mut tasks = fixture.queue.consume_tasks().await.unwrap();
    drop(next(&mut tasks).await);
    let again = next(&mut tasks).await;
    assert_eq!(again.message, sent);
    assert_eq!(again.previous_deliveries, 1);
    again.ack().await.unwrap();
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
    let deadline = Instant::now() + PATIENCE;
    loop {
        match fixture.queue.publish_task(second.clone()).await {
            Ok(()) => break,
            Err(error) if Instant::now() < deadline => {
                eprintln!("publish during reconnection: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("publishing never recovered: {error}"),
        }
    }
    let delivery = next(&mut tasks).await;
    assert_eq!(delivery.message, second);
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
    let prefix = format!("bazaar-test-{}-classic", std::process::id());
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

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_queue_ends_its_consumers_and_refuses_publishes() {
    let Some(fixture) = Fixture::start(|_| {}).await else {
        return;
    };
    let mut tasks = fixture.queue.consume_tasks().await.unwrap();
    fixture.queue.close().await;
    let ended = tokio::time::timeout(PATIENCE, tasks.next()).await;
    assert!(matches!(ended, Ok(None)), "the consumer should end");
    assert!(matches!(
        fixture.queue.publish_task(task()).await,
        Err(QueueError::Unavailable(_))
    ));
    assert!(fixture.queue.check().await.is_err());
    drop(tasks);
    fixture.finish().await;
}
