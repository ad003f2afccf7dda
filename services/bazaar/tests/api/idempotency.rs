//! `Idempotency-Key` on `POST /tasks` and `POST /tasks/execute`: a retried request gets the
//! task (and result) of the first, never a second run.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, expect_json, spawn_app, string_field};

async fn submit_keyed(app: &TestApp, token: &str, key: &str, body: &Value) -> reqwest::Response {
    app.post_with_headers("/tasks", token, &[("idempotency-key", key)], body)
        .await
}

async fn results_of(app: &TestApp, token: &str, agent_id: &str) -> Value {
    expect_json(
        app.list_results(token, &[("agent_id", agent_id)]).await,
        StatusCode::OK,
    )
    .await
}

#[tokio::test]
async fn a_submission_retried_with_its_key_returns_the_same_task_and_runs_once() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;
    let body = json!({"agent_id": echo, "input": "only once"});

    let first = submit_keyed(&app, &token, "order-1234", &body).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = first.json::<Value>().await.unwrap();
    let task_id = string_field(&first, "task_id").to_owned();
    app.wait_for_task(&token, &task_id).await;

    let retry = submit_keyed(&app, &token, "order-1234", &body).await;
    assert_eq!(retry.status(), StatusCode::ACCEPTED);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry = retry.json::<Value>().await.unwrap();
    assert_eq!(retry["task_id"], task_id.as_str());
    assert_eq!(retry["status"], "succeeded", "{retry}");

    let listed = results_of(&app, &token, &echo).await;
    assert_eq!(listed["total"], 1, "{listed}");
}

#[tokio::test]
async fn an_execution_retried_with_its_key_returns_the_first_result() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;
    let body = json!({"agent_id": echo, "input": "once"});
    let headers = [("idempotency-key", "execute-once")];

    let first = expect_json(
        app.post_with_headers("/tasks/execute", &token, &headers, &body)
            .await,
        StatusCode::OK,
    )
    .await;
    let retry = app
        .post_with_headers("/tasks/execute", &token, &headers, &body)
        .await;

    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry = expect_json(retry, StatusCode::OK).await;
    assert_eq!(retry, first);
    assert_eq!(results_of(&app, &token, &echo).await["total"], 1);
}

#[tokio::test]
async fn a_key_reused_for_a_different_request_is_unprocessable_and_runs_nothing() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;
    let first = expect_json(
        submit_keyed(
            &app,
            &token,
            "k-1",
            &json!({"agent_id": echo, "input": "a"}),
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    app.wait_for_task(&token, string_field(&first, "task_id"))
        .await;

    let other_input = submit_keyed(
        &app,
        &token,
        "k-1",
        &json!({"agent_id": echo, "input": "b"}),
    )
    .await;
    let other_endpoint = app
        .post_with_headers(
            "/tasks/execute",
            &token,
            &[("idempotency-key", "k-1")],
            &json!({"agent_id": echo, "input": "a"}),
        )
        .await;

    let message = assert_error(
        other_input,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable",
    )
    .await;
    assert!(message.contains("different request"), "{message}");
    assert_error(
        other_endpoint,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable",
    )
    .await;
    assert_eq!(results_of(&app, &token, &echo).await["total"], 1);
}

#[tokio::test]
async fn the_same_key_of_two_users_names_two_tasks() {
    let app = spawn_app().await;
    let (_, ada) = app.register_user().await;
    let (_, bob) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;
    let body = json!({"agent_id": echo, "input": "mine"});

    let adas = expect_json(
        submit_keyed(&app, &ada, "shared", &body).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let bobs = expect_json(
        submit_keyed(&app, &bob, "shared", &body).await,
        StatusCode::ACCEPTED,
    )
    .await;

    assert_ne!(adas["task_id"], bobs["task_id"]);
}

#[tokio::test]
async fn a_malformed_key_is_a_bad_request() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;
    let body = json!({"agent_id": echo, "input": ""});

    // Spaces around a header value are not part of it in HTTP, so none are tried here.
    for key in ["", "tab\tinside", &"k".repeat(256)] {
        let response = submit_keyed(&app, &token, key, &body).await;
        assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    let listed = results_of(&app, &token, &echo).await;
    assert_eq!(listed["total"], 0);
}

#[tokio::test]
async fn a_submission_refused_before_it_was_queued_leaves_its_key_free() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;

    let refused = submit_keyed(
        &app,
        &token,
        "retry-after-fix",
        &json!({"agent_id": echo, "input": "", "timeout_ms": 0}),
    )
    .await;
    assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable").await;
    let fixed = submit_keyed(
        &app,
        &token,
        "retry-after-fix",
        &json!({"agent_id": echo, "input": "", "timeout_ms": 1000}),
    )
    .await;

    assert_eq!(fixed.status(), StatusCode::ACCEPTED);
    assert!(fixed.headers().get("idempotent-replayed").is_none());
}

#[tokio::test]
async fn a_retry_is_answered_even_after_its_agent_was_deactivated() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let quick = app
        .upload_wat(
            &token,
            r#"(module (memory (export "memory") 1) (func (export "_start")))"#,
        )
        .await;
    let body = json!({"agent_id": quick, "input": ""});
    let first = expect_json(
        submit_keyed(&app, &token, "before-deactivation", &body).await,
        StatusCode::ACCEPTED,
    )
    .await;
    app.wait_for_task(&token, string_field(&first, "task_id"))
        .await;
    expect_json(
        app.patch_agent(&token, &quick, &json!({"status": "inactive"}))
            .await,
        StatusCode::OK,
    )
    .await;

    let retry = submit_keyed(&app, &token, "before-deactivation", &body).await;
    let fresh = submit_keyed(&app, &token, "after-deactivation", &body).await;

    assert_eq!(retry.status(), StatusCode::ACCEPTED);
    let retry = retry.json::<Value>().await.unwrap();
    assert_eq!(retry["task_id"], first["task_id"]);
    assert_error(fresh, StatusCode::CONFLICT, "conflict").await;
}
