//! Webhooks through the API: a local receiver (an axum server on 127.0.0.1, which the
//! tests' `webhooks.allowed_targets` lets through) gets the messages, and their signatures
//! are checked with the Standard Webhooks reference library, not with Bazaar's own code.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::helpers::{TestApp, assert_error, expect_json, spawn_app_with, string_field};

/// What a receiver does with each request, in order; after the script runs out it answers
/// 200.
#[derive(Clone)]
enum Answer {
    Status(u16),
    /// Never answers.
    Hang,
}

/// A request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the message body is JSON")
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
            .to_str()
            .unwrap()
    }
}

struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<Notify>,
}

impl Receiver {
    /// A receiver on 127.0.0.1 that answers as `script` says.
    async fn start(script: Vec<Answer>) -> Receiver {
        let received = Arc::new(Mutex::new(Vec::<Received>::new()));
        let arrived = Arc::new(Notify::new());
        let script = Arc::new(script);
        let handler = {
            let received = received.clone();
            let arrived = arrived.clone();
            move |headers: HeaderMap, body: Bytes| {
                let received = received.clone();
                let arrived = arrived.clone();
                let script = script.clone();
                async move {
                    let index = {
                        let mut all = received.lock().unwrap();
                        all.push(Received { headers, body });
                        all.len() - 1
                    };
                    arrived.notify_waiters();
                    match script.get(index).cloned().unwrap_or(Answer::Status(200)) {
                        Answer::Status(code) => AxumStatus::from_u16(code).unwrap(),
                        Answer::Hang => {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            AxumStatus::OK
                        }
                    }
                }
            }
        };
        let router = axum::Router::new().route("/hook", axum::routing::post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Receiver {
            url: format!("http://{address}/hook"),
            received,
            arrived,
        }
    }

    /// Waits until `count` requests arrived (failing the test after 20 s); returns them all.
    async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let notified = self.arrived.notified();
            {
                let all = self.received.lock().unwrap();
                if all.len() >= count {
                    return all.clone();
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "fewer than {count} webhook requests within 20 s: {:?}",
                self.received.lock().unwrap()
            );
            let _ = tokio::time::timeout(left.min(Duration::from_millis(200)), notified).await;
        }
    }
}

/// Lets webhooks reach 127.0.0.1, retries quickly and cuts attempts off after a second.
fn local_receivers_allowed(config: &mut bazaar::config::Config) {
    config.webhooks.allowed_targets = vec!["127.0.0.1".parse().unwrap()];
    config.webhooks.first_retry_delay_ms = 200;
    config.webhooks.poll_interval_ms = 50;
    config.webhooks.timeout_ms = 1_000;
}

async fn secret(app: &TestApp, token: &str) -> String {
    let response = app
        .request(Method::GET, "/api/v1/me/webhook-secret")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let body = expect_json(response, StatusCode::OK).await;
    string_field(&body, "secret").to_owned()
}

async fn deliveries(app: &TestApp, token: &str, task_id: &str) -> reqwest::Response {
    app.request(
        Method::GET,
        &format!("/api/v1/tasks/{task_id}/webhook-deliveries"),
    )
    .bearer_auth(token)
    .send()
    .await
    .unwrap()
}

/// Polls the delivery log until `done` holds of it (failing after 20 s).
async fn log_until(
    app: &TestApp,
    token: &str,
    task_id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = expect_json(deliveries(app, token, task_id).await, StatusCode::OK).await;
        if done(&log) {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "the delivery log never got there: {log}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn verify(secret: &str, message: &Received) -> Result<(), String> {
    standardwebhooks::Webhook::new(secret)
        .map_err(|error| format!("{error:?}"))?
        .verify(&message.body, &message.headers)
        .map_err(|error| format!("{error:?}"))
}

async fn submit_with_webhook(
    app: &TestApp,
    token: &str,
    agent_id: &str,
    url: &str,
    events: Value,
) -> String {
    let body = json!({
        "agent_id": agent_id,
        "input": "hello hooks",
        "webhook": {"url": url, "events": events},
    });
    let queued = expect_json(app.submit(token, &body).await, StatusCode::ACCEPTED).await;
    string_field(&queued, "task_id").to_owned()
}

#[tokio::test]
async fn running_and_completed_messages_arrive_signed_as_the_standard_says() {
    let app = spawn_app_with(local_receivers_allowed).await;
    let receiver = Receiver::start(Vec::new()).await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;

    let task_id = submit_with_webhook(
        &app,
        &token,
        &echo,
        &receiver.url,
        json!(["completed", "running"]),
    )
    .await;
    let messages = receiver.wait_for(2).await;
    let secret = secret(&app, &token).await;

    assert!(secret.starts_with("whsec_"), "{secret}");
    let mut types = Vec::new();
    for message in &messages {
        verify(&secret, message)
            .unwrap_or_else(|error| panic!("the reference library refuses {message:?}: {error}"));
        assert!(message.header("webhook-id").starts_with("msg_"));
        assert!(message.header("webhook-signature").starts_with("v1,"));
        let body = message.json();
        assert_eq!(body["data"]["task_id"], task_id.as_str(), "{body}");
        assert_eq!(body["data"]["agent_id"], echo.as_str(), "{body}");
        types.push(string_field(&body, "type").to_owned());
    }
    types.sort();
    assert_eq!(types, ["task.completed", "task.running"]);
    let completed = messages
        .iter()
        .map(Received::json)
        .find(|body| body["type"] == "task.completed")
        .unwrap();
    assert_eq!(completed["data"]["status"], "succeeded");
    assert_eq!(completed["data"]["stdout"], "hello hooks");
    assert_eq!(completed["data"]["exit_code"], 0);
    let running = messages
        .iter()
        .map(Received::json)
        .find(|body| body["type"] == "task.running")
        .unwrap();
    assert_eq!(running["data"]["attempt"], 1);

    // A message signed with another secret does not verify: the check can fail.
    let other = expect_json(
        app.request(Method::POST, "/api/v1/me/webhook-secret/rotate")
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert!(verify(string_field(&other, "secret"), &messages[0]).is_err());

    let log = log_until(&app, &token, &task_id, |log| {
        log["deliveries"].as_array().is_some_and(|all| {
            all.len() == 2 && all.iter().all(|delivery| delivery["status"] == "delivered")
        })
    })
    .await;
    let mut logged_ids: Vec<&str> = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|delivery| {
            assert_eq!(delivery["url"], receiver.url.as_str());
            assert_eq!(delivery["attempts"][0]["status_code"], 200, "{delivery}");
            assert_eq!(delivery["next_attempt_at"], Value::Null);
            delivery["id"].as_str().unwrap()
        })
        .collect();
    let mut sent_ids: Vec<&str> = messages
        .iter()
        .map(|message| message.header("webhook-id"))
        .collect();
    logged_ids.sort_unstable();
    sent_ids.sort_unstable();
    assert_eq!(logged_ids, sent_ids);
    app.shutdown().await;
}

#[tokio::test]
async fn a_receiver_that_fails_is_retried_with_the_same_message_and_the_log_shows_each_attempt() {
    let app = spawn_app_with(local_receivers_allowed).await;
    let receiver = Receiver::start(vec![Answer::Status(500)]).await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;

    let task_id =
        submit_with_webhook(&app, &token, &echo, &receiver.url, json!(["completed"])).await;
    let messages = receiver.wait_for(2).await;

    assert_eq!(
        messages[0].header("webhook-id"),
        messages[1].header("webhook-id")
    );
    assert_eq!(
        messages[0].body, messages[1].body,
        "a retry sends the same body"
    );
    let log = log_until(&app, &token, &task_id, |log| {
        log["deliveries"][0]["status"] == "delivered"
    })
    .await;
    let attempts = log["deliveries"][0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{log}");
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(attempts[0]["status_code"], 500);
    assert!(
        attempts[0]["error"].as_str().unwrap().contains("500"),
        "{log}"
    );
    assert_eq!(attempts[1]["attempt"], 2);
    assert_eq!(attempts[1]["status_code"], 200);
    assert_eq!(attempts[1]["error"], Value::Null);
    let first = chrono::DateTime::parse_from_rfc3339(attempts[0]["at"].as_str().unwrap()).unwrap();
    let second = chrono::DateTime::parse_from_rfc3339(attempts[1]["at"].as_str().unwrap()).unwrap();
    assert!(
        second - first >= chrono::TimeDelta::milliseconds(200),
        "the retry waited out the backoff: {log}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_hanging_receiver_is_cut_off_and_does_not_slow_tasks() {
    let app = spawn_app_with(|config| {
        local_receivers_allowed(config);
        config.webhooks.timeout_ms = 300;
        config.webhooks.max_attempts = 2;
    })
    .await;
    let receiver = Receiver::start(vec![Answer::Hang, Answer::Hang]).await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;

    let started = Instant::now();
    let executed = expect_json(
        app.execute(
            &token,
            &json!({"agent_id": echo, "input": "quick", "webhook": {"url": receiver.url, "events": ["completed"]}}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let task_id = string_field(&executed, "task_id").to_owned();
    // Other tasks run at their usual pace while the receiver hangs.
    receiver.wait_for(1).await;
    let started = Instant::now();
    for _ in 0..5 {
        app.execute_ok(&token, &echo, "meanwhile").await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );

    let log = log_until(&app, &token, &task_id, |log| {
        log["deliveries"][0]["status"] == "failed"
    })
    .await;
    let attempts = log["deliveries"][0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{log}");
    for attempt in attempts {
        assert_eq!(attempt["status_code"], Value::Null, "{log}");
        assert!(
            attempt["error"].as_str().unwrap().contains("300 ms"),
            "{log}"
        );
        let took = attempt["duration_ms"].as_i64().unwrap();
        assert!(
            (250..3_000).contains(&took),
            "cut off after about 300 ms, not {took}: {log}"
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn private_and_malformed_webhook_targets_are_refused_without_the_allow_list() {
    let app = spawn_app_with(|_| {}).await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;

    for (webhook, expected) in [
        (
            json!({"url": "http://127.0.0.1:8080/hook", "events": ["completed"]}),
            "loopback",
        ),
        (
            json!({"url": "http://localhost/hook", "events": ["completed"]}),
            "this machine",
        ),
        (
            json!({"url": "http://169.254.169.254/latest/meta-data", "events": ["completed"]}),
            "link-local",
        ),
        (
            json!({"url": "http://10.0.0.8/hook", "events": ["completed"]}),
            "private",
        ),
        (
            json!({"url": "http://[::1]/hook", "events": ["completed"]}),
            "loopback",
        ),
        (
            json!({"url": "ftp://example.com/hook", "events": ["completed"]}),
            "http or https",
        ),
        (
            json!({"url": "https://example.com/hook", "events": []}),
            "at least one event",
        ),
        (
            json!({"url": "https://example.com/hook", "events": ["completed", "completed"]}),
            "twice",
        ),
        (
            json!({"url": "https://example.com/hook", "events": ["finished"]}),
            "finished",
        ),
    ] {
        let response = app
            .submit(
                &token,
                &json!({"agent_id": echo, "input": "x", "webhook": webhook}),
            )
            .await;
        let message =
            assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable").await;
        assert!(message.starts_with("webhook."), "{webhook}: {message}");
        assert!(message.contains(expected), "{webhook}: {message}");
    }
    let long = format!("https://example.com/{}", "a".repeat(2048));
    let response = app
        .submit(
            &token,
            &json!({"agent_id": echo, "webhook": {"url": long, "events": ["completed"]}}),
        )
        .await;
    let message = assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable").await;
    assert!(message.contains("2048"), "{message}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_rotated_secret_signs_the_messages_that_follow() {
    let app = spawn_app_with(local_receivers_allowed).await;
    let receiver = Receiver::start(Vec::new()).await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;
    let before = secret(&app, &token).await;
    assert_eq!(
        secret(&app, &token).await,
        before,
        "reading the secret does not change it"
    );

    let rotated = expect_json(
        app.request(Method::POST, "/api/v1/me/webhook-secret/rotate")
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let after = string_field(&rotated, "secret").to_owned();
    assert_ne!(after, before);
    assert_eq!(secret(&app, &token).await, after);

    submit_with_webhook(&app, &token, &echo, &receiver.url, json!(["completed"])).await;
    let message = &receiver.wait_for(1).await[0];
    verify(&after, message).unwrap();
    assert!(
        verify(&before, message).is_err(),
        "the old secret no longer verifies"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn only_the_owner_reads_a_tasks_deliveries_and_secret() {
    let app = spawn_app_with(local_receivers_allowed).await;
    let receiver = Receiver::start(Vec::new()).await;
    let (_, ada) = app.register_user().await;
    let (_, eve) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;
    let task_id = submit_with_webhook(&app, &ada, &echo, &receiver.url, json!(["completed"])).await;
    receiver.wait_for(1).await;

    assert_error(
        deliveries(&app, &eve, &task_id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let anonymous = app
        .request(
            Method::GET,
            &format!("/api/v1/tasks/{task_id}/webhook-deliveries"),
        )
        .send()
        .await
        .unwrap();
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let anonymous = app
        .request(Method::GET, "/api/v1/me/webhook-secret")
        .send()
        .await
        .unwrap();
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_ne!(
        secret(&app, &eve).await,
        secret(&app, &ada).await,
        "each user has a secret of their own"
    );
    let own = expect_json(deliveries(&app, &ada, &task_id).await, StatusCode::OK).await;
    assert_eq!(own["task_id"], task_id.as_str());
    app.shutdown().await;
}
