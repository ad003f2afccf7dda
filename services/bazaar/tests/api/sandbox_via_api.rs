//! Hostile guests uploaded as agents: each gets a clear failed result, and the worker keeps
//! serving afterwards.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_json, spawn_app, spawn_app_with, string_field};

const ENDLESS_LOOP: &str = r#"(module (memory (export "memory") 1) (func (export "_start") (loop $forever (br $forever))))"#;

const MEMORY_BOMB: &str = r#"(module (memory (export "memory") 1)
    (func (export "_start") (loop $more (drop (memory.grow (i32.const 16))) (br $more))))"#;

/// Writes 64 `A`s to stdout, forever.
const STDOUT_FLOOD: &str = r#"(module
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 0) "\10\00\00\00\40\00\00\00")
    (data (i32.const 16) "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    (func (export "_start")
        (loop $again
            (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
            (br $again))))"#;

const INFINITE_RECURSION: &str = r#"(module (memory (export "memory") 1)
    (func $deeper (call $deeper))
    (func (export "_start") (call $deeper)))"#;

const UNREACHABLE: &str =
    r#"(module (memory (export "memory") 1) (func (export "_start") unreachable))"#;

const EXIT_THREE: &str = r#"(module
    (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
    (memory (export "memory") 1)
    (func (export "_start") (call $exit (i32.const 3))))"#;

/// Writes "oops" to stderr and returns normally.
const STDERR_WRITER: &str = r#"(module
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 0) "\10\00\00\00\04\00\00\00")
    (data (i32.const 16) "oops")
    (func (export "_start")
        (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))))"#;

/// Uploads `text` and runs it once with `timeout_ms`, returning the result.
async fn run_guest(app: &TestApp, token: &str, text: &str, timeout_ms: u64) -> Value {
    let agent_id = app.upload_wat(token, text).await;
    let response = app
        .execute(
            token,
            &json!({"agent_id": agent_id, "input": "", "timeout_ms": timeout_ms}),
        )
        .await;
    let result = expect_json(response, StatusCode::OK).await;
    assert_eq!(result["agent_id"], agent_id.as_str());
    result
}

fn error_of(result: &Value) -> &str {
    result["error"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error message in {result}"))
}

fn assert_failed_with(result: &Value, status: &str, error_mentions: &str) {
    assert_eq!(result["status"], status, "{result}");
    assert_eq!(result["exit_code"], -1, "{result}");
    let error = error_of(result);
    assert!(
        error.contains(error_mentions),
        "error {error:?} should mention {error_mentions:?}"
    );
}

async fn assert_echo_still_works(app: &TestApp, token: &str) {
    let echo = app.example_agent_id("echo").await;
    let result = app.execute_ok(token, &echo, "still here").await;
    assert_eq!(result["status"], "succeeded", "{result}");
    assert_eq!(result["stdout"], "still here");
}

#[tokio::test]
async fn an_endless_loop_times_out_within_a_few_seconds() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let started = Instant::now();

    let result = run_guest(&app, &token, ENDLESS_LOOP, 300).await;

    assert_failed_with(&result, "timed_out", "timed out");
    assert!(result["duration_ms"].as_u64().unwrap() >= 300, "{result}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_echo_still_works(&app, &token).await;
}

#[tokio::test]
async fn a_memory_bomb_fails_at_the_memory_limit() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;

    let result = run_guest(&app, &token, MEMORY_BOMB, 10_000).await;

    assert_failed_with(&result, "failed", "memory limit");
    assert_echo_still_works(&app, &token).await;
}

#[tokio::test]
async fn a_stdout_flood_is_truncated_and_fails_at_the_output_limit() {
    let app = spawn_app_with(|config| config.sandbox.stdout_limit_bytes = 4096).await;
    let (_, token) = app.register_user().await;

    let result = run_guest(&app, &token, STDOUT_FLOOD, 10_000).await;

    assert_failed_with(&result, "failed", "output limit");
    assert_eq!(result["stdout_truncated"], true);
    assert_eq!(result["stderr_truncated"], false);
    let stdout = string_field(&result, "stdout");
    assert!(
        !stdout.is_empty() && stdout.len() <= 4096,
        "stdout of {} bytes",
        stdout.len()
    );
    assert!(stdout.bytes().all(|b| b == b'A'));
    assert_echo_still_works(&app, &token).await;
}

#[tokio::test]
async fn infinite_recursion_fails_with_a_stack_overflow() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;

    let result = run_guest(&app, &token, INFINITE_RECURSION, 10_000).await;

    assert_failed_with(&result, "failed", "stack overflow");
    assert_echo_still_works(&app, &token).await;
}

#[tokio::test]
async fn an_unreachable_instruction_fails_with_a_trap() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;

    let result = run_guest(&app, &token, UNREACHABLE, 10_000).await;

    assert_failed_with(&result, "failed", "trap");
    assert_echo_still_works(&app, &token).await;
}

#[tokio::test]
async fn proc_exit_three_is_a_failure_with_that_exit_code_and_no_error() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;

    let result = run_guest(&app, &token, EXIT_THREE, 10_000).await;

    assert_eq!(result["status"], "failed", "{result}");
    assert_eq!(result["exit_code"], 3, "{result}");
    assert_eq!(result["error"], Value::Null, "{result}");
}

#[tokio::test]
async fn what_an_agent_writes_to_stderr_comes_back() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;

    let result = run_guest(&app, &token, STDERR_WRITER, 10_000).await;

    assert_eq!(result["status"], "succeeded", "{result}");
    assert_eq!(result["exit_code"], 0);
    assert_eq!(result["stdout"], "");
    assert_eq!(result["stderr"], "oops");
    assert_eq!(result["error"], Value::Null);
}

#[tokio::test]
async fn a_hostile_guest_run_asynchronously_also_gets_a_failed_result() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let agent_id = app.upload_wat(&token, UNREACHABLE).await;

    let accepted = expect_json(
        app.submit(&token, &json!({"agent_id": agent_id, "input": ""}))
            .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let task_id = string_field(&accepted, "task_id");
    let finished = app.wait_for_task(&token, task_id).await;

    assert_eq!(finished["status"], "failed");
    let result = expect_json(app.task_result(&token, task_id).await, StatusCode::OK).await;
    assert_failed_with(&result, "failed", "trap");
}

#[tokio::test]
async fn the_worker_survives_every_hostile_guest_in_turn() {
    let app = spawn_app_with(|config| config.sandbox.stdout_limit_bytes = 4096).await;
    let (_, token) = app.register_user().await;

    for _ in 0..2 {
        assert_failed_with(
            &run_guest(&app, &token, ENDLESS_LOOP, 300).await,
            "timed_out",
            "timed out",
        );
        assert_failed_with(
            &run_guest(&app, &token, MEMORY_BOMB, 10_000).await,
            "failed",
            "memory limit",
        );
        assert_failed_with(
            &run_guest(&app, &token, STDOUT_FLOOD, 10_000).await,
            "failed",
            "output limit",
        );
        assert_failed_with(
            &run_guest(&app, &token, INFINITE_RECURSION, 10_000).await,
            "failed",
            "stack overflow",
        );
        assert_failed_with(
            &run_guest(&app, &token, UNREACHABLE, 10_000).await,
            "failed",
            "trap",
        );
        assert_eq!(
            run_guest(&app, &token, EXIT_THREE, 10_000).await["exit_code"],
            3
        );
    }

    assert_echo_still_works(&app, &token).await;
}
