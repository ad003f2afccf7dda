//! Per-agent statistics, kept up to date by every stored result.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_error, assert_timestamp, expect_json, spawn_app, string_field};

const ENDLESS_LOOP: &str = r#"(module (memory (export "memory") 1) (func (export "_start") (loop $forever (br $forever))))"#;

#[tokio::test]
async fn an_agent_without_runs_has_empty_statistics() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let agent_id = app.upload_echo(&token).await;

    let stats = expect_json(app.agent_stats(&agent_id).await, StatusCode::OK).await;

    assert_eq!(stats["agent_id"], agent_id.as_str());
    for count in ["tasks_completed", "succeeded", "failed", "timed_out"] {
        assert_eq!(stats[count], 0, "{count} in {stats}");
    }
    for empty in [
        "mean_duration_ms",
        "p50_duration_ms",
        "p95_duration_ms",
        "p99_duration_ms",
        "last_run_at",
    ] {
        assert_eq!(stats[empty], Value::Null, "{empty} in {stats}");
    }
}

#[tokio::test]
async fn every_stored_result_updates_the_statistics() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let json_format = app.example_agent_id("json-format").await;

    app.execute_ok(&token, &json_format, "{}").await;
    app.execute_ok(&token, &json_format, "[true]").await;
    let failed = app.execute_ok(&token, &json_format, "{oops").await;
    assert_eq!(failed["status"], "failed");

    let stats = expect_json(app.agent_stats(&json_format).await, StatusCode::OK).await;
    assert_eq!(stats["agent_id"], json_format.as_str());
    assert_eq!(stats["tasks_completed"], 3, "{stats}");
    assert_eq!(stats["succeeded"], 2, "{stats}");
    assert_eq!(stats["failed"], 1, "{stats}");
    assert_eq!(stats["timed_out"], 0, "{stats}");
    let percentile = |name: &str| {
        stats[name]
            .as_f64()
            .unwrap_or_else(|| panic!("{name} is not a number in {stats}"))
    };
    let (mean, p50, p95, p99) = (
        percentile("mean_duration_ms"),
        percentile("p50_duration_ms"),
        percentile("p95_duration_ms"),
        percentile("p99_duration_ms"),
    );
    assert!(mean >= 0.0 && p50 >= 0.0, "{stats}");
    assert!(
        p50 <= p95 && p95 <= p99,
        "percentiles out of order: {stats}"
    );
    assert_timestamp(&stats["last_run_at"], "last_run_at");
    assert!(
        string_field(&stats, "last_run_at") >= string_field(&failed, "created_at"),
        "last run is the latest one: {stats} vs {failed}"
    );

    let agent = expect_json(app.get_agent(&json_format).await, StatusCode::OK).await;
    assert_eq!(agent["tasks_completed"], 3, "{agent}");
}

#[tokio::test]
async fn timeouts_are_counted_apart_from_failures() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let looping = app.upload_wat(&token, ENDLESS_LOOP).await;

    let result = expect_json(
        app.execute(
            &token,
            &json!({"agent_id": looping, "input": "", "timeout_ms": 200}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(result["status"], "timed_out");

    let stats = expect_json(app.agent_stats(&looping).await, StatusCode::OK).await;
    assert_eq!(stats["tasks_completed"], 1, "{stats}");
    assert_eq!(stats["timed_out"], 1, "{stats}");
    assert_eq!(stats["succeeded"], 0, "{stats}");
    assert_eq!(stats["failed"], 0, "{stats}");
    assert!(
        stats["p50_duration_ms"].as_f64().unwrap() >= 200.0,
        "{stats}"
    );
}

#[tokio::test]
async fn statistics_of_an_unknown_agent_are_not_found() {
    let app = spawn_app().await;

    assert_error(
        app.agent_stats("agent_00000000000000000000000000000000")
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.agent_stats("bogus").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
}
