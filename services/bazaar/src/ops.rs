//! The operations endpoint of a process without a REST API (`--target worker`, `--target
//! results`), on `ops.listen`: `/healthz`, `/readyz` and `/metrics`, as the gateway serves
//! them on its own address.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use bazaar_gateway::HealthView;
use bazaar_queue::TaskQueue;
use bazaar_storage::{BlobStore, HealthCheck};
use tokio_util::sync::CancellationToken;

/// What readiness checks: the dependencies the process's service needs.
#[derive(Clone)]
pub(crate) struct Dependencies {
    pub queue: Arc<dyn TaskQueue>,
    /// The worker's blob store.
    pub blobs: Option<Arc<dyn BlobStore>>,
    /// The results service's database.
    pub database: Option<Arc<dyn HealthCheck>>,
    /// Cancelled when the process starts shutting down: no longer ready.
    pub draining: CancellationToken,
}

pub(crate) fn router(dependencies: Dependencies) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(dependencies)
}

/// Liveness: the process answers.
async fn healthz() -> axum::Json<HealthView> {
    axum::Json(HealthView {
        status: "ok",
        problems: Vec::new(),
    })
}

/// Readiness: every dependency answers and the process is not shutting down; otherwise 503
/// naming what failed.
async fn readyz(State(dependencies): State<Dependencies>) -> (StatusCode, axum::Json<HealthView>) {
    let mut problems = Vec::new();
    if dependencies.draining.is_cancelled() {
        problems.push("shutting down".to_owned());
    }
    let blobs = async {
        match &dependencies.blobs {
            Some(blobs) => blobs.check().await.map_err(|error| format!("{error:#}")),
            None => Ok(()),
        }
    };
    let database = async {
        match &dependencies.database {
            Some(database) => database.check().await.map_err(|error| error.to_string()),
            None => Ok(()),
        }
    };
    let (queue, blobs, database) = tokio::join!(dependencies.queue.check(), blobs, database);
    if let Err(error) = queue {
        problems.push(format!("queue: {error}"));
    }
    if let Err(error) = blobs {
        problems.push(format!("blob store: {error}"));
    }
    if let Err(error) = database {
        problems.push(format!("database: {error}"));
    }
    if problems.is_empty() {
        return (
            StatusCode::OK,
            axum::Json(HealthView {
                status: "ready",
                problems,
            }),
        );
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(HealthView {
            status: "unavailable",
            problems,
        }),
    )
}

async fn metrics() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            bazaar_telemetry::metrics::CONTENT_TYPE,
        )],
        bazaar_telemetry::metrics::encode(),
    )
}

#[cfg(test)]
mod tests {
    use bazaar_queue::InProcessQueue;
    use bazaar_storage::LocalBlobStore;

    use super::*;

    async fn dependencies(blob_directory: &std::path::Path) -> Dependencies {
        Dependencies {
            queue: Arc::new(InProcessQueue::new(8, 3)),
            blobs: Some(Arc::new(
                LocalBlobStore::open(blob_directory.to_path_buf())
                    .await
                    .unwrap(),
            )),
            database: None,
            draining: CancellationToken::new(),
        }
    }

    #[tokio::test]
    async fn a_worker_whose_dependencies_answer_is_ready() {
        let directory = tempfile::tempdir().unwrap();
        let (status, axum::Json(view)) = readyz(State(dependencies(directory.path()).await)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(view.status, "ready");
    }

    #[tokio::test]
    async fn readiness_names_the_dependency_that_failed() {
        let directory = tempfile::tempdir().unwrap();
        let blobs = directory.path().join("blobs");
        let dependencies = dependencies(&blobs).await;
        std::fs::remove_dir_all(&blobs).unwrap();
        let (status, axum::Json(view)) = readyz(State(dependencies)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(view.status, "unavailable");
        assert_eq!(view.problems.len(), 1, "{:?}", view.problems);
        assert!(
            view.problems[0].starts_with("blob store: "),
            "{:?}",
            view.problems
        );
    }

    #[tokio::test]
    async fn a_process_that_is_shutting_down_is_not_ready() {
        let directory = tempfile::tempdir().unwrap();
        let dependencies = dependencies(directory.path()).await;
        dependencies.draining.cancel();
        let (status, axum::Json(view)) = readyz(State(dependencies)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(view.problems, ["shutting down"]);
    }
}
