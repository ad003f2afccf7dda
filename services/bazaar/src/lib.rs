//! The `bazaar` binary as a library: configuration, and starting the services a target
//! names.
//!
//! `bazaar --target all` (the default) runs the gateway, a worker and the results service in
//! one process with embedded backends, the way Grafana Loki's `-target=all` does; each
//! other target runs one service. Tests start the real thing through [`start`].

pub mod config;
mod seed;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bazaar_gateway::{AppState, GatewayConfig, GatewayDependencies};
use bazaar_queue::{InProcessQueue, TaskQueue};
use bazaar_results::{ResultsConfig, ResultsService};
use bazaar_sandbox::Sandbox;
use bazaar_storage::LocalBlobStore;
use bazaar_worker::{Worker, WorkerConfig};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Target};

/// A running Bazaar process: its services and how to stop them.
pub struct RunningApp {
    http_address: SocketAddr,
    gateway: AppState,
    http: Service,
    worker: Service,
    results: Service,
    ended: mpsc::UnboundedReceiver<(&'static str, anyhow::Result<()>)>,
}

/// One service's task and the token that asks it to stop.
struct Service {
    name: &'static str,
    stop: CancellationToken,
    handle: JoinHandle<()>,
}

impl RunningApp {
    /// Where the REST API listens.
    pub fn http_address(&self) -> SocketAddr {
        self.http_address
    }

    /// Resolves when a service stops by itself, which only happens when it fails; says which.
    pub async fn failed(&mut self) -> anyhow::Error {
        match self.ended.recv().await {
            Some((name, Err(error))) => error.context(format!("the {name} service failed")),
            Some((name, Ok(()))) => anyhow::anyhow!("the {name} service stopped unexpectedly"),
            None => anyhow::anyhow!("every service stopped"),
        }
    }

    /// Stops gracefully: refuse new tasks, finish the HTTP requests in flight (synchronous
    /// runs included, so the worker and the results service keep going meanwhile), then let
    /// the worker finish its runs, then let the results service store what they produced.
    pub async fn shutdown(self) {
        self.gateway.stop_accepting();
        for service in [self.http, self.worker, self.results] {
            service.stop.cancel();
            if tokio::time::timeout(Duration::from_secs(60), service.handle)
                .await
                .is_err()
            {
                tracing::warn!(service = service.name, "did not stop within 60 s");
            }
        }
    }
}

/// Starts the services `config.target` names and returns once they accept work.
pub async fn start(config: Config) -> anyhow::Result<RunningApp> {
    match config.target {
        Target::All => start_embedded(config).await,
        other => anyhow::bail!(
            "target `{other}` runs one service against PostgreSQL, RabbitMQ and S3, which this build does not support yet; use `--target all`"
        ),
    }
}

async fn start_embedded(config: Config) -> anyhow::Result<RunningApp> {
    tokio::fs::create_dir_all(&config.data_dir)
        .await
        .with_context(|| {
            format!(
                "failed to create the data directory {}",
                config.data_dir.display()
            )
        })?;
    let database = bazaar_storage::open_database(&config.database_url()).await?;
    let blobs = Arc::new(LocalBlobStore::open(config.blob_directory()).await?);
    let queue: Arc<dyn TaskQueue> = Arc::new(InProcessQueue::new(
        config.queue.capacity,
        config.queue.delivery_limit,
    ));
    let sandbox = Sandbox::new(config.sandbox.to_sandbox_config())?;
    let results = ResultsService::new(database.results.clone(), ResultsConfig::default());
    let worker = Worker::new(
        sandbox.clone(),
        blobs.clone(),
        WorkerConfig {
            concurrency: config.worker.concurrency,
            max_attempts: config.worker.max_attempts,
        },
    );
    let gateway = AppState::new(
        GatewayDependencies {
            accounts: database.accounts.clone(),
            agents: database.agents.clone(),
            tasks: database.tasks.clone(),
            database_health: database.health.clone(),
            blobs: blobs.clone(),
            queue: queue.clone(),
            results: results.clone(),
            sandbox,
        },
        gateway_config(&config),
    );
    if config.seed_examples {
        seed::publish_examples(&gateway)
            .await
            .context("failed to publish the example agents")?;
    }

    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .with_context(|| format!("failed to listen on {}", config.http.listen))?;
    let http_address = listener.local_addr()?;
    let (ended_sender, ended) = mpsc::unbounded_channel();

    let results_service = spawn_service("results", &ended_sender, {
        let queue = queue.clone();
        move |stop| results.run(queue, stop)
    });
    let worker_service = spawn_service("worker", &ended_sender, {
        let queue = queue.clone();
        move |stop| worker.run(queue, stop)
    });
    let http_service = spawn_service("gateway", &ended_sender, {
        let router = bazaar_gateway::router(gateway.clone());
        move |stop| async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
                .context("the HTTP server failed")
        }
    });
    tracing::info!(%http_address, data_dir = %config.data_dir.display(), "bazaar is running (target all, embedded)");
    Ok(RunningApp {
        http_address,
        gateway,
        http: http_service,
        worker: worker_service,
        results: results_service,
        ended,
    })
}

fn spawn_service<F, Fut>(
    name: &'static str,
    ended: &mpsc::UnboundedSender<(&'static str, anyhow::Result<()>)>,
    run: F,
) -> Service
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let stop = CancellationToken::new();
    let future = run(stop.clone());
    let ended = ended.clone();
    let stopping = stop.clone();
    let handle = tokio::spawn(async move {
        let outcome = future.await;
        // A service that ends before it was asked to has failed; report it.
        if !stopping.is_cancelled() {
            let _ = ended.send((name, outcome));
        } else if let Err(error) = outcome {
            tracing::error!(
                service = name,
                error = format!("{error:#}"),
                "failed while stopping"
            );
        }
    });
    Service { name, stop, handle }
}

fn gateway_config(config: &Config) -> GatewayConfig {
    GatewayConfig {
        max_upload_bytes: config.http.max_upload_bytes,
        max_input_bytes: config.http.max_input_bytes,
        default_timeout: Duration::from_millis(
            config
                .sandbox
                .default_timeout_ms
                .min(config.sandbox.max_timeout_ms),
        ),
        max_timeout: Duration::from_millis(config.sandbox.max_timeout_ms),
        execute_wait_grace: Duration::from_millis(config.http.execute_wait_grace_ms),
        token_ttl: Duration::from_secs(config.auth.token_ttl_hours * 3600),
        tasks_per_second_per_user: config.limits.tasks_per_second_per_user,
        task_burst: config.limits.task_burst,
    }
}
