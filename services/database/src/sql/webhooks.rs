//! [`WebhookStore`] for every SQL store with a [`WebhookDialect`]: one set of statements
//! for both databases, except how a claim keeps other deliverers off the rows it takes.
//!
//! Deliveries are inserted by the database itself, by triggers on `task_results` and
//! `task_runs` (migrations `postgres/0005_webhooks.sql`, `sqlite/0007_webhooks.sql`), in the
//! transaction that stores the fact they tell of.

use std::collections::HashMap;

use async_trait::async_trait;
use bazaar_domain::{
    DeliveryStatus, TaskId, UserId, WebhookAttempt, WebhookDelivery, WebhookSecret,
};
use chrono::{DateTime, Utc};

use super::rows::{attempt_from_row, delivery_from_row, secret_from_row};
use super::{Runs, SqlStore, Statement, fetch_record, fetch_records};
use crate::{AttemptConsequence, StoreError, WebhookStore};

const SELECT_SECRET: &str = "select secret, created_at from webhook_secrets where user_id = $1";

const CREATE_SECRET: &str = "insert into webhook_secrets (user_id, secret, created_at) \
    values ($1, $2, $3) on conflict (user_id) do nothing";

const REPLACE_SECRET: &str = "insert into webhook_secrets (user_id, secret, created_at) \
    values ($1, $2, $3) on conflict (user_id) do update set secret = excluded.secret, \
    created_at = excluded.created_at";

const SELECT_TASK_DELIVERIES: &str =
    "select * from webhook_deliveries where task_id = $1 order by created_at, id";

const SELECT_TASK_ATTEMPTS: &str = "select a.delivery_id, a.attempt, a.attempted_at, \
    a.status_code, a.error, a.duration_ms from webhook_attempts a \
    join webhook_deliveries d on d.id = a.delivery_id where d.task_id = $1 \
    order by a.delivery_id, a.attempt";

const INSERT_ATTEMPT: &str = "insert into webhook_attempts \
    (delivery_id, attempt, attempted_at, status_code, error, duration_ms) \
    values ($1, $2, $3, $4, $5, $6) on conflict (delivery_id, attempt) do nothing";

/// The payload is kept from the first attempt on: every retry sends the same body.
const UPDATE_DELIVERY: &str = "update webhook_deliveries set attempts = $2, \
    payload = coalesce(payload, $3), status = $4, next_attempt_at = $5, \
    last_status_code = $6, last_error = $7, delivered_at = $8 where id = $1";

/// Finished deliveries only: a pending one is still owed to its receiver.
const DELETE_LOGS: &str =
    "delete from webhook_deliveries where created_at < $1 and status <> 'pending'";

/// How a database claims due deliveries.
pub(crate) trait WebhookDialect: SqlStore {
    /// What ends the sub-select of due rows in a claim: PostgreSQL locks them and skips
    /// rows another deliverer is claiming (`for update skip locked`); SQLite has one
    /// writer, and so needs nothing.
    const CLAIM_LOCK: &'static str;
}

fn claim_statement<Store: WebhookDialect>(
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u32,
) -> Statement<'static> {
    Statement::new(format!(
        "update webhook_deliveries set next_attempt_at = $2 where id in \
         (select id from webhook_deliveries where status = 'pending' and next_attempt_at <= $1 \
         order by next_attempt_at limit $3{}) returning *",
        Store::CLAIM_LOCK
    ))
    .bind(now)
    .bind(lease_until)
    .bind(i64::from(limit))
}

#[async_trait]
impl<Store: WebhookDialect> WebhookStore for Store {
    async fn webhook_secret(&self, owner: &UserId) -> Result<Option<WebhookSecret>, StoreError> {
        let select = Statement::new(SELECT_SECRET).bind(owner.as_str());
        fetch_record(self.reader(), select, secret_from_row::<Store::Database>).await
    }

    async fn create_webhook_secret(
        &self,
        owner: &UserId,
        secret: &WebhookSecret,
    ) -> Result<WebhookSecret, StoreError> {
        let create = Statement::new(CREATE_SECRET)
            .bind(owner.as_str())
            .bind(secret.secret.as_str())
            .bind(secret.created_at);
        Store::Database::execute(self.writer(), create).await?;
        // Through the writer: the secret that holds may be a moment old.
        let select = Statement::new(SELECT_SECRET).bind(owner.as_str());
        fetch_record(self.writer(), select, secret_from_row::<Store::Database>)
            .await?
            .ok_or_else(|| {
                StoreError::Other(anyhow::anyhow!(
                    "the webhook secret of {owner} vanished as it was created"
                ))
            })
    }

    async fn replace_webhook_secret(
        &self,
        owner: &UserId,
        secret: &WebhookSecret,
    ) -> Result<(), StoreError> {
        let replace = Statement::new(REPLACE_SECRET)
            .bind(owner.as_str())
            .bind(secret.secret.as_str())
            .bind(secret.created_at);
        Store::Database::execute(self.writer(), replace).await?;
        Ok(())
    }

    async fn task_webhook_deliveries(
        &self,
        task_id: &TaskId,
    ) -> Result<Vec<(WebhookDelivery, Vec<WebhookAttempt>)>, StoreError> {
        let select = Statement::new(SELECT_TASK_DELIVERIES).bind(task_id.as_str());
        let deliveries =
            fetch_records(self.reader(), select, delivery_from_row::<Store::Database>).await?;
        if deliveries.is_empty() {
            return Ok(Vec::new());
        }
        let select = Statement::new(SELECT_TASK_ATTEMPTS).bind(task_id.as_str());
        let attempts =
            fetch_records(self.reader(), select, attempt_from_row::<Store::Database>).await?;
        let mut by_delivery: HashMap<String, Vec<WebhookAttempt>> = HashMap::new();
        for (delivery_id, attempt) in attempts {
            by_delivery.entry(delivery_id).or_default().push(attempt);
        }
        Ok(deliveries
            .into_iter()
            .map(|delivery| {
                let attempts = by_delivery.remove(&delivery.id).unwrap_or_default();
                (delivery, attempts)
            })
            .collect())
    }

    async fn claim_webhook_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let claim = claim_statement::<Store>(now, lease_until, limit);
        let mut claimed =
            fetch_records(self.writer(), claim, delivery_from_row::<Store::Database>).await?;
        claimed.sort_by_key(|delivery| delivery.created_at);
        Ok(claimed)
    }

    async fn record_webhook_attempt(
        &self,
        delivery_id: &str,
        payload: Option<&str>,
        attempt: &WebhookAttempt,
        consequence: AttemptConsequence,
    ) -> Result<(), StoreError> {
        let (status, next_attempt_at, delivered_at) = match consequence {
            AttemptConsequence::Delivered => {
                (DeliveryStatus::Delivered, attempt.at, Some(attempt.at))
            }
            AttemptConsequence::RetryAt(at) => (DeliveryStatus::Pending, at, None),
            AttemptConsequence::GiveUp => (DeliveryStatus::Failed, attempt.at, None),
        };
        let status_code = attempt.status_code.map(i64::from);
        let insert = Statement::new(INSERT_ATTEMPT)
            .bind(delivery_id)
            .bind(i64::from(attempt.attempt))
            .bind(attempt.at)
            .bind(status_code)
            .bind(attempt.error.as_deref())
            .bind(attempt.duration_ms);
        let update = Statement::new(UPDATE_DELIVERY)
            .bind(delivery_id)
            .bind(i64::from(attempt.attempt))
            .bind(payload)
            .bind(status.as_str())
            .bind(next_attempt_at)
            .bind(status_code)
            .bind(attempt.error.as_deref())
            .bind(delivered_at);
        Store::Database::execute_together(self.writer(), vec![insert, update]).await
    }

    async fn delete_webhook_logs_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let delete = Statement::new(DELETE_LOGS).bind(cutoff);
        Store::Database::execute(self.writer(), delete).await
    }
}
