//! `distinct-agents`: publishes many different agents and runs each twice, to see what a
//! newly uploaded agent's first run costs (its worker fetches and compiles it) against its
//! second (cached), and to let the caller watch a worker's memory while it meets more agents
//! than its module cache holds.
//!
//! The agents are the `echo` example, each made distinct by a custom section holding its
//! index: a different SHA-256, so a different binary to store, fetch and compile.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::json;

use crate::report::{Percentiles, load_average, machine, percentiles};

/// Options of `distinct-agents`.
#[derive(Debug, clap::Args)]
pub struct DistinctArguments {
    /// Base URL of the gateway.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Agents to publish and run.
    #[arg(long, default_value_t = 400)]
    count: usize,
    /// Where to write `<name>.json` and `<name>.md`.
    #[arg(long, default_value = "target/loadgen")]
    out_dir: PathBuf,
    /// Report name.
    #[arg(long, default_value = "distinct-agents")]
    name: String,
}

#[derive(Debug, Serialize)]
struct Report {
    machine: String,
    load_average: String,
    agents: usize,
    upload: Percentiles,
    first_run: Percentiles,
    second_run: Percentiles,
}

/// `echo` with a custom section named `bench` holding `index`.
fn distinct_module(index: u64) -> Vec<u8> {
    let echo = bazaar_example_agents::by_name("echo")
        .expect("the echo example exists")
        .wasm;
    let mut module = echo.to_vec();
    // Section id 0 (custom), size 14: the name's length and bytes, then 8 bytes of payload.
    module.extend_from_slice(&[0, 14, 5]);
    module.extend_from_slice(b"bench");
    module.extend_from_slice(&index.to_le_bytes());
    module
}

pub async fn run(arguments: DistinctArguments) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let api = format!("{}/api/v1", arguments.url.trim_end_matches('/'));
    let unique = format!("{}{}", std::process::id(), chrono::Utc::now().timestamp());
    let token = crate::execute::register(&client, &api, &format!("distinct{unique}")).await?;

    let (mut uploads, mut first_runs, mut second_runs) = (Vec::new(), Vec::new(), Vec::new());
    for index in 0..arguments.count {
        let metadata = json!({
            "name": format!("distinct-{unique}-{index}"),
            "description": "A distinct copy of echo, for benchmarks",
            "version": "1.0.0",
            "capabilities": ["bench"],
            "price": 0,
        });
        let form = reqwest::multipart::Form::new()
            .text("metadata", metadata.to_string())
            .part(
                "binary",
                reqwest::multipart::Part::bytes(distinct_module(index as u64))
                    .file_name("agent.wasm"),
            );
        let started = Instant::now();
        let response = client
            .post(format!("{api}/agents"))
            .bearer_auth(&token)
            .multipart(form)
            .send()
            .await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await?;
        if !status.is_success() {
            bail!("upload {index} failed with {status}: {body}");
        }
        uploads.push(started.elapsed());
        let agent_id = body["id"].as_str().context("an agent id")?.to_owned();
        for runs in [&mut first_runs, &mut second_runs] {
            let input = format!("run of {index}");
            let started = Instant::now();
            let response = client
                .post(format!("{api}/tasks/execute"))
                .bearer_auth(&token)
                .json(&json!({"agent_id": agent_id, "input": input}))
                .send()
                .await?;
            let status = response.status();
            let body: serde_json::Value = response.json().await?;
            if !status.is_success() || body["stdout"] != input.as_str() {
                bail!("run of agent {index} failed with {status}: {body}");
            }
            runs.push(started.elapsed());
        }
    }

    let report = Report {
        machine: machine(),
        load_average: load_average(),
        agents: arguments.count,
        upload: percentiles(uploads),
        first_run: percentiles(first_runs),
        second_run: percentiles(second_runs),
    };
    let row = |what: &str, p: &Percentiles| {
        format!(
            "| {what} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
            p.p50, p.p95, p.p99, p.max
        )
    };
    let markdown = format!(
        "# {} distinct agents: upload, first run, second run\n\n{} (load average {})\n\n\
         | step | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|\n{}{}{}",
        report.agents,
        report.machine,
        report.load_average,
        row("upload (compile to validate, store)", &report.upload),
        row("first run (worker fetches and compiles)", &report.first_run),
        row("second run (cached)", &report.second_run),
    );
    crate::report::write(&arguments.out_dir, &arguments.name, &report, &markdown)
}
