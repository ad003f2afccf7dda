//! The `bazaar` binary as a library: configuration, and starting the services a target
//! names.
//!
//! `bazaar --target all` (the default) runs the gateway, a worker and the results service in
//! one process with embedded backends, the way Grafana Loki's `-target=all` does; each
//! other target runs one service against PostgreSQL, RabbitMQ, S3 and the results service's
//! gRPC. Backends are chosen by URL: `sqlite://` or `postgres://`, an `amqp://` queue or the
//! in-process one, `s3://` or a local directory. Tests start the real thing through
//! [`start`].
//!
//! The gateway serves `/healthz`, `/readyz` and `/metrics` on its HTTP address; a process
//! without it (`--target worker` or `results`) serves them on `ops.listen`. Logs and traces
//! are set up by [`telemetry::init`].

pub mod config;
mod ops;
mod seed;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bazaar_gateway::{AppState, GatewayConfig, GatewayDependencies};
use bazaar_queue::{InProcessQueue, RabbitMqConfig, RabbitMqQueue, TaskQueue};
use bazaar_results::grpc::GrpcResultsClient;
use bazaar_results::{ResultsClient, ResultsConfig, ResultsService};
use bazaar_sandbox::Sandbox;
use bazaar_storage::{BlobStore, LocalBlobStore, S3BlobStore};
use bazaar_telemetry::metrics::{self, Section};
use bazaar_worker::{Worker, WorkerConfig};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Target};

/// A running Bazaar process: its services and how to stop them.
pub struct RunningApp {
    http_address: Option<SocketAddr>,
    grpc_address: Option<SocketAddr>,
    ops_address: Option<SocketAddr>,
    gateway: Option<AppState>,
    /// In shutdown order: HTTP, worker, results consumer, gRPC, operations endpoint.
    services: Vec<Service>,
    queue: Arc<dyn TaskQueue>,
    /// Cancelled when shutdown begins: the operations endpoint reports not ready.
    draining: CancellationToken,
    ended: mpsc::UnboundedReceiver<(&'static str, anyhow::Result<()>)>,
}

/// One service's task and the token that asks it to stop.
struct Service {
    name: &'static str,
    stop: CancellationToken,
    handle: JoinHandle<()>,
}

impl RunningApp {
    /// Where the REST API listens. Panics when this process runs no gateway.
    pub fn http_address(&self) -> SocketAddr {
        self.http_address.expect("this process runs no gateway")
    }

    /// Where the REST API listens, if this process runs the gateway.
    pub fn http_address_if_any(&self) -> Option<SocketAddr> {
        self.http_address
    }

    /// Where the results service serves gRPC, if this process runs it alone.
    pub fn grpc_address(&self) -> Option<SocketAddr> {
        self.grpc_address
    }

    /// Where `/healthz`, `/readyz` and `/metrics` are served, if this process runs no
    /// gateway (which serves them itself).
    pub fn ops_address(&self) -> Option<SocketAddr> {
        self.ops_address
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
    /// the worker stop consuming and finish its runs (publishing their results), then let the
    /// results service store what they produced; last, close the queue so that every
    /// acknowledgement reaches the broker.
    pub async fn shutdown(self) {
        if let Some(gateway) = &self.gateway {
            gateway.stop_accepting();
        }
        self.draining.cancel();
        for service in self.services {
            service.stop.cancel();
            if tokio::time::timeout(Duration::from_secs(60), service.handle)
                .await
                .is_err()
            {
                tracing::warn!(service = service.name, "did not stop within 60 s");
            }
        }
        self.queue.close().await;
    }
}

/// Starts the services `config.target` names and returns once they accept work.
pub async fn start(config: Config) -> anyhow::Result<RunningApp> {
    config
        .check_distributed()
        .map_err(|error| anyhow::anyhow!(error))?;
    let target = config.target;
    let runs_gateway = matches!(target, Target::All | Target::Gateway);
    let runs_worker = matches!(target, Target::All | Target::Worker);
    let runs_results = matches!(target, Target::All | Target::Results);

    if target == Target::All {
        tokio::fs::create_dir_all(&config.data_dir)
            .await
            .with_context(|| {
                format!(
                    "failed to create the data directory {}",
                    config.data_dir.display()
                )
            })?;
    }
    let queue = open_queue(&config).await?;
    let database = if runs_gateway || runs_results {
        Some(bazaar_storage::open_database(&config.database_url()).await?)
    } else {
        None
    };
    let blobs = if runs_gateway || runs_worker {
        Some(open_blobs(&config).await?)
    } else {
        None
    };
    let sandbox = if runs_gateway || runs_worker {
        // Only a worker keeps compiled modules on disk; the gateway compiles uploads to check
        // them and needs no writable directory.
        let cache_dir = runs_worker.then(|| config.compiled_cache_directory());
        Some(Sandbox::new(config.sandbox.to_sandbox_config(cache_dir))?)
    } else {
        None
    };
    let results = database
        .as_ref()
        .filter(|_| runs_results)
        .map(|database| ResultsService::new(database.results.clone(), ResultsConfig::default()));

    metrics::expose(Section::Queue);
    for (runs, section) in [
        (runs_gateway, Section::Http),
        (runs_worker, Section::Worker),
        (runs_results, Section::Results),
    ] {
        if runs {
            metrics::expose(section);
        }
    }

    let (ended_sender, ended) = mpsc::unbounded_channel();
    let mut services = Vec::new();
    let mut http_address = None;
    let mut grpc_address = None;
    let mut ops_address = None;
    let mut gateway_state = None;
    let draining = CancellationToken::new();
    // Bound before any service starts, so that a taken port fails the start cleanly.
    let ops_listener = if runs_gateway {
        None
    } else {
        Some(
            tokio::net::TcpListener::bind(config.ops.listen)
                .await
                .with_context(|| {
                    format!(
                        "failed to listen on {} for the operations endpoint",
                        config.ops.listen
                    )
                })?,
        )
    };

    if let (true, Some(database), Some(blobs), Some(sandbox)) =
        (runs_gateway, &database, &blobs, &sandbox)
    {
        let results_client: Arc<dyn ResultsClient> = match (&results, &config.results.url) {
            (Some(results), _) => results.clone(),
            (None, Some(url)) => Arc::new(GrpcResultsClient::new(url)?),
            (None, None) => anyhow::bail!("the gateway needs `results.url`"),
        };
        let gateway = AppState::new(
            GatewayDependencies {
                accounts: database.accounts.clone(),
                agents: database.agents.clone(),
                tasks: database.tasks.clone(),
                database_health: database.health.clone(),
                blobs: blobs.clone(),
                queue: queue.clone(),
                results: results_client,
                sandbox: sandbox.clone(),
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
        http_address = Some(listener.local_addr()?);
        let router = bazaar_gateway::router(gateway.clone());
        services.push(spawn_service(
            "gateway",
            &ended_sender,
            move |stop| async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await
                    .context("the HTTP server failed")
            },
        ));
        gateway_state = Some(gateway);
    }
    if let (true, Some(blobs), Some(sandbox)) = (runs_worker, &blobs, &sandbox) {
        let worker = Worker::new(
            sandbox.clone(),
            blobs.clone(),
            WorkerConfig {
                concurrency: config.worker.concurrency,
                max_attempts: config.worker.max_attempts,
            },
        );
        let queue = queue.clone();
        services.push(spawn_service("worker", &ended_sender, move |stop| {
            worker.run(queue, stop)
        }));
    }
    let results_database = database
        .as_ref()
        .filter(|_| runs_results)
        .map(|database| database.health.clone());
    if let Some(results) = results {
        let consumer = results.clone();
        let queue = queue.clone();
        services.push(spawn_service("results", &ended_sender, move |stop| {
            consumer.run(queue, stop)
        }));
        if target == Target::Results {
            let listener = tokio::net::TcpListener::bind(config.results.listen)
                .await
                .with_context(|| format!("failed to listen on {}", config.results.listen))?;
            grpc_address = Some(listener.local_addr()?);
            services.push(spawn_service("results gRPC", &ended_sender, move |stop| {
                bazaar_results::grpc::serve(results, listener, stop)
            }));
        }
    }
    if let Some(listener) = ops_listener {
        ops_address = Some(listener.local_addr()?);
        let router = ops::router(ops::Dependencies {
            queue: queue.clone(),
            blobs: blobs.clone().filter(|_| runs_worker),
            database: results_database,
            draining: draining.clone(),
        });
        services.push(spawn_service(
            "operations endpoint",
            &ended_sender,
            move |stop| async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await
                    .context("the operations endpoint failed")
            },
        ));
    }
    tracing::info!(
        target = %target,
        http = ?http_address,
        grpc = ?grpc_address,
        ops = ?ops_address,
        "bazaar is running"
    );
    Ok(RunningApp {
        http_address,
        grpc_address,
        ops_address,
        gateway: gateway_state,
        services,
        queue,
        draining,
        ended,
    })
}

async fn open_queue(config: &Config) -> anyhow::Result<Arc<dyn TaskQueue>> {
    match &config.queue.url {
        None => Ok(Arc::new(InProcessQueue::new(
            config.queue.capacity,
            config.queue.delivery_limit,
        ))),
        Some(url) => {
            let queue = RabbitMqQueue::connect(
                url,
                RabbitMqConfig {
                    prefix: config.queue.prefix.clone(),
                    prefetch: u16::try_from(config.worker.concurrency).unwrap_or(u16::MAX),
                    delivery_limit: config.queue.delivery_limit,
                    ..RabbitMqConfig::default()
                },
            )
            .await
            .map_err(|error| anyhow::anyhow!("failed to connect to RabbitMQ: {error}"))?;
            Ok(Arc::new(queue))
        }
    }
}

async fn open_blobs(config: &Config) -> anyhow::Result<Arc<dyn BlobStore>> {
    match config.blobs.url.as_deref() {
        Some(url) if url.starts_with("s3://") => Ok(Arc::new(
            S3BlobStore::open(url, config.blobs.create_bucket).await?,
        )),
        _ => Ok(Arc::new(
            LocalBlobStore::open(config.blob_directory()).await?,
        )),
    }
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
        lookup_cache_ttl: Duration::from_millis(config.http.lookup_cache_ms),
    }
}
