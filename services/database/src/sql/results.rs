//! [`ResultStore`] for every SQL store with a [`ResultDialect`]. Reading and listing results
//! and assembling statistics is written once; storing a batch of results, counting it in the
//! statistics and telling other processes about it is each database's own.

use async_trait::async_trait;
use bazaar_domain::{AgentId, AgentStats, Page, ResultFilter, TaskId, TaskResult};
use tokio::sync::mpsc;

use super::rows::{counters_from_row, result_from_row};
use super::{SqlStore, Statement, StoredRow, fetch_record, fetch_records, listing};
use crate::{PERCENTILE_WINDOW, ResultStore, ResultsStored, StoreError};

const SELECT_RESULT: &str = "select * from task_results where task_id = $1";

const SELECT_COUNTERS: &str = "select tasks_completed, succeeded, failed, timed_out, \
     total_duration_ms, last_run_at from agent_stats where agent_id = $1";

const SELECT_RECENT_DURATIONS: &str =
    "select duration_ms from task_results where agent_id = $1 order by created_at desc limit $2";

/// How a database stores results and tells of them.
#[async_trait]
pub(crate) trait ResultDialect: SqlStore {
    /// Stores a batch of at least one result and counts the new ones in `agent_stats`, as
    /// [`ResultStore::insert_results`] says. Returns how many were new.
    async fn write_results(&self, results: &[TaskResult]) -> Result<u64, StoreError>;

    /// See [`ResultStore::watch_results`]; by default `None`, for a database only this
    /// process writes results to.
    async fn listen_for_results(
        &self,
    ) -> Result<Option<mpsc::Receiver<ResultsStored>>, StoreError> {
        Ok(None)
    }
}

#[async_trait]
impl<Store: ResultDialect> ResultStore for Store {
    async fn insert_results(&self, results: &[TaskResult]) -> Result<u64, StoreError> {
        if results.is_empty() {
            return Ok(0);
        }
        self.write_results(results).await
    }

    async fn get_result(&self, task_id: &TaskId) -> Result<Option<TaskResult>, StoreError> {
        let select = Statement::new(SELECT_RESULT).bind(task_id.as_str());
        fetch_record(self.reader(), select, result_from_row::<Store::Database>).await
    }

    async fn list_results(&self, filter: &ResultFilter) -> Result<Page<TaskResult>, StoreError> {
        listing::results(filter)
            .fetch(self.reader(), result_from_row::<Store::Database>)
            .await
    }

    async fn agent_stats(&self, agent_id: &AgentId) -> Result<AgentStats, StoreError> {
        let select_counters = Statement::new(SELECT_COUNTERS).bind(agent_id.as_str());
        let stored_counters = fetch_record(
            self.reader(),
            select_counters,
            counters_from_row::<Store::Database>,
        )
        .await?;
        let Some(counters) = stored_counters else {
            return Ok(AgentStats::default());
        };
        let select_durations = Statement::new(SELECT_RECENT_DURATIONS)
            .bind(agent_id.as_str())
            .bind(i64::from(PERCENTILE_WINDOW));
        let durations = fetch_records(self.reader(), select_durations, |row| {
            row.integer("duration_ms")
        })
        .await?;
        Ok(counters.with_durations(durations))
    }

    async fn watch_results(&self) -> Result<Option<mpsc::Receiver<ResultsStored>>, StoreError> {
        self.listen_for_results().await
    }
}
