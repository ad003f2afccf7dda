//! How SQLite stores results: one statement for a batch, and a trigger that counts each new
//! row in `agent_stats` (migrations/sqlite/0003).

use async_trait::async_trait;
use bazaar_domain::TaskResult;
use sqlx::{QueryBuilder, Sqlite};

use super::SqliteStore;
use crate::StoreError;
use crate::sql::{Dialect, ResultDialect, store_error};

#[async_trait]
impl ResultDialect for SqliteStore {
    async fn write_results(&self, results: &[TaskResult]) -> Result<u64, StoreError> {
        // `on conflict do nothing` inserts no row for a result stored before, so the trigger
        // does not count it again. Within a batch the first result of a task id wins, as
        // when they arrive one after another.
        let mut insert = QueryBuilder::<Sqlite>::new(
            "insert into task_results (task_id, agent_id, user_id, status, exit_code, stdout, \
             stderr, stdout_truncated, stderr_truncated, duration_ms, error, created_at) ",
        );
        insert.push_values(results, |mut row, result| {
            row.push_bind(result.task_id.as_str())
                .push_bind(result.agent_id.as_str())
                .push_bind(result.owner.as_str())
                .push_bind(result.status.as_str())
                .push_bind(result.exit_code)
                .push_bind(result.stdout.as_slice())
                .push_bind(result.stderr.as_slice())
                .push_bind(result.stdout_truncated)
                .push_bind(result.stderr_truncated)
                .push_bind(result.duration_ms)
                .push_bind(result.error.as_deref())
                .push_bind(Sqlite::store_time(result.created_at));
        });
        insert.push(" on conflict (task_id) do nothing");
        let inserted = insert
            .build()
            .execute(&self.writer)
            .await
            .map_err(store_error::<Sqlite>)?
            .rows_affected();
        Ok(inserted)
    }
}
