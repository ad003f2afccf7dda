//! One constructor per backend. Each returns a fresh, empty store that lives as long as the
//! value it returns, or `None` when the backend's server cannot be reached and the test is
//! skipped; adding a backend means one constructor here and one line in `main.rs`.

use std::any::Any;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bazaar_database::{
    AccountStore, AgentStore, HealthCheck, PostgresStore, ResultStore, SqliteStore, TaskStore,
};
use bazaar_domain::{AgentId, TaskId};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};

/// The database stores of one backend, seen only through their traits.
pub struct Backend {
    pub accounts: Arc<dyn AccountStore>,
    pub agents: Arc<dyn AgentStore>,
    pub tasks: Arc<dyn TaskStore>,
    pub results: Arc<dyn ResultStore>,
    pub health: Arc<dyn HealthCheck>,
    pub seeding: Arc<dyn Seeding>,
    // Dropped last: whatever holds the database (a temporary directory, a throwaway database).
    _storage: Box<dyn Any + Send + Sync>,
}

/// State the contract needs but no trait writes yet, set directly in the backend.
#[async_trait]
pub trait Seeding: Send + Sync + 'static {
    /// Sets an agent's average rating; ratings have no writer in Bazaar so far, yet listings
    /// filter and sort by them.
    async fn set_rating(&self, agent_id: &AgentId, rating: f64);
}

/// SQLite in a file of its own temporary directory, as embedded mode runs it.
pub async fn sqlite() -> Option<Backend> {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}/test.db", directory.path().display());
    let store = Arc::new(SqliteStore::open(&url).await.expect("sqlite store opens"));
    let seeding = SqliteSeeding {
        pool: sqlx::SqlitePool::connect(&url)
            .await
            .expect("a second connection to the sqlite file"),
    };
    Some(Backend {
        accounts: store.clone(),
        agents: store.clone(),
        tasks: store.clone(),
        results: store.clone(),
        health: store,
        seeding: Arc::new(seeding),
        _storage: Box::new(directory),
    })
}

struct SqliteSeeding {
    pool: sqlx::SqlitePool,
}

#[async_trait]
impl Seeding for SqliteSeeding {
    async fn set_rating(&self, agent_id: &AgentId, rating: f64) {
        let updated = sqlx::query("update agents set rating = ? where id = ?")
            .bind(rating)
            .bind(agent_id.as_str())
            .execute(&self.pool)
            .await
            .expect("rating is set")
            .rows_affected();
        assert_eq!(updated, 1, "no agent {agent_id} to rate");
    }
}

/// The server the PostgreSQL contract tests create their databases on, unless
/// `BAZAAR_TEST_POSTGRES_URL` names another; its user must be allowed to create databases.
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// PostgreSQL in a database of its own, created for the test and dropped after it, as
/// distributed mode runs it. Skips the test (loudly) when the server cannot be reached, but
/// fails it under `CI`, where a skipped backend would hide a broken one.
pub async fn postgres() -> Option<Backend> {
    let admin_url = std::env::var("BAZAAR_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    let admin_options =
        PgConnectOptions::from_str(&admin_url).expect("BAZAAR_TEST_POSTGRES_URL is a postgres url");
    // Where the server is, without the password the url may hold.
    let server = format!("{}:{}", admin_options.get_host(), admin_options.get_port());
    let connected = tokio::time::timeout(Duration::from_secs(5), admin_options.connect()).await;
    let mut admin: PgConnection = match connected {
        Ok(Ok(connection)) => connection,
        Ok(Err(error @ (sqlx::Error::Io(_) | sqlx::Error::Tls(_)))) => {
            return postgres_unreachable(&server, &error.to_string());
        }
        Ok(Err(error)) => panic!("PostgreSQL at {server} refused the test's connection: {error}"),
        Err(_) => return postgres_unreachable(&server, "no answer within 5 seconds"),
    };

    let unique = TaskId::generate();
    let name = format!("bazaar_test_{}", &unique.as_str()[TaskId::PREFIX.len()..]);
    admin
        .execute(format!("create database {name}").as_str())
        .await
        .unwrap_or_else(|error| panic!("failed to create database {name} at {server}: {error}"));
    admin.close().await.ok();
    // From here on the database is dropped whatever happens, even if opening it fails.
    let database = ThrowawayDatabase {
        admin_options,
        name,
    };

    let url = with_database(&admin_url, &database.name);
    let store = Arc::new(
        PostgresStore::open(&url)
            .await
            .unwrap_or_else(|error| panic!("postgres store opens: {error:#}")),
    );
    let seeding = PostgresSeeding {
        // Only tests that seed ratings connect.
        pool: PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy(&url)
            .expect("a second pool for the test database"),
    };
    Some(Backend {
        accounts: store.clone(),
        agents: store.clone(),
        tasks: store.clone(),
        results: store.clone(),
        health: store,
        seeding: Arc::new(seeding),
        _storage: Box::new(database),
    })
}

fn postgres_unreachable(server: &str, cause: &str) -> Option<Backend> {
    if std::env::var_os("CI").is_some() {
        panic!(
            "PostgreSQL is not reachable at {server} ({cause}), and CI runs every backend: \
             start it, or point BAZAAR_TEST_POSTGRES_URL at one"
        );
    }
    eprintln!(
        "SKIPPED: PostgreSQL not reachable at {server} ({cause}); the postgres contract tests \
         did not run. Start it, or point BAZAAR_TEST_POSTGRES_URL at one."
    );
    None
}

/// `url` with its database name replaced by `database`, keeping credentials and parameters.
fn with_database(url: &str, database: &str) -> String {
    let (base, parameters) = match url.split_once('?') {
        Some((base, parameters)) => (base, format!("?{parameters}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |index| index + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |index| authority_start + index);
    format!("{}/{database}{parameters}", &base[..path_start])
}

/// A database made for one test, dropped with it.
struct ThrowawayDatabase {
    admin_options: PgConnectOptions,
    name: String,
}

impl Drop for ThrowawayDatabase {
    fn drop(&mut self) {
        // Drop cannot await, and the test's runtime may be shutting down: a thread with a
        // runtime of its own does it. `force` ends the store's connections, which may still
        // be closing. A database that cannot be dropped is left behind, never a panic here.
        let admin_options = self.admin_options.clone();
        let statement = format!("drop database if exists {} with (force)", self.name);
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = admin_options.connect().await.ok()?;
                admin.execute(statement.as_str()).await.ok()?;
                admin.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("warning: test database {} was left behind", self.name);
        }
    }
}

struct PostgresSeeding {
    pool: sqlx::PgPool,
}

#[async_trait]
impl Seeding for PostgresSeeding {
    async fn set_rating(&self, agent_id: &AgentId, rating: f64) {
        let updated = sqlx::query("update agents set rating = $1 where id = $2")
            .bind(rating)
            .bind(agent_id.as_str())
            .execute(&self.pool)
            .await
            .expect("rating is set")
            .rows_affected();
        assert_eq!(updated, 1, "no agent {agent_id} to rate");
    }
}
