//! The `bazaar` binary as a library: configuration, and starting the services a target
//! names.
//!
//! `bazaar --target all` (the default) runs the gateway, a worker and the results service in
//! one process with embedded backends, the way Grafana Loki's `-target=all` does; each
//! other target runs one service against PostgreSQL, RabbitMQ, S3 and the results service's
//! gRPC. Backends are chosen by URL, parsed once into typed locations by [`config`]:
//! `sqlite://` or `postgres://`, an `amqp://` queue or the in-process one, `s3://` or a local
//! directory. Each service is a value ([`services::ServiceKind`]) that opens what it needs
//! from the shared backends; a target is the list of its services. Tests start the real
//! thing through [`start`].
//!
//! The gateway serves `/healthz`, `/readyz` and `/metrics` on its HTTP address; a process
//! without it (`--target worker` or `results`) serves them on `ops.listen`. Logs and traces
//! are set up by [`telemetry::init`].

mod backends;
pub mod config;
mod seed;
pub mod services;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bazaar_gateway::AppState;
use bazaar_queue::TaskQueue;
use bazaar_telemetry::Readiness;
use bazaar_telemetry::metrics::{self, Section};
use tokio::sync::mpsc;

use crate::backends::Backends;
use crate::config::{Config, Target};
use crate::services::{RunningService, ServiceKind};

/// How long shutdown waits for one service to stop.
const STOP_PATIENCE: Duration = Duration::from_secs(60);

/// A running Bazaar process: its services and how to stop them.
pub struct RunningApp {
    http_address: Option<SocketAddr>,
    grpc_address: Option<SocketAddr>,
    ops_address: Option<SocketAddr>,
    gateway: Option<AppState>,
    /// In shutdown order (see [`Target::services`]).
    services: Vec<RunningService>,
    queue: Option<Arc<dyn TaskQueue>>,
    /// What `/readyz` reports; draining from the start of shutdown.
    readiness: Readiness,
    ended: mpsc::UnboundedReceiver<(ServiceKind, anyhow::Result<()>)>,
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
            Some((service, Err(error))) => {
                error.context(format!("the {} service failed", service.name()))
            }
            Some((service, Ok(()))) => {
                anyhow::anyhow!("the {} service stopped unexpectedly", service.name())
            }
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
        self.readiness.start_draining();
        for service in self.services {
            service.stop(STOP_PATIENCE).await;
        }
        if let Some(queue) = self.queue {
            queue.close().await;
        }
    }
}

/// Starts the services `config.target` names and returns once they accept work.
pub async fn start(config: Config) -> anyhow::Result<RunningApp> {
    config
        .check_distributed()
        .map_err(|error| anyhow::anyhow!(error))?;
    let target = config.target;
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
    metrics::expose(Section::Queue);
    let backends = Backends::new(config, target.services());

    // Every service is prepared (backends opened, ports bound) before any runs, so that a
    // failure to start leaves nothing running.
    let mut prepared = Vec::new();
    for kind in backends.services.iter().copied() {
        let service = kind
            .prepare(&backends)
            .await
            .with_context(|| format!("failed to start the {} service", kind.name()))?;
        prepared.push((kind, service));
    }

    let (ended_sender, ended) = mpsc::unbounded_channel();
    let mut app = RunningApp {
        http_address: None,
        grpc_address: None,
        ops_address: None,
        gateway: None,
        services: Vec::new(),
        queue: backends.opened_queue(),
        readiness: backends.readiness.clone(),
        ended,
    };
    for (kind, service) in prepared {
        match kind {
            ServiceKind::Gateway => app.http_address = service.address,
            ServiceKind::ResultsGrpc => app.grpc_address = service.address,
            ServiceKind::Operations => app.ops_address = service.address,
            ServiceKind::Worker | ServiceKind::Results | ServiceKind::Webhooks => {}
        }
        if service.gateway.is_some() {
            app.gateway = service.gateway.clone();
        }
        app.services.push(service.spawn(kind, &ended_sender));
    }
    tracing::info!(
        target = %target,
        http = ?app.http_address,
        grpc = ?app.grpc_address,
        ops = ?app.ops_address,
        checks = ?app.readiness.dependencies(),
        "bazaar is running"
    );
    Ok(app)
}
