//! The messages that travel through the queue: a task to a worker, a worker's reports
//! back, and the signals that are not kept (cancellations, live output).

use chrono::{DateTime, Utc};

use crate::{AgentId, Sha256, TaskId, TaskResult, TaskStarted, UserId};

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

/// What a worker reports to the results service, durably, through the results queue.
#[derive(Debug, Clone, PartialEq)]
pub enum ResultMessage {
    /// An attempt started: the task is `running`.
    Started(TaskStarted),
    /// The run ended: the result to store.
    Finished(TaskResult),
}

impl ResultMessage {
    /// The task reported on.
    pub fn task_id(&self) -> &TaskId {
        match self {
            ResultMessage::Started(started) => &started.task_id,
            ResultMessage::Finished(result) => &result.task_id,
        }
    }
}

impl From<TaskResult> for ResultMessage {
    fn from(result: TaskResult) -> Self {
        ResultMessage::Finished(result)
    }
}

/// Which output stream a chunk of live output was written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutputStream {
    /// The agent's stdout.
    Stdout,
    /// The agent's stderr.
    Stderr,
}

/// A message that is not kept: sent to whoever listens at the moment, lost otherwise. The
/// stored records stay the truth; signals only make things faster or visible sooner.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    /// Every worker: stop running this task (or, if it has not started yet, never start it).
    Cancel(TaskId),
    /// Whoever follows the task: an attempt started.
    Running {
        /// The task.
        task_id: TaskId,
        /// 1 for the first delivery, and so on.
        attempt: u32,
        /// When it started (UTC).
        started_at: DateTime<Utc>,
    },
    /// Whoever follows the task: output the agent wrote, in the order it wrote it.
    Output {
        /// The task.
        task_id: TaskId,
        /// Which stream.
        stream: OutputStream,
        /// The bytes, not necessarily whole UTF-8 characters.
        bytes: Vec<u8>,
    },
}

impl Signal {
    /// The task the signal is about.
    pub fn task_id(&self) -> &TaskId {
        match self {
            Signal::Cancel(task_id)
            | Signal::Running { task_id, .. }
            | Signal::Output { task_id, .. } => task_id,
        }
    }
}

/// Which signals a subscriber receives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SignalTopic {
    /// Every [`Signal::Cancel`] (workers).
    Cancellations,
    /// [`Signal::Running`] and [`Signal::Output`] of one task (a gateway following it).
    Task(TaskId),
}

impl SignalTopic {
    /// Whether `signal` belongs to this topic.
    pub fn admits(&self, signal: &Signal) -> bool {
        match (self, signal) {
            (SignalTopic::Cancellations, Signal::Cancel(_)) => true,
            (SignalTopic::Task(task_id), Signal::Running { .. } | Signal::Output { .. }) => {
                signal.task_id() == task_id
            }
            _ => false,
        }
    }
}
