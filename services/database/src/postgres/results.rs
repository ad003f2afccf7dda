//! How PostgreSQL stores results: one statement stores a batch, counts it in `agent_stats`
//! and announces it with `pg_notify` (`insert_results.sql`), so that every process that
//! waits for results learns of them through `LISTEN`, wherever they were stored.

use std::time::Duration;

use async_trait::async_trait;
use bazaar_domain::{ResultStatus, TaskId, TaskResult};
use sqlx::Postgres;
use sqlx::postgres::PgListener;
use tokio::sync::mpsc;

use super::PostgresStore;
use crate::sql::{ResultDialect, store_error};
use crate::{ResultsStored, StoreError};

/// The channel `insert_results.sql` notifies with the stored task ids.
const RESULTS_CHANNEL: &str = "bazaar_results";

fn column<'a, T>(results: &'a [TaskResult], value: impl Fn(&'a TaskResult) -> T) -> Vec<T> {
    results.iter().map(value).collect()
}

#[async_trait]
impl ResultDialect for PostgresStore {
    async fn write_results(&self, results: &[TaskResult]) -> Result<u64, StoreError> {
        // One array per column, unnested back into rows by the statement.
        let inserted: i64 = sqlx::query_scalar(include_str!("insert_results.sql"))
            .bind(column(results, |result| result.task_id.as_str()))
            .bind(column(results, |result| result.agent_id.as_str()))
            .bind(column(results, |result| result.owner.as_str()))
            .bind(column(results, |result| result.status.as_str()))
            .bind(column(results, |result| result.exit_code))
            .bind(column(results, |result| result.stdout.as_slice()))
            .bind(column(results, |result| result.stderr.as_slice()))
            .bind(column(results, |result| result.stdout_truncated))
            .bind(column(results, |result| result.stderr_truncated))
            .bind(column(results, |result| result.duration_ms))
            .bind(column(results, |result| result.error.as_deref()))
            .bind(column(results, |result| result.created_at))
            .bind(ResultStatus::Succeeded.as_str())
            .bind(ResultStatus::Failed.as_str())
            .bind(ResultStatus::TimedOut.as_str())
            .bind(ResultStatus::Canceled.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(store_error::<Postgres>)?;
        Ok(inserted as u64)
    }

    async fn listen_for_results(
        &self,
    ) -> Result<Option<mpsc::Receiver<ResultsStored>>, StoreError> {
        let mut listener = PgListener::connect_with(&self.pool)
            .await
            .map_err(store_error::<Postgres>)?;
        listener
            .listen(RESULTS_CHANNEL)
            .await
            .map_err(store_error::<Postgres>)?;
        let (sender, receiver) = mpsc::channel(1024);
        tokio::spawn(async move {
            loop {
                let event = match listener.try_recv().await {
                    Ok(Some(notification)) => ResultsStored::Tasks(
                        notification
                            .payload()
                            .split(',')
                            .filter_map(|id| TaskId::parse(id).ok())
                            .collect(),
                    ),
                    // The connection dropped; the next call reconnects and listens again.
                    Ok(None) => {
                        tracing::warn!("lost the result notifications' connection; reconnecting");
                        ResultsStored::Missed
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot listen for result notifications; retrying in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        ResultsStored::Missed
                    }
                };
                if sender.send(event).await.is_err() {
                    return;
                }
            }
        });
        Ok(Some(receiver))
    }
}
