//! [`TaskStore`] for every SQL store with a [`TaskDialect`]: tasks are one set of statements
//! in both databases; only how inserts reach the database may differ.

use anyhow::Context;
use async_trait::async_trait;
use bazaar_domain::{IdempotencyClaim, Sha256, Task, TaskId};
use chrono::{DateTime, Utc};
use sqlx::Pool;

use super::rows::{claim_from_row, task_from_row};
use super::{Runs, SqlStore, Statement, StoredRow, fetch_record, fetch_records};
use crate::{StoreError, TaskStore, UnfinishedTask};

const SELECT_TASK: &str = "select id, agent_id, user_id, input_size, input, timeout_ms, \
    created_at, webhook_url, webhook_events from tasks where id = $1";

/// Tasks accepted before `$1` without a result, oldest first, with their agents' binaries.
/// Walks `idx_tasks_created_at` in order; a task whose agent row is gone still comes, with
/// no binary.
const SELECT_UNFINISHED_TASKS: &str = "select tasks.id, tasks.agent_id, tasks.user_id, \
    tasks.input_size, tasks.input, tasks.timeout_ms, tasks.created_at, tasks.webhook_url, \
    tasks.webhook_events, agents.binary_hash \
    from tasks left join agents on agents.id = tasks.agent_id \
    where tasks.created_at < $1 \
    and not exists (select 1 from task_results where task_results.task_id = tasks.id)";

const DELETE_TASK: &str = "delete from tasks where id = $1";

/// Claims a key unless a claim made since `$6` holds it; a stale claim is taken over. Both
/// databases run the same upsert, and it writes one row exactly when the claim is made.
const CLAIM_IDEMPOTENCY_KEY: &str = "insert into idempotency_keys \
    (user_id, key, task_id, request_hash, created_at) values ($1, $2, $3, $4, $5) \
    on conflict (user_id, key) do update set task_id = excluded.task_id, \
    request_hash = excluded.request_hash, created_at = excluded.created_at \
    where idempotency_keys.created_at < $6";

const SELECT_IDEMPOTENCY_CLAIM: &str = "select user_id, key, task_id, request_hash, created_at \
    from idempotency_keys where user_id = $1 and key = $2";

const RELEASE_IDEMPOTENCY_KEY: &str =
    "delete from idempotency_keys where user_id = $1 and key = $2 and task_id = $3";

/// How a database takes new tasks.
#[async_trait]
pub(crate) trait TaskDialect: SqlStore {
    /// Inserts one task, by default with a statement of its own.
    async fn write_task(&self, task: &Task) -> Result<(), StoreError> {
        insert_tasks(self.writer(), [task]).await
    }
}

/// Inserts `tasks` with one statement, so in one transaction: all of them or, if any
/// cannot be inserted, none.
pub(crate) async fn insert_tasks<'a, D: Runs>(
    writer: &Pool<D>,
    tasks: impl IntoIterator<Item = &'a Task>,
) -> Result<(), StoreError> {
    let mut insert = Statement::new(
        "insert into tasks (id, agent_id, user_id, input_size, input, timeout_ms, created_at, \
         webhook_url, webhook_events) values ",
    );
    for (index, task) in tasks.into_iter().enumerate() {
        if index > 0 {
            insert.push(", ");
        }
        insert.push_tuple([
            task.id.as_str().into(),
            task.agent_id.as_str().into(),
            task.owner.as_str().into(),
            task.input_size.into(),
            task.input.as_ref().into(),
            task.timeout_ms.into(),
            task.created_at.into(),
            task.webhook
                .as_ref()
                .map(|webhook| webhook.url().as_str())
                .into(),
            task.webhook
                .as_ref()
                .map(|webhook| webhook.events_text())
                .into(),
        ]);
    }
    D::execute(writer, insert).await?;
    Ok(())
}

/// How often a claim is tried while other requests keep releasing and taking the key.
const CLAIM_ATTEMPTS: usize = 3;

fn claiming(claim: &IdempotencyClaim, live_since: DateTime<Utc>) -> Statement<'_> {
    Statement::new(CLAIM_IDEMPOTENCY_KEY)
        .bind(claim.owner.as_str())
        .bind(claim.key.as_str())
        .bind(claim.task_id.as_str())
        .bind(claim.request_hash.as_str())
        .bind(claim.created_at)
        .bind(live_since)
}

#[async_trait]
impl<Store: TaskDialect> TaskStore for Store {
    async fn insert_task(&self, task: &Task) -> Result<(), StoreError> {
        self.write_task(task).await
    }

    async fn get_task(&self, id: &TaskId) -> Result<Option<Task>, StoreError> {
        let select = Statement::new(SELECT_TASK).bind(id.as_str());
        fetch_record(self.reader(), select, task_from_row::<Store::Database>).await
    }

    async fn delete_task(&self, id: &TaskId) -> Result<(), StoreError> {
        let delete = Statement::new(DELETE_TASK).bind(id.as_str());
        Store::Database::execute(self.writer(), delete).await?;
        Ok(())
    }

    async fn claim_idempotency_key(
        &self,
        claim: &IdempotencyClaim,
        live_since: DateTime<Utc>,
    ) -> Result<Option<IdempotencyClaim>, StoreError> {
        // A claim released between the upsert and the select leaves nothing to read: then
        // try again, since another request may be racing for the freed key too.
        for _ in 0..CLAIM_ATTEMPTS {
            if Store::Database::execute(self.writer(), claiming(claim, live_since)).await? == 1 {
                return Ok(None);
            }
            // Read through the writer: the claim that holds the key may be a moment old.
            let select = Statement::new(SELECT_IDEMPOTENCY_CLAIM)
                .bind(claim.owner.as_str())
                .bind(claim.key.as_str());
            let standing =
                fetch_record(self.writer(), select, claim_from_row::<Store::Database>).await?;
            if let Some(standing) = standing {
                return Ok(Some(standing));
            }
        }
        Err(StoreError::Conflict(format!(
            "the idempotency key `{}` changed hands {CLAIM_ATTEMPTS} times while being claimed",
            claim.key
        )))
    }

    async fn unfinished_tasks(
        &self,
        accepted_before: DateTime<Utc>,
        after: Option<&Task>,
        limit: u32,
    ) -> Result<Vec<UnfinishedTask>, StoreError> {
        let mut select = Statement::new(SELECT_UNFINISHED_TASKS).bind(accepted_before);
        if let Some(after) = after {
            // Keyset pagination: strictly after the previous page's last task, in the
            // order of the listing, so that a task is listed once however many pages.
            select.push(" and (tasks.created_at > ");
            select.push_bind(after.created_at);
            select.push(" or (tasks.created_at = ");
            select.push_bind(after.created_at);
            select.push(" and tasks.id > ");
            select.push_bind(after.id.as_str());
            select.push("))");
        }
        select.push(" order by tasks.created_at, tasks.id limit ");
        select.push_bind(i64::from(limit));
        fetch_records(self.reader(), select, |row| {
            let binary_hash = row
                .optional_text("binary_hash")?
                .map(|hash| Sha256::parse(&hash))
                .transpose()
                .context("corrupt row: `binary_hash`")?;
            Ok(UnfinishedTask {
                task: task_from_row::<Store::Database>(row)?,
                binary_hash,
            })
        })
        .await
    }

    async fn release_idempotency_key(&self, claim: &IdempotencyClaim) -> Result<(), StoreError> {
        let delete = Statement::new(RELEASE_IDEMPOTENCY_KEY)
            .bind(claim.owner.as_str())
            .bind(claim.key.as_str())
            .bind(claim.task_id.as_str());
        Store::Database::execute(self.writer(), delete).await?;
        Ok(())
    }
}
