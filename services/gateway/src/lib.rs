//! The gateway: Bazaar's only public surface, a REST API under `/api/v1`.
//!
//! It authenticates users, keeps the marketplace's agents and the submitted tasks, stores
//! uploaded binaries in the blob store, publishes tasks to the queue and reads results
//! through the results service. It never runs WebAssembly itself; it only compiles uploads
//! to prove them valid. Every dependency is a trait object, so the same gateway serves
//! embedded and distributed mode.
//!
//! Beside the API it serves `/healthz`, `/readyz` and `/metrics` (Prometheus text: the
//! metrics of every service the process runs); each request gets a span and is counted.

#![warn(missing_docs)]

mod agents;
mod auth;
mod badges;
mod cache;
mod docs;
mod error;
mod extract;
mod lifecycle;
mod rate_limit;
mod resume;
mod reviews;
mod state;
mod tasks;
mod telemetry;
mod views;
mod webhooks;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use bazaar_telemetry::Readiness;
use serde::Serialize;

pub use agents::{AgentMetadata, publish_agent};
pub use badges::badge_unanalysed_agents;
pub use error::{ApiError, ErrorBody};
pub use resume::{Resumed, resume_unfinished_tasks};
pub use state::{AppState, GatewayConfig, GatewayDependencies};

use crate::extract::Json;

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let upload_limit = state.config.max_upload_bytes;
    // JSON bodies carry at most one task input plus a little envelope.
    let json_limit = state
        .config
        .max_input_bytes
        .saturating_mul(2)
        .max(64 * 1024);
    let api = Router::new()
        .route("/auth/register", post(auth::register))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route(
            "/agents",
            get(agents::list_agents)
                .post(agents::upload_agent)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/agents/search", get(agents::search_agents))
        .route(
            "/agents/{id}",
            get(agents::get_agent).patch(agents::patch_agent),
        )
        .route("/agents/{id}/stats", get(agents::agent_stats))
        .route(
            "/agents/{id}/reviews",
            get(reviews::list_reviews).post(reviews::post_review),
        )
        .route("/tasks", post(tasks::submit_task))
        .route("/tasks/execute", post(tasks::execute_task))
        .route("/tasks/results", get(tasks::list_results))
        .route("/tasks/{id}", get(tasks::task_status))
        .route("/tasks/{id}/results", get(tasks::task_result))
        .route("/tasks/{id}/cancel", post(lifecycle::cancel_task))
        .route("/tasks/{id}/events", get(lifecycle::task_events))
        .route(
            "/tasks/{id}/webhook-deliveries",
            get(webhooks::task_deliveries),
        )
        .route("/me/webhook-secret", get(webhooks::get_secret))
        .route("/me/webhook-secret/rotate", post(webhooks::rotate_secret))
        .route("/openapi.json", get(docs::openapi_json))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(json_limit));
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(telemetry::metrics_text))
        .route("/docs", get(docs::docs_page))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(telemetry::observe))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see /docs")
}

/// The body of `/healthz` and `/readyz`, whose status code already tells the answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthView {
    /// `ok`, `ready` or `unavailable`.
    pub status: &'static str,
    /// What is not ready, when something is not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// The operations endpoint of a process without a REST API (a worker or a results
/// service): the same `/healthz`, `/readyz` and `/metrics` as the gateway serves, from the
/// same [`Readiness`].
pub fn operations_router(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(telemetry::metrics_text))
        .with_state(readiness)
}

/// Liveness: the process answers. Says nothing about dependencies.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "Alive", body = HealthView)))]
pub async fn healthz() -> Json<HealthView> {
    Json(HealthView {
        status: "ok",
        problems: Vec::new(),
    })
}

/// Readiness: every dependency of the process's services answers (for the gateway: the
/// database, the blob store and the queue), and the process is not shutting down.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready", body = HealthView),
        (status = 503, description = "Not ready", body = HealthView),
    ))]
pub async fn readyz(State(readiness): State<Readiness>) -> (StatusCode, Json<HealthView>) {
    match readiness.check().await {
        Ok(()) => (
            StatusCode::OK,
            Json(HealthView {
                status: "ready",
                problems: Vec::new(),
            }),
        ),
        Err(problems) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(HealthView {
                status: "unavailable",
                problems,
            }),
        ),
    }
}
