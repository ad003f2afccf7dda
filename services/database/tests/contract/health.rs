//! `HealthCheck`: readiness of the database.

use crate::backends::Backend;

pub async fn a_fresh_store_is_healthy(backend: Backend) {
    let checked = backend.health.check().await;

    assert!(checked.is_ok(), "{checked:?}");
}
