//! `search`: latency of `GET /api/v1/agents/search` for each class of term, against a
//! marketplace seeded with `seed-agents` (whose vocabulary the classes come from).
//!
//! Each class is measured apart: a warm-up, then its queries in turn from `concurrency`
//! clients until `requests` responses have come. Every response is checked (status, a page
//! as long as the total allows), and the total each query matched is reported beside its
//! latency, so a class's name can be checked against what it really matched.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use crate::catalog::TermClass;
use crate::report::{Percentiles, load_average, machine, percentiles};

/// Options of `search`.
#[derive(Debug, clap::Args)]
pub struct SearchArguments {
    /// Base URL of the gateway.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Classes of term to measure, each apart.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "rare,typical,common,two-words"
    )]
    terms: Vec<TermClass>,
    /// Measured requests per class.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Requests per class sent before measuring.
    #[arg(long, default_value_t = 100)]
    warmup_requests: usize,
    /// Concurrent clients; 1 measures latency alone.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Results per page (`limit`), as a client would ask.
    #[arg(long, default_value_t = 20)]
    limit: u32,
    /// Where to write `<name>.json` and `<name>.md`.
    #[arg(long, default_value = "target/loadgen")]
    out_dir: PathBuf,
    /// Report name.
    #[arg(long, default_value = "search")]
    name: String,
    /// A label for the report, e.g. "embedded" or "distributed".
    #[arg(long, default_value = "embedded")]
    mode: String,
}

#[derive(Debug, Serialize)]
struct ClassReport {
    class: TermClass,
    /// Each query and how many agents it matched (the response's `total`).
    matches: BTreeMap<String, u64>,
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
    /// Agents in the marketplace, active or not.
    agents: u64,
    limit: u32,
    started_at: String,
    machine: String,
    load_average_at_start: String,
    load_average_at_end: String,
    classes: Vec<ClassReport>,
}

struct Searcher {
    client: reqwest::Client,
    search_url: String,
    limit: u32,
}

impl Searcher {
    /// One search; Ok((latency, total)) when the response is a well-formed page.
    async fn search(&self, query: &str) -> anyhow::Result<(Duration, u64)> {
        let limit = self.limit.to_string();
        let started = Instant::now();
        let response = self
            .client
            .get(&self.search_url)
            .query(&[("q", query), ("limit", limit.as_str())])
            .send()
            .await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await?;
        let elapsed = started.elapsed();
        let total = body["total"].as_u64();
        let returned = body["agents"].as_array().map(Vec::len);
        match (status.is_success(), total, returned) {
            (true, Some(total), Some(returned))
                if returned as u64 == total.min(u64::from(self.limit)) =>
            {
                Ok((elapsed, total))
            }
            _ => bail!("unexpected response {status} to {query:?}: {body}"),
        }
    }
}

async fn measure(
    searcher: Arc<Searcher>,
    class: TermClass,
    requests: usize,
    warmup_requests: usize,
    clients: usize,
) -> anyhow::Result<ClassReport> {
    let queries = Arc::new(class.queries());
    let mut matches = BTreeMap::new();
    for (sent, query) in queries
        .iter()
        .cycle()
        .take(warmup_requests.max(queries.len()))
        .enumerate()
    {
        let (_, total) = searcher
            .search(query)
            .await
            .with_context(|| format!("warm-up search {sent} failed"))?;
        matches.insert(query.clone(), total);
    }

    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::with_capacity(clients);
    for _ in 0..clients.max(1) {
        let searcher = searcher.clone();
        let queries = queries.clone();
        let next = next.clone();
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            loop {
                let number = next.fetch_add(1, Ordering::Relaxed);
                if number >= requests {
                    return (latencies, errors);
                }
                match searcher.search(&queries[number % queries.len()]).await {
                    Ok((latency, _)) => latencies.push(latency),
                    Err(error) => {
                        errors += 1;
                        if errors <= 3 {
                            eprintln!("error: {error:#}");
                        }
                    }
                }
            }
        }));
    }
    let mut latencies = Vec::with_capacity(requests);
    let mut errors = 0;
    for handle in handles {
        let (client_latencies, client_errors) = handle.await.context("a client panicked")?;
        latencies.extend(client_latencies);
        errors += client_errors;
    }
    let elapsed_seconds = started.elapsed().as_secs_f64();
    Ok(ClassReport {
        class,
        matches,
        clients: clients.max(1),
        requests: latencies.len(),
        errors,
        elapsed_seconds,
        requests_per_second: latencies.len() as f64 / elapsed_seconds,
        latency_ms: percentiles(latencies),
    })
}

/// How many agents the marketplace lists (of any status, as `GET /agents` counts them).
async fn count_agents(client: &reqwest::Client, api: &str) -> anyhow::Result<u64> {
    let listing: serde_json::Value = client
        .get(format!("{api}/agents"))
        .query(&[("limit", "1")])
        .send()
        .await
        .context("failed to reach the gateway")?
        .json()
        .await?;
    listing["total"]
        .as_u64()
        .with_context(|| format!("no total in the agent listing: {listing}"))
}

fn markdown(report: &Report) -> String {
    let mut rows = String::new();
    for class in &report.classes {
        let totals: Vec<u64> = class.matches.values().copied().collect();
        let fewest = totals.iter().min().copied().unwrap_or(0);
        let most = totals.iter().max().copied().unwrap_or(0);
        rows.push_str(&format!(
            "| {} | {} | {fewest}–{most} | {} | {} | {} | {:.0} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
            class.class.label(),
            class.matches.len(),
            class.clients,
            class.requests,
            class.errors,
            class.requests_per_second,
            class.latency_ms.p50,
            class.latency_ms.p95,
            class.latency_ms.p99,
            class.latency_ms.max,
        ));
    }
    let mut queries = String::new();
    for class in &report.classes {
        let listed: Vec<String> = class
            .matches
            .iter()
            .map(|(query, total)| format!("`{query}` {total}"))
            .collect();
        queries.push_str(&format!(
            "- {}: {}\n",
            class.class.label(),
            listed.join(", ")
        ));
    }
    format!(
        "# `GET /agents/search` at {agents} agents ({mode})\n\n{started} — {machine} — load average {load_start} at start, {load_end} at end — limit {limit} — {url}\n\n\
         | terms | queries | agents matched | clients | requests | errors | req/s | p50 ms | p95 ms | p99 ms | max ms |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n{rows}\nAgents each query matched:\n\n{queries}",
        agents = report.agents,
        mode = report.mode,
        started = report.started_at,
        machine = report.machine,
        load_start = report.load_average_at_start,
        load_end = report.load_average_at_end,
        limit = report.limit,
        url = report.url,
    )
}

/// Runs the measurement and writes its report; fails if any request failed.
pub async fn run(arguments: SearchArguments) -> anyhow::Result<()> {
    let clients = arguments.concurrency.max(1);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients * 2)
        .timeout(Duration::from_secs(60))
        .build()?;
    let api = format!("{}/api/v1", arguments.url.trim_end_matches('/'));
    let agents = count_agents(&client, &api).await?;
    let searcher = Arc::new(Searcher {
        client,
        search_url: format!("{api}/agents/search"),
        limit: arguments.limit,
    });
    let started_at = chrono::Utc::now().to_rfc3339();
    let load_average_at_start = load_average();
    let mut classes = Vec::with_capacity(arguments.terms.len());
    for class in &arguments.terms {
        classes.push(
            measure(
                searcher.clone(),
                *class,
                arguments.requests,
                arguments.warmup_requests,
                clients,
            )
            .await?,
        );
    }
    let report = Report {
        mode: arguments.mode.clone(),
        url: arguments.url.clone(),
        agents,
        limit: arguments.limit,
        started_at,
        machine: machine(),
        load_average_at_start,
        load_average_at_end: load_average(),
        classes,
    };
    crate::report::write(
        &arguments.out_dir,
        &arguments.name,
        &report,
        &markdown(&report),
    )?;
    let errors: usize = report.classes.iter().map(|class| class.errors).sum();
    if errors > 0 {
        bail!("{errors} searches failed");
    }
    Ok(())
}
