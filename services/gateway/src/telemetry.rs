//! The gateway's side of telemetry: a span and metrics for every HTTP request.
//!
//! The request's span (`http_request`, named `METHOD /route` for OpenTelemetry) continues
//! the caller's trace when the request carries a `traceparent` header, and every span of the
//! request (publishing the task, waiting for its result) is inside it. Probes and scrapes
//! (`/healthz`, `/readyz`, `/metrics`) are counted but get no span, so that they do not
//! flood the traces.

use std::collections::HashMap;
use std::sync::{LazyLock, PoisonError, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bazaar_telemetry::metrics::{self, HttpLabels, HttpMetrics};
use tracing::Instrument;

/// The route label of a request that matched no route.
const UNMATCHED: &str = "unmatched";

/// Measures one request: its span, its count and its duration by method, route and status.
pub(crate) async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
        // A nested router's fallback matches a catch-all route of axum's own.
        .filter(|route| !route.contains("__private__axum"))
        .map_or(UNMATCHED, HttpMetrics::route_label);
    let span = if matches!(route, "/healthz" | "/readyz" | "/metrics") {
        tracing::Span::none()
    } else {
        let span = tracing::info_span!(
            "http_request",
            otel.name = span_name(method, route),
            otel.kind = "server",
            http.request.method = method,
            http.route = route,
            http.response.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        bazaar_telemetry::set_parent_from_headers(&span, request.headers());
        span
    };
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.record("http.response.status_code", status);
    if response.status().is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    metrics::metrics().http.observe(
        &HttpLabels {
            method,
            route,
            status,
        },
        started.elapsed(),
    );
    response
}

/// The process's metrics, in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Metrics in the Prometheus text format (version 0.0.4)", body = String, content_type = "text/plain")))]
pub async fn metrics_text() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        metrics::encode(),
    )
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `METHOD /route`, the span name OpenTelemetry's HTTP conventions ask for; made once per
/// pair, so that naming a span allocates nothing.
fn span_name(method: &'static str, route: &'static str) -> &'static str {
    type Names = HashMap<(&'static str, &'static str), &'static str>;
    static NAMES: LazyLock<RwLock<Names>> = LazyLock::new(Default::default);
    if let Some(name) = NAMES
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&(method, route))
    {
        return name;
    }
    NAMES
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .entry((method, route))
        .or_insert_with(|| Box::leak(format!("{method} {route}").into_boxed_str()))
}
