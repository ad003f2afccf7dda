//! Conversions between the generated protobuf types and the domain's: messages are parsed
//! into domain types at the edge, so a malformed id or hash is an error here, not later.

use std::sync::Arc;

use bazaar_domain::{
    AgentId, OutputStream, ParseError, ResultStatus, Sha256, Signal, TaskId, TaskMessage,
    TaskProgress, TaskResult, TaskRun, TaskStarted, UserId,
};
use chrono::{DateTime, Utc};

use crate::v1;

/// A message from the wire that does not describe a valid domain value.
#[derive(Debug)]
pub enum WireError {
    /// A field did not parse.
    Field(ParseError),
    /// A required field was missing or out of range.
    Invalid(&'static str),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Field(error) => write!(formatter, "invalid message: {error}"),
            WireError::Invalid(what) => write!(formatter, "invalid message: {what}"),
        }
    }
}

impl std::error::Error for WireError {}

impl From<ParseError> for WireError {
    fn from(error: ParseError) -> Self {
        WireError::Field(error)
    }
}

/// Microseconds since the Unix epoch.
pub fn to_micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

/// The time `micros` microseconds after the Unix epoch.
pub fn from_micros(micros: i64) -> Result<DateTime<Utc>, WireError> {
    DateTime::from_timestamp_micros(micros).ok_or(WireError::Invalid("timestamp out of range"))
}

impl From<ResultStatus> for v1::ResultStatus {
    fn from(status: ResultStatus) -> Self {
        match status {
            ResultStatus::Succeeded => v1::ResultStatus::Succeeded,
            ResultStatus::Failed => v1::ResultStatus::Failed,
            ResultStatus::TimedOut => v1::ResultStatus::TimedOut,
            ResultStatus::Canceled => v1::ResultStatus::Canceled,
        }
    }
}

impl TryFrom<v1::ResultStatus> for ResultStatus {
    type Error = WireError;

    fn try_from(status: v1::ResultStatus) -> Result<Self, WireError> {
        match status {
            v1::ResultStatus::Succeeded => Ok(ResultStatus::Succeeded),
            v1::ResultStatus::Failed => Ok(ResultStatus::Failed),
            v1::ResultStatus::TimedOut => Ok(ResultStatus::TimedOut),
            v1::ResultStatus::Canceled => Ok(ResultStatus::Canceled),
            v1::ResultStatus::Unspecified => {
                Err(WireError::Invalid("result status is unspecified"))
            }
        }
    }
}

impl From<&TaskMessage> for v1::TaskMessage {
    fn from(task: &TaskMessage) -> Self {
        v1::TaskMessage {
            task_id: task.task_id.to_string(),
            agent_id: task.agent_id.to_string(),
            owner_id: task.owner.to_string(),
            binary_sha256: task.binary_hash.to_string(),
            input: task.input.to_vec(),
            timeout_ms: task.timeout_ms,
        }
    }
}

impl TryFrom<v1::TaskMessage> for TaskMessage {
    type Error = WireError;

    fn try_from(task: v1::TaskMessage) -> Result<Self, WireError> {
        if task.timeout_ms == 0 {
            return Err(WireError::Invalid("timeout_ms must be positive"));
        }
        Ok(TaskMessage {
            task_id: TaskId::parse(&task.task_id)?,
            agent_id: AgentId::parse(&task.agent_id)?,
            owner: UserId::parse(&task.owner_id)?,
            binary_hash: Sha256::parse(&task.binary_sha256)?,
            input: Arc::from(task.input),
            timeout_ms: task.timeout_ms,
        })
    }
}

impl From<&TaskResult> for v1::TaskResult {
    fn from(result: &TaskResult) -> Self {
        v1::TaskResult {
            task_id: result.task_id.to_string(),
            agent_id: result.agent_id.to_string(),
            owner_id: result.owner.to_string(),
            status: v1::ResultStatus::from(result.status).into(),
            exit_code: result.exit_code,
            stdout: result.stdout.clone(),
            stderr: result.stderr.clone(),
            stdout_truncated: result.stdout_truncated,
            stderr_truncated: result.stderr_truncated,
            duration_ms: result.duration_ms,
            error: result.error.clone(),
            created_at_micros: to_micros(result.created_at),
        }
    }
}

impl TryFrom<v1::TaskResult> for TaskResult {
    type Error = WireError;

    fn try_from(result: v1::TaskResult) -> Result<Self, WireError> {
        let status = v1::ResultStatus::try_from(result.status)
            .map_err(|_| WireError::Invalid("unknown result status"))?;
        Ok(TaskResult {
            task_id: TaskId::parse(&result.task_id)?,
            agent_id: AgentId::parse(&result.agent_id)?,
            owner: UserId::parse(&result.owner_id)?,
            status: ResultStatus::try_from(status)?,
            exit_code: result.exit_code,
            stdout: result.stdout,
            stderr: result.stderr,
            stdout_truncated: result.stdout_truncated,
            stderr_truncated: result.stderr_truncated,
            duration_ms: result.duration_ms,
            error: result.error,
            created_at: from_micros(result.created_at_micros)?,
        })
    }
}

impl From<&TaskStarted> for v1::TaskStarted {
    fn from(started: &TaskStarted) -> Self {
        v1::TaskStarted {
            task_id: started.task_id.to_string(),
            agent_id: started.agent_id.to_string(),
            owner_id: started.owner.to_string(),
            attempt: started.attempt,
            started_at_micros: to_micros(started.started_at),
        }
    }
}

impl TryFrom<v1::TaskStarted> for TaskStarted {
    type Error = WireError;

    fn try_from(started: v1::TaskStarted) -> Result<Self, WireError> {
        Ok(TaskStarted {
            task_id: TaskId::parse(&started.task_id)?,
            agent_id: AgentId::parse(&started.agent_id)?,
            owner: UserId::parse(&started.owner_id)?,
            attempt: started.attempt,
            started_at: from_micros(started.started_at_micros)?,
        })
    }
}

impl From<&Signal> for v1::Signal {
    fn from(signal: &Signal) -> Self {
        let kind = match signal {
            Signal::Cancel(_) => v1::signal::Kind::Cancel(true),
            Signal::Running {
                task_id,
                attempt,
                started_at,
            } => v1::signal::Kind::Running(v1::TaskStarted {
                task_id: task_id.to_string(),
                attempt: *attempt,
                started_at_micros: to_micros(*started_at),
                ..v1::TaskStarted::default()
            }),
            Signal::Output { stream, bytes, .. } => v1::signal::Kind::Output(v1::OutputChunk {
                stream: match stream {
                    OutputStream::Stdout => v1::OutputStream::Stdout,
                    OutputStream::Stderr => v1::OutputStream::Stderr,
                }
                .into(),
                bytes: bytes.clone(),
            }),
        };
        v1::Signal {
            task_id: signal.task_id().to_string(),
            kind: Some(kind),
        }
    }
}

impl TryFrom<v1::Signal> for Signal {
    type Error = WireError;

    fn try_from(signal: v1::Signal) -> Result<Self, WireError> {
        let task_id = TaskId::parse(&signal.task_id)?;
        match signal.kind {
            Some(v1::signal::Kind::Cancel(_)) => Ok(Signal::Cancel(task_id)),
            Some(v1::signal::Kind::Running(running)) => Ok(Signal::Running {
                task_id,
                attempt: running.attempt,
                started_at: from_micros(running.started_at_micros)?,
            }),
            Some(v1::signal::Kind::Output(chunk)) => {
                let stream = match v1::OutputStream::try_from(chunk.stream) {
                    Ok(v1::OutputStream::Stdout) => OutputStream::Stdout,
                    Ok(v1::OutputStream::Stderr) => OutputStream::Stderr,
                    _ => return Err(WireError::Invalid("unknown output stream")),
                };
                Ok(Signal::Output {
                    task_id,
                    stream,
                    bytes: chunk.bytes,
                })
            }
            None => Err(WireError::Invalid("the signal has no kind")),
        }
    }
}

impl From<&TaskProgress> for v1::TaskProgressResponse {
    fn from(progress: &TaskProgress) -> Self {
        v1::TaskProgressResponse {
            started_at_micros: progress.run.started_at.map(to_micros),
            attempts: progress.run.attempts,
            cancel_requested_at_micros: progress.run.cancel_requested_at.map(to_micros),
            result: progress.result.as_ref().map(v1::TaskResult::from),
        }
    }
}

impl TryFrom<v1::TaskProgressResponse> for TaskProgress {
    type Error = WireError;

    fn try_from(progress: v1::TaskProgressResponse) -> Result<Self, WireError> {
        Ok(TaskProgress {
            run: TaskRun {
                started_at: progress.started_at_micros.map(from_micros).transpose()?,
                attempts: progress.attempts,
                cancel_requested_at: progress
                    .cancel_requested_at_micros
                    .map(from_micros)
                    .transpose()?,
            },
            result: progress.result.map(TaskResult::try_from).transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    fn sample_result() -> TaskResult {
        TaskResult {
            task_id: TaskId::generate(),
            agent_id: AgentId::generate(),
            owner: UserId::generate(),
            status: ResultStatus::TimedOut,
            exit_code: -1,
            stdout: b"partial".to_vec(),
            stderr: Vec::new(),
            stdout_truncated: true,
            stderr_truncated: false,
            duration_ms: 5000,
            error: Some("timed out".to_owned()),
            created_at: from_micros(1_790_000_000_123_456).unwrap(),
        }
    }

    #[test]
    fn a_result_survives_the_wire_unchanged() {
        let result = sample_result();
        let bytes = v1::TaskResult::from(&result).encode_to_vec();
        let decoded =
            TaskResult::try_from(v1::TaskResult::decode(bytes.as_slice()).unwrap()).unwrap();
        assert_eq!(decoded, result);
    }

    #[test]
    fn a_task_survives_the_wire_unchanged() {
        let task = TaskMessage {
            task_id: TaskId::generate(),
            agent_id: AgentId::generate(),
            owner: UserId::generate(),
            binary_hash: Sha256::digest(b"module"),
            input: Arc::from(&b"input"[..]),
            timeout_ms: 1500,
        };
        let bytes = v1::TaskMessage::from(&task).encode_to_vec();
        let decoded =
            TaskMessage::try_from(v1::TaskMessage::decode(bytes.as_slice()).unwrap()).unwrap();
        assert_eq!(decoded, task);
    }

    #[test]
    fn a_task_with_a_malformed_hash_is_rejected() {
        let mut wire = v1::TaskMessage::from(&TaskMessage {
            task_id: TaskId::generate(),
            agent_id: AgentId::generate(),
            owner: UserId::generate(),
            binary_hash: Sha256::digest(b"module"),
            input: Arc::from(&b""[..]),
            timeout_ms: 1,
        });
        wire.binary_sha256 = "../../etc/passwd".to_owned();
        assert!(TaskMessage::try_from(wire).is_err());
    }

    #[test]
    fn a_result_without_a_status_is_rejected() {
        let mut wire = v1::TaskResult::from(&sample_result());
        wire.status = 0;
        assert!(TaskResult::try_from(wire).is_err());
    }
}
