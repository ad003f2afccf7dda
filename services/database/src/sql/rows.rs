//! Rows into records, written once for both databases: [`StoredRow`] reads a column of
//! either database's rows, and the functions below make domain records of them. A value that
//! does not parse is a corrupt row, an error that names the column and keeps the parse error
//! as its source.

use anyhow::Context;
use bazaar_domain::{
    Agent, AgentId, AgentName, AgentStatus, Badge, Capabilities, DeliveryStatus, IdempotencyClaim,
    IdempotencyKey, ParseError, Price, ResultStatus, Review, Sha256, Task, TaskId, TaskResult,
    TaskRun, UserId, Username, Version, WebhookAttempt, WebhookDelivery, WebhookEvent,
    WebhookSecret, WebhookSubscription,
};
use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Row, Type};

use super::Dialect;
use super::stats::AgentCounters;
use crate::{Credentials, StoreError};

/// A row of either database, read by column name as the types the records hold.
pub(crate) trait StoredRow: Row {
    fn text(&self, column: &str) -> Result<&str, StoreError>;
    fn optional_text(&self, column: &str) -> Result<Option<String>, StoreError>;
    fn integer(&self, column: &str) -> Result<i64, StoreError>;
    fn small_integer(&self, column: &str) -> Result<i32, StoreError>;
    fn optional_small_integer(&self, column: &str) -> Result<Option<i32>, StoreError>;
    fn real(&self, column: &str) -> Result<f64, StoreError>;
    fn flag(&self, column: &str) -> Result<bool, StoreError>;
    fn bytes(&self, column: &str) -> Result<Vec<u8>, StoreError>;

    /// A column of any type the row's database decodes, such as its [`Dialect::Timestamp`].
    fn decoded<'r, T>(&'r self, column: &str) -> Result<T, StoreError>
    where
        T: Decode<'r, Self::Database> + Type<Self::Database>;
}

impl<R> StoredRow for R
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> &'r str: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i32: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> f64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, column: &str) -> Result<&str, StoreError> {
        self.decoded(column)
    }

    fn optional_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.decoded(column)
    }

    fn integer(&self, column: &str) -> Result<i64, StoreError> {
        self.decoded(column)
    }

    fn small_integer(&self, column: &str) -> Result<i32, StoreError> {
        self.decoded(column)
    }

    fn optional_small_integer(&self, column: &str) -> Result<Option<i32>, StoreError> {
        self.decoded(column)
    }

    fn real(&self, column: &str) -> Result<f64, StoreError> {
        self.decoded(column)
    }

    fn flag(&self, column: &str) -> Result<bool, StoreError> {
        self.decoded(column)
    }

    fn bytes(&self, column: &str) -> Result<Vec<u8>, StoreError> {
        self.decoded(column)
    }

    fn decoded<'r, T>(&'r self, column: &str) -> Result<T, StoreError>
    where
        T: Decode<'r, R::Database> + Type<R::Database>,
    {
        let value = self
            .try_get(column)
            .with_context(|| format!("failed to read column `{column}`"))?;
        Ok(value)
    }
}

/// A text column parsed into a domain value; a corrupt row if it does not parse.
fn parsed<T>(
    row: &impl StoredRow,
    column: &str,
    parse: impl FnOnce(&str) -> Result<T, ParseError>,
) -> Result<T, StoreError> {
    let value = parse(row.text(column)?).with_context(|| format!("corrupt row: `{column}`"))?;
    Ok(value)
}

fn time<D: Dialect>(row: &D::Row, column: &str) -> Result<DateTime<Utc>, StoreError> {
    D::load_time(row.decoded(column)?)
}

fn optional_time<D: Dialect>(
    row: &D::Row,
    column: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    row.decoded::<Option<D::Timestamp>>(column)?
        .map(D::load_time)
        .transpose()
}

/// An agent, from the columns `AgentSql::columns` names.
pub(crate) fn agent_from_row<D: Dialect>(row: &D::Row) -> Result<Agent, StoreError> {
    let capabilities: Vec<String> =
        serde_json::from_str(row.text("capabilities")?).context("corrupt row: `capabilities`")?;
    Ok(Agent {
        id: parsed(row, "id", AgentId::parse)?,
        owner: parsed(row, "user_id", UserId::parse)?,
        name: parsed(row, "name", AgentName::parse)?,
        description: row.text("description")?.to_owned(),
        version: parsed(row, "version", Version::parse)?,
        capabilities: Capabilities::parse(&capabilities).context("corrupt row: `capabilities`")?,
        status: parsed(row, "status", AgentStatus::parse)?,
        price: Price::from_cents(row.integer("price_cents")?).context("corrupt row: `price`")?,
        binary_url: row.text("binary_url")?.to_owned(),
        binary_hash: parsed(row, "binary_hash", Sha256::parse)?,
        binary_size: row.integer("binary_size")?,
        tasks_completed: row.integer("tasks_completed")?,
        rating: row.real("rating")?,
        rating_count: row.integer("rating_count")?,
        badges: row
            .optional_text("badges")?
            .map(|text| -> Result<Vec<Badge>, StoreError> {
                let names: Vec<String> =
                    serde_json::from_str(&text).context("corrupt row: `badges`")?;
                let badges = names
                    .iter()
                    .map(|name| Badge::parse(name))
                    .collect::<Result<Vec<_>, _>>()
                    .context("corrupt row: `badges`")?;
                Ok(badges)
            })
            .transpose()?,
        created_at: time::<D>(row, "created_at")?,
        updated_at: time::<D>(row, "updated_at")?,
    })
}

pub(crate) fn task_from_row<D: Dialect>(row: &D::Row) -> Result<Task, StoreError> {
    Ok(Task {
        id: parsed(row, "id", TaskId::parse)?,
        agent_id: parsed(row, "agent_id", AgentId::parse)?,
        owner: parsed(row, "user_id", UserId::parse)?,
        input_size: row.integer("input_size")?,
        input: row.bytes("input")?.into(),
        timeout_ms: row.integer("timeout_ms")?,
        created_at: time::<D>(row, "created_at")?,
        webhook: webhook_from_row(row)?,
    })
}

/// A task's webhook subscription, from its `webhook_url` and `webhook_events` columns.
fn webhook_from_row(row: &impl StoredRow) -> Result<Option<WebhookSubscription>, StoreError> {
    let (Some(url), Some(events)) = (
        row.optional_text("webhook_url")?,
        row.optional_text("webhook_events")?,
    ) else {
        return Ok(None);
    };
    let subscription = WebhookSubscription::from_stored(&url, &events)
        .context("corrupt row: `webhook_url` or `webhook_events`")?;
    Ok(Some(subscription))
}

pub(crate) fn claim_from_row<D: Dialect>(row: &D::Row) -> Result<IdempotencyClaim, StoreError> {
    Ok(IdempotencyClaim {
        owner: parsed(row, "user_id", UserId::parse)?,
        key: parsed(row, "key", IdempotencyKey::parse)?,
        task_id: parsed(row, "task_id", TaskId::parse)?,
        request_hash: parsed(row, "request_hash", Sha256::parse)?,
        created_at: time::<D>(row, "created_at")?,
    })
}

pub(crate) fn result_from_row<D: Dialect>(row: &D::Row) -> Result<TaskResult, StoreError> {
    Ok(TaskResult {
        task_id: parsed(row, "task_id", TaskId::parse)?,
        agent_id: parsed(row, "agent_id", AgentId::parse)?,
        owner: parsed(row, "user_id", UserId::parse)?,
        status: parsed(row, "status", ResultStatus::parse)?,
        exit_code: row.small_integer("exit_code")?,
        stdout: row.bytes("stdout")?,
        stderr: row.bytes("stderr")?,
        stdout_truncated: row.flag("stdout_truncated")?,
        stderr_truncated: row.flag("stderr_truncated")?,
        duration_ms: row.integer("duration_ms")?,
        error: row.optional_text("error")?,
        created_at: time::<D>(row, "created_at")?,
    })
}

pub(crate) fn credentials_from_row(row: &impl StoredRow) -> Result<Credentials, StoreError> {
    Ok(Credentials {
        user_id: parsed(row, "id", UserId::parse)?,
        username: parsed(row, "username", Username::parse)?,
        password_hash: row.text("password_hash")?.to_owned(),
    })
}

pub(crate) fn user_id_from_row(row: &impl StoredRow) -> Result<UserId, StoreError> {
    parsed(row, "user_id", UserId::parse)
}

/// An agent's counters, from its row of `agent_stats`.
pub(crate) fn counters_from_row<D: Dialect>(row: &D::Row) -> Result<AgentCounters, StoreError> {
    Ok(AgentCounters {
        tasks_completed: row.integer("tasks_completed")?,
        succeeded: row.integer("succeeded")?,
        failed: row.integer("failed")?,
        timed_out: row.integer("timed_out")?,
        canceled: row.integer("canceled")?,
        total_duration_ms: row.integer("total_duration_ms")?,
        last_run_at: optional_time::<D>(row, "last_run_at")?,
    })
}

/// A task's run, from a row of `task_runs`.
pub(crate) fn run_from_row<D: Dialect>(row: &D::Row) -> Result<TaskRun, StoreError> {
    Ok(TaskRun {
        started_at: optional_time::<D>(row, "started_at")?,
        attempts: u32::try_from(row.small_integer("attempts")?).unwrap_or(0),
        cancel_requested_at: optional_time::<D>(row, "cancel_requested_at")?,
    })
}

/// A message to a webhook, from a row of `webhook_deliveries`.
pub(crate) fn delivery_from_row<D: Dialect>(row: &D::Row) -> Result<WebhookDelivery, StoreError> {
    let count = |value: i32| u32::try_from(value).unwrap_or(0);
    let status_code = |value: i32| u16::try_from(value).ok();
    Ok(WebhookDelivery {
        id: row.text("id")?.to_owned(),
        task_id: parsed(row, "task_id", TaskId::parse)?,
        agent_id: parsed(row, "agent_id", AgentId::parse)?,
        owner: parsed(row, "user_id", UserId::parse)?,
        event: parsed(row, "event", WebhookEvent::parse)?,
        url: row.text("url")?.to_owned(),
        run_attempt: row.optional_small_integer("run_attempt")?.map(count),
        occurred_at: time::<D>(row, "occurred_at")?,
        payload: row.optional_text("payload")?,
        status: parsed(row, "status", DeliveryStatus::parse)?,
        attempts: count(row.small_integer("attempts")?),
        next_attempt_at: time::<D>(row, "next_attempt_at")?,
        last_status_code: row
            .optional_small_integer("last_status_code")?
            .and_then(status_code),
        last_error: row.optional_text("last_error")?,
        created_at: time::<D>(row, "created_at")?,
        delivered_at: optional_time::<D>(row, "delivered_at")?,
    })
}

/// One attempt at a delivery and the delivery's id, from a row of `webhook_attempts`.
pub(crate) fn attempt_from_row<D: Dialect>(
    row: &D::Row,
) -> Result<(String, WebhookAttempt), StoreError> {
    let attempt = WebhookAttempt {
        attempt: u32::try_from(row.small_integer("attempt")?).unwrap_or(0),
        at: time::<D>(row, "attempted_at")?,
        status_code: row
            .optional_small_integer("status_code")?
            .and_then(|code| u16::try_from(code).ok()),
        error: row.optional_text("error")?,
        duration_ms: row.integer("duration_ms")?,
    };
    Ok((row.text("delivery_id")?.to_owned(), attempt))
}

/// A user's signing secret, from a row of `webhook_secrets`.
pub(crate) fn secret_from_row<D: Dialect>(row: &D::Row) -> Result<WebhookSecret, StoreError> {
    Ok(WebhookSecret {
        secret: row.text("secret")?.to_owned(),
        created_at: time::<D>(row, "created_at")?,
    })
}

/// A review, from a row of `reviews` joined with its author's `username`.
pub(crate) fn review_from_row<D: Dialect>(row: &D::Row) -> Result<Review, StoreError> {
    let rating = row.small_integer("rating")?;
    Ok(Review {
        agent_id: parsed(row, "agent_id", AgentId::parse)?,
        user_id: parsed(row, "user_id", UserId::parse)?,
        username: row.text("username")?.to_owned(),
        rating: u8::try_from(rating).context("corrupt row: `rating`")?,
        text: row.text("text")?.to_owned(),
        created_at: time::<D>(row, "created_at")?,
        updated_at: time::<D>(row, "updated_at")?,
    })
}
