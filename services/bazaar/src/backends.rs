//! The backends a process's services share, each opened once, on first need, from the
//! locations in the configuration: the queue, the database, the blob store, the sandbox and
//! the in-process results service. A service asks for what it uses, so a worker never opens
//! a database and a results service never opens a blob store.

use std::sync::Arc;

use anyhow::Context;
use bazaar_blobs::BlobStore;
use bazaar_database::DatabaseStores;
use bazaar_queue::{InProcessQueue, QueueLocation, RabbitMqConfig, RabbitMqQueue, TaskQueue};
use bazaar_results::{ResultsConfig, ResultsService};
use bazaar_sandbox::Sandbox;
use bazaar_telemetry::Readiness;
use tokio::sync::OnceCell;

use crate::config::Config;
use crate::services::ServiceKind;

/// What the services of one process share.
pub(crate) struct Backends {
    pub config: Config,
    /// The services this process runs.
    pub services: Vec<ServiceKind>,
    /// What `/readyz` checks: each backend adds itself when it is opened.
    pub readiness: Readiness,
    queue: OnceCell<Arc<dyn TaskQueue>>,
    database: OnceCell<DatabaseStores>,
    blobs: OnceCell<Arc<dyn BlobStore>>,
    sandbox: OnceCell<Sandbox>,
    results: OnceCell<Arc<ResultsService>>,
}

impl Backends {
    pub fn new(config: Config, services: Vec<ServiceKind>) -> Self {
        Backends {
            config,
            services,
            readiness: Readiness::new(),
            queue: OnceCell::new(),
            database: OnceCell::new(),
            blobs: OnceCell::new(),
            sandbox: OnceCell::new(),
            results: OnceCell::new(),
        }
    }

    /// Whether this process runs `service`.
    pub fn runs(&self, service: ServiceKind) -> bool {
        self.services.contains(&service)
    }

    /// The task queue every service of the process uses.
    pub async fn queue(&self) -> anyhow::Result<Arc<dyn TaskQueue>> {
        self.queue
            .get_or_try_init(|| async {
                let queue = open_queue(&self.config).await?;
                let probe = queue.clone();
                self.readiness.add("queue", move || {
                    let queue = probe.clone();
                    async move { queue.check().await.map_err(|error| error.to_string()) }
                });
                Ok(queue)
            })
            .await
            .cloned()
    }

    /// The queue, if a service has opened it: what shutdown closes.
    pub fn opened_queue(&self) -> Option<Arc<dyn TaskQueue>> {
        self.queue.get().cloned()
    }

    /// The database of records, with its schema brought up to date.
    pub async fn database(&self) -> anyhow::Result<DatabaseStores> {
        self.database
            .get_or_try_init(|| async {
                let database = bazaar_database::open(&self.config.database_location()).await?;
                let health = database.health.clone();
                self.readiness.add("database", move || {
                    let health = health.clone();
                    async move { health.check().await.map_err(|error| error.to_string()) }
                });
                Ok(database)
            })
            .await
            .cloned()
    }

    /// The store of agent binaries.
    pub async fn blobs(&self) -> anyhow::Result<Arc<dyn BlobStore>> {
        self.blobs
            .get_or_try_init(|| async {
                let blobs = bazaar_blobs::open(
                    &self.config.blob_location(),
                    self.config.blobs.create_bucket,
                )
                .await?;
                let probe = blobs.clone();
                self.readiness.add("blob store", move || {
                    let blobs = probe.clone();
                    async move { blobs.check().await.map_err(|error| format!("{error:#}")) }
                });
                Ok(blobs)
            })
            .await
            .cloned()
    }

    /// The sandbox: the worker's runs, and the gateway's validation of uploads (in one
    /// process they share it, so an upload warms the worker's module cache). Only a process
    /// that runs a worker keeps compiled modules on disk; a gateway alone needs no writable
    /// directory.
    pub async fn sandbox(&self) -> anyhow::Result<Sandbox> {
        self.sandbox
            .get_or_try_init(|| async {
                let cache_dir = self
                    .runs(ServiceKind::Worker)
                    .then(|| self.config.compiled_cache_directory());
                Sandbox::new(self.config.sandbox.to_sandbox_config(cache_dir))
                    .context("failed to set up the sandbox")
            })
            .await
            .cloned()
    }

    /// The results service of this process, when it runs one.
    pub async fn results_service(&self) -> anyhow::Result<Arc<ResultsService>> {
        self.results
            .get_or_try_init(|| async {
                let database = self.database().await?;
                let queue = self.queue().await?;
                Ok(ResultsService::with_retention(
                    database.results.clone(),
                    queue,
                    ResultsConfig::default(),
                    database.retention.clone(),
                    self.config.results.to_retention_config(),
                ))
            })
            .await
            .cloned()
    }
}

async fn open_queue(config: &Config) -> anyhow::Result<Arc<dyn TaskQueue>> {
    match config.queue_location() {
        QueueLocation::InProcess => Ok(Arc::new(InProcessQueue::new(
            config.queue.capacity,
            config.queue.delivery_limit,
        ))),
        QueueLocation::RabbitMq(url) => {
            let queue = RabbitMqQueue::connect(
                url.expose(),
                RabbitMqConfig {
                    prefix: config.queue.prefix.clone(),
                    prefetch: u16::try_from(config.worker.concurrency).unwrap_or(u16::MAX),
                    delivery_limit: config.queue.delivery_limit,
                    ..RabbitMqConfig::default()
                },
            )
            .await
            .with_context(|| format!("failed to connect to RabbitMQ at {url}"))?;
            Ok(Arc::new(queue))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::config::Target;

    fn embedded(directory: &std::path::Path, target: Target) -> Backends {
        let mut config = Config::embedded(directory);
        config.target = target;
        config.ops.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        Backends::new(config, target.services())
    }

    #[tokio::test]
    async fn a_worker_opens_and_checks_only_the_queue_and_the_blob_store() {
        let directory = tempfile::tempdir().unwrap();
        let backends = embedded(directory.path(), Target::Worker);

        for service in backends.services.clone() {
            service.prepare(&backends).await.unwrap();
        }

        assert_eq!(backends.readiness.dependencies(), ["blob store", "queue"]);
        assert!(backends.database.get().is_none());
        assert!(!directory.path().join("bazaar.db").exists());
        assert_eq!(backends.readiness.check().await, Ok(()));
    }

    #[tokio::test]
    async fn readiness_names_the_dependency_that_failed() {
        let directory = tempfile::tempdir().unwrap();
        let backends = embedded(directory.path(), Target::Worker);
        backends.queue().await.unwrap();
        backends.blobs().await.unwrap();

        std::fs::remove_dir_all(directory.path().join("blobs")).unwrap();
        let problems = backends.readiness.check().await.unwrap_err();

        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("blob store: "), "{problems:?}");
    }
}
