//! The JSON shapes of the API, as clients see them (and as the OpenAPI document shows them).

use base64::Engine;
use bazaar_domain::{Agent, AgentStats, Badge, ResultStatus, Task, TaskProgress, TaskResult};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// An agent in the marketplace.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentView {
    #[schema(example = "agent_0192f0c1a2b34c5d8e9f0a1b2c3d4e5f")]
    pub id: String,
    /// The owner's user id.
    pub user_id: String,
    #[schema(example = "json-format")]
    pub name: String,
    pub description: String,
    #[schema(example = "1.0.0")]
    pub version: String,
    #[schema(example = json!(["json", "formatting"]))]
    pub capabilities: Vec<String>,
    /// `active` or `inactive`.
    #[schema(example = "active")]
    pub status: &'static str,
    /// Price per task in USD.
    #[schema(example = 0.02)]
    pub price: f64,
    pub binary_url: String,
    /// SHA-256 of the binary, lowercase hex.
    pub binary_hash: String,
    pub binary_size: i64,
    pub tasks_completed: i64,
    /// The mean of its reviews' ratings (1 to 5, to two decimals); 0 until reviewed.
    pub rating: f64,
    /// How many reviews `rating` is the mean of.
    pub rating_count: i64,
    /// What the module imports, read when it was published: clock, random, stdio, args,
    /// environment, filesystem, sockets, and `deterministic` when it imports neither clocks
    /// nor randomness. `null` for an agent published before modules were analysed, until a
    /// gateway starting up has read its module.
    pub badges: Option<Vec<Badge>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Agent> for AgentView {
    fn from(agent: Agent) -> Self {
        AgentView {
            id: agent.id.to_string(),
            user_id: agent.owner.to_string(),
            name: agent.name.to_string(),
            description: agent.description,
            version: agent.version.to_string(),
            capabilities: agent.capabilities.to_strings(),
            status: agent.status.as_str(),
            price: agent.price.as_dollars(),
            binary_url: agent.binary_url,
            binary_hash: agent.binary_hash.to_string(),
            binary_size: agent.binary_size,
            tasks_completed: agent.tasks_completed,
            rating: agent.rating,
            rating_count: agent.rating_count,
            badges: agent.badges,
            created_at: agent.created_at,
            updated_at: agent.updated_at,
        }
    }
}

/// A page of the marketplace.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentListView {
    pub agents: Vec<AgentView>,
    /// Agents matching the filters, over all pages.
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
}

/// A page of search results, best match first. A query that matches more than 10,000 agents
/// is ranked among its 10,000 most recent matches only.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchView {
    pub agents: Vec<AgentView>,
    /// Agents matching the query: exact up to 10,000; above that, PostgreSQL's estimate in
    /// distributed mode (within a few percent).
    pub total: u64,
    pub query: String,
    pub limit: u32,
    pub offset: u32,
}

/// An agent's live statistics.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsView {
    pub agent_id: String,
    pub tasks_completed: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub timed_out: i64,
    pub canceled: i64,
    pub mean_duration_ms: Option<f64>,
    /// Percentiles over the agent's most recent 1,000 results.
    pub p50_duration_ms: Option<i64>,
    pub p95_duration_ms: Option<i64>,
    pub p99_duration_ms: Option<i64>,
    pub last_run_at: Option<DateTime<Utc>>,
}

impl StatsView {
    pub fn new(agent_id: String, stats: AgentStats) -> Self {
        StatsView {
            agent_id,
            tasks_completed: stats.tasks_completed,
            succeeded: stats.succeeded,
            failed: stats.failed,
            timed_out: stats.timed_out,
            canceled: stats.canceled,
            mean_duration_ms: stats.mean_duration_ms,
            p50_duration_ms: stats.p50_duration_ms,
            p95_duration_ms: stats.p95_duration_ms,
            p99_duration_ms: stats.p99_duration_ms,
            last_run_at: stats.last_run_at,
        }
    }
}

/// The result of one task (the original system's format, plus status, truncation flags and
/// creation time).
#[derive(Debug, Serialize, ToSchema)]
pub struct ResultView {
    #[schema(example = "task_0192f0c1a2b34c5d8e9f0a1b2c3d4e5f")]
    pub task_id: String,
    pub agent_id: String,
    pub status: ResultStatus,
    /// The agent's exit code; -1 when it did not exit by itself (trap, limit, timeout).
    pub exit_code: i32,
    /// The agent's stdout as text, when it is valid UTF-8; `null` when it is not, and
    /// `stdout_base64` holds it.
    pub stdout: Option<String>,
    /// The agent's stdout as standard base64, only when it is not valid UTF-8 (binary output
    /// such as a gzip stream, which round-trips exactly).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdout_base64: Option<String>,
    /// The agent's stderr, as `stdout` is shown.
    pub stderr: Option<String>,
    /// The agent's stderr as base64, as `stdout_base64` is shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr_base64: Option<String>,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub duration_ms: i64,
    /// Why the run failed, when it did not simply exit non-zero.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<TaskResult> for ResultView {
    fn from(result: TaskResult) -> Self {
        let (stdout, stdout_base64) = text_or_base64(result.stdout);
        let (stderr, stderr_base64) = text_or_base64(result.stderr);
        ResultView {
            task_id: result.task_id.to_string(),
            agent_id: result.agent_id.to_string(),
            status: result.status,
            exit_code: result.exit_code,
            stdout,
            stdout_base64,
            stderr,
            stderr_base64,
            stdout_truncated: result.stdout_truncated,
            stderr_truncated: result.stderr_truncated,
            duration_ms: result.duration_ms,
            error: result.error,
            created_at: result.created_at,
        }
    }
}

/// Output as text when it is valid UTF-8, else as base64: never lossy.
fn text_or_base64(output: Vec<u8>) -> (Option<String>, Option<String>) {
    match String::from_utf8(output) {
        Ok(text) => (Some(text), None),
        Err(binary) => (
            None,
            Some(base64::engine::general_purpose::STANDARD.encode(binary.as_bytes())),
        ),
    }
}

/// A page of results, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResultListView {
    pub results: Vec<ResultView>,
    /// Results on this page.
    pub count: usize,
    /// Results matching the filters, over all pages.
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
}

/// A task's state: `queued → running → succeeded | failed | timed_out | canceled`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    pub task_id: String,
    pub agent_id: String,
    /// `queued` until a worker starts it, `running` while it runs (again after a worker
    /// died: see `attempts`), then its result's status.
    #[schema(example = "running")]
    pub status: TaskStatus,
    pub created_at: DateTime<Utc>,
    /// When the latest attempt started; `null` while queued.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished (its result was stored); `null` until then.
    pub finished_at: Option<DateTime<Utc>>,
    /// The same as `finished_at`, under its earlier name.
    pub completed_at: Option<DateTime<Utc>>,
    /// Attempts started so far; more than 1 when a worker died or gave it back.
    pub attempts: u32,
    /// When its owner asked to cancel it, if they did; a running task stops within
    /// moments and ends `canceled`.
    pub cancel_requested_at: Option<DateTime<Utc>>,
}

/// Where a task is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Canceled,
}

impl TaskStatus {
    /// The status of a task with this much known of it.
    pub fn of(progress: &TaskProgress) -> Self {
        match &progress.result {
            Some(result) => match result.status {
                ResultStatus::Succeeded => TaskStatus::Succeeded,
                ResultStatus::Failed => TaskStatus::Failed,
                ResultStatus::TimedOut => TaskStatus::TimedOut,
                ResultStatus::Canceled => TaskStatus::Canceled,
            },
            None if progress.run.started_at.is_some() => TaskStatus::Running,
            None => TaskStatus::Queued,
        }
    }
}

impl TaskView {
    pub fn new(task: &Task, progress: &TaskProgress) -> Self {
        let finished_at = progress.result.as_ref().map(|result| result.created_at);
        TaskView {
            task_id: task.id.to_string(),
            agent_id: task.agent_id.to_string(),
            status: TaskStatus::of(progress),
            created_at: task.created_at,
            started_at: progress.run.started_at,
            finished_at,
            completed_at: finished_at,
            attempts: progress.run.attempts,
            cancel_requested_at: progress.run.cancel_requested_at,
        }
    }
}

/// The answer to an asynchronous submission.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedView {
    pub task_id: String,
    pub agent_id: String,
    /// `queued`; for a request retried with the same `Idempotency-Key`, the task's status
    /// now.
    #[schema(example = "queued")]
    pub status: TaskStatus,
}
