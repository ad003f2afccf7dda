//! The JSON body of each message, in the shape the Standard Webhooks specification
//! recommends: `{"type": "task.completed", "timestamp": "…", "data": {…}}`.
//!
//! A body is built from facts that never change (the stored result, the attempt's start),
//! and `timestamp` is when that happened, not when the body was built: the body is the same
//! however often it is built, and it is kept from the first attempt on anyway.

use base64::Engine;
use bazaar_domain::{TaskResult, WebhookDelivery, WebhookEvent};
use serde_json::{Value, json};

/// The body of a `completed` message: the task's result, as `GET /tasks/{id}/results`
/// shows it.
pub fn completed(delivery: &WebhookDelivery, result: &TaskResult) -> String {
    let (stdout, stdout_base64) = text_or_base64(&result.stdout);
    let (stderr, stderr_base64) = text_or_base64(&result.stderr);
    let mut data = json!({
        "task_id": result.task_id.as_str(),
        "agent_id": result.agent_id.as_str(),
        "status": result.status.as_str(),
        "exit_code": result.exit_code,
        "stdout": stdout,
        "stderr": stderr,
        "stdout_truncated": result.stdout_truncated,
        "stderr_truncated": result.stderr_truncated,
        "duration_ms": result.duration_ms,
        "error": result.error,
        "created_at": result.created_at,
    });
    if let Some(encoded) = stdout_base64 {
        data["stdout_base64"] = Value::String(encoded);
    }
    if let Some(encoded) = stderr_base64 {
        data["stderr_base64"] = Value::String(encoded);
    }
    envelope(delivery, data)
}

/// The body of a `running` message: which attempt started, and when.
pub fn running(delivery: &WebhookDelivery) -> String {
    let data = json!({
        "task_id": delivery.task_id.as_str(),
        "agent_id": delivery.agent_id.as_str(),
        "status": "running",
        "attempt": delivery.run_attempt,
        "started_at": delivery.occurred_at,
    });
    envelope(delivery, data)
}

fn envelope(delivery: &WebhookDelivery, data: Value) -> String {
    debug_assert!(matches!(
        delivery.event,
        WebhookEvent::Completed | WebhookEvent::Running
    ));
    json!({
        "type": delivery.event.message_type(),
        "timestamp": delivery.occurred_at,
        "data": data,
    })
    .to_string()
}

/// Output as text when it is valid UTF-8, else as base64, as the API shows it.
fn text_or_base64(output: &[u8]) -> (Option<String>, Option<String>) {
    match std::str::from_utf8(output) {
        Ok(text) => (Some(text.to_owned()), None),
        Err(_) => (
            None,
            Some(base64::engine::general_purpose::STANDARD.encode(output)),
        ),
    }
}
