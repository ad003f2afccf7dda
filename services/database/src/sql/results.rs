//! [`ResultStore`] for every SQL store with a [`ResultDialect`]. Reading and listing results
//! and assembling statistics is written once; storing a batch of results, counting it in the
//! statistics and telling other processes about it is each database's own.

use async_trait::async_trait;
use bazaar_domain::{
    AgentId, AgentStats, AgentStatus, Page, ResultFilter, TaskId, TaskProgress, TaskResult,
    TaskRun, TaskStarted, UserId,
};
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::rows::{counters_from_row, result_from_row, run_from_row};
use super::{Runs, SqlStore, Statement, StoredRow, fetch_record, fetch_records, listing};
use crate::{PERCENTILE_WINDOW, ResultStore, ResultsStored, StoreError};

const SELECT_RESULT: &str = "select * from task_results where task_id = $1";

const SELECT_COUNTERS: &str = "select tasks_completed, succeeded, failed, timed_out, canceled, \
     total_duration_ms, last_run_at from agent_stats where agent_id = $1";

const SELECT_RUN: &str =
    "select started_at, attempts, cancel_requested_at from task_runs where task_id = $1";

/// Records an attempt's start. Attempts are counted here, not by the queue (whose count
/// starts over when embedded mode resumes a task after a restart): a start later than the
/// latest one recorded is a new attempt; a repeated or late announcement changes nothing.
const RECORD_START: &str = "insert into task_runs \
    (task_id, agent_id, user_id, started_at, attempts, updated_at) values ($1, $2, $3, $4, 1, $5) \
    on conflict (task_id) do update set \
    attempts = case when task_runs.started_at is null or excluded.started_at > task_runs.started_at \
        then task_runs.attempts + 1 else task_runs.attempts end, \
    started_at = case when task_runs.started_at is null \
        or excluded.started_at > task_runs.started_at \
        then excluded.started_at else task_runs.started_at end, \
    updated_at = excluded.updated_at";

/// Tasks whose cancellation was asked for since `$1` that a worker started and that have
/// no result yet: their workers are told again.
const UNFINISHED_CANCELLATIONS: &str = "select task_id from task_runs r \
    where cancel_requested_at >= $1 and started_at is not null \
    and not exists (select 1 from task_results t where t.task_id = r.task_id) \
    order by cancel_requested_at limit $2";

/// Marks a task's cancellation as asked for; the first request's time stays.
const REQUEST_CANCEL: &str = "insert into task_runs \
    (task_id, agent_id, user_id, attempts, cancel_requested_at, updated_at) \
    values ($1, $2, $3, 0, $4, $4) \
    on conflict (task_id) do update set \
    cancel_requested_at = coalesce(task_runs.cancel_requested_at, excluded.cancel_requested_at), \
    updated_at = excluded.updated_at";

const SELECT_AGENT_STATUS: &str = "select status from agents where id = $1";

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

    async fn record_starts(&self, starts: &[TaskStarted]) -> Result<Vec<TaskId>, StoreError> {
        let mut canceled = Vec::new();
        for started in starts {
            let record = Statement::new(RECORD_START)
                .bind(started.task_id.as_str())
                .bind(started.agent_id.as_str())
                .bind(started.owner.as_str())
                .bind(started.started_at)
                .bind(started.started_at);
            Store::Database::execute(self.writer(), record).await?;
            let select = Statement::new(SELECT_RUN).bind(started.task_id.as_str());
            let run = fetch_record(self.writer(), select, run_from_row::<Store::Database>).await?;
            if run.is_some_and(|run| run.cancel_requested_at.is_some()) {
                canceled.push(started.task_id.clone());
            }
        }
        Ok(canceled)
    }

    async fn request_cancel(
        &self,
        task_id: &TaskId,
        agent_id: &AgentId,
        owner: &UserId,
        at: DateTime<Utc>,
    ) -> Result<TaskProgress, StoreError> {
        let request = Statement::new(REQUEST_CANCEL)
            .bind(task_id.as_str())
            .bind(agent_id.as_str())
            .bind(owner.as_str())
            .bind(at);
        Store::Database::execute(self.writer(), request).await?;
        progress(self, task_id, true).await
    }

    async fn task_progress(&self, task_id: &TaskId) -> Result<TaskProgress, StoreError> {
        progress(self, task_id, false).await
    }

    async fn unfinished_cancellations(
        &self,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<TaskId>, StoreError> {
        let select = Statement::new(UNFINISHED_CANCELLATIONS)
            .bind(since)
            .bind(i64::from(limit));
        fetch_records(self.reader(), select, |row| {
            TaskId::parse(row.text("task_id")?)
                .map_err(|error| StoreError::Other(anyhow::Error::new(error)))
        })
        .await
    }

    async fn inactive_agents(&self, agent_ids: &[AgentId]) -> Result<Vec<AgentId>, StoreError> {
        let mut inactive = Vec::new();
        let mut asked: Vec<&AgentId> = agent_ids.iter().collect();
        asked.sort();
        asked.dedup();
        for agent_id in asked {
            let select = Statement::new(SELECT_AGENT_STATUS).bind(agent_id.as_str());
            let status = fetch_record(self.reader(), select, |row| {
                Ok(row.text("status")?.to_owned())
            })
            .await?;
            if status.as_deref() == Some(AgentStatus::Inactive.as_str()) {
                inactive.push(agent_id.clone());
            }
        }
        Ok(inactive)
    }
}

/// A task's run and result, read through the writer when `fresh` (just after a write).
async fn progress<Store: ResultDialect>(
    store: &Store,
    task_id: &TaskId,
    fresh: bool,
) -> Result<TaskProgress, StoreError> {
    let pool = if fresh {
        store.writer()
    } else {
        store.reader()
    };
    let select_run = Statement::new(SELECT_RUN).bind(task_id.as_str());
    let run: Option<TaskRun> =
        fetch_record(pool, select_run, run_from_row::<Store::Database>).await?;
    let select_result = Statement::new(SELECT_RESULT).bind(task_id.as_str());
    let result = fetch_record(pool, select_result, result_from_row::<Store::Database>).await?;
    Ok(TaskProgress {
        run: run.unwrap_or_default(),
        result,
    })
}
