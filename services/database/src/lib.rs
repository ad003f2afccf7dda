//! Bazaar's records: the database stores [`AccountStore`], [`AgentStore`], [`TaskStore`],
//! [`ResultStore`], [`WebhookStore`] and [`RetentionStore`], and the migrations that shape them.
//!
//! Each interface has one backend per deployment mode, chosen from configuration by a
//! [`DatabaseLocation`]: SQLite in embedded mode, PostgreSQL in distributed mode. Services
//! hold `Arc<dyn …>` and never know which one they got; one contract test suite runs against
//! every backend. The interfaces are implemented once, in `sql`, for both databases; a
//! backend's module holds only what its database does its own way. Only the gateway and the
//! results service link this crate: a worker holds no database credentials and no database
//! code.

#![warn(missing_docs)]

mod location;
mod postgres;
mod sql;
mod sqlite;

use async_trait::async_trait;
use bazaar_domain::{
    Agent, AgentChanges, AgentFilter, AgentId, AgentStats, Badge, ErrorCode, IdempotencyClaim,
    NewAgent, NewReview, Page, ResultFilter, Review, Sha256, Task, TaskId, TaskProgress,
    TaskResult, TaskStarted, UserId, Username, WebhookAttempt, WebhookDelivery, WebhookSecret,
};
use chrono::{DateTime, Utc};

pub use location::DatabaseLocation;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the message names it.
    #[error("{0}")]
    Conflict(String),
    /// The database could not be reached or did not answer.
    #[error("the database is unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else; a bug or a corrupt row.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl StoreError {
    /// What this failure means to a caller on any protocol.
    pub fn code(&self) -> ErrorCode {
        match self {
            StoreError::Conflict(_) => ErrorCode::Conflict,
            StoreError::Unavailable(_) => ErrorCode::Unavailable,
            StoreError::Other(_) => ErrorCode::Internal,
        }
    }
}

/// A user's login record.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The user a token issued at login will name.
    pub user_id: UserId,
    /// Exactly as registered: names are matched case-sensitively.
    pub username: Username,
    /// Argon2id, PHC string format.
    pub password_hash: String,
}

/// Users and their bearer tokens. Written by the gateway.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Creates a user; `Conflict` when the name is taken.
    async fn create_user(
        &self,
        id: &UserId,
        username: &Username,
        password_hash: &str,
    ) -> Result<(), StoreError>;

    /// The login record for `username`, matched exactly; `None` when no user has that name.
    /// The gateway checks the password against it at login.
    async fn find_credentials(
        &self,
        username: &Username,
    ) -> Result<Option<Credentials>, StoreError>;

    /// Records a token by its SHA-256; the token itself is never stored.
    async fn create_token(
        &self,
        token_hash: &str,
        user_id: &UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The user a token belongs to, if the token exists and has not expired.
    async fn find_token_user(&self, token_hash: &str) -> Result<Option<UserId>, StoreError>;

    /// Deletes the token with this SHA-256 (logout); an unknown or already revoked token is
    /// not an error.
    async fn revoke_token(&self, token_hash: &str) -> Result<(), StoreError>;
}

/// The marketplace's agents. Written by the gateway.
#[async_trait]
pub trait AgentStore: Send + Sync + 'static {
    /// Inserts an agent; `Conflict` when its owner already has this name and version.
    async fn insert_agent(&self, agent: &NewAgent) -> Result<Agent, StoreError>;

    /// An agent of any status; `None` when no agent has this id.
    async fn get_agent(&self, id: &AgentId) -> Result<Option<Agent>, StoreError>;

    /// One page of the agents `filter` admits, in its sort order, with the total over every
    /// page. Inactive agents are included unless the filter names a status.
    async fn list_agents(&self, filter: &AgentFilter) -> Result<Page<Agent>, StoreError>;

    /// Ranked full-text search over active agents' names, descriptions and capabilities.
    /// Every word of `query` must match, as a prefix. Above 10,000 matches only the most
    /// recent 10,000 are ranked, and PostgreSQL's total is the planner's estimate (SQLite's
    /// stays exact): ranking every match of a word most agents share would cost a tenth of a
    /// second or more per query.
    async fn search_agents(
        &self,
        query: &str,
        limit: u32,
        offset: u32,
    ) -> Result<Page<Agent>, StoreError>;

    /// Applies `changes`; `None` when the agent does not exist.
    async fn update_agent(
        &self,
        id: &AgentId,
        changes: &AgentChanges,
    ) -> Result<Option<Agent>, StoreError>;

    /// Writes `review`, replacing the reviewer's earlier review of the agent (which keeps
    /// its `created_at`), and makes the agent's `rating` the mean of its reviews and
    /// `rating_count` their number, in one transaction. Returns the review as stored.
    async fn put_review(&self, review: &NewReview) -> Result<Review, StoreError>;

    /// Up to `limit` agents whose module was never analysed for badges (published before
    /// badges existed), the first published first.
    async fn agents_without_badges(&self, limit: u32) -> Result<Vec<Agent>, StoreError>;

    /// Records the badges of an agent that had none; an agent analysed meanwhile keeps its
    /// badges. Not a change by its owner: `updated_at` stays.
    async fn set_badges(&self, id: &AgentId, badges: &[Badge]) -> Result<(), StoreError>;

    /// A page of an agent's reviews, the most recently written first, and how many it has.
    async fn list_reviews(
        &self,
        agent_id: &AgentId,
        limit: u32,
        offset: u32,
    ) -> Result<Page<Review>, StoreError>;

    /// How many agents exist, of any status.
    async fn count_agents(&self) -> Result<u64, StoreError>;
}

/// Submitted tasks. Written by the gateway.
#[async_trait]
pub trait TaskStore: Send + Sync + 'static {
    /// Records an accepted task before its message is published. `Conflict` when the id is
    /// taken; an error when its agent or owner does not exist.
    async fn insert_task(&self, task: &Task) -> Result<(), StoreError>;

    /// A task of any owner (the gateway hides other users' tasks); `None` when no task has
    /// this id.
    async fn get_task(&self, id: &TaskId) -> Result<Option<Task>, StoreError>;

    /// Forgets a task whose message could not be queued, so nothing half-written remains.
    async fn delete_task(&self, id: &TaskId) -> Result<(), StoreError>;

    /// Claims an `Idempotency-Key` for the task a submission is about to create. `None`
    /// when the claim is made (a claim made before `live_since` is replaced); otherwise the
    /// claim that holds the key, whose task the caller returns instead of creating one.
    async fn claim_idempotency_key(
        &self,
        claim: &IdempotencyClaim,
        live_since: DateTime<Utc>,
    ) -> Result<Option<IdempotencyClaim>, StoreError>;

    /// Releases a claim whose task was not queued after all, so that a retry runs.
    async fn release_idempotency_key(&self, claim: &IdempotencyClaim) -> Result<(), StoreError>;

    /// Tasks accepted before `accepted_before` that have no result yet (queued, running, or
    /// lost with a queue that did not survive a restart), oldest first, ties broken by id;
    /// at most `limit`, starting just after `after`, the last task of the previous page.
    /// Each comes with its agent's binary, to queue it again with. Reads the results
    /// service's `task_results` to know which tasks are finished.
    async fn unfinished_tasks(
        &self,
        accepted_before: DateTime<Utc>,
        after: Option<&Task>,
        limit: u32,
    ) -> Result<Vec<UnfinishedTask>, StoreError>;
}

/// A task accepted but not finished, as [`TaskStore::unfinished_tasks`] lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct UnfinishedTask {
    /// The task as the gateway recorded it, with its input.
    pub task: Task,
    /// Its agent's binary; `None` only if the agent's row is gone (the schema forbids it).
    pub binary_hash: Option<Sha256>,
}

/// Task results and agent statistics. Written by the results service.
#[async_trait]
pub trait ResultStore: Send + Sync + 'static {
    /// Stores results and counts them in their agents' statistics, each exactly once: a
    /// result whose task id is already stored changes nothing. Returns how many were new.
    async fn insert_results(&self, results: &[TaskResult]) -> Result<u64, StoreError>;

    /// The result of `task_id` whoever owns it (callers that answer users check the owner);
    /// `None` until one is stored.
    async fn get_result(&self, task_id: &TaskId) -> Result<Option<TaskResult>, StoreError>;

    /// The owner's results, newest first.
    async fn list_results(&self, filter: &ResultFilter) -> Result<Page<TaskResult>, StoreError>;

    /// Counters, mean duration and last run from the statistics table; duration
    /// percentiles over the agent's most recent [`PERCENTILE_WINDOW`] results.
    async fn agent_stats(&self, agent_id: &AgentId) -> Result<AgentStats, StoreError>;

    /// Notifications of results stored by *any* process sharing this database, so that a
    /// service waiting for a result learns of it wherever it was stored. `None` when only
    /// this process writes results (SQLite): the writer knows what it stored.
    async fn watch_results(
        &self,
    ) -> Result<Option<tokio::sync::mpsc::Receiver<ResultsStored>>, StoreError> {
        Ok(None)
    }

    /// Records the starts workers announced: a task's latest start and its count of
    /// attempts (which never shrinks, however late or repeated an announcement). Returns
    /// the tasks among them whose owner asked to cancel them, so that they are told to stop
    /// again.
    async fn record_starts(&self, starts: &[TaskStarted]) -> Result<Vec<TaskId>, StoreError>;

    /// Marks `task_id` (of `agent_id`, belonging to `owner`) as asked to cancel, at `at`
    /// unless asked before; returns what is known of the task then.
    async fn request_cancel(
        &self,
        task_id: &TaskId,
        agent_id: &AgentId,
        owner: &UserId,
        at: DateTime<Utc>,
    ) -> Result<TaskProgress, StoreError>;

    /// A task's runs and result, as far as they are known; all empty for a task no worker
    /// has started and nobody canceled.
    async fn task_progress(&self, task_id: &TaskId) -> Result<TaskProgress, StoreError>;

    /// Up to `limit` tasks whose cancellation was asked for since `since`, that a worker
    /// started and that have no result yet, the longest asked first.
    async fn unfinished_cancellations(
        &self,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<TaskId>, StoreError>;

    /// Those of `agent_ids` whose owner deactivated them: their queued tasks are not run.
    /// An agent this database does not know is not among them.
    async fn inactive_agents(&self, agent_ids: &[AgentId]) -> Result<Vec<AgentId>, StoreError>;
}

/// Webhook secrets and deliveries.
///
/// Secrets are written by the gateway. Deliveries are inserted by the database itself, by
/// triggers on `task_results` and `task_runs`, in the transaction that stores what they
/// tell of; the webhooks service claims them, sends them and records each attempt.
#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    /// The user's signing secret; `None` while they have none.
    async fn webhook_secret(&self, owner: &UserId) -> Result<Option<WebhookSecret>, StoreError>;

    /// Makes `secret` the user's unless they have one already; returns the one that holds.
    async fn create_webhook_secret(
        &self,
        owner: &UserId,
        secret: &WebhookSecret,
    ) -> Result<WebhookSecret, StoreError>;

    /// Makes `secret` the user's, replacing any they had: messages sent from now on are
    /// signed with it, retries of earlier ones included.
    async fn replace_webhook_secret(
        &self,
        owner: &UserId,
        secret: &WebhookSecret,
    ) -> Result<(), StoreError>;

    /// A task's messages, oldest first, each with its attempts in order.
    async fn task_webhook_deliveries(
        &self,
        task_id: &TaskId,
    ) -> Result<Vec<(WebhookDelivery, Vec<WebhookAttempt>)>, StoreError>;

    /// Claims up to `limit` pending messages due by `now`, the longest due first: each
    /// claimed one is not due again before `lease_until`, so that another deliverer leaves it
    /// alone while this one sends it, and takes it over if this one dies.
    async fn claim_webhook_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError>;

    /// Records an attempt at a message and what follows from it, in one transaction. The
    /// first `payload` given is kept, later ones ignored; `None` keeps none (the body could
    /// not be built).
    async fn record_webhook_attempt(
        &self,
        delivery_id: &str,
        payload: Option<&str>,
        attempt: &WebhookAttempt,
        consequence: AttemptConsequence,
    ) -> Result<(), StoreError>;

    /// Deletes the finished (delivered or failed) messages created before `cutoff`, with
    /// their attempts; pending ones stay, since they are still owed. Returns how many
    /// messages were deleted. For a retention job.
    async fn delete_webhook_logs_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// What follows from an attempt at a webhook message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptConsequence {
    /// The receiver took it: the message is delivered.
    Delivered,
    /// It failed; try again at this time.
    RetryAt(DateTime<Utc>),
    /// It failed and will not be tried again.
    GiveUp,
}

/// Deletes what has outlived its retention. Run by the results service, periodically.
///
/// Unlike every other store, it deletes from tables other services write (the gateway's
/// tasks, tokens and idempotency keys): retention is one policy over the whole database, and
/// the results service is the one that knows when a task is finished.
#[async_trait]
pub trait RetentionStore: Send + Sync + 'static {
    /// Deletes, in statements of at most `policy.batch_size` rows each: results stored before
    /// `policy.results_before` together with their tasks (which hold the inputs) and task
    /// runs; tokens that expired before `policy.tokens_expired_before`; idempotency keys
    /// claimed before `policy.idempotency_keys_before`. A task without a result is never
    /// deleted, and agent statistics are left as they are (their counters do not come from
    /// the stored results). Returns what was deleted per table, or `None`, having deleted
    /// nothing, when another process is running it at the same time.
    async fn delete_expired(
        &self,
        policy: &RetentionPolicy,
    ) -> Result<Option<DeletedRows>, StoreError>;
}

/// What [`RetentionStore::delete_expired`] deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Results stored before this go, with their tasks and runs; `None` keeps them forever.
    pub results_before: Option<DateTime<Utc>>,
    /// Tokens whose `expires_at` is before this go: usually now.
    pub tokens_expired_before: DateTime<Utc>,
    /// Idempotency keys claimed before this go: usually the start of the window in which a
    /// retry is recognised, after which a key means nothing.
    pub idempotency_keys_before: DateTime<Utc>,
    /// The most rows one statement deletes, so that none holds its locks for long.
    pub batch_size: u32,
}

/// How many rows a retention run deleted, per table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeletedRows {
    per_table: std::collections::BTreeMap<&'static str, u64>,
}

impl DeletedRows {
    /// The counts of a run, by table name.
    pub fn new(per_table: std::collections::BTreeMap<&'static str, u64>) -> Self {
        DeletedRows { per_table }
    }

    /// Rows deleted from `table`; 0 for a table the run did not touch.
    pub fn of(&self, table: &str) -> u64 {
        self.per_table.get(table).copied().unwrap_or(0)
    }

    /// Rows deleted from every table together.
    pub fn total(&self) -> u64 {
        self.per_table.values().sum()
    }

    /// Each table the run swept and the rows it deleted there, by table name.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.per_table.iter().map(|(table, rows)| (*table, *rows))
    }
}

/// What [`ResultStore::watch_results`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultsStored {
    /// These tasks' results were committed.
    Tasks(Vec<TaskId>),
    /// The notification link was lost and is back: any result may have been stored
    /// meanwhile, so whoever waits should look again.
    Missed,
}

/// How many of an agent's most recent results its duration percentiles describe.
pub const PERCENTILE_WINDOW: u32 = 1000;

/// Whether the backing service answers; used by readiness checks.
#[async_trait]
pub trait HealthCheck: Send + Sync + 'static {
    /// A trivial query; `Unavailable` when the database cannot answer it. Runs on every
    /// readiness probe, so it stays cheap.
    async fn check(&self) -> Result<(), StoreError>;
}

/// The value at quantile `q` (0..=1) of ascending `sorted` values, nearest-rank method.
pub fn percentile(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&values, 0.5), Some(50));
        assert_eq!(percentile(&values, 0.95), Some(95));
        assert_eq!(percentile(&values, 0.99), Some(99));
        assert_eq!(percentile(&[7], 0.95), Some(7));
        assert_eq!(percentile(&[], 0.5), None);
    }
}

/// Every database store, from one backend.
///
/// Each field is the same backend seen through one trait, so that each service is handed
/// only the stores it may touch.
#[derive(Clone)]
pub struct DatabaseStores {
    /// The gateway's: registration, login and bearer tokens.
    pub accounts: std::sync::Arc<dyn AccountStore>,
    /// The gateway's: uploads, listings, search, and the look-up behind each submitted task.
    pub agents: std::sync::Arc<dyn AgentStore>,
    /// The gateway's: accepted tasks and who owns them.
    pub tasks: std::sync::Arc<dyn TaskStore>,
    /// The results service's, its only writer; the gateway reads results through that
    /// service, never here.
    pub results: std::sync::Arc<dyn ResultStore>,
    /// The gateway's (secrets, the delivery log) and the webhooks service's (claims and
    /// attempts); the messages themselves are inserted by the database's triggers.
    pub webhooks: std::sync::Arc<dyn WebhookStore>,
    /// The results service's retention job.
    pub retention: std::sync::Arc<dyn RetentionStore>,
    /// Probed as the process's `database` dependency, whichever services use it.
    pub health: std::sync::Arc<dyn HealthCheck>,
}

impl std::fmt::Debug for DatabaseStores {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("DatabaseStores")
    }
}

impl DatabaseStores {
    fn from_backend<B>(backend: B) -> Self
    where
        B: AccountStore
            + AgentStore
            + TaskStore
            + ResultStore
            + WebhookStore
            + RetentionStore
            + HealthCheck,
    {
        let backend = std::sync::Arc::new(backend);
        DatabaseStores {
            accounts: backend.clone(),
            agents: backend.clone(),
            tasks: backend.clone(),
            results: backend.clone(),
            webhooks: backend.clone(),
            retention: backend.clone(),
            health: backend,
        }
    }
}

/// Opens the database `location` names and brings its schema up to date.
pub async fn open(location: &DatabaseLocation) -> anyhow::Result<DatabaseStores> {
    Ok(match location {
        DatabaseLocation::Sqlite(_) => {
            DatabaseStores::from_backend(SqliteStore::open(&location.url()).await?)
        }
        DatabaseLocation::Postgres(url) => {
            DatabaseStores::from_backend(PostgresStore::open(url.expose()).await?)
        }
    })
}
