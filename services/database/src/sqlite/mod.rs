//! The SQLite stores of embedded mode.
//!
//! SQLite allows one writer at a time. Rather than let many connections collide and back off
//! in SQLite's busy handler (sleeps of whole milliseconds), writes go through a pool of one
//! connection and queue in order; reads use a pool of their own, which WAL mode lets run
//! beside the writer. Every store trait is implemented in [`crate::sql`]; what is SQLite's
//! own is here: text timestamps, the agents' columns and FTS5 search (`agents`), task inserts
//! committed in groups (`tasks`) and results counted by a trigger (`results`).

mod agents;
mod results;
mod tasks;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};
use sqlx::{Sqlite, SqlitePool};
use tokio::sync::mpsc;

use crate::StoreError;
use crate::sql::{Dialect, RetentionDialect, SqlStore, WebhookDialect};

/// Every store of embedded mode, in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    task_inserts: mpsc::Sender<tasks::PendingTaskInsert>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path/to/file.db`) and
    /// brings its schema up to date.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("invalid sqlite url `{url}`"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .with_context(|| format!("failed to open sqlite database `{url}`"))?;
        sqlx::migrate!("../../migrations/sqlite")
            .run(&writer)
            .await
            .context("failed to migrate the sqlite database")?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true))
            .await
            .with_context(|| format!("failed to open sqlite database `{url}` for reading"))?;
        let task_inserts = tasks::start_group_writer(writer.clone());
        Ok(SqliteStore {
            writer,
            reader,
            task_inserts,
        })
    }
}

impl SqlStore for SqliteStore {
    type Database = Sqlite;

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }
}

/// One process writes, through one connection: a claim needs no lock of its own.
impl WebhookDialect for SqliteStore {
    const CLAIM_LOCK: &'static str = "";
}

/// One process uses an embedded database: a retention run has nobody to keep out.
#[async_trait::async_trait]
impl RetentionDialect for SqliteStore {
    type Lock = ();

    async fn lock_retention(&self) -> Result<Option<()>, StoreError> {
        Ok(Some(()))
    }
}

impl Dialect for Sqlite {
    type Timestamp = String;

    fn store_time(time: DateTime<Utc>) -> String {
        // Fixed width, so that text order is time order.
        time.to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    fn load_time(stored: String) -> Result<DateTime<Utc>, StoreError> {
        let time = DateTime::parse_from_rfc3339(&stored)
            .with_context(|| format!("corrupt timestamp `{stored}`"))?;
        Ok(time.with_timezone(&Utc))
    }

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use sqlx::Sqlite;

    use crate::sql::Dialect;

    #[test]
    fn stored_times_are_fixed_width_so_that_text_order_is_time_order() {
        let whole_second = Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap();
        let later = whole_second + chrono::TimeDelta::microseconds(1);
        let stored = [Sqlite::store_time(whole_second), Sqlite::store_time(later)];
        assert_eq!(stored[0], "2025-01-02T03:04:05.000000Z");
        assert_eq!(stored[0].len(), stored[1].len());
        assert!(stored[0] < stored[1]);
        assert_eq!(Sqlite::load_time(stored[1].clone()).unwrap(), later);
    }

    #[test]
    fn a_stored_time_that_does_not_parse_is_an_error() {
        assert!(Sqlite::load_time("yesterday".to_owned()).is_err());
    }
}
