//! [`RetentionStore`] for every SQL store with a [`RetentionDialect`]: the deletions are one
//! set of statements in both databases, run in bounded batches so that no statement holds its
//! locks for long; only how a run keeps other processes out differs.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Runs, SqlStore, Statement, StoredRow, fetch_records};
use crate::{DeletedRows, RetentionPolicy, RetentionStore, StoreError};

/// The oldest results past their retention; their task ids are the batch deleted everywhere.
/// Walks `idx_task_results_created_at`.
const SELECT_EXPIRED_RESULTS: &str =
    "select task_id from task_results where created_at < $1 order by created_at limit $2";

/// What else goes with an expired result, in this order, each `where <key> in (<batch>)`: the
/// task's runs, then the task itself (which holds its input), and the result last, so that a
/// run cut short never leaves a task without its result, which would look unfinished.
const WITH_EACH_RESULT: [(&str, &str); 3] = [
    ("task_runs", "delete from task_runs where task_id in "),
    ("tasks", "delete from tasks where id in "),
    ("task_results", "delete from task_results where task_id in "),
];

/// Which cutoff a [`Sweep`] deletes rows older than.
#[derive(Debug, Clone, Copy)]
enum Cutoff {
    /// The results' retention: logs kept as long as the results they describe. A policy that
    /// keeps results forever skips these sweeps.
    Results,
    /// Rows that expired on their own: tokens past their `expires_at`.
    Expired,
    /// Idempotency keys past the window in which a retry is recognised.
    IdempotencyWindow,
}

/// Rows deleted by age alone, independent of results: `$1` is the cutoff, `$2` the batch size,
/// and each statement deletes at most `$2` rows.
#[derive(Debug)]
struct Sweep {
    table: &'static str,
    older_than: Cutoff,
    sql: &'static str,
}

/// Everything deleted by age besides results and their tasks. Webhook logs are kept as long
/// as results (a message's attempts go with it, by the foreign key's cascade); a message
/// still owed (pending) is never deleted.
const SWEEPS: &[Sweep] = &[
    Sweep {
        table: "webhook_deliveries",
        older_than: Cutoff::Results,
        sql: "delete from webhook_deliveries where id in (select id from webhook_deliveries \
              where created_at < $1 and status <> 'pending' order by created_at limit $2)",
    },
    Sweep {
        table: "api_tokens",
        older_than: Cutoff::Expired,
        sql: "delete from api_tokens where token_hash in (select token_hash from api_tokens \
              where expires_at < $1 order by expires_at limit $2)",
    },
    Sweep {
        table: "idempotency_keys",
        older_than: Cutoff::IdempotencyWindow,
        sql: "delete from idempotency_keys where (user_id, key) in (select user_id, key \
              from idempotency_keys where created_at < $1 order by created_at limit $2)",
    },
];

/// How a database keeps retention runs of several processes apart.
#[async_trait]
pub(crate) trait RetentionDialect: SqlStore {
    /// Held for the length of a run; dropping it lets another process run.
    type Lock: Send;

    /// The right to run retention now; `None` when another process is running it.
    async fn lock_retention(&self) -> Result<Option<Self::Lock>, StoreError>;

    /// Gives the right back at the end of a run, at once (dropping the lock gives it back
    /// too, but only once its connection is gone).
    async fn unlock_retention(&self, lock: Self::Lock) {
        drop(lock);
    }
}

#[async_trait]
impl<Store: RetentionDialect> RetentionStore for Store {
    async fn delete_expired(
        &self,
        policy: &RetentionPolicy,
    ) -> Result<Option<DeletedRows>, StoreError> {
        let Some(lock) = self.lock_retention().await? else {
            return Ok(None);
        };
        let batch_size = policy.batch_size.max(1);
        let mut deleted = BTreeMap::new();
        if let Some(results_before) = policy.results_before {
            delete_expired_results(self, results_before, batch_size, &mut deleted).await?;
        }
        for sweep in SWEEPS {
            let cutoff = match sweep.older_than {
                Cutoff::Results => policy.results_before,
                Cutoff::Expired => Some(policy.tokens_expired_before),
                Cutoff::IdempotencyWindow => Some(policy.idempotency_keys_before),
            };
            let Some(cutoff) = cutoff else {
                continue;
            };
            let count = deleted.entry(sweep.table).or_insert(0);
            loop {
                let delete = Statement::new(sweep.sql)
                    .bind(cutoff)
                    .bind(i64::from(batch_size));
                let rows = Store::Database::execute(self.writer(), delete).await?;
                *count += rows;
                if rows < u64::from(batch_size) {
                    break;
                }
            }
        }
        self.unlock_retention(lock).await;
        Ok(Some(DeletedRows::new(deleted)))
    }
}

/// Deletes results stored before `results_before`, with their tasks and runs, a batch of
/// task ids at a time.
async fn delete_expired_results<Store: RetentionDialect>(
    store: &Store,
    results_before: DateTime<Utc>,
    batch_size: u32,
    deleted: &mut BTreeMap<&'static str, u64>,
) -> Result<(), StoreError> {
    for (table, _) in WITH_EACH_RESULT {
        deleted.insert(table, 0);
    }
    loop {
        let select = Statement::new(SELECT_EXPIRED_RESULTS)
            .bind(results_before)
            .bind(i64::from(batch_size));
        let task_ids: Vec<String> = fetch_records(store.writer(), select, |row| {
            Ok(row.text("task_id")?.to_owned())
        })
        .await?;
        if task_ids.is_empty() {
            return Ok(());
        }
        for (table, delete) in WITH_EACH_RESULT {
            let mut statement = Statement::new(delete);
            statement.push("(");
            for (index, task_id) in task_ids.iter().enumerate() {
                if index > 0 {
                    statement.push(", ");
                }
                statement.push_bind(task_id.as_str());
            }
            statement.push(")");
            // Each batch has its own id list: planning it once and keeping the plan would
            // fill the statement cache with one entry per batch length.
            let rows =
                Store::Database::execute(store.writer(), statement.planned_each_time()).await?;
            *deleted.entry(table).or_insert(0) += rows;
        }
        if task_ids.len() < batch_size as usize {
            return Ok(());
        }
    }
}
