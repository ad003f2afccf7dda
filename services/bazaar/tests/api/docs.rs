//! Health, readiness and the API description.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{assert_error, expect_json, spawn_app};

#[tokio::test]
async fn health_and_readiness_answer_ok() {
    let app = spawn_app().await;

    assert_eq!(app.healthz().await.status(), StatusCode::OK);
    assert_eq!(app.readyz().await.status(), StatusCode::OK);
}

/// The value of the sample `name` (labels included, as written) in a metrics page.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

#[tokio::test]
async fn the_metrics_of_every_service_are_served_as_prometheus_text() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let agent_id = app.example_agent_id("echo").await;
    app.execute_ok(&token, &agent_id, "counted").await;

    let response = app.request(Method::GET, "/metrics").send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let metrics = response.text().await.unwrap();
    // Counters are per process, and tests may share one: at least this test's share.
    for name in [
        "bazaar_http_requests_total{method=\"POST\",route=\"/api/v1/tasks/execute\",status=\"200\"}",
        "bazaar_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/tasks/execute\",status=\"200\"}",
        "bazaar_queue_published_total{queue=\"tasks\",outcome=\"ok\"}",
        "bazaar_queue_consumed_total{queue=\"results\",outcome=\"ok\"}",
        "bazaar_worker_tasks_total{outcome=\"succeeded\"}",
        "bazaar_results_stored_total",
    ] {
        let value =
            sample(&metrics, name).unwrap_or_else(|| panic!("{name} is missing:\n{metrics}"));
        assert!(value >= 1.0, "{name} is {value}");
    }
    assert!(
        metrics.contains("# TYPE bazaar_worker_tasks_in_flight gauge"),
        "{metrics}"
    );
    // Unknown paths are counted under one label, not under their own paths.
    app.request(Method::GET, "/no/such/path")
        .send()
        .await
        .unwrap();
    app.request(Method::GET, "/api/v1/no-such-thing")
        .send()
        .await
        .unwrap();
    let metrics = app
        .request(Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !metrics.contains("no-such")
            && !metrics.contains("/no/such/path")
            && !metrics.contains("__private"),
        "{metrics}"
    );
    assert!(
        metrics.contains("route=\"unmatched\",status=\"404\""),
        "{metrics}"
    );
}

/// `/agents/{agent_id}` and `/api/v1/agents/{id}` both become `/agents/{}`.
fn normalise(path: &str) -> String {
    let relative = path.strip_prefix("/api/v1").unwrap_or(path);
    let mut normalised = String::new();
    let mut in_parameter = false;
    for character in relative.chars() {
        match character {
            '{' => {
                in_parameter = true;
                normalised.push('{');
            }
            '}' => {
                in_parameter = false;
                normalised.push('}');
            }
            _ if in_parameter => {}
            _ => normalised.push(character),
        }
    }
    normalised
}

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint() {
    let app = spawn_app().await;

    let document = expect_json(app.openapi().await, StatusCode::OK).await;

    let version = document["openapi"]
        .as_str()
        .expect("an `openapi` version string");
    assert!(version.starts_with("3."), "{version}");
    let paths = document["paths"].as_object().expect("a `paths` object");
    let described: Vec<(String, &Value)> = paths
        .iter()
        .map(|(path, item)| (normalise(path), item))
        .collect();
    let expected = [
        ("post", "/auth/register"),
        ("post", "/auth/login"),
        ("post", "/auth/logout"),
        ("post", "/agents"),
        ("get", "/agents"),
        ("get", "/agents/search"),
        ("get", "/agents/{}"),
        ("patch", "/agents/{}"),
        ("get", "/agents/{}/stats"),
        ("get", "/agents/{}/reviews"),
        ("post", "/agents/{}/reviews"),
        ("post", "/tasks/execute"),
        ("post", "/tasks"),
        ("get", "/tasks/{}"),
        ("get", "/tasks/{}/results"),
        ("get", "/tasks/results"),
        ("post", "/tasks/{}/cancel"),
        ("get", "/tasks/{}/events"),
        ("get", "/tasks/{}/webhook-deliveries"),
        ("get", "/me/webhook-secret"),
        ("post", "/me/webhook-secret/rotate"),
    ];
    for (method, path) in expected {
        let item = described
            .iter()
            .find(|(described_path, _)| described_path == path)
            .map(|(_, item)| *item)
            .unwrap_or_else(|| {
                panic!(
                    "{path} is missing from {:?}",
                    paths.keys().collect::<Vec<_>>()
                )
            });
        assert!(
            item.get(method).is_some(),
            "{method} {path} is not described"
        );
    }
}

#[tokio::test]
async fn the_docs_page_is_html() {
    let app = spawn_app().await;

    let response = app.docs().await;

    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = response.text().await.unwrap().to_lowercase();
    assert!(page.contains("<html"), "{page}");
    assert!(
        page.contains("openapi"),
        "the page loads the API description"
    );
}

#[tokio::test]
async fn an_unknown_api_route_is_a_not_found_error() {
    let app = spawn_app().await;

    let response = app
        .request(Method::GET, "/api/v1/no-such-thing")
        .send()
        .await
        .unwrap();

    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn after_a_graceful_shutdown_the_port_no_longer_answers() {
    let app = spawn_app().await;
    let client = app.client.clone();
    let health_url = app.url("/healthz");
    assert_eq!(
        client.get(&health_url).send().await.unwrap().status(),
        StatusCode::OK
    );

    tokio::time::timeout(std::time::Duration::from_secs(10), app.shutdown())
        .await
        .expect("shutdown finishes promptly");

    let after = reqwest::Client::new().get(&health_url).send().await;
    assert!(after.is_err(), "still answering after shutdown: {after:?}");
}
