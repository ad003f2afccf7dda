//! Webhooks in distributed mode: the results service's transaction queues the message (a
//! trigger in PostgreSQL), and a webhooks service of its own (`--target webhooks`) sends it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderMap;
use serde_json::json;

use crate::harness::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhooks_service_of_its_own_delivers_a_signed_message() {
    let Some(mut cluster) = Cluster::start_with(
        1,
        &[
            ("BAZAAR_WEBHOOKS__ALLOWED_TARGETS", "[\"127.0.0.1\"]"),
            ("BAZAAR_WEBHOOKS__POLL_INTERVAL_MS", "50"),
        ],
    )
    .await
    else {
        return;
    };
    cluster.start_webhooks().await;
    let received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let router = {
        let received = received.clone();
        axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let received = received.clone();
                async move {
                    received.lock().unwrap().push((headers, body));
                    "ok"
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let token = cluster.register("ada").await;
    let agent_id = cluster.example_agent("echo").await;

    let queued = cluster
        .post(
            "/tasks",
            &token,
            json!({"agent_id": agent_id, "input": "across processes",
                   "webhook": {"url": url, "events": ["completed"]}}),
        )
        .await;
    assert_eq!(queued.0, 202, "{}", queued.1);
    let task_id = queued.1["task_id"].as_str().unwrap().to_owned();

    let deadline = Instant::now() + Duration::from_secs(60);
    let (headers, body) = loop {
        if let Some(message) = received.lock().unwrap().first().cloned() {
            break message;
        }
        assert!(Instant::now() < deadline, "no webhook message within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (status, secret) = cluster.get("/me/webhook-secret", Some(&token)).await;
    assert_eq!(status, 200, "{secret}");
    standardwebhooks::Webhook::new(secret["secret"].as_str().unwrap())
        .unwrap()
        .verify(&body, &headers)
        .expect("the reference library verifies the message");
    let message: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(message["type"], "task.completed");
    assert_eq!(message["data"]["task_id"], task_id.as_str());
    assert_eq!(message["data"]["stdout"], "across processes");

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, log) = cluster
            .get(
                &format!("/tasks/{task_id}/webhook-deliveries"),
                Some(&token),
            )
            .await;
        assert_eq!(status, 200, "{log}");
        if log["deliveries"][0]["status"] == "delivered" {
            assert_eq!(
                log["deliveries"][0]["attempts"][0]["status_code"], 200,
                "{log}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never logged as delivered: {log}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.stop().await;
}
