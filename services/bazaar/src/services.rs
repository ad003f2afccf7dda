//! The services a process can run, as values: each knows what it needs from the shared
//! [`Backends`] and how to start; [`Target::services`] lists a target's services, and
//! [`crate::start`] starts them in that order. Adding a service is one variant here and
//! its entry in the targets that run it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bazaar_gateway::{
    AppState, GatewayConfig, GatewayDependencies, badge_unanalysed_agents, resume_unfinished_tasks,
};
use bazaar_queue::QueueLocation;
use bazaar_results::ResultsClient;
use bazaar_results::grpc::GrpcResultsClient;
use bazaar_telemetry::metrics::{self, Section};
use bazaar_webhooks::Deliverer;
use bazaar_worker::{Worker, WorkerConfig};
use chrono::Utc;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::backends::Backends;
use crate::config::{Config, Target};
use crate::seed;

/// One service of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    /// The REST API, with `/healthz`, `/readyz` and `/metrics` on its own address.
    Gateway,
    /// Runs tasks from the queue.
    Worker,
    /// Stores results from the queue and answers for them in process.
    Results,
    /// The results service's gRPC server, for gateways in other processes.
    ResultsGrpc,
    /// Sends the messages of tasks' webhooks from the database's outbox.
    Webhooks,
    /// `/healthz`, `/readyz` and `/metrics` on `ops.listen`, for a process without a
    /// gateway.
    Operations,
}

impl Target {
    /// The services this target runs, in the order they stop: the gateway first (no new
    /// work, requests in flight finish), then the worker (runs in flight finish and publish
    /// their results), then the results service (stores what the worker published), then
    /// what serves it. They start in the same order; none waits for another to start.
    pub fn services(self) -> Vec<ServiceKind> {
        match self {
            Target::All => vec![
                ServiceKind::Gateway,
                ServiceKind::Worker,
                ServiceKind::Results,
                ServiceKind::Webhooks,
            ],
            Target::Gateway => vec![ServiceKind::Gateway],
            Target::Worker => vec![ServiceKind::Worker, ServiceKind::Operations],
            Target::Results => vec![
                ServiceKind::Results,
                ServiceKind::ResultsGrpc,
                ServiceKind::Operations,
            ],
            Target::Webhooks => vec![ServiceKind::Webhooks, ServiceKind::Operations],
        }
    }
}

impl ServiceKind {
    /// The name logs and errors give the service.
    pub fn name(self) -> &'static str {
        match self {
            ServiceKind::Gateway => "gateway",
            ServiceKind::Worker => "worker",
            ServiceKind::Results => "results",
            ServiceKind::ResultsGrpc => "results gRPC",
            ServiceKind::Webhooks => "webhooks",
            ServiceKind::Operations => "operations endpoint",
        }
    }

    /// Opens what the service needs, binds its address (so that a taken port fails the
    /// start) and returns the future that runs it until `stop`.
    pub(crate) async fn prepare(self, backends: &Backends) -> anyhow::Result<Prepared> {
        let config = &backends.config;
        match self {
            ServiceKind::Gateway => {
                metrics::expose(Section::Http);
                let database = backends.database().await?;
                let results: Arc<dyn ResultsClient> = if backends.runs(ServiceKind::Results) {
                    backends.results_service().await?
                } else {
                    let url = config
                        .results
                        .url
                        .as_deref()
                        .context("the gateway needs `results.url`")?;
                    Arc::new(GrpcResultsClient::new(url)?)
                };
                let queue = backends.queue().await?;
                // The in-process queue loses what it holds with the process: the tasks
                // accepted before this start that have no result are queued again, beside
                // serving. Taken before the gateway accepts anything, the time bounds them
                // to the previous processes' tasks. RabbitMQ keeps its queue by itself.
                let resume = (config.queue_location() == QueueLocation::InProcess).then(|| {
                    let tasks = database.tasks.clone();
                    let queue = queue.clone();
                    let accepted_before = Utc::now();
                    move |stop| resume_unfinished_tasks(tasks, queue, accepted_before, stop)
                });
                let gateway = AppState::new(
                    GatewayDependencies {
                        accounts: database.accounts.clone(),
                        agents: database.agents.clone(),
                        tasks: database.tasks.clone(),
                        webhooks: database.webhooks.clone(),
                        readiness: backends.readiness.clone(),
                        blobs: backends.blobs().await?,
                        queue,
                        results,
                        sandbox: backends.sandbox().await?,
                    },
                    gateway_config(config),
                );
                if config.seed_examples {
                    seed::publish_examples(&gateway)
                        .await
                        .context("failed to publish the example agents")?;
                }
                let listener = bind(config.http.listen, "the REST API").await?;
                let address = listener.local_addr()?;
                let router = bazaar_gateway::router(gateway.clone());
                // Agents published before modules were analysed get their badges, beside
                // serving.
                let badging = {
                    let agents = database.agents.clone();
                    let blobs = backends.blobs().await?;
                    let sandbox = backends.sandbox().await?;
                    move |stop| badge_unanalysed_agents(agents, blobs, sandbox, stop)
                };
                Ok(Prepared::new(Some(address), move |stop| async move {
                    let resumed = async {
                        if let Some(resume) = resume {
                            resume(stop.clone()).await;
                        }
                    };
                    let badged = badging(stop.clone());
                    let served = axum::serve(listener, router)
                        .with_graceful_shutdown(stop.clone().cancelled_owned());
                    let (served, (), _) = tokio::join!(served, resumed, badged);
                    served.context("the HTTP server failed")
                })
                .with_gateway(gateway))
            }
            ServiceKind::Worker => {
                metrics::expose(Section::Worker);
                let worker = Worker::new(
                    backends.sandbox().await?,
                    backends.blobs().await?,
                    WorkerConfig {
                        concurrency: config.worker.concurrency,
                        max_attempts: config.worker.max_attempts,
                    },
                );
                let queue = backends.queue().await?;
                Ok(Prepared::new(None, move |stop| worker.run(queue, stop)))
            }
            ServiceKind::Results => {
                metrics::expose(Section::Results);
                let results = backends.results_service().await?;
                let queue = backends.queue().await?;
                Ok(Prepared::new(None, move |stop| results.run(queue, stop)))
            }
            ServiceKind::ResultsGrpc => {
                let results = backends.results_service().await?;
                let listener = bind(config.results.listen, "the results service's gRPC").await?;
                let address = listener.local_addr()?;
                Ok(Prepared::new(Some(address), move |stop| {
                    bazaar_results::grpc::serve(results, listener, stop)
                }))
            }
            ServiceKind::Webhooks => {
                let database = backends.database().await?;
                let deliverer = Arc::new(Deliverer::new(
                    database.webhooks.clone(),
                    database.results.clone(),
                    config.webhooks.to_webhooks_config(),
                )?);
                Ok(Prepared::new(None, move |stop| deliverer.run(stop)))
            }
            ServiceKind::Operations => {
                let listener = bind(config.ops.listen, "the operations endpoint").await?;
                let address = listener.local_addr()?;
                let router = bazaar_gateway::operations_router(backends.readiness.clone());
                Ok(Prepared::new(Some(address), move |stop| async move {
                    axum::serve(listener, router)
                        .with_graceful_shutdown(stop.cancelled_owned())
                        .await
                        .context("the operations endpoint failed")
                }))
            }
        }
    }
}

type RunFuture = std::pin::Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// A service ready to run: its address, if it listens, and how to run it.
pub(crate) struct Prepared {
    pub address: Option<SocketAddr>,
    pub gateway: Option<AppState>,
    run: Box<dyn FnOnce(CancellationToken) -> RunFuture + Send>,
}

impl Prepared {
    fn new<F, Fut>(address: Option<SocketAddr>, run: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        Prepared {
            address,
            gateway: None,
            run: Box::new(move |stop| Box::pin(run(stop))),
        }
    }

    fn with_gateway(mut self, gateway: AppState) -> Self {
        self.gateway = Some(gateway);
        self
    }

    /// Runs the service on a task of its own; reports on `ended` if it stops before it was
    /// asked to (which means it failed).
    pub fn spawn(
        self,
        kind: ServiceKind,
        ended: &mpsc::UnboundedSender<(ServiceKind, anyhow::Result<()>)>,
    ) -> RunningService {
        let stop = CancellationToken::new();
        let future = (self.run)(stop.clone());
        let ended = ended.clone();
        let stopping = stop.clone();
        let handle = tokio::spawn(async move {
            let outcome = future.await;
            if !stopping.is_cancelled() {
                let _ = ended.send((kind, outcome));
            } else if let Err(error) = outcome {
                tracing::error!(
                    service = kind.name(),
                    error = format!("{error:#}"),
                    "failed while stopping"
                );
            }
        });
        RunningService { kind, stop, handle }
    }
}

/// A running service and the token that asks it to stop.
pub(crate) struct RunningService {
    pub kind: ServiceKind,
    stop: CancellationToken,
    handle: JoinHandle<()>,
}

impl RunningService {
    /// Asks the service to stop and waits for it, up to `patience`.
    pub async fn stop(self, patience: Duration) {
        self.stop.cancel();
        if tokio::time::timeout(patience, self.handle).await.is_err() {
            tracing::warn!(
                service = self.kind.name(),
                "did not stop within {} s",
                patience.as_secs()
            );
        }
    }
}

async fn bind(address: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("failed to listen on {address} for {what}"))
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
        webhook_targets: config.webhooks.target_policy(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_but_all_runs_one_service_and_its_endpoints() {
        assert_eq!(
            Target::All.services(),
            [
                ServiceKind::Gateway,
                ServiceKind::Worker,
                ServiceKind::Results,
                ServiceKind::Webhooks,
            ]
        );
        for target in [Target::Worker, Target::Results, Target::Webhooks] {
            assert_eq!(
                target.services().last(),
                Some(&ServiceKind::Operations),
                "{target}"
            );
        }
        assert_eq!(Target::Gateway.services(), [ServiceKind::Gateway]);
    }
}
