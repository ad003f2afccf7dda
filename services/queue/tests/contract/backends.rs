//! One constructor per queue backend. Each returns a fresh, empty queue that lives as long as
//! the value it returns, or `None` when the backend's server cannot be reached and the test
//! is skipped; adding a backend means one constructor here and one line in `main.rs`.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use bazaar_domain::TaskId;
use bazaar_queue::{InProcessQueue, RabbitMqConfig, RabbitMqQueue, TaskQueue};
use bazaar_test_support::UnreachableServer;
use lapin::options::QueueDeleteOptions;
use lapin::uri::AMQPUri;
use lapin::{Connection, ConnectionProperties};

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

/// The queues and the exchange a RabbitMQ queue under `prefix` declares, deleted when this
/// is dropped (or by [`ThrowawayTopology::delete`]), whether the test passed or not.
pub struct ThrowawayTopology {
    url: String,
    prefix: String,
    deleted: bool,
}

impl ThrowawayTopology {
    pub fn new(url: &str, prefix: &str) -> Self {
        ThrowawayTopology {
            url: url.to_owned(),
            prefix: prefix.to_owned(),
            deleted: false,
        }
    }

    /// Deletes the topology now, failing the test if the broker refuses.
    pub async fn delete(mut self) {
        delete_topology(&self.url, &self.prefix)
            .await
            .unwrap_or_else(|error| panic!("failed to delete the test's queues: {error}"));
        self.deleted = true;
    }
}

impl Drop for ThrowawayTopology {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        // As for a throwaway database: a thread with a runtime and a connection of its own,
        // since the test's runtime may be going away. Whatever cannot be deleted is left
        // behind with a warning, never a panic here.
        let url = self.url.clone();
        let prefix = self.prefix.clone();
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| error.to_string())?;
            runtime
                .block_on(delete_topology(&url, &prefix))
                .map_err(|error| error.to_string())
        })
        .join();
        match deleted {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!(
                "warning: the test queues under {} were left behind: {error}",
                self.prefix
            ),
            Err(_) => eprintln!(
                "warning: the test queues under {} were left behind",
                self.prefix
            ),
        }
    }
}

async fn delete_topology(url: &str, prefix: &str) -> Result<(), lapin::Error> {
    let connection = Connection::connect(url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    for suffix in ["tasks", "results", "tasks.dead", "results.dead"] {
        channel
            .queue_delete(
                format!("{prefix}.{suffix}").as_str().into(),
                QueueDeleteOptions::default(),
            )
            .await?;
    }
    channel
        .exchange_delete(
            format!("{prefix}.dead-letter").as_str().into(),
            Default::default(),
        )
        .await?;
    let _ = connection.close(200, "done".into()).await;
    Ok(())
}
