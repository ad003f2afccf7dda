//! What the SQLite and PostgreSQL stores share: every store trait is implemented once, here,
//! for any [`SqlStore`], from statements, row mapping, search terms, listings and statistics
//! written once.
//!
//! A backend brings its pools, its [`Dialect`] (how a point in time is stored, which error
//! codes mean the server cannot serve) and, per concern, the SQL fragments and steps that
//! differ between the two databases: [`AgentDialect`], [`TaskDialect`], [`ResultDialect`],
//! [`RetentionDialect`].
//! Statements number their parameters `$1`, `$2`, …, which both databases read, so most
//! statements are one text for both.

mod accounts;
mod agents;
mod listing;
mod results;
mod retention;
mod rows;
mod search;
mod statement;
mod stats;
mod tasks;
mod webhooks;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Database, Decode, Encode, Pool, Type};

use crate::{HealthCheck, StoreError};

pub(crate) use agents::{AgentDialect, AgentSql};
pub(crate) use results::ResultDialect;
pub(crate) use retention::RetentionDialect;
pub(crate) use rows::{StoredRow, agent_from_row, review_from_row};
pub(crate) use search::Search;
pub(crate) use statement::{Runs, Statement, fetch_record, fetch_records};
pub(crate) use tasks::{TaskDialect, insert_tasks};
pub(crate) use webhooks::WebhookDialect;

/// What a database does its own way underneath every statement. Implemented for
/// `sqlx::Sqlite` and `sqlx::Postgres`.
pub(crate) trait Dialect: Database<Row: StoredRow> {
    /// How a point in time is stored: fixed-width RFC 3339 text in SQLite, `timestamptz` in
    /// PostgreSQL.
    type Timestamp: for<'q> Encode<'q, Self>
        + for<'r> Decode<'r, Self>
        + Type<Self>
        + Send
        + Sync
        + 'static;

    fn store_time(time: DateTime<Utc>) -> Self::Timestamp;

    /// A stored point in time; an error if the row is corrupt.
    fn load_time(stored: Self::Timestamp) -> Result<DateTime<Utc>, StoreError>;

    /// How many rows a statement wrote.
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// Whether a database error code says the server cannot serve for now, rather than that
    /// the request is wrong.
    fn means_unavailable(_code: &str) -> bool {
        false
    }
}

/// What a failed statement means to the stores' callers.
pub(crate) fn store_error<D: Dialect>(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(database) if database.is_unique_violation() => {
            StoreError::Conflict(database.message().to_owned())
        }
        sqlx::Error::Database(database)
            if database
                .code()
                .is_some_and(|code| D::means_unavailable(&code)) =>
        {
            StoreError::Unavailable(error.into())
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => StoreError::Unavailable(error.into()),
        _ => StoreError::Other(error.into()),
    }
}

/// A database behind every store, reached through two pools. SQLite writes through a pool
/// of one connection and reads beside it; PostgreSQL's one pool does both.
pub(crate) trait SqlStore: Send + Sync + 'static {
    type Database: Runs;

    /// Where writes go, and the reads that must see them.
    fn writer(&self) -> &Pool<Self::Database>;

    /// Where every other read goes.
    fn reader(&self) -> &Pool<Self::Database>;
}

#[async_trait]
impl<Store: SqlStore> HealthCheck for Store {
    async fn check(&self) -> Result<(), StoreError> {
        Store::Database::execute(self.reader(), Statement::new("select 1")).await?;
        Ok(())
    }
}
