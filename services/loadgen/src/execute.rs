//! `POST /api/v1/tasks/execute` on an agent that echoes its input: one client sending requests
//! one after another (latency), then N concurrent clients for a fixed time (throughput), then
//! optionally N tasks submitted with `POST /tasks` and counted until every result is stored.
//! Every response is checked: a wrong stdout counts as an error.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::json;

use crate::report::{Percentiles, load_average, machine, percentiles};

/// Options of the `execute` measurement.
#[derive(Debug, clap::Args)]
pub struct ExecuteArguments {
    /// Base URL of the gateway.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Name of the agent to run (it must echo its input, like the `echo` example).
    #[arg(long, default_value = "echo")]
    agent: String,
    /// Bytes of input per task.
    #[arg(long, default_value_t = 16)]
    input_bytes: usize,
    /// Requests of the sequential (one client) phase.
    #[arg(long, default_value_t = 1000)]
    sequential_requests: usize,
    /// Clients of the concurrent phase.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Length of the concurrent phase, in seconds.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Requests sent before measuring.
    #[arg(long, default_value_t = 200)]
    warmup_requests: usize,
    /// Where to write `<name>.json` and `<name>.md`.
    #[arg(long, default_value = "target/loadgen")]
    out_dir: PathBuf,
    /// Report name.
    #[arg(long, default_value = "execute")]
    name: String,
    /// A label for the report, e.g. "embedded" or "distributed".
    #[arg(long, default_value = "embedded")]
    mode: String,
    /// Tasks of the asynchronous phase: submitted with `POST /tasks` by the concurrent
    /// clients, then counted until every result is stored (0 skips the phase).
    #[arg(long, default_value_t = 0)]
    async_tasks: usize,
}

/// Throughput from submission to stored result.
#[derive(Debug, Serialize)]
struct AsyncPhase {
    tasks: usize,
    submit_seconds: f64,
    until_all_stored_seconds: f64,
    tasks_per_second: f64,
    lost: usize,
}

#[derive(Debug, Serialize)]
struct Phase {
    clients: usize,
    requests: usize,
    errors: usize,
    elapsed_seconds: f64,
    requests_per_second: f64,
    latency_ms: Percentiles,
}

#[derive(Debug, Serialize)]
struct Report {
    mode: String,
    url: String,
    agent: String,
    input_bytes: usize,
    started_at: String,
    machine: String,
    load_average_at_start: String,
    sequential: Phase,
    concurrent: Phase,
    asynchronous: Option<AsyncPhase>,
}

struct Target {
    client: reqwest::Client,
    api: String,
    execute_url: String,
    token: String,
    agent_id: String,
    input: String,
}

impl Target {
    /// One task; Ok(latency) when the response is a success with the right stdout.
    async fn execute(&self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let response = self
            .client
            .post(&self.execute_url)
            .bearer_auth(&self.token)
            .json(&json!({"agent_id": self.agent_id, "input": self.input}))
            .send()
            .await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await?;
        let elapsed = started.elapsed();
        if !status.is_success() || body["stdout"] != self.input.as_str() {
            bail!("unexpected response {status}: {body}");
        }
        Ok(elapsed)
    }
}

/// Registers `username` and returns its bearer token.
pub async fn register(
    client: &reqwest::Client,
    api: &str,
    username: &str,
) -> anyhow::Result<String> {
    let registered: serde_json::Value = client
        .post(format!("{api}/auth/register"))
        .json(&json!({"username": username, "password": "load generator password"}))
        .send()
        .await
        .context("failed to reach the gateway")?
        .json()
        .await?;
    Ok(registered["token"]
        .as_str()
        .with_context(|| format!("registration failed: {registered}"))?
        .to_owned())
}

async fn setup(arguments: &ExecuteArguments) -> anyhow::Result<Target> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(arguments.concurrency.max(1) * 2)
        .timeout(Duration::from_secs(60))
        .build()?;
    let api = format!("{}/api/v1", arguments.url.trim_end_matches('/'));
    let token = register(&client, &api, &format!("loadgen{}", std::process::id())).await?;
    let found: serde_json::Value = client
        .get(format!("{api}/agents/search"))
        .query(&[("q", arguments.agent.as_str()), ("limit", "100")])
        .send()
        .await?
        .json()
        .await?;
    let agent_id = found["agents"]
        .as_array()
        .and_then(|agents| {
            agents
                .iter()
                .find(|agent| agent["name"] == arguments.agent.as_str())
        })
        .and_then(|agent| agent["id"].as_str())
        .with_context(|| format!("no agent named `{}` in the marketplace", arguments.agent))?
        .to_owned();
    let input: String = "abcdefghijklmnopqrstuvwxyz0123456789"
        .chars()
        .cycle()
        .take(arguments.input_bytes)
        .collect();
    Ok(Target {
        client,
        execute_url: format!("{api}/tasks/execute"),
        api,
        token,
        agent_id,
        input,
    })
}

async fn sequential(target: &Target, requests: usize) -> Phase {
    let mut latencies = Vec::with_capacity(requests);
    let mut errors = 0;
    let started = Instant::now();
    for _ in 0..requests {
        match target.execute().await {
            Ok(latency) => latencies.push(latency),
            Err(error) => {
                errors += 1;
                if errors <= 3 {
                    eprintln!("error: {error:#}");
                }
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    Phase {
        clients: 1,
        requests: latencies.len(),
        errors,
        elapsed_seconds: elapsed,
        requests_per_second: latencies.len() as f64 / elapsed,
        latency_ms: percentiles(latencies),
    }
}

async fn concurrent(target: Arc<Target>, clients: usize, duration: Duration) -> Phase {
    let started = Instant::now();
    let deadline = started + duration;
    let mut handles = Vec::with_capacity(clients);
    for _ in 0..clients {
        let target = target.clone();
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            while Instant::now() < deadline {
                match target.execute().await {
                    Ok(latency) => latencies.push(latency),
                    Err(error) => {
                        errors += 1;
                        if errors <= 3 {
                            eprintln!("error: {error:#}");
                        }
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for handle in handles {
        if let Ok((client_latencies, client_errors)) = handle.await {
            latencies.extend(client_latencies);
            errors += client_errors;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    Phase {
        clients,
        requests: latencies.len(),
        errors,
        elapsed_seconds: elapsed,
        requests_per_second: latencies.len() as f64 / elapsed,
        latency_ms: percentiles(latencies),
    }
}

impl Target {
    async fn submit(&self) -> anyhow::Result<()> {
        let response = self
            .client
            .post(format!("{}/tasks", self.api))
            .bearer_auth(&self.token)
            .json(&json!({"agent_id": self.agent_id, "input": self.input}))
            .send()
            .await?;
        if response.status() != reqwest::StatusCode::ACCEPTED {
            bail!("submission answered {}", response.status());
        }
        Ok(())
    }

    /// How many results the load generator's user has.
    async fn stored_results(&self) -> anyhow::Result<u64> {
        let body: serde_json::Value = self
            .client
            .get(format!("{}/tasks/results?limit=1", self.api))
            .bearer_auth(&self.token)
            .send()
            .await?
            .json()
            .await?;
        body["total"]
            .as_u64()
            .context("no total in the results listing")
    }
}

async fn asynchronous(
    target: Arc<Target>,
    clients: usize,
    tasks: usize,
) -> anyhow::Result<AsyncPhase> {
    let already = target.stored_results().await?;
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..clients {
        let target = target.clone();
        let next = next.clone();
        handles.push(tokio::spawn(async move {
            let mut submitted = 0usize;
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < tasks {
                if target.submit().await.is_ok() {
                    submitted += 1;
                }
            }
            submitted
        }));
    }
    let mut submitted = 0;
    for handle in handles {
        submitted += handle.await.unwrap_or(0);
    }
    let submit_seconds = started.elapsed().as_secs_f64();
    let expected = already + submitted as u64;
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut stored = target.stored_results().await?;
    while stored < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        stored = target.stored_results().await?;
    }
    let until_all_stored_seconds = started.elapsed().as_secs_f64();
    let stored_now = (stored - already) as usize;
    Ok(AsyncPhase {
        tasks: submitted,
        submit_seconds,
        until_all_stored_seconds,
        tasks_per_second: stored_now as f64 / until_all_stored_seconds,
        lost: tasks.saturating_sub(stored_now),
    })
}

fn markdown(report: &Report) -> String {
    let row = |name: &str, phase: &Phase| {
        format!(
            "| {name} | {} | {} | {} | {:.0} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
            phase.clients,
            phase.requests,
            phase.errors,
            phase.requests_per_second,
            phase.latency_ms.p50,
            phase.latency_ms.p95,
            phase.latency_ms.p99,
            phase.latency_ms.max
        )
    };
    format!(
        "# `POST /tasks/execute` on `{agent}` ({mode})\n\n{started} — {machine} (load average {load}) — {input} bytes of input — {url}\n\n\
         | phase | clients | requests | errors | req/s | p50 ms | p95 ms | p99 ms | max ms |\n\
         |---|---|---|---|---|---|---|---|---|\n{sequential}{concurrent}",
        agent = report.agent,
        mode = report.mode,
        started = report.started_at,
        machine = report.machine,
        load = report.load_average_at_start,
        input = report.input_bytes,
        url = report.url,
        sequential = row("sequential", &report.sequential),
        concurrent = row("concurrent", &report.concurrent),
    ) + &report.asynchronous.as_ref().map_or(String::new(), |phase| {
        format!(
            "\nAsynchronous: {} tasks submitted with `POST /tasks` in {:.2} s, all stored after {:.2} s: **{:.0} tasks/s** from submission to stored result, {} lost.\n",
            phase.tasks, phase.submit_seconds, phase.until_all_stored_seconds, phase.tasks_per_second, phase.lost
        )
    })
}

/// Runs the measurement and writes its report; fails if any request failed or any result was
/// lost.
pub async fn run(arguments: ExecuteArguments) -> anyhow::Result<()> {
    let target = Arc::new(setup(&arguments).await?);
    for _ in 0..arguments.warmup_requests {
        target.execute().await.context("warm-up request failed")?;
    }
    let started_at = chrono::Utc::now().to_rfc3339();
    let load_average_at_start = load_average();
    let sequential = sequential(&target, arguments.sequential_requests).await;
    let concurrent = concurrent(
        target.clone(),
        arguments.concurrency,
        Duration::from_secs(arguments.duration_secs),
    )
    .await;
    let asynchronous = match arguments.async_tasks {
        0 => None,
        tasks => Some(asynchronous(target.clone(), arguments.concurrency, tasks).await?),
    };
    let report = Report {
        mode: arguments.mode.clone(),
        url: arguments.url.clone(),
        agent: arguments.agent.clone(),
        input_bytes: arguments.input_bytes,
        started_at,
        machine: machine(),
        load_average_at_start,
        sequential,
        concurrent,
        asynchronous,
    };
    crate::report::write(
        &arguments.out_dir,
        &arguments.name,
        &report,
        &markdown(&report),
    )?;
    if report
        .asynchronous
        .as_ref()
        .is_some_and(|phase| phase.lost > 0)
    {
        bail!("results were lost in the asynchronous phase");
    }
    if report.sequential.errors + report.concurrent.errors > 0 {
        bail!(
            "{} requests failed",
            report.sequential.errors + report.concurrent.errors
        );
    }
    Ok(())
}
