//! The distributed mode as separate processes on loopback — 1 gateway, 1 results service,
//! 2 workers — against real PostgreSQL, RabbitMQ and S3 (moto, started by
//! `scripts/services.sh`). Each test gets its own database, queue names and bucket.
//!
//! Without the servers these tests skip with a loud message; under CI (`CI` set) they fail.

mod collector;
mod harness;
mod lifecycle;
mod reviews;
mod shutdown;
mod telemetry;
mod webhooks;

use std::time::Duration;

use harness::Cluster;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_api_works_across_separate_processes() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let token = cluster.register("ada").await;

    // The gateway seeded the example agents through S3 and PostgreSQL.
    let found = cluster.get("/agents/search?q=json", None).await;
    assert_eq!(found.0, 200, "{}", found.1);
    let agent_id = found.1["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|agent| agent["name"] == "json-format")
        .expect("json-format is seeded")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let agent = cluster.get(&format!("/agents/{agent_id}"), None).await;
    assert!(
        agent.1["binary_url"].as_str().unwrap().starts_with("s3://"),
        "{}",
        agent.1
    );

    // A synchronous run goes gateway → RabbitMQ → worker → RabbitMQ → results → gRPC wait.
    let executed = cluster
        .post(
            "/tasks/execute",
            &token,
            json!({"agent_id": agent_id, "input": "{\"a\":1}"}),
        )
        .await;
    assert_eq!(executed.0, 200, "{}", executed.1);
    assert_eq!(executed.1["status"], "succeeded");
    assert_eq!(executed.1["stdout"], "{\n  \"a\": 1\n}\n");

    // An upload of our own goes to S3 and runs on a worker that never saw it.
    let echo = bazaar_example_agents::by_name("echo").unwrap().wasm;
    let uploaded = cluster.upload(&token, "my-echo", echo).await;
    assert_eq!(uploaded.0, 201, "{}", uploaded.1);
    let my_agent = uploaded.1["id"].as_str().unwrap().to_owned();

    // Asynchronous tasks, polled to completion.
    let mut task_ids = Vec::new();
    for index in 0..20 {
        let queued = cluster
            .post(
                "/tasks",
                &token,
                json!({"agent_id": my_agent, "input": format!("message {index}")}),
            )
            .await;
        assert_eq!(queued.0, 202, "{}", queued.1);
        task_ids.push(queued.1["task_id"].as_str().unwrap().to_owned());
    }
    for (index, task_id) in task_ids.iter().enumerate() {
        let result = cluster
            .wait_for_result(&token, task_id, Duration::from_secs(30))
            .await;
        assert_eq!(result["stdout"], format!("message {index}"));
    }
    let listed = cluster
        .get(
            &format!("/tasks/results?agent_id={my_agent}&limit=100"),
            Some(&token),
        )
        .await;
    assert_eq!(listed.1["total"], 20, "{}", listed.1);
    let stats = cluster
        .get(&format!("/agents/{my_agent}/stats"), None)
        .await;
    assert_eq!(stats.1["tasks_completed"], 20, "{}", stats.1);
    assert_eq!(stats.1["succeeded"], 20);

    // Another user sees none of it.
    let eve = cluster.register("eve").await;
    let foreign = cluster
        .get(&format!("/tasks/{}/results", task_ids[0]), Some(&eve))
        .await;
    assert_eq!(foreign.0, 404);

    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_whose_worker_is_killed_is_redelivered_and_yields_one_result() {
    let Some(mut cluster) = Cluster::start(1).await else {
        return;
    };
    let token = cluster.register("ada").await;
    let agent_id = cluster.upload_slow_agent(&token).await;

    let queued = cluster
        .post(
            "/tasks",
            &token,
            json!({"agent_id": agent_id, "input": "", "timeout_ms": 60000}),
        )
        .await;
    assert_eq!(queued.0, 202, "{}", queued.1);
    let task_id = queued.1["task_id"].as_str().unwrap().to_owned();

    // The only worker takes the task; a second one starts; the first dies mid-run.
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.start_worker().await;
    let before_kill = cluster
        .get(&format!("/tasks/{task_id}"), Some(&token))
        .await;
    assert_eq!(
        before_kill.1["status"], "running",
        "the first worker must still be running it: {}",
        before_kill.1
    );
    assert_eq!(before_kill.1["attempts"], 1, "{}", before_kill.1);
    cluster.kill_worker(0);
    let killed_at = std::time::Instant::now();

    let result = cluster
        .wait_for_result(&token, &task_id, Duration::from_secs(60))
        .await;
    assert_eq!(result["status"], "succeeded", "{result}");
    assert_eq!(result["stdout"], "done");
    // The run started over on the second worker: a whole run's time passed after the kill.
    assert!(
        killed_at.elapsed() >= Duration::from_secs(5),
        "the result came {:?} after the kill: the killed worker must not have finished it",
        killed_at.elapsed()
    );

    // Exactly one result, counted once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let listed = cluster
        .get(&format!("/tasks/results?agent_id={agent_id}"), Some(&token))
        .await;
    assert_eq!(listed.1["total"], 1, "{}", listed.1);
    let stats = cluster
        .get(&format!("/agents/{agent_id}/stats"), None)
        .await;
    assert_eq!(stats.1["tasks_completed"], 1, "{}", stats.1);
    // The task shows it took a second attempt.
    let finished = cluster
        .get(&format!("/tasks/{task_id}"), Some(&token))
        .await;
    assert_eq!(finished.1["status"], "succeeded", "{}", finished.1);
    assert_eq!(finished.1["attempts"], 2, "{}", finished.1);

    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_request_learns_of_a_result_stored_by_another_results_replica() {
    let Some(mut cluster) = Cluster::start(1).await else {
        return;
    };
    // Both replicas consume the results queue (RabbitMQ hands deliveries round-robin); the
    // gateway waits on the first only. A result the second stores reaches the first through
    // PostgreSQL's notifications, or the request would wait out its whole timeout.
    cluster.start_results_replica().await;
    let token = cluster.register("ada").await;
    let echo = bazaar_example_agents::by_name("echo").unwrap().wasm;
    let uploaded = cluster.upload(&token, "replicated-echo", echo).await;
    assert_eq!(uploaded.0, 201, "{}", uploaded.1);
    let agent_id = uploaded.1["id"].as_str().unwrap().to_owned();

    let started = std::time::Instant::now();
    for index in 0..16 {
        let executed = cluster
            .post(
                "/tasks/execute",
                &token,
                json!({"agent_id": agent_id, "input": format!("run {index}"), "timeout_ms": 2000}),
            )
            .await;
        assert_eq!(executed.0, 200, "run {index}: {}", executed.1);
        assert_eq!(executed.1["stdout"], format!("run {index}"));
    }
    // Sixteen trivial runs; a missed wake-up alone would cost 30 s (the wait's grace).
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synchronous_run_still_going_when_the_preferred_wait_ends_is_accepted() {
    let Some(cluster) = Cluster::start(1).await else {
        return;
    };
    let token = cluster.register("ada").await;
    let agent_id = cluster.upload_slow_agent(&token).await;

    let started = std::time::Instant::now();
    let accepted = cluster
        .post_with_headers(
            "/tasks/execute",
            &token,
            json!({"agent_id": agent_id, "input": "", "timeout_ms": 60000}),
            &[("prefer", "wait=1")],
        )
        .await;

    assert_eq!(accepted.0, 202, "{}", accepted.1);
    assert_eq!(accepted.1["status"], "running", "{}", accepted.1);
    assert!(started.elapsed() >= Duration::from_secs(1));
    let task_id = accepted.1["task_id"].as_str().unwrap().to_owned();
    let result = cluster
        .wait_for_result(&token, &task_id, Duration::from_secs(60))
        .await;
    assert_eq!(result["status"], "succeeded", "{result}");

    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_retried_with_its_idempotency_key_runs_once() {
    let Some(cluster) = Cluster::start(1).await else {
        return;
    };
    let token = cluster.register("ada").await;
    let agent_id = cluster.example_agent("echo").await;
    let body = json!({"agent_id": agent_id, "input": "once"});
    let key = [("idempotency-key", "cluster-retry")];

    let first = cluster
        .post_with_headers("/tasks", &token, body.clone(), &key)
        .await;
    let retry = cluster
        .post_with_headers("/tasks", &token, body.clone(), &key)
        .await;
    let different = cluster
        .post_with_headers(
            "/tasks",
            &token,
            json!({"agent_id": agent_id, "input": "twice"}),
            &key,
        )
        .await;

    assert_eq!(first.0, 202, "{}", first.1);
    assert_eq!(retry.0, 202, "{}", retry.1);
    assert_eq!(retry.1["task_id"], first.1["task_id"]);
    assert_eq!(different.0, 422, "{}", different.1);
    let task_id = first.1["task_id"].as_str().unwrap();
    let result = cluster
        .wait_for_result(&token, task_id, Duration::from_secs(60))
        .await;
    assert_eq!(result["stdout"], "once");
    let listed = cluster
        .get(&format!("/tasks/results?agent_id={agent_id}"), Some(&token))
        .await;
    assert_eq!(listed.1["total"], 1, "{}", listed.1);

    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_output_crosses_every_process_byte_for_byte() {
    let Some(cluster) = Cluster::start(1).await else {
        return;
    };
    let token = cluster.register("ada").await;
    let agent_id = cluster.example_agent("echo").await;
    // The start of a gzip stream, base64: bytes that are not UTF-8.
    let encoded = "H4sIAP/+AIBB";

    let result = cluster
        .post(
            "/tasks/execute",
            &token,
            json!({"agent_id": agent_id, "input_base64": encoded}),
        )
        .await;

    assert_eq!(result.0, 200, "{}", result.1);
    assert_eq!(result.1["stdout"], serde_json::Value::Null, "{}", result.1);
    assert_eq!(result.1["stdout_base64"], encoded);

    cluster.stop().await;
}
