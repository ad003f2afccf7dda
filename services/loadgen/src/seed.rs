//! `seed-agents`: fills a marketplace's database with synthetic agents, for measuring search
//! at scale.
//!
//! Agents go in through the storage crate's own `AgentStore::insert_agent`, as the gateway
//! stores them, only without the upload: each agent names a binary (`file:///nonexistent/…`)
//! that is never written, so seeded agents can be found but not run. Inserts run on several
//! concurrent tasks; SQLite still writes one at a time (its store has a single writer
//! connection), PostgreSQL commits them in parallel.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use bazaar_database::DatabaseStores;
use bazaar_domain::{
    AgentId, AgentName, Capabilities, NewAgent, Price, Sha256, UserId, Username, Version,
};

use crate::catalog::Catalog;

/// Options of `seed-agents`.
#[derive(Debug, clap::Args)]
pub struct SeedArguments {
    /// The database to fill: `sqlite:///path/to/bazaar.db` (embedded mode keeps it at
    /// `<data-dir>/bazaar.db`; stop the server first) or `postgres://user@host/database`.
    #[arg(long, env = "BAZAAR_DATABASE__URL")]
    database_url: bazaar_database::DatabaseLocation,
    /// Agents to insert.
    #[arg(long, default_value_t = 100_000)]
    count: u64,
    /// Users that own them, round robin.
    #[arg(long, default_value_t = 1_000)]
    owners: u64,
    /// Seed of the catalog: the same seed gives the same agents.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Concurrent inserts.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

/// The password hash of seeded owners: not a valid hash, so nobody can log in as them.
const UNUSABLE_PASSWORD_HASH: &str = "!";

pub async fn run(arguments: SeedArguments) -> anyhow::Result<()> {
    let stores = bazaar_database::open(&arguments.database_url)
        .await
        .context("failed to open the database to seed")?;
    let before = stores.agents.count_agents().await?;
    let started = Instant::now();
    let owners = create_owners(&stores, arguments.owners.max(1)).await?;
    let owners = Arc::new(owners);
    let catalog = Arc::new(Catalog::new(arguments.seed));
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..arguments.concurrency.max(1) {
        let agents = stores.agents.clone();
        let owners = owners.clone();
        let catalog = catalog.clone();
        let next = next.clone();
        let count = arguments.count;
        workers.spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    return anyhow::Ok(());
                }
                let agent = new_agent(&catalog, &owners, index)?;
                agents
                    .insert_agent(&agent)
                    .await
                    .with_context(|| format!("failed to insert synthetic agent {index}"))?;
                if (index + 1).is_multiple_of(10_000) {
                    eprintln!("{} agents inserted", index + 1);
                }
            }
        });
    }
    while let Some(finished) = workers.join_next().await {
        finished.context("an insert task panicked")??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = stores.agents.count_agents().await?;
    println!(
        "inserted {} agents for {} owners in {elapsed:.1} s ({:.0} agents/s); the database holds {after} agents",
        after - before,
        owners.len(),
        (after - before) as f64 / elapsed,
    );
    if before == 0 {
        println!(
            "note: the marketplace was empty, so `bazaar` will not publish its example agents \
             (it only does so into an empty marketplace)"
        );
    }
    Ok(())
}

/// Creates `count` owners with names unique to this run, so that a database can be seeded
/// more than once.
async fn create_owners(stores: &DatabaseStores, count: u64) -> anyhow::Result<Vec<UserId>> {
    let run = chrono::Utc::now().timestamp_millis();
    let mut owners = Vec::with_capacity(count as usize);
    for number in 0..count {
        let id = UserId::generate();
        let username = Username::parse(&format!("seed{run}-{number}"))?;
        stores
            .accounts
            .create_user(&id, &username, UNUSABLE_PASSWORD_HASH)
            .await
            .with_context(|| format!("failed to create seeded owner {username}"))?;
        owners.push(id);
    }
    Ok(owners)
}

/// Agent `index` of the catalog, owned round robin. An owner's k-th agent has version
/// `1+k/100 . k%100 . patch`, so no owner publishes the same name and version twice.
fn new_agent(catalog: &Catalog, owners: &[UserId], index: u64) -> anyhow::Result<NewAgent> {
    let synthetic = catalog.agent(index);
    let owner_count = owners.len() as u64;
    let owner = &owners[(index % owner_count) as usize];
    let of_owner = index / owner_count;
    let version = format!(
        "{}.{}.{}",
        1 + of_owner / 100,
        of_owner % 100,
        synthetic.patch
    );
    let binary_hash = Sha256::digest(format!("{}@{version}#{index}", synthetic.name).as_bytes());
    Ok(NewAgent {
        id: AgentId::generate(),
        owner: owner.clone(),
        name: AgentName::parse(&synthetic.name)?,
        description: synthetic.description,
        version: Version::parse(&version)?,
        capabilities: Capabilities::parse(&synthetic.capabilities)?,
        price: Price::from_cents(synthetic.price_cents)?,
        binary_url: format!("file:///nonexistent/seeded-agents/{binary_hash}"),
        binary_hash,
        binary_size: synthetic.binary_size,
        // Synthetic agents have no module to read badges from.
        badges: Vec::new(),
    })
}
