use chrono::{DateTime, Utc};

use crate::{
    AgentId, AgentName, Capabilities, Capability, ParseError, Price, Sha256, TaskId, UserId,
    Version,
};

/// Whether an agent takes new tasks. Only its owner changes it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// Listed and runnable.
    Active,
    /// Kept for its history, but takes no new tasks.
    Inactive,
}

impl AgentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Active => "active",
            AgentStatus::Inactive => "inactive",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match raw {
            "active" => Ok(AgentStatus::Active),
            "inactive" => Ok(AgentStatus::Inactive),
            _ => Err(ParseError::new("status", "must be `active` or `inactive`")),
        }
    }
}

/// An agent as the marketplace knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub id: AgentId,
    pub owner: UserId,
    pub name: AgentName,
    pub description: String,
    pub version: Version,
    pub capabilities: Capabilities,
    pub status: AgentStatus,
    pub price: Price,
    /// Where the binary is stored (`s3://bucket/agents/<sha256>` or a local file URL).
    pub binary_url: String,
    pub binary_hash: Sha256,
    pub binary_size: i64,
    /// Results stored for this agent so far (kept by the results service).
    pub tasks_completed: i64,
    /// Average rating from 0 to 5; 0 until rated.
    pub rating: f64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What the gateway stores when an agent is uploaded.
#[derive(Debug, Clone)]
pub struct NewAgent {
    pub id: AgentId,
    pub owner: UserId,
    pub name: AgentName,
    pub description: String,
    pub version: Version,
    pub capabilities: Capabilities,
    pub price: Price,
    pub binary_url: String,
    pub binary_hash: Sha256,
    pub binary_size: i64,
}

/// The fields an owner may change on an agent; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AgentChanges {
    pub description: Option<String>,
    pub capabilities: Option<Capabilities>,
    pub price: Option<Price>,
    pub status: Option<AgentStatus>,
}

/// The order of a marketplace listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentSort {
    /// Most recently published first.
    #[default]
    Newest,
    Oldest,
    /// By name, A to Z.
    Name,
    PriceAsc,
    PriceDesc,
    /// Highest rating first.
    Rating,
    /// Most tasks completed first.
    Popular,
}

/// Which agents a listing shows.
#[derive(Debug, Clone, Default)]
pub struct AgentFilter {
    pub capability: Option<Capability>,
    pub min_price: Option<Price>,
    pub max_price: Option<Price>,
    pub min_rating: Option<f64>,
    pub status: Option<AgentStatus>,
    pub owner: Option<UserId>,
    pub sort: AgentSort,
    pub limit: u32,
    pub offset: u32,
}

/// One page of a listing and how many items match in all.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// A submitted task, as the gateway records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: TaskId,
    pub agent_id: AgentId,
    pub owner: UserId,
    pub input_size: i64,
    pub timeout_ms: i64,
    pub created_at: DateTime<Utc>,
}

/// How a run ended.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ResultStatus {
    /// Exit code 0 and no error.
    Succeeded,
    /// A non-zero exit code, a trap, a limit, or an agent that could not be loaded.
    Failed,
    /// The wall-clock deadline passed.
    TimedOut,
}

impl ResultStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ResultStatus::Succeeded => "succeeded",
            ResultStatus::Failed => "failed",
            ResultStatus::TimedOut => "timed_out",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match raw {
            "succeeded" => Ok(ResultStatus::Succeeded),
            "failed" => Ok(ResultStatus::Failed),
            "timed_out" => Ok(ResultStatus::TimedOut),
            _ => Err(ParseError::new(
                "status",
                "must be `succeeded`, `failed` or `timed_out`",
            )),
        }
    }
}

/// The outcome of one task: what the worker publishes and the results service stores.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskResult {
    pub task_id: TaskId,
    pub agent_id: AgentId,
    /// The user who submitted the task; only they can read the result.
    pub owner: UserId,
    pub status: ResultStatus,
    /// The agent's exit code; -1 when it did not exit by itself (trap, limit, timeout).
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub duration_ms: i64,
    /// Why the run failed, when it did not simply exit non-zero.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl TaskResult {
    /// The result of a task that could not run to completion (a missing or tampered
    /// binary, a task the queue gave up on): failed, exit code -1, no output.
    pub fn failure(task: &crate::TaskMessage, error: String, created_at: DateTime<Utc>) -> Self {
        TaskResult {
            task_id: task.task_id.clone(),
            agent_id: task.agent_id.clone(),
            owner: task.owner.clone(),
            status: ResultStatus::Failed,
            exit_code: -1,
            stdout: Vec::new(),
            stderr: Vec::new(),
            stdout_truncated: false,
            stderr_truncated: false,
            duration_ms: 0,
            error: Some(error),
            created_at,
        }
    }
}

/// Which results a listing shows; always scoped to one owner.
#[derive(Debug, Clone)]
pub struct ResultFilter {
    pub owner: UserId,
    pub agent_id: Option<AgentId>,
    pub status: Option<ResultStatus>,
    pub limit: u32,
    pub offset: u32,
}

/// Live statistics of one agent, kept up to date by every stored result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentStats {
    pub tasks_completed: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub timed_out: i64,
    pub mean_duration_ms: Option<f64>,
    /// Percentiles over the agent's most recent results (see the results service).
    pub p50_duration_ms: Option<i64>,
    pub p95_duration_ms: Option<i64>,
    pub p99_duration_ms: Option<i64>,
    pub last_run_at: Option<DateTime<Utc>>,
}
