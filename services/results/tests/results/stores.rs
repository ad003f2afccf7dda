//! The real stores the results service runs on, one constructor per engine: SQLite in a
//! temporary directory (embedded mode), PostgreSQL in a throwaway database (distributed
//! mode). PostgreSQL is found as the storage contract suite finds it
//! (`services/database/tests/contract/backends.rs`): `BAZAAR_TEST_POSTGRES_URL`, else
//! `postgres://postgres@127.0.0.1:5432`; without a server the test skips loudly, except under
//! `CI`, where it fails.
//!
//! Each store is wrapped in an [`ObservedStore`], which passes every call through and notes
//! what the service asked: the batch sizes it stored and the results it looked up, so that
//! tests can assert on batching and wait for a lookup instead of sleeping.

use std::any::Any;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bazaar_database::{PostgresStore, ResultStore, ResultsStored, SqliteStore, StoreError};
use bazaar_domain::{AgentId, AgentStats, Page, ResultFilter, TaskId, TaskResult};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection, SqliteConnection};
use tokio::sync::watch;

use crate::fixtures::PATIENCE;

/// A fresh, empty results store on a real database, and a way to reach that database beside
/// the store.
pub struct TestStore {
    pub results: Arc<ObservedStore>,
    database: Database,
    // Dropped last: the temporary directory or the throwaway database.
    _storage: Box<dyn Any + Send + Sync>,
}

enum Database {
    Sqlite { url: String },
    Postgres { url: String },
}

impl TestStore {
    /// Runs `statement` on a connection of its own: how a test breaks (and mends) the schema
    /// under a running service, as an operator's mistake or a failed migration would.
    pub async fn execute(&self, statement: &str) {
        match &self.database {
            Database::Sqlite { url } => {
                let mut connection = SqliteConnection::connect(url)
                    .await
                    .expect("a second connection to the sqlite file");
                connection
                    .execute(statement)
                    .await
                    .unwrap_or_else(|error| panic!("`{statement}` failed: {error}"));
                connection.close().await.ok();
            }
            Database::Postgres { url } => {
                let mut connection = PgConnection::connect(url)
                    .await
                    .expect("a second connection to the test database");
                connection
                    .execute(statement)
                    .await
                    .unwrap_or_else(|error| panic!("`{statement}` failed: {error}"));
                connection.close().await.ok();
            }
        }
    }

    /// Another store on the same database: what a second replica of the results service
    /// would open.
    pub async fn open_again(&self) -> Arc<dyn ResultStore> {
        match &self.database {
            Database::Sqlite { url } => Arc::new(
                SqliteStore::open(url)
                    .await
                    .expect("the sqlite store opens again"),
            ),
            Database::Postgres { url } => Arc::new(
                PostgresStore::open(url)
                    .await
                    .expect("the postgres store opens again"),
            ),
        }
    }
}

/// SQLite in a file of its own temporary directory, as embedded mode runs it.
pub async fn sqlite() -> Option<TestStore> {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}/results.db", directory.path().display());
    let store = SqliteStore::open(&url)
        .await
        .expect("the sqlite store opens");
    Some(TestStore {
        results: Arc::new(ObservedStore::new(Arc::new(store))),
        database: Database::Sqlite { url },
        _storage: Box::new(directory),
    })
}

/// The server the PostgreSQL tests create their databases on, unless
/// `BAZAAR_TEST_POSTGRES_URL` names another; its user must be allowed to create databases.
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// PostgreSQL in a database of its own, created for the test and dropped after it.
pub async fn postgres() -> Option<TestStore> {
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
    let name = format!(
        "bazaar_results_test_{}",
        &unique.as_str()[TaskId::PREFIX.len()..]
    );
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
    let store = PostgresStore::open(&url)
        .await
        .unwrap_or_else(|error| panic!("the postgres store opens: {error:#}"));
    Some(TestStore {
        results: Arc::new(ObservedStore::new(Arc::new(store))),
        database: Database::Postgres { url },
        _storage: Box::new(database),
    })
}

fn postgres_unreachable(server: &str, cause: &str) -> Option<TestStore> {
    if std::env::var_os("CI").is_some() {
        panic!(
            "PostgreSQL is not reachable at {server} ({cause}), and CI runs every backend: \
             start it, or point BAZAAR_TEST_POSTGRES_URL at one"
        );
    }
    eprintln!(
        "SKIPPED: PostgreSQL not reachable at {server} ({cause}); the postgres results tests \
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
        // be open. A database that cannot be dropped is left behind, never a panic here.
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

/// A real store, passed through, with a note of what was asked of it. Not a double: every
/// answer is the database's own.
pub struct ObservedStore {
    inner: Arc<dyn ResultStore>,
    /// The size of each batch stored, in order.
    stored_batches: Mutex<Vec<usize>>,
    failed_inserts: watch::Sender<usize>,
    /// How often each task's result was looked up.
    lookups: watch::Sender<HashMap<TaskId, usize>>,
}

impl ObservedStore {
    fn new(inner: Arc<dyn ResultStore>) -> Self {
        ObservedStore {
            inner,
            stored_batches: Mutex::new(Vec::new()),
            failed_inserts: watch::Sender::new(0),
            lookups: watch::Sender::new(HashMap::new()),
        }
    }

    /// The size of each batch stored so far, in order.
    pub fn stored_batches(&self) -> Vec<usize> {
        self.stored_batches
            .lock()
            .expect("batch log lock poisoned")
            .clone()
    }

    /// Returns once `count` inserts have failed.
    pub async fn until_inserts_failed(&self, count: usize) {
        let mut failed = self.failed_inserts.subscribe();
        tokio::time::timeout(PATIENCE, failed.wait_for(|failed| *failed >= count))
            .await
            .unwrap_or_else(|_| panic!("fewer than {count} inserts failed in time"))
            .expect("the failure counter lives as long as the store");
    }

    /// Returns once `task_id`'s result has been looked up `count` times: a wait registers
    /// itself before it looks, so after that the waiter cannot miss the result.
    pub async fn until_looked_up(&self, task_id: &TaskId, count: usize) {
        let mut lookups = self.lookups.subscribe();
        let looked_up = lookups.wait_for(|lookups| lookups.get(task_id).copied() >= Some(count));
        tokio::time::timeout(PATIENCE, looked_up)
            .await
            .unwrap_or_else(|_| panic!("{task_id} was not looked up {count} times in time"))
            .expect("the lookup log lives as long as the store");
    }
}

#[async_trait]
impl ResultStore for ObservedStore {
    async fn insert_results(&self, results: &[TaskResult]) -> Result<u64, StoreError> {
        let inserted = self.inner.insert_results(results).await;
        match &inserted {
            Ok(_) => self
                .stored_batches
                .lock()
                .expect("batch log lock poisoned")
                .push(results.len()),
            Err(_) => self.failed_inserts.send_modify(|failed| *failed += 1),
        }
        inserted
    }

    async fn get_result(&self, task_id: &TaskId) -> Result<Option<TaskResult>, StoreError> {
        self.lookups.send_modify(|lookups| {
            *lookups.entry(task_id.clone()).or_default() += 1;
        });
        self.inner.get_result(task_id).await
    }

    async fn list_results(&self, filter: &ResultFilter) -> Result<Page<TaskResult>, StoreError> {
        self.inner.list_results(filter).await
    }

    async fn agent_stats(&self, agent_id: &AgentId) -> Result<AgentStats, StoreError> {
        self.inner.agent_stats(agent_id).await
    }

    async fn watch_results(
        &self,
    ) -> Result<Option<tokio::sync::mpsc::Receiver<ResultsStored>>, StoreError> {
        self.inner.watch_results().await
    }
}
