//! Webhooks as their owners see them: the secret that signs their tasks' messages
//! (readable and rotatable by its owner only), and each task's delivery log.

use axum::extract::State;
use bazaar_domain::{
    DeliveryStatus, UserId, WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookSecret,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthenticatedUser, Json, Path};
use crate::state::AppState;
use crate::tasks::{own_task, parse_task_id};

/// A user's webhook signing secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookSecretView {
    /// `whsec_` and the base64 of 32 random bytes, the form the Standard Webhooks libraries
    /// take: `Webhook::new(secret).verify(body, headers)`. The HMAC-SHA256 key is the
    /// decoded part after `whsec_`.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwC0ab1l6fEBw=")]
    pub secret: String,
    /// When it was created or last rotated.
    pub created_at: DateTime<Utc>,
}

impl From<WebhookSecret> for WebhookSecretView {
    fn from(secret: WebhookSecret) -> Self {
        WebhookSecretView {
            secret: secret.secret,
            created_at: secret.created_at,
        }
    }
}

/// The user's secret, created now if they have none.
pub(crate) async fn owner_secret(
    state: &AppState,
    owner: &UserId,
) -> Result<WebhookSecret, ApiError> {
    if let Some(secret) = state.webhooks.webhook_secret(owner).await? {
        return Ok(secret);
    }
    let fresh = fresh_secret();
    Ok(state.webhooks.create_webhook_secret(owner, &fresh).await?)
}

/// A new random signing secret, made now.
fn fresh_secret() -> WebhookSecret {
    WebhookSecret {
        secret: bazaar_webhooks::signing::new_secret(),
        created_at: Utc::now(),
    }
}

/// The caller's webhook signing secret, created on first use.
#[utoipa::path(
    get, path = "/api/v1/me/webhook-secret", tag = "webhooks",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The secret that signs the caller's webhook messages", body = WebhookSecretView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn get_secret(
    State(state): State<AppState>,
    user: AuthenticatedUser,
) -> Result<Json<WebhookSecretView>, ApiError> {
    Ok(Json(owner_secret(&state, &user.user_id).await?.into()))
}

/// Replaces the caller's webhook signing secret with a new random one. Every message sent
/// from now on is signed with the new secret, retries of earlier messages included.
#[utoipa::path(
    post, path = "/api/v1/me/webhook-secret/rotate", tag = "webhooks",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The new secret", body = WebhookSecretView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    user: AuthenticatedUser,
) -> Result<Json<WebhookSecretView>, ApiError> {
    let fresh = fresh_secret();
    state
        .webhooks
        .replace_webhook_secret(&user.user_id, &fresh)
        .await?;
    Ok(Json(fresh.into()))
}

/// One attempt at a webhook message.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAttemptView {
    /// 1 for the first attempt, then 2, …
    pub attempt: u32,
    /// When it was made.
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status; `null` when it did not answer (refused, unreachable,
    /// cut off after the timeout).
    pub status_code: Option<u16>,
    /// Why the attempt failed; `null` when the receiver answered 2xx.
    pub error: Option<String>,
    /// How long the attempt took, in milliseconds.
    pub duration_ms: i64,
}

impl From<WebhookAttempt> for WebhookAttemptView {
    fn from(attempt: WebhookAttempt) -> Self {
        WebhookAttemptView {
            attempt: attempt.attempt,
            at: attempt.at,
            status_code: attempt.status_code,
            error: attempt.error,
            duration_ms: attempt.duration_ms,
        }
    }
}

/// One message to a task's webhook and every attempt at it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDeliveryView {
    /// The message's `webhook-id` header, the same on every attempt.
    #[schema(example = "msg_3f0c9a7d2b1e4c5f8a6b0d1e2f3a4b5c")]
    pub id: String,
    /// What it tells of.
    pub event: WebhookEvent,
    /// Where it is posted.
    pub url: String,
    /// `pending` (another attempt is due at `next_attempt_at`), `delivered` (a 2xx) or
    /// `failed` (every attempt failed, or the receiver answered 410 Gone).
    pub status: DeliveryStatus,
    /// Every attempt so far, in order.
    pub attempts: Vec<WebhookAttemptView>,
    /// When the next attempt is due; `null` unless `pending`.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the message was created: when what it tells of happened.
    pub created_at: DateTime<Utc>,
    /// When a receiver accepted it.
    pub delivered_at: Option<DateTime<Utc>>,
}

impl WebhookDeliveryView {
    fn new(delivery: WebhookDelivery, attempts: Vec<WebhookAttempt>) -> Self {
        WebhookDeliveryView {
            id: delivery.id,
            event: delivery.event,
            url: delivery.url,
            status: delivery.status,
            attempts: attempts.into_iter().map(WebhookAttemptView::from).collect(),
            next_attempt_at: (delivery.status == DeliveryStatus::Pending)
                .then_some(delivery.next_attempt_at),
            created_at: delivery.created_at,
            delivered_at: delivery.delivered_at,
        }
    }
}

/// A task's webhook messages, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDeliveryListView {
    #[schema(example = "task_0192f0c1a2b34c5d8e9f0a1b2c3d4e5f")]
    pub task_id: String,
    /// Empty for a task without a webhook, and until its first event.
    pub deliveries: Vec<WebhookDeliveryView>,
}

/// The delivery log of a task's webhook: each message, its status and every attempt with
/// the receiver's answer and the time it took.
#[utoipa::path(
    get, path = "/api/v1/tasks/{id}/webhook-deliveries", tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task's webhook messages, oldest first", body = WebhookDeliveryListView),
        (status = 400, description = "The task id is malformed", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such task of yours", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn task_deliveries(
    State(state): State<AppState>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
) -> Result<Json<WebhookDeliveryListView>, ApiError> {
    let id = parse_task_id(&id)?;
    own_task(&state, &user, &id).await?;
    let deliveries = state.webhooks.task_webhook_deliveries(&id).await?;
    Ok(Json(WebhookDeliveryListView {
        task_id: id.to_string(),
        deliveries: deliveries
            .into_iter()
            .map(|(delivery, attempts)| WebhookDeliveryView::new(delivery, attempts))
            .collect(),
    }))
}
