//! Running agents: synchronous and asynchronous tasks, their status and their results.
//!
//! Both kinds go through the queue: a synchronous run is an asynchronous one whose request
//! waits for the result, so embedded and distributed mode behave the same.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bazaar_domain::{
    AgentStatus, ErrorCode, IDEMPOTENCY_WINDOW, IdempotencyClaim, IdempotencyKey, ResultFilter,
    ResultStatus, Sha256, Task, TaskId, TaskMessage, WebhookEvent, WebhookSubscription,
};
use chrono::Utc;
use serde::Deserialize;
use tracing::Instrument;
use utoipa::{IntoParams, ToSchema};

use crate::agents::{page_bounds, parse_agent_id};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthenticatedUser, Json, Path, Query};
use crate::state::AppState;
use crate::views::{QueuedView, ResultListView, ResultView, TaskStatus, TaskView};

/// A task to run.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TaskRequest {
    #[schema(example = "agent_0192f0c1a2b34c5d8e9f0a1b2c3d4e5f")]
    pub agent_id: String,
    /// Fed to the agent's stdin, as text.
    #[serde(default)]
    #[schema(example = "{\"hello\": \"world\"}")]
    pub input: String,
    /// Fed to the agent's stdin, as bytes: standard base64 (with padding). Instead of
    /// `input`, for input that is not text; sending both is refused.
    #[schema(example = "H4sIAAAAAAAAA0tMSQYAbnJkwQMAAAA=")]
    pub input_base64: Option<String>,
    /// Wall-clock limit of the run; the server's default when absent, at most its maximum.
    pub timeout_ms: Option<u64>,
    /// Where to be told of the task's events; see `GET /me/webhook-secret` for the key that
    /// signs them.
    pub webhook: Option<WebhookRequest>,
}

/// A task's webhook: each event named is posted to `url` as JSON, signed as the Standard
/// Webhooks specification says (`webhook-id`, `webhook-timestamp`, `webhook-signature`)
/// with the owner's secret, and retried with exponential backoff until the receiver
/// answers 2xx (or 410 Gone, which stops it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /// An `http` or `https` URL of at most 2048 characters, without credentials. Loopback,
    /// private, link-local (cloud metadata) and other non-public addresses are refused, as
    /// is a host that resolves to one, unless the operator allows them
    /// (`webhooks.allowed_targets`).
    #[schema(example = "https://example.com/bazaar-events", max_length = 2048)]
    pub url: String,
    /// One or both of `completed` (the task finished, whatever its status) and `running`
    /// (an attempt started), each at most once.
    #[schema(value_type = Vec<WebhookEvent>, min_items = 1, max_items = 2, example = json!(["completed"]))]
    pub events: Vec<String>,
}

/// The response header that marks the answer to a retried request.
const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// What became of a submission.
enum Submitted {
    /// A new task, queued, with its timeout.
    Queued(Task, Duration),
    /// A retry: the task an earlier request with the same `Idempotency-Key` created.
    Replayed(Task),
}

/// The request's `Idempotency-Key`, if it has one; a malformed key is a bad request.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    let mut values = headers.get_all("idempotency-key").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::bad_request(
            "send one Idempotency-Key, not several",
        ));
    }
    let raw = value
        .to_str()
        .map_err(|_| ApiError::bad_request("Idempotency-Key: must be printable ASCII"))?;
    IdempotencyKey::parse(raw)
        .map(Some)
        .map_err(|error| ApiError::bad_request(error.to_string()))
}

/// What a request asks for, as a digest: a retry under the same key must ask for the same.
fn request_hash(endpoint: &str, request: &TaskRequest) -> Sha256 {
    let webhook = request
        .webhook
        .as_ref()
        .map(|webhook| (&webhook.url, &webhook.events));
    let mut described = format!(
        "{endpoint}\n{}\n{:?}\n{:?}\n{:?}\n",
        request.agent_id, request.timeout_ms, request.input_base64, webhook
    )
    .into_bytes();
    described.extend_from_slice(request.input.as_bytes());
    Sha256::digest(&described)
}

/// Checks a request, records the task and queues it — unless the request carries an
/// `Idempotency-Key` an earlier request of the same user claimed within a day: then the
/// earlier request's task.
///
/// Runs on a task of its own, so that a client that hangs up midway cannot leave a key
/// claimed for a task that was never recorded, or a recorded task that was never queued.
async fn enqueue(
    state: &AppState,
    user: &AuthenticatedUser,
    request: TaskRequest,
    task_id: TaskId,
    idempotency: Option<(IdempotencyKey, Sha256)>,
) -> Result<Submitted, ApiError> {
    let submission = {
        let state = state.clone();
        let user = user.clone();
        async move { submit(&state, &user, request, task_id, idempotency).await }
            .instrument(tracing::Span::current())
    };
    tokio::spawn(submission)
        .await
        .map_err(|error| ApiError::internal("the submission failed", error))?
}

async fn submit(
    state: &AppState,
    user: &AuthenticatedUser,
    request: TaskRequest,
    task_id: TaskId,
    idempotency: Option<(IdempotencyKey, Sha256)>,
) -> Result<Submitted, ApiError> {
    if !state.is_accepting() {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "the gateway is shutting down",
        ));
    }
    let agent_id = parse_agent_id(&request.agent_id)
        .map_err(|error| ApiError::unprocessable(error.message))?;
    let input = input_bytes(request.input, request.input_base64)?;
    if input.len() > state.config.max_input_bytes {
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
    let webhook = match request.webhook {
        None => None,
        Some(webhook) => Some(checked_webhook(state, webhook).await?),
    };
    let task = Task {
        id: task_id,
        agent_id,
        owner: user.user_id.clone(),
        input_size: input.len() as i64,
        input: Arc::from(input),
        timeout_ms: timeout.as_millis() as i64,
        created_at: Utc::now(),
        webhook,
    };
    // A retry is answered before the rate limit and the agent's state are looked at: it
    // asks for nothing new, and its first request was accepted.
    let claim = match idempotency {
        None => None,
        Some((key, request_hash)) => {
            let claim = IdempotencyClaim {
                owner: user.user_id.clone(),
                key,
                task_id: task.id.clone(),
                request_hash,
                created_at: task.created_at,
            };
            let live_since = task.created_at - IDEMPOTENCY_WINDOW;
            match state
                .tasks
                .claim_idempotency_key(&claim, live_since)
                .await?
            {
                None => Some(claim),
                Some(standing) => return replayed(state, standing, &claim).await,
            }
        }
    };
    match record_and_queue(state, user, &task, timeout).await {
        Ok(()) => Ok(Submitted::Queued(task, timeout)),
        Err(error) => {
            release(state, claim.as_ref()).await;
            Err(error)
        }
    }
}

/// Records an accepted task and queues it; a task that cannot be queued is forgotten, so
/// nothing half-written remains.
async fn record_and_queue(
    state: &AppState,
    user: &AuthenticatedUser,
    task: &Task,
    timeout: Duration,
) -> Result<(), ApiError> {
    if !state.rate_limiter.allow(&user.user_id) {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            "too many tasks, slow down",
        ));
    }
    let agent_id = &task.agent_id;
    let agent = match state.agent_cache.get(agent_id) {
        Some(agent) => agent,
        None => {
            let agent =
                state.agents.get_agent(agent_id).await?.ok_or_else(|| {
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
    if task.webhook.is_some() {
        // Its messages are signed with its owner's secret: make sure there is one.
        crate::webhooks::owner_secret(state, &task.owner).await?;
    }
    state.tasks.insert_task(task).await?;
    let message = TaskMessage {
        task_id: task.id.clone(),
        agent_id: task.agent_id.clone(),
        owner: task.owner.clone(),
        binary_hash: agent.binary_hash,
        input: task.input.clone(),
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
        if let Err(cleanup) = state.tasks.delete_task(&task.id).await {
            tracing::error!(task_id = %task.id, error = %cleanup, "failed to forget a task that was not queued");
        }
        return Err(error.into());
    }
    tracing::debug!(task_id = %task.id, agent_id = %task.agent_id, "task queued");
    Ok(())
}

/// A task's webhook, parsed and checked against the targets the operator allows; 422 with
/// the field and the reason otherwise.
async fn checked_webhook(
    state: &AppState,
    webhook: WebhookRequest,
) -> Result<WebhookSubscription, ApiError> {
    let subscription = WebhookSubscription::parse(&webhook.url, &webhook.events)?;
    state
        .config
        .webhook_targets
        .check_url(subscription.url())
        .await
        .map_err(|refused| ApiError::unprocessable(refused.to_string()))?;
    Ok(subscription)
}

/// The bytes a task sends to its agent's stdin: the text input, or the decoded base64 one.
fn input_bytes(input: String, input_base64: Option<String>) -> Result<Vec<u8>, ApiError> {
    match input_base64 {
        None => Ok(input.into_bytes()),
        Some(_) if !input.is_empty() => Err(ApiError::unprocessable(
            "send the input as `input` (text) or as `input_base64` (bytes), not both",
        )),
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded.as_bytes())
            .map_err(|error| ApiError::unprocessable(format!("input_base64: {error}"))),
    }
}

/// The answer to a request whose key `standing` already holds: its task, if it asked for
/// the same; a clear refusal if it asked for something else, or if the first request has
/// not recorded its task yet.
async fn replayed(
    state: &AppState,
    standing: IdempotencyClaim,
    claim: &IdempotencyClaim,
) -> Result<Submitted, ApiError> {
    if standing.request_hash != claim.request_hash {
        return Err(ApiError::unprocessable(format!(
            "Idempotency-Key `{}` was used for a different request (task {}); use a new key for a new request",
            claim.key, standing.task_id
        )));
    }
    match state.tasks.get_task(&standing.task_id).await? {
        Some(task) => Ok(Submitted::Replayed(task)),
        None => Err(ApiError::new(
            ErrorCode::Conflict,
            format!(
                "a request with Idempotency-Key `{}` is still being processed; retry in a moment",
                claim.key
            ),
        )),
    }
}

/// Frees the key of a task that was not queued, so that the client's retry runs.
async fn release(state: &AppState, claim: Option<&IdempotencyClaim>) {
    let Some(claim) = claim else {
        return;
    };
    if let Err(error) = state.tasks.release_idempotency_key(claim).await {
        tracing::error!(task_id = %claim.task_id, %error, "failed to release the idempotency key of a task that was not queued");
    }
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
        ("Idempotency-Key" = Option<String>, Header,
            description = "Makes a retry safe: the same user sending the same key within 24 hours gets the task the first request created (marked `Idempotent-Replayed: true`) instead of a new run. 1 to 255 printable ASCII characters, without leading or trailing spaces",
            pattern = r"^[!-~]([ -~]{0,253}[!-~])?$", max_length = 255, min_length = 1,
            example = "9f1c2d4e-1111-4a2b-8c3d-0123456789ab"),
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
        (status = 400, description = "Malformed body or Idempotency-Key", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such agent", body = ErrorBody),
        (status = 409, description = "The agent is inactive, or a request with the same Idempotency-Key is still being processed", body = ErrorBody),
        (status = 413, description = "The input is too large", body = ErrorBody),
        (status = 422, description = "Invalid timeout, agent id or webhook (a malformed URL, events not `completed`/`running` or named twice, or a target that is or resolves to a refused address), or an Idempotency-Key already used for a different request", body = ErrorBody),
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
    let idempotency = idempotency_key(&headers)?
        .map(|key| (key, request_hash("POST /api/v1/tasks/execute", &request)));
    let task_id = TaskId::generate();
    // Waiting from before the task is queued, where the results client can, spares looking
    // the result up once queued.
    let registered = state.results.register(&task_id);
    let (task, timeout, registered, replayed) =
        match enqueue(&state, &user, request, task_id, idempotency).await? {
            Submitted::Queued(task, timeout) => (task, timeout, registered, false),
            Submitted::Replayed(task) => {
                let timeout = Duration::from_millis(task.timeout_ms.unsigned_abs());
                (task, timeout, None, true)
            }
        };
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
    // The result may have been stored since the wait ended.
    let result = match result {
        Some(result) => Some(result),
        None => state.results.get(&task.id, &user.user_id).await?,
    };
    let mut response = match result {
        Some(result) => Json(ResultView::from(result)).into_response(),
        None => {
            let progress = state.results.progress(&task.id, &user.user_id).await?;
            (
                StatusCode::ACCEPTED,
                [(header::LOCATION, format!("/api/v1/tasks/{}", task.id))],
                Json(TaskView::new(&task, &progress)),
            )
                .into_response()
        }
    };
    if replayed {
        mark_replayed(&mut response);
    }
    // Honoured only when the wait was the one asked for, not cut to the run's own bound.
    if let Some(preferred) = preferred_wait.filter(|preferred| *preferred <= longest_wait)
        && let Ok(value) = HeaderValue::from_str(&format!("wait={}", preferred.as_secs()))
    {
        response
            .headers_mut()
            .insert(HeaderName::from_static("preference-applied"), value);
    }
    Ok(response)
}

fn mark_replayed(response: &mut Response) {
    response
        .headers_mut()
        .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
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
    params(
        ("Idempotency-Key" = Option<String>, Header,
            description = "Makes a retry safe: the same user sending the same key within 24 hours gets the task the first request created (marked `Idempotent-Replayed: true`) instead of a new run. 1 to 255 printable ASCII characters, without leading or trailing spaces",
            pattern = r"^[!-~]([ -~]{0,253}[!-~])?$", max_length = 255, min_length = 1,
            example = "9f1c2d4e-1111-4a2b-8c3d-0123456789ab"),
    ),
    responses(
        (status = 202, description = "Queued (or, for a retry with the same Idempotency-Key, the task the first request queued)", body = QueuedView,
            headers(("Idempotent-Replayed" = String, description = "`true` when this answers a retry"))),
        (status = 400, description = "Malformed body or Idempotency-Key", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such agent", body = ErrorBody),
        (status = 409, description = "The agent is inactive, or a request with the same Idempotency-Key is still being processed", body = ErrorBody),
        (status = 413, description = "The input is too large", body = ErrorBody),
        (status = 422, description = "Invalid timeout, agent id or webhook (a malformed URL, events not `completed`/`running` or named twice, or a target that is or resolves to a refused address), or an Idempotency-Key already used for a different request", body = ErrorBody),
        (status = 429, description = "Too many tasks", body = ErrorBody),
        (status = 503, description = "The queue is full or unavailable", body = ErrorBody),
    )
)]
pub async fn submit_task(
    State(state): State<AppState>,
    user: AuthenticatedUser,
    headers: HeaderMap,
    Json(request): Json<TaskRequest>,
) -> Result<Response, ApiError> {
    let idempotency =
        idempotency_key(&headers)?.map(|key| (key, request_hash("POST /api/v1/tasks", &request)));
    match enqueue(&state, &user, request, TaskId::generate(), idempotency).await? {
        Submitted::Queued(task, _) => Ok((
            StatusCode::ACCEPTED,
            Json(QueuedView {
                task_id: task.id.to_string(),
                agent_id: task.agent_id.to_string(),
                status: TaskStatus::Queued,
            }),
        )
            .into_response()),
        Submitted::Replayed(task) => {
            let progress = state.results.progress(&task.id, &user.user_id).await?;
            let view = TaskView::new(&task, &progress);
            let mut response = (
                StatusCode::ACCEPTED,
                Json(QueuedView {
                    task_id: view.task_id,
                    agent_id: view.agent_id,
                    status: view.status,
                }),
            )
                .into_response();
            mark_replayed(&mut response);
            Ok(response)
        }
    }
}

pub(crate) fn parse_task_id(raw: &str) -> Result<TaskId, ApiError> {
    TaskId::parse(raw).map_err(|error| ApiError::bad_request(error.to_string()))
}

/// A task of the caller's; someone else's is as absent as a missing one.
pub(crate) async fn own_task(
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
    let progress = state.results.progress(&id, &user.user_id).await?;
    Ok(Json(TaskView::new(&task, &progress)))
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
    /// succeeded, failed, timed_out or canceled.
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
