//! One constructor per backend. Each returns a fresh, empty store that lives as long as the
//! value it returns, or `None` when the backend's server cannot be reached and the test is
//! skipped; adding a backend means one constructor here and one line in `main.rs`.

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
use bazaar_database::{
    AccountStore, AgentStore, HealthCheck, PostgresStore, ResultStore, RetentionStore, SqliteStore,
    TaskStore, WebhookStore,
};
use bazaar_domain::AgentId;
use bazaar_test_support::throwaway_postgres_database;
use sqlx::postgres::PgPoolOptions;

/// The database stores of one backend, seen only through their traits.
pub struct Backend {
    pub accounts: Arc<dyn AccountStore>,
    pub agents: Arc<dyn AgentStore>,
    pub tasks: Arc<dyn TaskStore>,
    pub results: Arc<dyn ResultStore>,
    pub webhooks: Arc<dyn WebhookStore>,
    pub retention: Arc<dyn RetentionStore>,
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

    /// Takes the lock that keeps retention runs of several processes apart, as another
    /// process running retention would; `None` for a database only one process uses.
    async fn hold_retention_lock(&self) -> Option<Box<dyn HeldLock>>;
}

/// A lock held on behalf of another process.
#[async_trait]
pub trait HeldLock: Send {
    /// Gives it up, and returns once it is free.
    async fn release(self: Box<Self>);
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
        webhooks: store.clone(),
        retention: store.clone(),
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

    async fn hold_retention_lock(&self) -> Option<Box<dyn HeldLock>> {
        None
    }
}

/// PostgreSQL in a database of its own, created for the test and dropped after it, as
/// distributed mode runs it. Skips the test (loudly) when the server cannot be reached, but
/// fails it under `CI`, where a skipped backend would hide a broken one.
pub async fn postgres() -> Option<Backend> {
    let (url, database) =
        throwaway_postgres_database("bazaar_test", "the postgres contract tests").await?;
    let store = Arc::new(
        PostgresStore::open(&url)
            .await
            .unwrap_or_else(|error| panic!("postgres store opens: {error:#}")),
    );
    let seeding = PostgresSeeding {
        // Only tests that seed ratings or hold locks connect.
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
        webhooks: store.clone(),
        retention: store.clone(),
        health: store,
        seeding: Arc::new(seeding),
        _storage: Box::new(database),
    })
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

    async fn hold_retention_lock(&self) -> Option<Box<dyn HeldLock>> {
        let mut connection = self
            .pool
            .acquire()
            .await
            .expect("a connection to hold the lock on");
        let locked: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
            .bind(PostgresStore::RETENTION_LOCK_KEY)
            .fetch_one(&mut *connection)
            .await
            .expect("the retention lock is taken");
        assert!(locked, "nobody else holds the retention lock");
        Some(Box::new(PostgresLock(connection)))
    }
}

struct PostgresLock(sqlx::pool::PoolConnection<sqlx::Postgres>);

#[async_trait]
impl HeldLock for PostgresLock {
    async fn release(mut self: Box<Self>) {
        let unlocked: bool = sqlx::query_scalar("select pg_advisory_unlock($1)")
            .bind(PostgresStore::RETENTION_LOCK_KEY)
            .fetch_one(&mut *self.0)
            .await
            .expect("the retention lock is released");
        assert!(unlocked, "the retention lock was held");
    }
}
