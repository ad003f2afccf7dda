//! The store queries on Bazaar's hot paths, on each database backend.
//!
//! Per backend, over a marketplace of `BAZAAR_BENCH_AGENTS` agents (10,000 unless set):
//! `get_agent` (describing or running an agent), `find_token_user` (every authenticated
//! request), `search_agents` for a typical word (in about 1% of agents) and for the most
//! common word (in most of them), `insert_task` (every submission) and `insert_results` in
//! batches of 1 and 64 (the results service). SQLite runs in a temporary file, as embedded
//! mode runs it; PostgreSQL in a database created for the run and dropped after it, on the
//! server `BAZAAR_BENCH_POSTGRES_URL` names (its user must be allowed to create databases),
//! and is skipped, with a note, when that is not set.
//!
//! Run with `cargo bench -p bazaar-database --bench store`; `bazaar-loadgen seed-agents` and
//! `bazaar-loadgen search` measure search at 100,000 agents through the HTTP API.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bazaar_database::DatabaseStores;
use bazaar_domain::{
    AgentId, AgentName, Capabilities, NewAgent, Price, ResultStatus, Sha256, Task, TaskId,
    TaskResult, UserId, Username, Version,
};
use bazaar_test_support::with_database;
use chrono::{TimeDelta, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor};

/// Description words: `word00000` is the most frequent, then by a Zipf law of exponent 1.
/// Fixed width, so that no word is a prefix of another and a search matches one word only.
const VOCABULARY_SIZE: usize = 10_000;
const TYPICAL_WORD_RANK: usize = 200;

fn word(rank: usize) -> String {
    format!("word{rank:05}")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn agent_count() -> u64 {
    std::env::var("BAZAAR_BENCH_AGENTS")
        .ok()
        .map(|count| count.parse().expect("BAZAAR_BENCH_AGENTS is a number"))
        .unwrap_or(10_000)
}

/// What the benchmarks look up: an owner with a valid token and some of its agents.
struct Marketplace {
    owner: UserId,
    token_hash: String,
    agents: Vec<AgentId>,
}

/// A description of 12 to 28 words drawn from the vocabulary by rank.
fn description(random: &mut StdRng, cumulative: &[f64]) -> String {
    let total = cumulative.last().copied().unwrap_or(1.0);
    (0..random.gen_range(12..=28))
        .map(|_| {
            let target = random.r#gen::<f64>() * total;
            word(
                cumulative
                    .partition_point(|&sum| sum <= target)
                    .min(VOCABULARY_SIZE - 1),
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Inserts `count` agents through `AgentStore::insert_agent`, eight at a time.
async fn seed(stores: &DatabaseStores, count: u64) -> Marketplace {
    let owner = UserId::generate();
    stores
        .accounts
        .create_user(&owner, &Username::parse("bench").unwrap(), "!")
        .await
        .expect("the owner is created");
    let token_hash = Sha256::digest(b"bench token").to_string();
    stores
        .accounts
        .create_token(&token_hash, &owner, Utc::now() + TimeDelta::days(1))
        .await
        .expect("the token is created");

    let mut sum = 0.0;
    let cumulative: Arc<Vec<f64>> = Arc::new(
        (1..=VOCABULARY_SIZE)
            .map(|rank| {
                sum += 1.0 / rank as f64;
                sum
            })
            .collect(),
    );
    let mut inserts = tokio::task::JoinSet::new();
    let workers = 8;
    for worker in 0..workers {
        let agents = stores.agents.clone();
        let cumulative = cumulative.clone();
        let owner = owner.clone();
        inserts.spawn(async move {
            let mut ids = Vec::new();
            for index in (worker..count).step_by(workers as usize) {
                let mut random = StdRng::seed_from_u64(index);
                let agent = NewAgent {
                    id: AgentId::generate(),
                    owner: owner.clone(),
                    name: AgentName::parse(&format!("agent-{}", index % 500)).unwrap(),
                    description: description(&mut random, &cumulative),
                    // Unique per owner whatever the name.
                    version: Version::parse(&format!("1.0.{index}")).unwrap(),
                    capabilities: Capabilities::parse(&["text", "json"]).unwrap(),
                    price: Price::from_cents(random.gen_range(0..500)).unwrap(),
                    binary_url: "file:///nonexistent/bench".to_owned(),
                    binary_hash: Sha256::digest(&index.to_le_bytes()),
                    binary_size: 1024,
                    badges: Vec::new(),
                };
                agents
                    .insert_agent(&agent)
                    .await
                    .expect("the agent is inserted");
                if ids.len() < 1000 {
                    ids.push(agent.id);
                }
            }
            ids
        });
    }
    let mut agents = Vec::new();
    while let Some(ids) = inserts.join_next().await {
        agents.extend(ids.expect("an insert task finished"));
    }
    Marketplace {
        owner,
        token_hash,
        agents,
    }
}

fn result(marketplace: &Marketplace, agent: &AgentId) -> TaskResult {
    TaskResult {
        task_id: TaskId::generate(),
        agent_id: agent.clone(),
        owner: marketplace.owner.clone(),
        status: ResultStatus::Succeeded,
        exit_code: 0,
        stdout: b"0123456789abcdef".to_vec(),
        stderr: Vec::new(),
        stdout_truncated: false,
        stderr_truncated: false,
        duration_ms: 3,
        error: None,
        created_at: Utc::now(),
    }
}

/// Every benchmark of one backend, as group `backend`.
fn bench_stores(criterion: &mut Criterion, backend: &str, url: &str) {
    let runtime = runtime();
    let stores = runtime
        .block_on(bazaar_database::open(
            &url.parse().expect("the bench database url is valid"),
        ))
        .expect("the store opens");
    let count = agent_count();
    let seeding = std::time::Instant::now();
    let marketplace = runtime.block_on(seed(&stores, count));
    eprintln!(
        "{backend}: {count} agents seeded in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    if url.starts_with("postgres") {
        // Search plans depend on the table's statistics, and the gin index on its pending
        // list being merged. Autovacuum does both after a load like this one, but it may be
        // off on a test server.
        runtime.block_on(async {
            let mut connection = sqlx::PgConnection::connect(url)
                .await
                .expect("a connection to the benchmark database");
            connection
                .execute("vacuum analyze")
                .await
                .expect("the database is vacuumed and analyzed");
            connection.close().await.ok();
        });
    }

    let mut group = criterion.benchmark_group(backend);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    let mut turn = 0;
    group.bench_function("get_agent", |bencher| {
        bencher.iter(|| {
            turn = (turn + 1) % marketplace.agents.len();
            runtime
                .block_on(stores.agents.get_agent(&marketplace.agents[turn]))
                .expect("the agent is read")
                .expect("the agent exists")
        });
    });
    group.bench_function("find_token_user", |bencher| {
        bencher.iter(|| {
            runtime
                .block_on(stores.accounts.find_token_user(&marketplace.token_hash))
                .expect("the token is read")
                .expect("the token is valid")
        });
    });
    for (name, query) in [
        ("search_typical", word(TYPICAL_WORD_RANK)),
        ("search_common", word(0)),
    ] {
        let matched = runtime
            .block_on(stores.agents.search_agents(&query, 20, 0))
            .expect("the search runs")
            .total;
        eprintln!("{backend}: {name} ({query}) matches {matched} of {count} agents");
        group.bench_function(format!("{name}/{count}"), |bencher| {
            bencher.iter(|| {
                runtime
                    .block_on(stores.agents.search_agents(&query, 20, 0))
                    .expect("the search runs")
            });
        });
    }
    group.bench_function("insert_task", |bencher| {
        bencher.iter(|| {
            turn = (turn + 1) % marketplace.agents.len();
            let task = Task {
                id: TaskId::generate(),
                agent_id: marketplace.agents[turn].clone(),
                owner: marketplace.owner.clone(),
                input_size: 16,
                input: std::sync::Arc::from(&b"{\"sixteen\":true}"[..]),
                timeout_ms: 5_000,
                created_at: Utc::now(),
                webhook: None,
            };
            runtime
                .block_on(stores.tasks.insert_task(&task))
                .expect("the task is inserted")
        });
    });
    for batch in [1, 64] {
        group.bench_function(format!("insert_results/{batch}"), |bencher| {
            bencher.iter_batched(
                || {
                    (0..batch)
                        .map(|index| {
                            let agent = &marketplace.agents[index % marketplace.agents.len()];
                            result(&marketplace, agent)
                        })
                        .collect::<Vec<_>>()
                },
                |results| {
                    runtime
                        .block_on(stores.results.insert_results(&results))
                        .expect("the results are inserted")
                },
                criterion::BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn sqlite(criterion: &mut Criterion) {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}/bench.db", directory.path().display());
    bench_stores(criterion, "sqlite", &url);
}

fn postgres(criterion: &mut Criterion) {
    let Ok(server_url) = std::env::var("BAZAAR_BENCH_POSTGRES_URL") else {
        eprintln!(
            "SKIPPED: the PostgreSQL benchmarks; set BAZAAR_BENCH_POSTGRES_URL \
             (e.g. postgres://postgres@127.0.0.1:5432/postgres) to run them"
        );
        return;
    };
    let database = ThrowawayDatabase::create(&server_url);
    let url = with_database(&server_url, &database.name);
    bench_stores(criterion, "postgres", &url);
}

/// A database made for one run, dropped with it, even when a benchmark panics.
struct ThrowawayDatabase {
    admin_options: PgConnectOptions,
    name: String,
}

impl ThrowawayDatabase {
    fn create(server_url: &str) -> Self {
        let admin_options = PgConnectOptions::from_str(server_url)
            .expect("BAZAAR_BENCH_POSTGRES_URL is a postgres url");
        let name = format!(
            "bazaar_bench_{}",
            &TaskId::generate().as_str()[TaskId::PREFIX.len()..]
        );
        administer(&admin_options, format!("create database {name}"));
        ThrowawayDatabase {
            admin_options,
            name,
        }
    }
}

impl Drop for ThrowawayDatabase {
    fn drop(&mut self) {
        administer(
            &self.admin_options,
            format!("drop database if exists {} with (force)", self.name),
        );
    }
}

/// Runs one statement on the server, on a runtime of its own.
fn administer(admin_options: &PgConnectOptions, statement: String) {
    runtime().block_on(async {
        let mut admin = admin_options
            .connect()
            .await
            .expect("a connection to BAZAAR_BENCH_POSTGRES_URL");
        admin
            .execute(statement.as_str())
            .await
            .unwrap_or_else(|error| panic!("`{statement}` failed: {error}"));
        admin.close().await.ok();
    });
}

criterion_group!(benches, sqlite, postgres);
criterion_main!(benches);
