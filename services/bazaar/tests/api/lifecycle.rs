//! A task's lifecycle through the API: `queued → running → finished`, cancellation, and
//! the event stream.

use std::time::{Duration, Instant};

use bazaar_test_support::guests::{SPIN, TWO_LINES};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_error, assert_timestamp, expect_json, spawn_app, spawn_app_with, string_field,
};

/// How long a test waits for what should happen within moments.
const PATIENCE: Duration = Duration::from_secs(10);

async fn submit(app: &TestApp, token: &str, agent_id: &str, timeout_ms: u64) -> String {
    let body = json!({ "agent_id": agent_id, "input": "", "timeout_ms": timeout_ms });
    let queued = expect_json(app.submit(token, &body).await, StatusCode::ACCEPTED).await;
    string_field(&queued, "task_id").to_owned()
}

/// Polls the task until `done` holds for its status body, which it returns.
async fn poll_until(
    app: &TestApp,
    token: &str,
    task_id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let status = expect_json(app.task_status(token, task_id).await, StatusCode::OK).await;
        if done(&status) {
            return status;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "task {task_id} did not get there: {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn status_is(status: &'static str) -> impl Fn(&Value) -> bool {
    move |body| body["status"] == status
}

#[tokio::test]
async fn a_running_task_shows_running_with_its_start_and_attempts_then_its_end() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let agent = app.upload_wat(&token, TWO_LINES).await;
    let task = submit(&app, &token, &agent, 10_000).await;

    let running = poll_until(&app, &token, &task, status_is("running")).await;
    assert_timestamp(&running["started_at"], "started_at");
    assert_eq!(running["attempts"], 1);
    assert!(running["finished_at"].is_null(), "{running}");
    assert!(running["cancel_requested_at"].is_null(), "{running}");

    let finished = app.wait_for_task(&token, &task).await;
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert_timestamp(&finished["finished_at"], "finished_at");
    assert_eq!(finished["finished_at"], finished["completed_at"]);
    assert_eq!(finished["attempts"], 1);
    app.shutdown().await;
}

#[tokio::test]
async fn canceling_a_running_task_stops_it_within_a_second_and_the_worker_serves_the_next() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let spin = app.upload_wat(&token, SPIN).await;
    let task = submit(&app, &token, &spin, 60_000).await;
    poll_until(&app, &token, &task, status_is("running")).await;

    let asked = Instant::now();
    let canceled = expect_json(app.cancel(&token, &task).await, StatusCode::OK).await;
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "took {:?}",
        asked.elapsed()
    );
    assert_eq!(canceled["status"], "canceled", "{canceled}");
    assert_timestamp(&canceled["cancel_requested_at"], "cancel_requested_at");
    let result = expect_json(app.task_result(&token, &task).await, StatusCode::OK).await;
    assert_eq!(result["status"], "canceled", "{result}");
    assert_eq!(result["exit_code"], -1);
    assert!(
        string_field(&result, "error").contains("canceled"),
        "{result}"
    );

    let echo = app.upload_echo(&token).await;
    let next = app.execute_ok(&token, &echo, "still serving").await;
    assert_eq!(next["stdout"], "still serving");
    app.shutdown().await;
}

#[tokio::test]
async fn a_queued_task_that_is_canceled_never_runs() {
    let app = spawn_app_with(|config| {
        config.worker.concurrency = 1;
    })
    .await;
    let (_, token) = app.register_user().await;
    let spin = app.upload_wat(&token, SPIN).await;
    let blocker = submit(&app, &token, &spin, 60_000).await;
    poll_until(&app, &token, &blocker, status_is("running")).await;
    let waiting = submit(&app, &token, &spin, 60_000).await;

    let canceled = expect_json(app.cancel(&token, &waiting).await, StatusCode::OK).await;
    assert_eq!(canceled["status"], "canceled", "{canceled}");
    assert!(canceled["started_at"].is_null(), "{canceled}");
    assert_eq!(canceled["attempts"], 0);

    // Once the worker is free, it passes over the canceled task.
    expect_json(app.cancel(&token, &blocker).await, StatusCode::OK).await;
    let echo = app.upload_echo(&token).await;
    app.execute_ok(&token, &echo, "after").await;
    let after = expect_json(app.task_status(&token, &waiting).await, StatusCode::OK).await;
    assert_eq!(after["status"], "canceled");
    assert_eq!(
        after["attempts"], 0,
        "the canceled task never started: {after}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn canceling_twice_is_fine_and_canceling_a_finished_task_is_a_conflict_naming_its_status() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let spin = app.upload_wat(&token, SPIN).await;
    let task = submit(&app, &token, &spin, 60_000).await;
    expect_json(app.cancel(&token, &task).await, StatusCode::OK).await;
    let again = expect_json(app.cancel(&token, &task).await, StatusCode::OK).await;
    assert_eq!(again["status"], "canceled");

    let echo = app.upload_echo(&token).await;
    let done = app.execute_ok(&token, &echo, "done").await;
    let finished = string_field(&done, "task_id");
    let message = assert_error(
        app.cancel(&token, finished).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(message.contains("succeeded"), "{message}");
    app.shutdown().await;
}

#[tokio::test]
async fn another_users_task_cannot_be_canceled_or_followed() {
    let app = spawn_app().await;
    let (_, owner) = app.register_user().await;
    let (_, stranger) = app.register_user().await;
    let spin = app.upload_wat(&owner, SPIN).await;
    let task = submit(&app, &owner, &spin, 60_000).await;

    assert_error(
        app.cancel(&stranger, &task).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.events(&stranger, &task).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let status = expect_json(app.task_status(&owner, &task).await, StatusCode::OK).await;
    assert!(status["cancel_requested_at"].is_null(), "{status}");
    assert_error(
        app.cancel(&owner, "agent_0192f0c1a2b34c5d8e9f0a1b2c3d4e5f")
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    expect_json(app.cancel(&owner, &task).await, StatusCode::OK).await;
    app.shutdown().await;
}

/// One Server-Sent Event.
#[derive(Debug)]
pub struct ServerEvent {
    pub name: String,
    pub data: Value,
}

/// Reads Server-Sent Events from a streaming response.
pub struct EventReader {
    response: reqwest::Response,
    buffer: String,
}

impl EventReader {
    pub fn new(response: reqwest::Response) -> Self {
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        EventReader {
            response,
            buffer: String::new(),
        }
    }

    /// The next event, or `None` when the stream ends.
    pub async fn next(&mut self) -> Option<ServerEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = value.trim().to_owned();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim_start());
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                let data = serde_json::from_str(&data).expect("event data is JSON");
                return Some(ServerEvent { name, data });
            }
            let chunk = tokio::time::timeout(PATIENCE, self.response.chunk())
                .await
                .expect("the stream moves")
                .expect("the stream does not fail")?;
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8 events"));
        }
    }
}

#[tokio::test]
async fn the_event_stream_shows_output_while_the_agent_runs_then_the_result_and_ends() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let agent = app.upload_wat(&token, TWO_LINES).await;
    let task = submit(&app, &token, &agent, 10_000).await;
    let mut events = EventReader::new(app.events(&token, &task).await);

    let first = events.next().await.expect("a first event");
    assert_eq!(first.name, "status");
    assert_eq!(first.data["task_id"], task.as_str());
    let mut output = String::new();
    let mut statuses = vec![first.data["status"].as_str().unwrap_or_default().to_owned()];
    loop {
        let event = events.next().await.expect("events until the result");
        match event.name.as_str() {
            "status" => statuses.push(event.data["status"].as_str().unwrap_or_default().to_owned()),
            "output" => {
                assert_eq!(event.data["stream"], "stdout");
                output.push_str(string_field(&event.data, "text"));
                if output == "first\n" {
                    // Seen while the agent sleeps before its second line.
                    let now =
                        expect_json(app.task_status(&token, &task).await, StatusCode::OK).await;
                    assert_eq!(now["status"], "running", "{now}");
                }
            }
            "result" => {
                assert_eq!(event.data["status"], "succeeded");
                assert_eq!(event.data["stdout"], "first\nsecond\n");
                break;
            }
            other => panic!("unexpected event {other}: {:?}", event.data),
        }
    }
    assert_eq!(output, "first\nsecond\n");
    assert!(statuses.contains(&"running".to_owned()), "{statuses:?}");
    assert!(
        events.next().await.is_none(),
        "the stream ends after the result"
    );

    // A finished task's stream is its status and its result.
    let mut again = EventReader::new(app.events(&token, &task).await);
    let status = again.next().await.expect("the status");
    assert_eq!(
        (status.name.as_str(), &status.data["status"]),
        ("status", &json!("succeeded"))
    );
    let result = again.next().await.expect("the result");
    assert_eq!(result.name, "result");
    assert!(again.next().await.is_none());
    app.shutdown().await;
}

#[tokio::test]
async fn a_queued_task_of_an_agent_deactivated_meanwhile_ends_failed_saying_so() {
    let app = spawn_app_with(|config| {
        config.worker.concurrency = 1;
    })
    .await;
    let (_, token) = app.register_user().await;
    let spin = app.upload_wat(&token, SPIN).await;
    let blocker = submit(&app, &token, &spin, 60_000).await;
    poll_until(&app, &token, &blocker, status_is("running")).await;
    let echo = app.upload_echo(&token).await;
    let waiting = submit(&app, &token, &echo, 10_000).await;

    let patched = app
        .patch_agent(&token, &echo, &json!({"status": "inactive"}))
        .await;
    expect_json(patched, StatusCode::OK).await;
    expect_json(app.cancel(&token, &blocker).await, StatusCode::OK).await;

    let finished = app.wait_for_task(&token, &waiting).await;
    assert_eq!(finished["status"], "failed", "{finished}");
    let result = expect_json(app.task_result(&token, &waiting).await, StatusCode::OK).await;
    assert!(
        string_field(&result, "error").contains("deactivated"),
        "{result}"
    );
    app.shutdown().await;
}
