//! Running tasks synchronously and asynchronously, and reading their results.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_error, assert_timestamp, expect_json, spawn_app, spawn_app_with, string_field,
};

/// Checks every field of a result body against the contract.
fn assert_result_shape(result: &Value) {
    assert!(
        string_field(result, "task_id").starts_with("task_"),
        "{result}"
    );
    assert!(
        string_field(result, "agent_id").starts_with("agent_"),
        "{result}"
    );
    assert!(
        ["succeeded", "failed", "timed_out"].contains(&string_field(result, "status")),
        "{result}"
    );
    assert!(result["exit_code"].is_i64(), "{result}");
    assert!(result["stdout"].is_string(), "{result}");
    assert!(result["stderr"].is_string(), "{result}");
    assert!(result["stdout_truncated"].is_boolean(), "{result}");
    assert!(result["stderr_truncated"].is_boolean(), "{result}");
    assert!(result["duration_ms"].is_u64(), "{result}");
    assert!(
        result["error"].is_null() || result["error"].is_string(),
        "{result}"
    );
    assert_timestamp(&result["created_at"], "created_at");
}

const SLOW_LOOP: &str = r#"(module (memory (export "memory") 1) (func (export "_start") (loop $forever (br $forever))))"#;

#[tokio::test]
async fn executing_a_task_returns_the_agents_output() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;

    let result = app.execute_ok(&token, &echo, "Hello, Bazaar!\n").await;

    assert_result_shape(&result);
    assert_eq!(result["agent_id"], echo.as_str());
    assert_eq!(result["status"], "succeeded");
    assert_eq!(result["exit_code"], 0);
    assert_eq!(result["stdout"], "Hello, Bazaar!\n");
    assert_eq!(result["stdout_truncated"], false);
    assert_eq!(result["stderr_truncated"], false);
    assert_eq!(result["error"], Value::Null);

    // The result is stored and can be read back, identical.
    let task_id = string_field(&result, "task_id");
    let stored = expect_json(app.task_result(&token, task_id).await, StatusCode::OK).await;
    assert_eq!(stored, result);
    let status = expect_json(app.task_status(&token, task_id).await, StatusCode::OK).await;
    assert_eq!(status["task_id"], task_id);
    assert_eq!(status["agent_id"], echo.as_str());
    assert_eq!(status["status"], "succeeded");
    assert_timestamp(&status["created_at"], "created_at");
}

#[tokio::test]
async fn an_agent_that_exits_with_one_has_failed_without_an_error() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let json_format = app.example_agent_id("json-format").await;

    let result = app
        .execute_ok(&token, &json_format, "{\"a\": [1, 2,]}")
        .await;

    assert_result_shape(&result);
    assert_eq!(result["status"], "failed");
    assert_eq!(result["exit_code"], 1);
    assert_eq!(result["error"], Value::Null);
    assert_eq!(result["stdout"], "");
    assert!(
        !string_field(&result, "stderr").is_empty(),
        "a diagnostic on stderr: {result}"
    );
}

#[tokio::test]
async fn running_an_unknown_agent_is_not_found() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let task = json!({"agent_id": "agent_00000000000000000000000000000000", "input": "hi"});

    assert_error(
        app.execute(&token, &task).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.submit(&token, &task).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn a_malformed_task_body_is_a_bad_request() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;

    for path in ["/api/v1/tasks/execute", "/api/v1/tasks"] {
        let response = app
            .request(Method::POST, path)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body("{\"agent_id\": ")
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    }
}

#[tokio::test]
async fn a_timeout_of_zero_or_above_the_maximum_is_unprocessable() {
    let app = spawn_app_with(|config| config.sandbox.max_timeout_ms = 10_000).await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;

    for timeout_ms in [0, 10_001, u64::MAX] {
        let task = json!({"agent_id": echo, "input": "hi", "timeout_ms": timeout_ms});
        assert_error(
            app.execute(&token, &task).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
        )
        .await;
        assert_error(
            app.submit(&token, &task).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
        )
        .await;
    }
    // The maximum itself is allowed.
    let task = json!({"agent_id": echo, "input": "hi", "timeout_ms": 10_000});
    let result = expect_json(app.execute(&token, &task).await, StatusCode::OK).await;
    assert_eq!(result["stdout"], "hi");
}

#[tokio::test]
async fn an_input_larger_than_the_limit_is_too_large() {
    let app = spawn_app_with(|config| config.http.max_input_bytes = 1024).await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;

    let too_big = json!({"agent_id": echo, "input": "x".repeat(1025)});
    assert_error(
        app.execute(&token, &too_big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    assert_error(
        app.submit(&token, &too_big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    let nothing_stored = expect_json(app.list_results(&token, &[]).await, StatusCode::OK).await;
    assert_eq!(nothing_stored["total"], 0);

    // Exactly at the limit is fine.
    let at_limit = "y".repeat(1024);
    let result = app.execute_ok(&token, &echo, &at_limit).await;
    assert_eq!(result["stdout"], at_limit.as_str());
}

#[tokio::test]
async fn a_submitted_task_is_queued_then_finishes_with_its_result() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;

    let accepted = expect_json(
        app.submit(&token, &json!({"agent_id": echo, "input": "later, please"}))
            .await,
        StatusCode::ACCEPTED,
    )
    .await;

    assert!(
        string_field(&accepted, "task_id").starts_with("task_"),
        "{accepted}"
    );
    assert_eq!(accepted["agent_id"], echo.as_str());
    assert_eq!(accepted["status"], "queued");
    let task_id = string_field(&accepted, "task_id");
    let finished = app.wait_for_task(&token, task_id).await;
    assert_eq!(finished["status"], "succeeded");
    assert_eq!(finished["task_id"], task_id);
    let result = expect_json(app.task_result(&token, task_id).await, StatusCode::OK).await;
    assert_result_shape(&result);
    assert_eq!(result["task_id"], task_id);
    assert_eq!(result["stdout"], "later, please");
    assert_eq!(result["status"], "succeeded");
}

#[tokio::test]
async fn a_result_that_does_not_exist_yet_is_not_found() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let looping = app.upload_wat(&token, SLOW_LOOP).await;

    let timeout = Duration::from_millis(2000);
    let submitted_at = Instant::now();
    let accepted = expect_json(
        app.submit(
            &token,
            &json!({"agent_id": looping, "input": "", "timeout_ms": timeout.as_millis() as u64}),
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let task_id = string_field(&accepted, "task_id");

    let early_result = app.task_result(&token, task_id).await;
    let early_status = expect_json(app.task_status(&token, task_id).await, StatusCode::OK).await;
    // A starved test process may only get here after the deadline; then there is nothing
    // left to observe.
    if submitted_at.elapsed() < timeout {
        assert_error(early_result, StatusCode::NOT_FOUND, "not_found").await;
        assert!(
            ["queued", "running"].contains(&early_status["status"].as_str().unwrap_or_default()),
            "{early_status}"
        );
    }

    let finished = app.wait_for_task(&token, task_id).await;
    assert_eq!(finished["status"], "timed_out");
    let result = expect_json(app.task_result(&token, task_id).await, StatusCode::OK).await;
    assert_eq!(result["status"], "timed_out");
}

#[tokio::test]
async fn unknown_tasks_are_not_found() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let unknown = "task_00000000000000000000000000000000";

    assert_error(
        app.task_status(&token, unknown).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.task_result(&token, unknown).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn another_users_tasks_and_results_are_invisible() {
    let app = spawn_app().await;
    let (_, alice) = app.register_user().await;
    let (_, bob) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;
    let result = app.execute_ok(&alice, &echo, "alice's secret").await;
    let task_id = string_field(&result, "task_id");

    assert_error(
        app.task_status(&bob, task_id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.task_result(&bob, task_id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let bobs = expect_json(app.list_results(&bob, &[]).await, StatusCode::OK).await;
    assert_eq!(bobs["results"], json!([]));
    assert_eq!(bobs["total"], 0);
    let bobs_for_echo = expect_json(
        app.list_results(&bob, &[("agent_id", &echo)]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(bobs_for_echo["total"], 0);

    // Alice still sees hers, and only hers once Bob runs something too.
    app.execute_ok(&bob, &echo, "bob's own").await;
    expect_json(app.task_result(&alice, task_id).await, StatusCode::OK).await;
    let alices = expect_json(app.list_results(&alice, &[]).await, StatusCode::OK).await;
    assert_eq!(alices["total"], 1);
    assert_eq!(alices["results"][0]["stdout"], "alice's secret");
}

async fn run_numbered(app: &TestApp, token: &str, agent_id: &str, count: usize) {
    for index in 0..count {
        let result = app
            .execute_ok(token, agent_id, &format!("run {index}"))
            .await;
        assert_eq!(result["stdout"], format!("run {index}"));
    }
}

fn stdouts(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap_or_else(|| panic!("`results` is not an array in {page}"))
        .iter()
        .map(|result| string_field(result, "stdout").to_owned())
        .collect()
}

#[tokio::test]
async fn results_are_listed_newest_first_in_pages() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;
    run_numbered(&app, &token, &echo, 5).await;

    let first = expect_json(
        app.list_results(&token, &[("limit", "2")]).await,
        StatusCode::OK,
    )
    .await;
    let second = expect_json(
        app.list_results(&token, &[("limit", "2"), ("offset", "2")])
            .await,
        StatusCode::OK,
    )
    .await;
    let last = expect_json(
        app.list_results(&token, &[("limit", "2"), ("offset", "4")])
            .await,
        StatusCode::OK,
    )
    .await;

    assert_eq!(stdouts(&first), ["run 4", "run 3"]);
    assert_eq!(stdouts(&second), ["run 2", "run 1"]);
    assert_eq!(stdouts(&last), ["run 0"]);
    assert_eq!(first["count"], 2);
    assert_eq!(last["count"], 1);
    assert_eq!(first["total"], 5);
    assert_eq!(last["total"], 5);
    assert_eq!(first["limit"], 2);
    assert_eq!(second["offset"], 2);
    for result in first["results"].as_array().unwrap() {
        assert_result_shape(result);
    }

    let everything = expect_json(app.list_results(&token, &[]).await, StatusCode::OK).await;
    assert_eq!(everything["count"], 5);
    assert_eq!(everything["offset"], 0);
}

#[tokio::test]
async fn results_can_be_filtered_by_agent_and_status() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;
    let json_format = app.example_agent_id("json-format").await;
    run_numbered(&app, &token, &echo, 2).await;
    app.execute_ok(&token, &json_format, "[1,2]").await;
    app.execute_ok(&token, &json_format, "[1,").await;

    let echo_results = expect_json(
        app.list_results(&token, &[("agent_id", &echo)]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(echo_results["total"], 2);
    assert!(
        echo_results["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["agent_id"] == echo.as_str())
    );

    let failed = expect_json(
        app.list_results(&token, &[("status", "failed")]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(failed["total"], 1);
    assert_eq!(failed["results"][0]["agent_id"], json_format.as_str());
    assert_eq!(failed["results"][0]["exit_code"], 1);

    let succeeded_json = expect_json(
        app.list_results(
            &token,
            &[("status", "succeeded"), ("agent_id", &json_format)],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(succeeded_json["total"], 1);
    assert_eq!(succeeded_json["results"][0]["stdout"], "[\n  1,\n  2\n]\n");

    let timed_out = expect_json(
        app.list_results(&token, &[("status", "timed_out")]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(timed_out["total"], 0);
}

#[tokio::test]
async fn bad_result_listing_parameters_are_a_bad_request() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;

    for query in [
        [("limit", "0")],
        [("limit", "101")],
        [("offset", "minus one")],
        [("status", "exploded")],
        [("agent_id", "not-an-agent")],
    ] {
        assert_error(
            app.list_results(&token, &query).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_concurrent_executions_each_get_their_own_output() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;
    let started = Instant::now();

    let runs: Vec<_> = (0..60)
        .map(|index| {
            let client = app.client.clone();
            let url = app.url("/api/v1/tasks/execute");
            let token = token.clone();
            let echo = echo.clone();
            tokio::spawn(async move {
                let input = format!("concurrent input number {index}");
                let response = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({"agent_id": echo, "input": input}))
                    .send()
                    .await
                    .expect("the request reaches bazaar");
                (input, expect_json(response, StatusCode::OK).await)
            })
        })
        .collect();

    let mut task_ids = HashSet::new();
    for run in runs {
        let (input, result) = run.await.expect("the request task completes");
        assert_eq!(result["status"], "succeeded", "{result}");
        assert_eq!(result["stdout"], input.as_str(), "{result}");
        task_ids.insert(string_field(&result, "task_id").to_owned());
    }
    assert_eq!(task_ids.len(), 60, "every run is its own task");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    let listed = expect_json(
        app.list_results(&token, &[("limit", "100")]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["total"], 60);
}

#[tokio::test]
async fn tasks_beyond_the_rate_limit_are_refused_per_user() {
    let app = spawn_app_with(|config| {
        config.limits.tasks_per_second_per_user = 0.1;
        config.limits.task_burst = 2;
    })
    .await;
    let (_, token) = app.register_user().await;
    let (_, other_token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;

    app.execute_ok(&token, &echo, "one").await;
    app.execute_ok(&token, &echo, "two").await;
    assert_error(
        app.execute(&token, &json!({"agent_id": echo, "input": "three"}))
            .await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    assert_error(
        app.submit(&token, &json!({"agent_id": echo, "input": "four"}))
            .await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;

    // Another user has a bucket of their own.
    let result = app.execute_ok(&other_token, &echo, "someone else").await;
    assert_eq!(result["stdout"], "someone else");
    // Refused tasks were not run.
    let listed = expect_json(app.list_results(&token, &[]).await, StatusCode::OK).await;
    assert_eq!(listed["total"], 2);
}

#[tokio::test]
async fn the_rate_limit_lets_tasks_through_again_once_the_bucket_refills() {
    let app = spawn_app_with(|config| {
        config.limits.tasks_per_second_per_user = 2.0;
        config.limits.task_burst = 1;
    })
    .await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;
    let task = json!({"agent_id": echo, "input": "again"});

    let first_sent = Instant::now();
    expect_json(app.execute(&token, &task).await, StatusCode::OK).await;
    let second = app.execute(&token, &task).await;
    // One token comes back every 500 ms; only a starved test process would be that slow.
    if first_sent.elapsed() < Duration::from_millis(400) {
        assert_error(second, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    }

    tokio::time::sleep(Duration::from_millis(600)).await;
    let refilled = expect_json(app.execute(&token, &task).await, StatusCode::OK).await;
    assert_eq!(refilled["stdout"], "again");
}

#[tokio::test]
async fn a_synchronous_run_still_going_when_the_preferred_wait_ends_is_accepted_with_its_location()
{
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let looping = app.upload_wat(&token, SLOW_LOOP).await;

    let started = Instant::now();
    let response = app
        .execute_preferring(
            &token,
            "wait=1",
            &json!({"agent_id": looping, "input": "", "timeout_ms": 3000}),
        )
        .await;
    let waited = started.elapsed();

    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(
        response.headers()["preference-applied"].to_str().unwrap(),
        "wait=1"
    );
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let task = response.json::<Value>().await.unwrap();
    let task_id = string_field(&task, "task_id");
    assert_eq!(location, format!("/api/v1/tasks/{task_id}"));
    // A worker has had a whole second to start it.
    assert_eq!(task["status"], "running", "{task}");
    assert_eq!(task["attempts"], 1, "{task}");
    assert_eq!(task["agent_id"], looping.as_str());
    assert!(task["completed_at"].is_null(), "{task}");
    assert!(
        waited >= Duration::from_secs(1),
        "answered after {waited:?}"
    );
    assert!(waited < Duration::from_secs(3), "answered after {waited:?}");

    let followed = expect_json(app.follow(&token, &location).await, StatusCode::OK).await;
    assert_eq!(followed["task_id"], task_id);
    let finished = app.wait_for_task(&token, task_id).await;
    assert_eq!(finished["status"], "timed_out");
}

#[tokio::test]
async fn a_synchronous_run_that_outlasts_the_default_wait_is_accepted_not_a_gateway_timeout() {
    // One run at a time, and hardly any grace: a task queued behind a long run cannot finish
    // within its own timeout plus the grace.
    let app = spawn_app_with(|config| {
        config.worker.concurrency = 1;
        config.http.execute_wait_grace_ms = 100;
    })
    .await;
    let (_, token) = app.register_user().await;
    let looping = app.upload_wat(&token, SLOW_LOOP).await;
    expect_json(
        app.submit(
            &token,
            &json!({"agent_id": looping, "input": "", "timeout_ms": 3000}),
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;

    let response = app
        .execute(
            &token,
            &json!({"agent_id": looping, "input": "", "timeout_ms": 200}),
        )
        .await;

    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert!(response.headers().get("preference-applied").is_none());
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let task = response.json::<Value>().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/tasks/{}", string_field(&task, "task_id"))
    );
    let finished = app
        .wait_for_task(&token, string_field(&task, "task_id"))
        .await;
    assert_eq!(finished["status"], "timed_out");
}

#[tokio::test]
async fn a_preferred_wait_longer_than_the_run_returns_the_result() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let agent_id = app.example_agent_id("echo").await;

    let response = app
        .execute_preferring(
            &token,
            "wait=3600",
            &json!({"agent_id": agent_id, "input": "still here"}),
        )
        .await;

    let result = expect_json(response, StatusCode::OK).await;
    assert_eq!(result["stdout"], "still here");
}

/// The start of a gzip stream: bytes that are not UTF-8.
const BINARY_INPUT: &[u8] = &[0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, 0x00, 0x80, 0x41];

#[tokio::test]
async fn binary_input_sent_as_base64_comes_back_as_base64_byte_for_byte() {
    use base64::Engine;
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;
    let encoded = base64::engine::general_purpose::STANDARD.encode(BINARY_INPUT);

    let result = expect_json(
        app.execute(&token, &json!({"agent_id": echo, "input_base64": encoded}))
            .await,
        StatusCode::OK,
    )
    .await;

    assert_eq!(result["status"], "succeeded", "{result}");
    assert_eq!(result["stdout"], Value::Null, "{result}");
    assert_eq!(result["stdout_base64"], encoded.as_str());
    // Text output stays text, with no base64 beside it.
    assert_eq!(result["stderr"], "");
    assert!(result.get("stderr_base64").is_none(), "{result}");
    let stored = expect_json(
        app.task_result(&token, string_field(&result, "task_id"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(stored, result);
}

#[tokio::test]
async fn text_sent_as_base64_is_text_output() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;

    let result = expect_json(
        app.execute(
            &token,
            &json!({"agent_id": echo, "input_base64": "aMOpbGxv"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;

    assert_eq!(result["stdout"], "héllo");
    assert!(result.get("stdout_base64").is_none(), "{result}");
}

#[tokio::test]
async fn input_as_both_text_and_base64_or_as_bad_base64_is_unprocessable() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;

    let both = app
        .submit(
            &token,
            &json!({"agent_id": echo, "input": "a", "input_base64": "YQ=="}),
        )
        .await;
    let malformed = app
        .submit(
            &token,
            &json!({"agent_id": echo, "input_base64": "not base64!"}),
        )
        .await;

    let message = assert_error(both, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable").await;
    assert!(message.contains("not both"), "{message}");
    let message = assert_error(malformed, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable").await;
    assert!(message.contains("input_base64"), "{message}");
}

#[tokio::test]
async fn decoded_base64_input_larger_than_the_limit_is_too_large() {
    use base64::Engine;
    let app = spawn_app_with(|config| config.http.max_input_bytes = 16).await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;
    let encoded = base64::engine::general_purpose::STANDARD.encode([0u8; 17]);

    let response = app
        .submit(&token, &json!({"agent_id": echo, "input_base64": encoded}))
        .await;

    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}
