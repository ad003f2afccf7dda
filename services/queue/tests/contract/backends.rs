//! One constructor per queue backend. Each returns a fresh, empty queue that lives as long as
//! the value it returns, or `None` when the backend's server cannot be reached and the test
//! is skipped; adding a backend means one constructor here and one line in `main.rs`.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use bazaar_domain::TaskId;
use bazaar_queue::{InProcessQueue, RabbitMqConfig, RabbitMqQueue, TaskQueue};
use bazaar_test_support::{ThrowawayTopology, UnreachableServer};
use lapin::uri::AMQPUri;

/// Deliveries of one message before every backend gives it up, counting the first. Small,
/// so that the tests that reach it stay short.
pub const DELIVERY_LIMIT: u32 = 3;

/// A queue of one backend, seen only through its trait.
pub struct QueueBackend {
    pub queue: Arc<dyn TaskQueue>,
    /// Deliveries of one message before the queue gives it up, counting the first.
    pub delivery_limit: u32,
    // Dropped after the queue: whatever the queue declared outside the process.
    _topology: Box<dyn Any + Send + Sync>,
}

/// The bounded channels of embedded mode.
pub async fn in_process() -> Option<QueueBackend> {
    init_logs();
    Some(QueueBackend {
        queue: Arc::new(InProcessQueue::new(1024, DELIVERY_LIMIT)),
        delivery_limit: DELIVERY_LIMIT,
        _topology: Box::new(()),
    })
}

/// Quorum queues of their own on a real broker, as distributed mode runs them, deleted after
/// the test.
pub async fn rabbitmq() -> Option<QueueBackend> {
    let url = broker_url().await?;
    let prefix = unique_prefix();
    // Before connecting, so that what a failed connection declared is deleted as well.
    let topology = ThrowawayTopology::new(&url, &prefix);
    let config = RabbitMqConfig {
        connection_name: prefix.clone(),
        prefix,
        delivery_limit: DELIVERY_LIMIT,
        ..RabbitMqConfig::default()
    };
    let queue = RabbitMqQueue::connect(&url, config)
        .await
        .unwrap_or_else(|error| panic!("failed to connect to RabbitMQ: {error}"));
    Some(QueueBackend {
        queue: Arc::new(queue),
        delivery_limit: DELIVERY_LIMIT,
        _topology: Box::new(topology),
    })
}

/// The broker the RabbitMQ tests declare their queues on, unless `BAZAAR_TEST_AMQP_URL` names
/// another; `scripts/services.sh` starts one there.
const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The broker's URL, or `None` (the test is skipped, loudly) when it cannot be reached; under
/// `CI` that fails the test instead, so that CI never passes without having run it.
pub async fn broker_url() -> Option<String> {
    init_logs();
    let url = std::env::var("BAZAAR_TEST_AMQP_URL").unwrap_or_else(|_| DEFAULT_AMQP_URL.to_owned());
    let uri: AMQPUri = url
        .parse()
        .unwrap_or_else(|error| panic!("BAZAAR_TEST_AMQP_URL is not an AMQP URL: {error}"));
    let host = uri.authority.host.clone();
    let port = uri.authority.port;
    let connecting = tokio::net::TcpStream::connect((host.as_str(), port));
    let cause = match tokio::time::timeout(Duration::from_secs(3), connecting).await {
        Ok(Ok(_)) => return Some(url),
        Ok(Err(error)) => error.to_string(),
        Err(_) => "no answer within 3 seconds".to_owned(),
    };
    UnreachableServer {
        server: "RabbitMQ",
        address: &format!("{host}:{port}"),
        cause: &cause,
        skipped_tests: "the RabbitMQ tests",
        remedy: "start it with scripts/services.sh, or point BAZAAR_TEST_AMQP_URL at one",
    }
    .skip_unless_ci()
}

/// A prefix no other test uses, for queue names and connection names alike.
pub fn unique_prefix() -> String {
    let unique = TaskId::generate();
    format!("bazaar-test-{}", &unique.as_str()[TaskId::PREFIX.len()..])
}

/// The queue's logs in the test output (shown for failing tests); `RUST_LOG` filters them.
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "bazaar_queue=debug,lapin=warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}
