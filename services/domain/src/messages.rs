//! The messages that travel through the queue: a task to a worker, a result back.

use crate::{AgentId, Sha256, TaskId, TaskResult, UserId};

/// Asks a worker to run one task. Everything the worker needs is in the message, so a
/// worker never reads the database.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskMessage {
    /// The task the gateway recorded; the result is stored under it, once however often
    /// the message is delivered.
    pub task_id: TaskId,
    /// The agent to run, for the result and for spans; the binary is named by `binary_hash`.
    pub agent_id: AgentId,
    /// The submitting user, copied into the result so only they can read it.
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
