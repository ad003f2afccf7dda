//! Running agents: synchronous and asynchronous tasks, their status and their results.
//!
//! Both kinds go through the queue: a synchronous run is an asynchronous one whose request
//! waits for the result, so embedded and distributed mode behave the same.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bazaar_domain::{
    AgentStatus, ErrorCode, ResultFilter, ResultStatus, Task, TaskId, TaskMessage, TaskResult,
};
use chrono::Utc;
use serde::Deserialize;
use tracing::Instrument;
use utoipa::{IntoParams, ToSchema};

use crate::agents::{page_bounds, parse_agent_id};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthenticatedUser, Json, Path, Query};
use crate::state::AppState;
use crate::views::{QueuedView, ResultListView, ResultView, TaskView};

/// A task to run.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TaskRequest {
    #[schema(example = "agent_0192f0c1a2b34c5d8e9f0a1b2c3d4e5f")]
    pub agent_id: String,
    /// Fed to the agent's stdin.
    #[serde(default)]
    #[schema(example = "{\"hello\": \"world\"}")]
    pub input: String,
    /// Wall-clock limit of the run; the server's default when absent, at most its maximum.
    pub timeout_ms: Option<u64>,
}

/// Checks a request, records the task and queues it. Returns the task and its timeout.
async fn enqueue(
    state: &AppState,
    user: &AuthenticatedUser,
    request: TaskRequest,
    task_id: TaskId,
) -> Result<(Task, Duration), ApiError> {
    if !state.is_accepting() {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "the gateway is shutting down",
        ));
    }
    let agent_id = parse_agent_id(&request.agent_id)
        .map_err(|error| ApiError::unprocessable(error.message))?;
    if request.input.len() > state.config.max_input_bytes {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("input: at most {} bytes", state.config.max_input_bytes),
        ));
    }
    let timeout = match request.timeout_ms {
        None => state.config.default_timeout.min(state.config.max_timeout),
        Some(0) => return Err(ApiError::unprocessable("timeout_ms: must be at least 1")),
        Some(milliseconds) if Duration::from_millis(milliseconds) > state.config.max_timeout => {
            return Err(ApiError::unprocessable(format!(
                "timeout_ms: at most {}",
                state.config.max_timeout.as_millis()
            )));
        }
        Some(milliseconds) => Duration::from_millis(milliseconds),
    };
    if !state.rate_limiter.allow(&user.user_id) {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            "too many tasks, slow down",
        ));
    }
    let agent = match state.agent_cache.get(&agent_id) {
        Some(agent) => agent,
        None => {
            let agent =
                state.agents.get_agent(&agent_id).await?.ok_or_else(|| {
                    ApiError::not_found(format!("agent {agent_id} does not exist"))
                })?;
            state.agent_cache.insert(agent_id.clone(), agent.clone());
            agent
        }
    };
    if agent.status != AgentStatus::Active {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("agent {agent_id} is inactive and takes no new tasks"),
        ));
    }
    let task = Task {
        id: task_id,
        agent_id,
        owner: user.user_id.clone(),
        input_size: request.input.len() as i64,
        timeout_ms: timeout.as_millis() as i64,
        created_at: Utc::now(),
    };
    state.tasks.insert_task(&task).await?;
    let message = TaskMessage {
        task_id: task.id.clone(),
        agent_id: task.agent_id.clone(),
        owner: task.owner.clone(),
        binary_hash: agent.binary_hash,
        input: Arc::from(request.input.into_bytes()),
        timeout_ms: timeout.as_millis() as u64,
    };
    let published = state
        .queue
        .publish_task(message)
        .instrument(tracing::info_span!(
            "publish_task",
            otel.kind = "producer",
            task_id = %task.id,
            agent_id = %task.agent_id
        ))
        .await;
    if let Err(error) = published {
        // Not queued means not accepted: leave nothing behind that looks like a task.
        if let Err(cleanup) = state.tasks.delete_task(&task.id).await {
            tracing::error!(task_id = %task.id, error = %cleanup, "failed to forget a task that was not queued");
        }
        return Err(error.into());
    }
    tracing::debug!(task_id = %task.id, agent_id = %task.agent_id, "task queued");
    Ok((task, timeout))
}

/// Runs a task and waits for its result.
///
/// The wait lasts the run's timeout plus `http.execute_wait_grace_ms`, or less when the
/// client asks for less with `Prefer: wait=N` (seconds, RFC 7240). If the result is not
/// there by then, the answer is 202 with the task as it stands and `Location` pointing at
/// it, so that the client can follow it (the task itself goes on).
#[utoipa::path(
    post, path = "/api/v1/tasks/execute", tag = "tasks",
    security(("bearer" = [])),
    request_body = TaskRequest,
    params(
        ("Prefer" = Option<String>, Header,
            description = "`wait=N`: wait at most N seconds (0 or more) for the result before answering 202; other preferences are ignored",
            example = "wait=5"),
    ),
    responses(
        (status = 200, description = "The result, whether the run succeeded or not", body = ResultView),
        (status = 202, description = "No result within the wait; the task goes on. `Location` is the task's URL",
            body = TaskView,
            headers(
                ("Location" = String, description = "The task: /api/v1/tasks/{id}"),
                ("Preference-Applied" = String, description = "`wait=N` when the request's `Prefer: wait` was honoured"),
            )),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such agent", body = ErrorBody),
        (status = 409, description = "The agent is inactive", body = ErrorBody),
        (status = 413, description = "The input is too large", body = ErrorBody),
        (status = 422, description = "Invalid timeout or agent id", body = ErrorBody),
        (status = 429, description = "Too many tasks", body = ErrorBody),
        (status = 503, description = "The queue is full or unavailable", body = ErrorBody),
    )
)]
pub async fn execute_task(
    State(state): State<AppState>,
    user: AuthenticatedUser,
    headers: HeaderMap,
    Json(request): Json<TaskRequest>,
) -> Result<Response, ApiError> {
    let preferred_wait = preferred_wait(&headers);
    let task_id = TaskId::generate();
    // Waiting from before the task is queued, where the results client can, spares looking
    // the result up once queued.
    let registered = state.results.register(&task_id);
    let (task, timeout) = enqueue(&state, &user, request, task_id).await?;
    let longest_wait = timeout + state.config.execute_wait_grace;
    let wait = preferred_wait.map_or(longest_wait, |preferred| preferred.min(longest_wait));
    let span = tracing::info_span!("wait_for_result", otel.kind = "client", task_id = %task.id);
    let result = match registered {
        Some(registered) => registered.wait(&user.user_id, wait).instrument(span).await,
        None => {
            state
                .results
                .wait(&task.id, &user.user_id, wait)
                .instrument(span)
                .await?
        }
    };
    if let Some(result) = result {
        return Ok(Json(ResultView::from(result)).into_response());
    }
    // The result may have arrived since the wait ended: report the task as it is now.
    let result = state.results.get(&task.id, &user.user_id).await?;
    let location = format!("/api/v1/tasks/{}", task.id);
    let mut response = (
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(task_view(&task, result.as_ref())),
    )
        .into_response();
    if let Some(preferred) = preferred_wait {
        let applied = format!("wait={}", preferred.as_secs());
        if let Ok(value) = HeaderValue::from_str(&applied) {
            response
                .headers_mut()
                .insert(HeaderName::from_static("preference-applied"), value);
        }
    }
    Ok(response)
}

/// The `wait` preference of a `Prefer` header (RFC 7240: `Prefer: wait=5`, possibly among
/// other preferences and parameters). A value that is not a whole number of seconds is
/// ignored, as RFC 7240 asks of preferences a server cannot honour.
fn preferred_wait(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|preference| {
            let token_and_value = preference.split(';').next()?.trim();
            let (token, value) = token_and_value.split_once('=')?;
            if !token.trim().eq_ignore_ascii_case("wait") {
                return None;
            }
            let seconds: u64 = value.trim().trim_matches('"').parse().ok()?;
            Some(Duration::from_secs(seconds))
        })
        .next()
}

/// Queues a task and returns at once.
#[utoipa::path(
    post, path = "/api/v1/tasks", tag = "tasks",
    security(("bearer" = [])),
    request_body = TaskRequest,
    responses(
        (status = 202, description = "Queued", body = QueuedView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such agent", body = ErrorBody),
        (status = 409, description = "The agent is inactive", body = ErrorBody),
        (status = 413, description = "The input is too large", body = ErrorBody),
        (status = 422, description = "Invalid timeout or agent id", body = ErrorBody),
        (status = 429, description = "Too many tasks", body = ErrorBody),
        (status = 503, description = "The queue is full or unavailable", body = ErrorBody),
    )
)]
pub async fn submit_task(
    State(state): State<AppState>,
    user: AuthenticatedUser,
    Json(request): Json<TaskRequest>,
) -> Result<(StatusCode, Json<QueuedView>), ApiError> {
    let (task, _) = enqueue(&state, &user, request, TaskId::generate()).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(QueuedView {
            task_id: task.id.to_string(),
            agent_id: task.agent_id.to_string(),
            status: "queued",
        }),
    ))
}

fn parse_task_id(raw: &str) -> Result<TaskId, ApiError> {
    TaskId::parse(raw).map_err(|error| ApiError::bad_request(error.to_string()))
}

/// A task of the caller's; someone else's is as absent as a missing one.
async fn own_task(
    state: &AppState,
    user: &AuthenticatedUser,
    id: &TaskId,
) -> Result<Task, ApiError> {
    state
        .tasks
        .get_task(id)
        .await?
        .filter(|task| task.owner == user.user_id)
        .ok_or_else(|| ApiError::not_found(format!("task {id} does not exist")))
}

/// A task's status.
#[utoipa::path(
    get, path = "/api/v1/tasks/{id}", tag = "tasks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task", body = TaskView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such task of yours", body = ErrorBody),
    )
)]
pub async fn task_status(
    State(state): State<AppState>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
) -> Result<Json<TaskView>, ApiError> {
    let id = parse_task_id(&id)?;
    let task = own_task(&state, &user, &id).await?;
    let result = state.results.get(&id, &user.user_id).await?;
    Ok(Json(task_view(&task, result.as_ref())))
}

/// A task as the API shows it: queued until its result exists, then the result's status.
fn task_view(task: &Task, result: Option<&TaskResult>) -> TaskView {
    TaskView {
        task_id: task.id.to_string(),
        agent_id: task.agent_id.to_string(),
        status: result.map_or("queued", |result| result.status.as_str()),
        created_at: task.created_at,
        completed_at: result.map(|result| result.created_at),
    }
}

/// A task's result.
#[utoipa::path(
    get, path = "/api/v1/tasks/{id}/results", tag = "tasks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "The result", body = ResultView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such task of yours, or no result yet", body = ErrorBody),
    )
)]
pub async fn task_result(
    State(state): State<AppState>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
) -> Result<Json<ResultView>, ApiError> {
    let id = parse_task_id(&id)?;
    match state.results.get(&id, &user.user_id).await? {
        Some(result) => Ok(Json(result.into())),
        None => {
            own_task(&state, &user, &id).await?;
            Err(ApiError::not_found(format!("task {id} has no result yet")))
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResultParams {
    pub agent_id: Option<String>,
    /// succeeded, failed or timed_out.
    pub status: Option<String>,
    /// 1 to 100; 20 by default.
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

/// The caller's results, newest first.
#[utoipa::path(
    get, path = "/api/v1/tasks/results", tag = "tasks",
    security(("bearer" = [])),
    params(ResultParams),
    responses(
        (status = 200, description = "A page of results", body = ResultListView),
        (status = 400, description = "A parameter is invalid", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
    )
)]
pub async fn list_results(
    State(state): State<AppState>,
    user: AuthenticatedUser,
    Query(params): Query<ResultParams>,
) -> Result<Json<ResultListView>, ApiError> {
    let (limit, offset) = page_bounds(params.limit, params.offset)?;
    let filter = ResultFilter {
        owner: user.user_id.clone(),
        agent_id: params.agent_id.as_deref().map(parse_agent_id).transpose()?,
        status: params
            .status
            .as_deref()
            .map(ResultStatus::parse)
            .transpose()
            .map_err(|error| ApiError::bad_request(error.to_string()))?,
        limit,
        offset,
    };
    let page = state.results.list(&filter).await?;
    let results: Vec<ResultView> = page.items.into_iter().map(ResultView::from).collect();
    Ok(Json(ResultListView {
        count: results.len(),
        results,
        total: page.total,
        limit,
        offset,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefer(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("prefer", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn a_wait_preference_is_read_in_seconds_among_others() {
        assert_eq!(
            preferred_wait(&prefer(&["wait=5"])),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            preferred_wait(&prefer(&["respond-async, WAIT = 0"])),
            Some(Duration::ZERO)
        );
        assert_eq!(
            preferred_wait(&prefer(&["handling=lenient", "wait=\"12\"; foo=bar"])),
            Some(Duration::from_secs(12))
        );
    }

    #[test]
    fn a_wait_that_is_not_whole_seconds_is_ignored() {
        for value in ["wait=abc", "wait=-1", "wait=1.5", "wait", "waiting=3"] {
            assert_eq!(preferred_wait(&prefer(&[value])), None, "{value}");
        }
        assert_eq!(preferred_wait(&HeaderMap::new()), None);
    }
}
