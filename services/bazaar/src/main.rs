//! `bazaar`: runs the marketplace. See `bazaar --help`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use bazaar::config::{self, Target};
use clap::Parser;

/// Bazaar: a marketplace of WebAssembly agents.
///
/// With no arguments it runs everything in one process (SQLite, local files, an in-process
/// queue) with its data in ./data and the API on http://127.0.0.1:8080.
#[derive(Debug, Parser)]
#[command(version)]
struct Arguments {
    /// Which services to run: all, gateway, worker, results or webhooks.
    #[arg(long, value_parser = clap::builder::ValueParser::new(parse_target))]
    target: Option<Target>,
    /// Address of the REST API.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Where the embedded database and agent binaries live.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// A TOML configuration file; `BAZAAR_SECTION__KEY` variables override it.
    #[arg(long, env = "BAZAAR_CONFIG")]
    config: Option<PathBuf>,
    /// Print the configuration in effect (as JSON) and exit.
    #[arg(long)]
    print_config: bool,
}

fn parse_target(raw: &str) -> Result<Target, String> {
    raw.parse()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let arguments = Arguments::parse();
    let mut config = config::load(arguments.config.as_deref())?;
    if let Some(target) = arguments.target {
        config.target = target;
    }
    if let Some(listen) = arguments.listen {
        config.http.listen = listen;
    }
    if let Some(data_dir) = arguments.data_dir {
        config.data_dir = data_dir;
    }
    if arguments.print_config {
        println!("{}", serde_json::to_string_pretty(&config)?);
        return Ok(());
    }
    let telemetry = bazaar::telemetry::init(&config.log, config.target)?;
    let outcome = run(config, telemetry.exports_traces()).await;
    telemetry.shutdown().await;
    outcome
}

/// Runs the services until a shutdown signal (then stops them gracefully) or until one fails.
async fn run(config: config::Config, exports_traces: bool) -> anyhow::Result<()> {
    let target = config.target;
    let mut app = bazaar::start(config).await?;
    match (app.http_address_if_any(), app.grpc_address()) {
        (Some(http), _) => {
            println!("Bazaar is running: API at http://{http}/api/v1, docs at http://{http}/docs")
        }
        (None, Some(grpc)) => println!("Bazaar results service is running: gRPC at http://{grpc}"),
        (None, None) => println!("Bazaar {target} service is running"),
    }
    if let Some(ops) = app.ops_address() {
        println!("Operations endpoint at http://{ops} (/healthz, /readyz, /metrics)");
    }
    if exports_traces {
        println!("Exporting traces over OTLP/HTTP");
    }
    tokio::select! {
        signal = shutdown_signal() => {
            signal?;
            tracing::info!("shutting down");
            app.shutdown().await;
            tracing::info!("stopped");
            Ok(())
        }
        error = app.failed() => {
            tracing::error!(error = format!("{error:#}"), "stopping");
            Err(error)
        }
    }
}

async fn shutdown_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("failed to listen for SIGTERM")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("failed to listen for Ctrl-C"),
        _ = terminate.recv() => Ok(()),
    }
}
