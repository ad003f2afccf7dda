//! The API's description of itself: an OpenAPI document generated from the handlers' own
//! types, and a self-contained page that renders it (no CDN: it works offline).

use axum::response::Html;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::extract::Json;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Bazaar",
        description = "A marketplace of WebAssembly agents: publish WASI programs, run tasks on them, read their results.",
        version = env!("CARGO_PKG_VERSION"),
    ),
    paths(
        crate::auth::register, crate::auth::login, crate::auth::logout,
        crate::agents::upload_agent, crate::agents::list_agents, crate::agents::search_agents,
        crate::agents::get_agent, crate::agents::agent_stats, crate::agents::patch_agent,
        crate::reviews::post_review, crate::reviews::list_reviews,
        crate::tasks::execute_task, crate::tasks::submit_task, crate::tasks::task_status,
        crate::tasks::task_result, crate::tasks::list_results, crate::lifecycle::cancel_task,
        crate::lifecycle::task_events,
        crate::webhooks::task_deliveries, crate::webhooks::get_secret,
        crate::webhooks::rotate_secret,
        crate::healthz, crate::readyz, crate::telemetry::metrics_text,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Accounts and bearer tokens"),
        (name = "agents", description = "The marketplace"),
        (name = "tasks", description = "Running agents and reading results"),
        (name = "webhooks", description = "Signed notifications of task events (Standard Webhooks): the signing secret and each task's delivery log"),
        (name = "health", description = "Liveness, readiness and metrics"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI 3.1 document.
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// A browsable page of the API.
pub async fn docs_page() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_lists_every_route() {
        let document = ApiDoc::openapi();
        for path in [
            "/api/v1/auth/register",
            "/api/v1/auth/login",
            "/api/v1/auth/logout",
            "/api/v1/agents",
            "/api/v1/agents/search",
            "/api/v1/agents/{id}",
            "/api/v1/agents/{id}/stats",
            "/api/v1/tasks",
            "/api/v1/tasks/execute",
            "/api/v1/tasks/{id}",
            "/api/v1/tasks/{id}/results",
            "/api/v1/tasks/results",
            "/api/v1/tasks/{id}/webhook-deliveries",
            "/api/v1/me/webhook-secret",
            "/api/v1/me/webhook-secret/rotate",
            "/healthz",
            "/readyz",
            "/metrics",
        ] {
            assert!(document.paths.paths.contains_key(path), "{path} is missing");
        }
    }
}
