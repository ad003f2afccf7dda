use crate::{AgentId, Sha256, TaskId, TaskResult, UserId};

/// Asks a worker to run one task. Everything the worker needs is in the message, so a
/// worker never reads the database.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskMessage {
    pub task_id: TaskId,
    pub agent_id: AgentId,
    pub owner: UserId,
    /// The binary to run, by content; the worker verifies it after fetching.
    pub binary_hash: Sha256,
    /// Fed to the agent's stdin; shared cheaply between the queue, the worker and the sandbox.
    pub input: std::sync::Arc<[u8]>,
    /// The run's wall-clock deadline, already bounded by the gateway's maximum.
    pub timeout_ms: u64,
}

/// A worker's answer: the result to store.
pub type ResultMessage = TaskResult;
