//! Task inserts committed in groups. Every write waits for SQLite's one writer: inserts that
//! arrive while it is busy go in together, as one statement and one commit instead of one
//! each (a lone insert goes alone, at once).

use async_trait::async_trait;
use bazaar_domain::Task;
use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use super::SqliteStore;
use crate::StoreError;
use crate::sql::{TaskDialect, insert_tasks};

/// A task to insert and who waits for the outcome.
#[derive(Debug)]
pub(super) struct PendingTaskInsert {
    task: Task,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The most task inserts committed together.
const MAX_TASK_GROUP: usize = 256;

/// Starts the task that commits inserts sent to the returned channel; it runs until every
/// handle of the store is dropped.
pub(super) fn start_group_writer(writer: SqlitePool) -> mpsc::Sender<PendingTaskInsert> {
    let (task_inserts, pending) = mpsc::channel(4 * MAX_TASK_GROUP);
    tokio::spawn(insert_tasks_in_groups(writer, pending));
    task_inserts
}

async fn insert_tasks_in_groups(
    writer: SqlitePool,
    mut pending: mpsc::Receiver<PendingTaskInsert>,
) {
    let mut group = Vec::with_capacity(MAX_TASK_GROUP);
    while pending.recv_many(&mut group, MAX_TASK_GROUP).await > 0 {
        let outcome = insert_tasks(&writer, group.iter().map(|insert| &insert.task)).await;
        match outcome {
            Ok(()) => {
                for insert in group.drain(..) {
                    let _ = insert.done.send(Ok(()));
                }
            }
            // One bad row fails the whole statement: give each task its own answer.
            Err(_) if group.len() > 1 => {
                for insert in group.drain(..) {
                    let outcome = insert_tasks(&writer, [&insert.task]).await;
                    let _ = insert.done.send(outcome);
                }
            }
            Err(error) => {
                if let Some(insert) = group.pop() {
                    let _ = insert.done.send(Err(error));
                }
            }
        }
    }
}

#[async_trait]
impl TaskDialect for SqliteStore {
    async fn write_task(&self, task: &Task) -> Result<(), StoreError> {
        let writer_stopped =
            || StoreError::Unavailable(anyhow::anyhow!("the sqlite task writer has stopped"));
        let (done, outcome) = oneshot::channel();
        self.task_inserts
            .send(PendingTaskInsert {
                task: task.clone(),
                done,
            })
            .await
            .map_err(|_| writer_stopped())?;
        outcome.await.map_err(|_| writer_stopped())?
    }
}
