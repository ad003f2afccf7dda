//! The real stores the results service runs on, one constructor per engine: SQLite in a
//! temporary directory (embedded mode), PostgreSQL in a throwaway database (distributed
//! mode). PostgreSQL is found as the storage contract suite finds it, through
//! `bazaar_test_support::throwaway_postgres_database`: `BAZAAR_TEST_POSTGRES_URL`, else
//! `postgres://postgres@127.0.0.1:5432/test`; without a server the test skips loudly, except
//! under `CI`, where it fails.
//!
//! Each store is wrapped in an [`ObservedStore`], which passes every call through and notes
//! what the service asked: the batch sizes it stored and the results it looked up, so that
//! tests can assert on batching and wait for a lookup instead of sleeping.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bazaar_database::{PostgresStore, ResultStore, ResultsStored, SqliteStore, StoreError};
use bazaar_domain::{AgentId, AgentStats, Page, ResultFilter, TaskId, TaskResult};
use bazaar_test_support::throwaway_postgres_database;
use sqlx::{Connection, Executor, PgConnection, SqliteConnection};
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

/// PostgreSQL in a database of its own, created for the test and dropped after it.
pub async fn postgres() -> Option<TestStore> {
    let (url, database) =
        throwaway_postgres_database("bazaar_results_test", "the postgres results tests").await?;
    let store = PostgresStore::open(&url)
        .await
        .unwrap_or_else(|error| panic!("the postgres store opens: {error:#}"));
    Some(TestStore {
        results: Arc::new(ObservedStore::new(Arc::new(store))),
        database: Database::Postgres { url },
        _storage: Box::new(database),
    })
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

    async fn record_starts(
        &self,
        starts: &[bazaar_domain::TaskStarted],
    ) -> Result<Vec<TaskId>, StoreError> {
        self.inner.record_starts(starts).await
    }

    async fn request_cancel(
        &self,
        task_id: &TaskId,
        agent_id: &AgentId,
        owner: &bazaar_domain::UserId,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bazaar_domain::TaskProgress, StoreError> {
        self.inner
            .request_cancel(task_id, agent_id, owner, at)
            .await
    }

    async fn task_progress(
        &self,
        task_id: &TaskId,
    ) -> Result<bazaar_domain::TaskProgress, StoreError> {
        self.inner.task_progress(task_id).await
    }

    async fn unfinished_cancellations(
        &self,
        since: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<Vec<TaskId>, StoreError> {
        self.inner.unfinished_cancellations(since, limit).await
    }

    async fn inactive_agents(&self, agent_ids: &[AgentId]) -> Result<Vec<AgentId>, StoreError> {
        self.inner.inactive_agents(agent_ids).await
    }
}
