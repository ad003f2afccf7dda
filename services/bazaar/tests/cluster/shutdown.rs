//! Graceful shutdown of separate processes: SIGTERM lets the work in flight finish.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::Cluster;

/// How long a terminated process may take: the slow agent's six seconds, and some.
const EXIT_BOUND: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_run_and_the_request_in_flight_finish_then_exits_cleanly() {
    let Some(mut cluster) = Cluster::start(1).await else {
        return;
    };
    let token = cluster.register("ada").await;
    let agent_id = cluster.upload_slow_agent(&token).await;

    // A synchronous run of six seconds: the request waits in the gateway, the run goes on in
    // the only worker.
    let request = reqwest::Client::new()
        .post(format!("{}/tasks/execute", cluster.api_url()))
        .bearer_auth(&token)
        .json(&json!({"agent_id": agent_id, "input": "", "timeout_ms": 60000}))
        .send();
    let request = tokio::spawn(async move {
        let response = request.await.expect("the request in flight is answered");
        let status = response.status().as_u16();
        (
            status,
            response.json::<Value>().await.unwrap_or(Value::Null),
        )
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, metrics) = cluster.worker_ops(0, "/metrics").await;
        if metrics.contains("\nbazaar_worker_tasks_in_flight 1\n") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the worker never started the run:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let terminated_at = Instant::now();
    cluster.terminate_worker(0);
    cluster.terminate_gateway();

    // Draining: alive, but no longer ready.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, health) = cluster.worker_ops(0, "/healthz").await;
    assert_eq!(status, 200, "{health}");
    let (status, readiness) = cluster.worker_ops(0, "/readyz").await;
    assert_eq!(status, 503, "{readiness}");
    assert!(readiness.contains("shutting down"), "{readiness}");

    // The request in flight gets its result, from the run the worker finished.
    let (status, result) = request.await.unwrap();
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["status"], "succeeded", "{result}");
    assert_eq!(result["stdout"], "done");
    let task_id = result["task_id"].as_str().unwrap().to_owned();

    // Both processes exit by themselves, successfully.
    let worker = cluster.wait_for_worker(0, EXIT_BOUND).await;
    assert!(worker.success(), "the worker exited with {worker}");
    let gateway = cluster.wait_for_gateway(EXIT_BOUND).await;
    assert!(gateway.success(), "the gateway exited with {gateway}");
    println!(
        "worker and gateway exited {:?} after SIGTERM",
        terminated_at.elapsed()
    );

    // One result, counted once: the task was not run again after the worker left.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (results, counted) = cluster.stored_results(&task_id, &agent_id).await;
    assert_eq!((results, counted), (1, 1));

    cluster.stop().await;
}
