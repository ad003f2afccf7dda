//! Following and stopping a task: cancellation, and its events as Server-Sent Events.
//!
//! Both go to the results service, which owns a task's runs: a cancellation is recorded
//! there and signalled to every worker; the event stream reads the task's state there, then
//! follows the signals the worker sends (its start, its output) until the result is stored.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bazaar_domain::{
    ErrorCode, OutputStream, ResultStatus, Signal, SignalTopic, Task, TaskProgress, TaskResult,
    UserId,
};
use bazaar_queue::Subscription;
use futures_util::Stream;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthenticatedUser, Json, Path};
use crate::state::AppState;
use crate::tasks::{own_task, parse_task_id};
use crate::views::{ResultView, TaskStatus, TaskView};

/// How long a cancellation waits for a running task to stop before answering 202.
const CANCEL_WAIT: Duration = Duration::from_secs(2);

/// Cancels a task.
///
/// A queued task is never run and ends `canceled` at once. A running task is stopped
/// wherever it runs and ends `canceled` with the output it had written; the answer waits a
/// moment for that (200), else says it is under way (202). Canceling a canceled task is
/// fine; canceling one that finished otherwise is a conflict.
#[utoipa::path(
    post, path = "/api/v1/tasks/{id}/cancel", tag = "tasks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task, canceled", body = TaskView),
        (status = 202, description = "The task is being stopped; it ends `canceled` within moments", body = TaskView),
        (status = 400, description = "Malformed task id", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such task of yours", body = ErrorBody),
        (status = 409, description = "The task already finished otherwise, or finished otherwise while it was being stopped (the message names its status)", body = ErrorBody),
        (status = 503, description = "The results service or the queue is unavailable", body = ErrorBody),
    )
)]
pub async fn cancel_task(
    State(state): State<AppState>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_task_id(&id)?;
    let task = own_task(&state, &user, &id).await?;
    let progress = state.results.progress(&id, &user.user_id).await?;
    refuse_if_finished(&task, &progress)?;
    let progress = state
        .results
        .cancel(&id, &task.agent_id, &user.user_id)
        .await?;
    refuse_if_finished(&task, &progress)?;
    if progress.result.is_some() {
        return Ok(Json(TaskView::new(&task, &progress)).into_response());
    }
    // Running: its worker stops it and stores what it wrote.
    if state
        .results
        .wait(&id, &user.user_id, CANCEL_WAIT)
        .await?
        .is_some()
    {
        // It may have finished otherwise just before its worker heard of the cancellation.
        let progress = state.results.progress(&id, &user.user_id).await?;
        refuse_if_finished(&task, &progress)?;
        return Ok(Json(TaskView::new(&task, &progress)).into_response());
    }
    let progress = state.results.progress(&id, &user.user_id).await?;
    Ok((StatusCode::ACCEPTED, Json(TaskView::new(&task, &progress))).into_response())
}

/// A task that finished other than canceled cannot be canceled any more.
fn refuse_if_finished(task: &Task, progress: &TaskProgress) -> Result<(), ApiError> {
    match &progress.result {
        Some(result) if result.status != ResultStatus::Canceled => Err(ApiError::new(
            ErrorCode::Conflict,
            format!(
                "task {} already finished: it {}",
                task.id,
                match result.status {
                    ResultStatus::Succeeded => "succeeded",
                    ResultStatus::Failed => "failed",
                    ResultStatus::TimedOut => "timed out",
                    ResultStatus::Canceled => "was canceled",
                }
            ),
        )),
        _ => Ok(()),
    }
}

/// A chunk of what the agent wrote, in an `output` event.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutputEvent {
    pub stream: OutputStream,
    /// The bytes as text, when they are UTF-8 (a character split between chunks is sent
    /// whole with the next one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The bytes as standard base64, when they are not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
}

/// How often an open event stream checks whether its gateway is shutting down.
const DRAIN_CHECK: Duration = Duration::from_millis(250);

/// How long one wait for the result lasts before it is asked for again.
const RESULT_POLL: Duration = Duration::from_secs(60);

/// Follows a task as Server-Sent Events.
///
/// Events, in order: `status` (the task as `GET /tasks/{id}` shows it) now and whenever an
/// attempt starts; `output` (an [`OutputEvent`]) as the agent writes; finally `result` (the
/// stored result, as `GET /tasks/{id}/results` shows it), after which the stream ends. A
/// finished task gets its `status` and `result` at once. Output is live only: what was
/// written before the stream was opened is in the result, not repeated; in distributed mode
/// it travels through the broker without being stored, so a chunk may be missed, never the
/// result. A comment line keeps the connection alive every 15 s.
#[utoipa::path(
    get, path = "/api/v1/tasks/{id}/events", tag = "tasks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "A `text/event-stream` of `status`, `output` and `result` events",
            content_type = "text/event-stream", body = String),
        (status = 400, description = "Malformed task id", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such task of yours", body = ErrorBody),
        (status = 503, description = "The results service or the queue is unavailable", body = ErrorBody),
    )
)]
pub async fn task_events(
    State(state): State<AppState>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id = parse_task_id(&id)?;
    let task = own_task(&state, &user, &id).await?;
    // Subscribed before the state is read, so that nothing between the two is missed.
    let signals = state
        .queue
        .subscribe(SignalTopic::Task(id.clone()))
        .await
        .map_err(ApiError::from)?;
    let progress = state.results.progress(&id, &user.user_id).await?;
    let (events, receiver) = mpsc::channel(64);
    tokio::spawn(follow(
        state,
        user.user_id.clone(),
        task,
        progress,
        signals,
        events,
    ));
    let mut receiver = receiver;
    let stream = futures_util::stream::poll_fn(move |context| receiver.poll_recv(context));
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Sends a task's events until its result, or until the client goes away.
async fn follow(
    state: AppState,
    owner: UserId,
    task: Task,
    mut progress: TaskProgress,
    mut signals: Box<dyn Subscription>,
    events: mpsc::Sender<Result<Event, Infallible>>,
) {
    let send = |event: Event| {
        let events = events.clone();
        async move { events.send(Ok(event)).await.is_ok() }
    };
    if !send(status_event(&task, &progress)).await {
        return;
    }
    if let Some(result) = progress.result.take() {
        send(result_event(result)).await;
        return;
    }
    let (result_sender, mut result_receiver) = oneshot::channel();
    let waiting = tokio::spawn(wait_for_result(
        state.clone(),
        task.clone(),
        owner.clone(),
        result_sender,
    ));
    let mut decoders = [Utf8Carry::default(), Utf8Carry::default()];
    let mut signals_open = true;
    // A gateway shutting down ends its streams, so that it stops in time; clients reconnect
    // to another replica, or after the restart.
    let mut draining = tokio::time::interval(DRAIN_CHECK);
    loop {
        tokio::select! {
            _ = draining.tick() => {
                if !state.is_accepting() {
                    break;
                }
                // A start signalled before this stream subscribed is missed; its record is
                // not: while the task looks queued, look again.
                if progress.run.started_at.is_none()
                    && let Ok(now) = state.results.progress(&task.id, &owner).await
                    && now.run.started_at.is_some()
                    && now.result.is_none()
                {
                    progress.run = now.run;
                    if !send(status_event(&task, &progress)).await {
                        break;
                    }
                }
            }
            result = &mut result_receiver => {
                if let Ok(result) = result {
                    // Output still in flight would come after the end: drain what arrived.
                    while let Some(Some(signal)) = futures_util::FutureExt::now_or_never(signals.next()) {
                        if let Some(event) = signal_event(&task, &mut progress, &mut decoders, signal)
                            && !send(event).await
                        {
                            break;
                        }
                    }
                    for (stream, carry) in [OutputStream::Stdout, OutputStream::Stderr].into_iter().zip(&mut decoders) {
                        if let Some(event) = carry.flush(stream) {
                            send(event).await;
                        }
                    }
                    progress.result = Some(result.clone());
                    send(result_event(result)).await;
                }
                break;
            }
            signal = signals.next(), if signals_open => {
                let Some(signal) = signal else {
                    signals_open = false;
                    continue;
                };
                if let Some(event) = signal_event(&task, &mut progress, &mut decoders, signal)
                    && !send(event).await
                {
                    break;
                }
            }
            () = events.closed() => break,
        }
    }
    waiting.abort();
}

/// Waits for the task's result, asking again after each [`RESULT_POLL`]; gives up when the
/// results service fails (the stream then ends without a result).
async fn wait_for_result(
    state: AppState,
    task: Task,
    owner: UserId,
    found: oneshot::Sender<TaskResult>,
) {
    loop {
        match state.results.wait(&task.id, &owner, RESULT_POLL).await {
            Ok(Some(result)) => {
                let _ = found.send(result);
                return;
            }
            Ok(None) if found.is_closed() => return,
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(task_id = %task.id, %error, "an event stream lost the results service");
                return;
            }
        }
    }
}

/// The event a signal makes, if any; a start also updates `progress`.
fn signal_event(
    task: &Task,
    progress: &mut TaskProgress,
    decoders: &mut [Utf8Carry; 2],
    signal: Signal,
) -> Option<Event> {
    match signal {
        Signal::Running {
            attempt,
            started_at,
            ..
        } => {
            progress.run.started_at = Some(started_at);
            progress.run.attempts = progress.run.attempts.max(attempt);
            Some(status_event(task, progress))
        }
        Signal::Output { stream, bytes, .. } => {
            let carry = match stream {
                OutputStream::Stdout => &mut decoders[0],
                OutputStream::Stderr => &mut decoders[1],
            };
            carry.decode(stream, bytes)
        }
        Signal::Cancel(_) => None,
    }
}

fn status_event(task: &Task, progress: &TaskProgress) -> Event {
    let view = TaskView::new(task, progress);
    debug_assert!(view.status != TaskStatus::Queued || progress.result.is_none());
    json_event("status", &view)
}

fn result_event(result: TaskResult) -> Event {
    json_event("result", &ResultView::from(result))
}

fn json_event(name: &str, data: &impl Serialize) -> Event {
    let data = serde_json::to_string(data).unwrap_or_else(|_| "{}".to_owned());
    Event::default().event(name).data(data)
}

/// Bytes of one stream not yet sent because they end inside a UTF-8 character.
#[derive(Debug, Default)]
struct Utf8Carry {
    pending: Vec<u8>,
}

impl Utf8Carry {
    /// The `output` event for `bytes` after what was carried: text up to the last whole
    /// character (the rest is carried), or base64 when the bytes are not UTF-8.
    fn decode(&mut self, stream: OutputStream, bytes: Vec<u8>) -> Option<Event> {
        let mut bytes = if self.pending.is_empty() {
            bytes
        } else {
            let mut joined = std::mem::take(&mut self.pending);
            joined.extend_from_slice(&bytes);
            joined
        };
        match std::str::from_utf8(&bytes) {
            Ok(_) => {}
            Err(error) if error.error_len().is_none() && bytes.len() - error.valid_up_to() < 4 => {
                self.pending = bytes.split_off(error.valid_up_to());
            }
            Err(_) => return Some(output_event(stream, None, Some(bytes))),
        }
        if bytes.is_empty() {
            return None;
        }
        let text = String::from_utf8(bytes).expect("checked to be UTF-8");
        Some(output_event(stream, Some(text), None))
    }

    /// What is left at the end, as base64 (it is not whole UTF-8).
    fn flush(&mut self, stream: OutputStream) -> Option<Event> {
        if self.pending.is_empty() {
            return None;
        }
        Some(output_event(
            stream,
            None,
            Some(std::mem::take(&mut self.pending)),
        ))
    }
}

fn output_event(stream: OutputStream, text: Option<String>, binary: Option<Vec<u8>>) -> Event {
    json_event(
        "output",
        &OutputEvent {
            stream,
            text,
            base64: binary.map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes)),
        },
    )
}
