//! A task's lifecycle across processes: its output streamed from the worker through the
//! broker to the gateway while it runs, and a cancellation reaching the worker that runs it.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use bazaar_test_support::guests::TWO_LINES;

use crate::harness::{Cluster, slow_agent};

async fn submit(cluster: &Cluster, token: &str, agent_id: &str) -> String {
    let queued = cluster
        .post(
            "/tasks",
            token,
            json!({"agent_id": agent_id, "input": "", "timeout_ms": 60000}),
        )
        .await;
    assert_eq!(queued.0, 202, "{}", queued.1);
    queued.1["task_id"].as_str().unwrap().to_owned()
}

async fn until_running(cluster: &Cluster, token: &str, task_id: &str) -> Value {
    let started = Instant::now();
    loop {
        let (_, task) = cluster.get(&format!("/tasks/{task_id}"), Some(token)).await;
        if task["status"] == "running" {
            return task;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{task}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_streams_live_from_the_worker_and_a_cancellation_stops_the_run_there() {
    let Some(cluster) = Cluster::start(1).await else {
        return;
    };
    let token = cluster.register("ada").await;
    let two_lines = wat::parse_str(TWO_LINES).expect("valid WAT");
    let uploaded = cluster.upload(&token, "two-lines", &two_lines).await;
    assert_eq!(uploaded.0, 201, "{}", uploaded.1);
    let agent_id = uploaded.1["id"].as_str().unwrap().to_owned();

    // The event stream shows the first line while the agent sleeps, then the result.
    let task_id = submit(&cluster, &token, &agent_id).await;
    let mut events = reqwest::Client::new()
        .get(format!("{}/tasks/{task_id}/events", cluster.api_url()))
        .bearer_auth(&token)
        .send()
        .await
        .expect("the stream opens");
    assert_eq!(events.status(), 200);
    let mut text = String::new();
    let mut first_seen_while_running = false;
    while !text.contains("event: result") {
        let chunk = tokio::time::timeout(Duration::from_secs(30), events.chunk())
            .await
            .expect("the stream moves")
            .expect("the stream does not fail")
            .expect("the stream goes on until the result");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
        if !first_seen_while_running && text.contains(r#""text":"first\n""#) {
            let (_, task) = cluster
                .get(&format!("/tasks/{task_id}"), Some(&token))
                .await;
            assert_eq!(task["status"], "running", "{task}");
            first_seen_while_running = true;
        }
    }
    assert!(first_seen_while_running, "{text}");
    assert!(text.contains(r#""text":"second\n""#), "{text}");
    assert!(
        tokio::time::timeout(Duration::from_secs(10), events.chunk())
            .await
            .expect("the stream ends")
            .expect("the stream ends cleanly")
            .is_none(),
        "nothing after the result"
    );

    // A cancellation reaches the worker that runs the task.
    let slow = wat::parse_str(slow_agent()).expect("valid WAT");
    let uploaded = cluster.upload(&token, "slow", &slow).await;
    let slow_id = uploaded.1["id"].as_str().unwrap().to_owned();
    let task_id = submit(&cluster, &token, &slow_id).await;
    until_running(&cluster, &token, &task_id).await;
    let asked = Instant::now();
    let (status, canceled) = cluster
        .post(&format!("/tasks/{task_id}/cancel"), &token, json!({}))
        .await;
    assert_eq!(status, 200, "{canceled}");
    assert_eq!(canceled["status"], "canceled", "{canceled}");
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    let result = cluster
        .wait_for_result(&token, &task_id, Duration::from_secs(10))
        .await;
    assert_eq!(result["status"], "canceled", "{result}");

    // The worker serves the next task.
    let next = submit(&cluster, &token, &agent_id).await;
    let result = cluster
        .wait_for_result(&token, &next, Duration::from_secs(30))
        .await;
    assert_eq!(result["status"], "succeeded", "{result}");
    assert_eq!(result["stdout"], "first\nsecond\n");
    cluster.stop().await;
}
