//! `bazaar-loadgen`: measures a Bazaar, in either mode.
//!
//! By default (or as `execute`) it drives `POST /api/v1/tasks/execute` through the real HTTP
//! API. `seed-agents` fills a database with a synthetic marketplace of any size, and `search`
//! measures `GET /api/v1/agents/search` against it, per class of term. Each measurement
//! writes its report as JSON and Markdown.

mod catalog;
mod distinct;
mod execute;
mod report;
mod search;
mod seed;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    about = "Load-tests a running Bazaar through its HTTP API",
    args_conflicts_with_subcommands = true
)]
struct Arguments {
    #[command(subcommand)]
    command: Option<Command>,
    /// Without a subcommand, the options of `execute`.
    #[command(flatten)]
    execute: execute::ExecuteArguments,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Latency and throughput of `POST /tasks/execute` (the default).
    Execute(execute::ExecuteArguments),
    /// Inserts synthetic agents straight into a marketplace's database.
    SeedAgents(seed::SeedArguments),
    /// Latency of `GET /agents/search` per class of term, on a seeded marketplace.
    Search(search::SearchArguments),
    /// Publishes many distinct agents and runs each twice (first run compiles).
    DistinctAgents(distinct::DistinctArguments),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let arguments = Arguments::parse();
    match arguments.command {
        None => execute::run(arguments.execute).await,
        Some(Command::Execute(execute)) => execute::run(execute).await,
        Some(Command::SeedAgents(seed)) => seed::run(seed).await,
        Some(Command::Search(search)) => search::run(search).await,
        Some(Command::DistinctAgents(distinct)) => distinct::run(distinct).await,
    }
}
