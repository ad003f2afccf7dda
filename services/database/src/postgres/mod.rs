//! The PostgreSQL stores of distributed mode.
//!
//! They keep exactly the contract of the SQLite stores (one suite of contract tests runs
//! against both, and every store trait is implemented once, in [`crate::sql`]); only the
//! means differ. PostgreSQL takes many writers at once, so one pool serves reads and writes.
//! What is PostgreSQL's own is here: errors classified by SQLSTATE, the agents' columns and
//! search over a tsvector (`agents`), and a batch of results stored, counted and announced by
//! one statement whose row locks are always taken in key order, so that concurrent batches
//! cannot deadlock (`results`).

mod agents;
mod results;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgQueryResult};
use sqlx::{PgPool, Postgres};

use crate::StoreError;
use crate::sql::{Dialect, RetentionDialect, SqlStore, TaskDialect, WebhookDialect, store_error};

/// Every store of distributed mode, in one PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// The key of the session-level advisory lock that one results service replica at a
    /// time holds while it deletes expired rows: "bazaar" and 1 in ASCII.
    pub const RETENTION_LOCK_KEY: i64 = 0x6261_7a61_6172_0001;

    /// Connects to the database at `url` (`postgres://user:password@host:5432/database`) and
    /// brings its schema up to date. Services starting together may all call this: the
    /// migrations take a lock of their own, so they run once.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        // The url may hold a password: errors name only where the database is.
        let options = PgConnectOptions::from_str(url).context("invalid postgres url")?;
        let location = format!(
            "{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or_default()
        );
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .with_context(|| format!("failed to connect to postgres at {location}"))?;
        sqlx::migrate!("../../migrations/postgres")
            .run(&pool)
            .await
            .with_context(|| format!("failed to migrate the postgres database at {location}"))?;
        Ok(PostgresStore { pool })
    }
}

impl SqlStore for PostgresStore {
    type Database = Postgres;

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }
}

/// Concurrent inserts are PostgreSQL's everyday work: each task goes in as it comes.
impl TaskDialect for PostgresStore {}

/// Several webhook deliverers may claim at once: each skips the rows another is claiming.
impl WebhookDialect for PostgresStore {
    const CLAIM_LOCK: &'static str = " for update skip locked";
}

/// Replicas of the results service share the database: a run holds a session-level advisory
/// lock on a connection of its own, so that the deletions themselves commit batch by batch.
#[async_trait::async_trait]
impl RetentionDialect for PostgresStore {
    /// The connection that holds the lock. It is closed, not returned to the pool, when the
    /// run ends, however it ends (even cancelled), which releases the lock.
    type Lock = sqlx::pool::PoolConnection<Postgres>;

    async fn lock_retention(&self) -> Result<Option<Self::Lock>, StoreError> {
        let mut connection = self.pool.acquire().await.map_err(store_error::<Postgres>)?;
        connection.close_on_drop();
        let locked: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
            .bind(Self::RETENTION_LOCK_KEY)
            .fetch_one(&mut *connection)
            .await
            .map_err(store_error::<Postgres>)?;
        Ok(locked.then_some(connection))
    }

    async fn unlock_retention(&self, mut lock: Self::Lock) {
        let unlocked = sqlx::query("select pg_advisory_unlock($1)")
            .bind(Self::RETENTION_LOCK_KEY)
            .execute(&mut *lock)
            .await;
        if let Err(error) = unlocked {
            tracing::warn!(%error, "failed to release the retention lock; it goes with its connection");
        }
    }
}

impl Dialect for Postgres {
    type Timestamp = DateTime<Utc>;

    fn store_time(time: DateTime<Utc>) -> DateTime<Utc> {
        time
    }

    fn load_time(stored: DateTime<Utc>) -> Result<DateTime<Utc>, StoreError> {
        Ok(stored)
    }

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }

    /// A lost connection (class 08), a new connection refused for its credentials (class
    /// 28) or its database (3D000), a server shutting down or starting up, too many
    /// connections, or a standby refusing writes during a failover.
    fn means_unavailable(sqlstate: &str) -> bool {
        sqlstate.starts_with("08")
            || sqlstate.starts_with("28")
            || matches!(
                sqlstate,
                "3D000" | "57P01" | "57P02" | "57P03" | "53300" | "25006"
            )
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Postgres;

    use crate::sql::Dialect;

    #[test]
    fn lost_connections_and_shutdowns_mean_unavailable_but_bad_requests_do_not() {
        assert!(Postgres::means_unavailable("08006"));
        assert!(Postgres::means_unavailable("57P01"));
        assert!(!Postgres::means_unavailable("23505"));
        assert!(!Postgres::means_unavailable("42P01"));
    }
}
