//! Telemetry across the processes: one trace per task, and every process's health,
//! readiness and metrics.

use std::time::Duration;

use serde_json::{Value, json};

use crate::collector::{Collector, ReceivedSpan, render_tree};
use crate::harness::Cluster;

/// The one span of `service` called `name`; panics showing the trace otherwise.
fn the_span<'a>(spans: &'a [ReceivedSpan], service: &str, name: &str) -> &'a ReceivedSpan {
    let found: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|span| span.service == service && span.name == name)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one `{name}` span from {service}:\n{}",
        render_tree(spans)
    );
    found[0]
}

fn has_span(spans: &[ReceivedSpan], service: &str, name: &str) -> bool {
    spans
        .iter()
        .any(|span| span.service == service && span.name == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_task_is_one_trace_across_the_gateway_the_worker_and_the_results_service() {
    let collector = Collector::start().await;
    let endpoint = collector.endpoint();
    let Some(cluster) = Cluster::start_with(
        1,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("BAZAAR_LOG__FORMAT", "json"),
            ("BAZAAR_LOG__FILTER", "info,bazaar_worker=debug"),
        ],
    )
    .await
    else {
        return;
    };
    let token = cluster.register("ada").await;
    let agent_id = cluster.example_agent("echo").await;

    // The caller has a trace of its own: the task's spans join it.
    let trace_id = uuid::Uuid::now_v7().simple().to_string();
    let caller_span_id = "00f067aa0ba902b7";
    let traceparent = format!("00-{trace_id}-{caller_span_id}-01");
    let (status, result) = cluster
        .post_with_headers(
            "/tasks/execute",
            &token,
            json!({"agent_id": agent_id, "input": "traced"}),
            &[("traceparent", &traceparent)],
        )
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["stdout"], "traced");
    let task_id = result["task_id"].as_str().unwrap().to_owned();

    let spans = collector
        .wait_for_trace(
            &trace_id,
            |spans| {
                has_span(spans, "bazaar-gateway", "POST /api/v1/tasks/execute")
                    && has_span(spans, "bazaar-worker", "execute_task")
                    && has_span(spans, "bazaar-worker", "publish_result")
                    && has_span(spans, "bazaar-results", "store_result")
                    && has_span(spans, "bazaar-results", "bazaar.v1.Results/WaitForResult")
            },
            Duration::from_secs(30),
        )
        .await;
    println!(
        "The trace {trace_id} of task {task_id}:\n{}",
        render_tree(&spans)
    );

    let request = the_span(&spans, "bazaar-gateway", "POST /api/v1/tasks/execute");
    let publish = the_span(&spans, "bazaar-gateway", "publish_task");
    let wait = the_span(&spans, "bazaar-gateway", "wait_for_result");
    let execute = the_span(&spans, "bazaar-worker", "execute_task");
    let fetch = the_span(&spans, "bazaar-worker", "fetch_binary");
    let compile = the_span(&spans, "bazaar-worker", "compile");
    let run = the_span(&spans, "bazaar-worker", "run_agent");
    let publish_result = the_span(&spans, "bazaar-worker", "publish_result");
    let store = the_span(&spans, "bazaar-results", "store_result");
    let served_wait = the_span(&spans, "bazaar-results", "bazaar.v1.Results/WaitForResult");

    // Gateway: the request continues the caller's span; publishing and waiting are inside it.
    assert_eq!(request.parent_span_id, caller_span_id);
    assert_eq!(request.attributes["http.route"], "/api/v1/tasks/execute");
    assert_eq!(request.attributes["http.response.status_code"], "200");
    assert_eq!(publish.parent_span_id, request.span_id);
    assert_eq!(publish.attributes["task_id"], task_id);
    assert_eq!(wait.parent_span_id, request.span_id);
    // Worker: the task's context came through the AMQP headers.
    assert_eq!(execute.parent_span_id, publish.span_id);
    assert_eq!(execute.attributes["task_id"], task_id);
    assert_eq!(execute.attributes["agent_id"], agent_id);
    for step in [fetch, compile, run, publish_result] {
        assert_eq!(step.parent_span_id, execute.span_id, "{}", step.name);
    }
    // Results: the result's context came through the AMQP headers, the wait's through gRPC
    // metadata.
    assert_eq!(store.parent_span_id, publish_result.span_id);
    assert_eq!(store.attributes["task_id"], task_id);
    assert_eq!(served_wait.parent_span_id, wait.span_id);

    let mut services: Vec<&str> = spans.iter().map(|span| span.service.as_str()).collect();
    services.sort_unstable();
    services.dedup();
    assert_eq!(
        services,
        ["bazaar-gateway", "bazaar-results", "bazaar-worker"]
    );

    // JSON log lines inside a span carry its fields.
    let worker_log = cluster.log_of("worker");
    let task_done = worker_log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["fields"]["message"] == "task done")
        .unwrap_or_else(|| panic!("no `task done` line in the worker's log:\n{worker_log}"));
    assert_eq!(task_done["span"]["name"], "execute_task", "{task_done}");
    assert_eq!(task_done["span"]["task_id"], task_id, "{task_done}");
    assert_eq!(task_done["span"]["agent_id"], agent_id, "{task_done}");

    cluster.stop().await;
}

/// The value of the sample `name` (with its labels, as written) in a metrics page.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_process_serves_health_readiness_and_metrics() {
    let Some(cluster) = Cluster::start(1).await else {
        return;
    };
    let token = cluster.register("ada").await;
    let agent_id = cluster.example_agent("echo").await;
    let (status, result) = cluster
        .post(
            "/tasks/execute",
            &token,
            json!({"agent_id": agent_id, "input": "counted"}),
        )
        .await;
    assert_eq!(status, 200, "{result}");

    for (name, health, readiness) in [
        (
            "worker",
            cluster.worker_ops(0, "/healthz").await,
            cluster.worker_ops(0, "/readyz").await,
        ),
        (
            "results",
            cluster.results_ops("/healthz").await,
            cluster.results_ops("/readyz").await,
        ),
    ] {
        assert_eq!(health.0, 200, "{name}: {}", health.1);
        assert_eq!(readiness.0, 200, "{name}: {}", readiness.1);
        assert!(readiness.1.contains("\"ready\""), "{name}: {}", readiness.1);
    }

    let (status, worker) = cluster.worker_ops(0, "/metrics").await;
    assert_eq!(status, 200);
    println!("worker /metrics:\n{worker}");
    for (name, expected) in [
        ("bazaar_worker_tasks_total{outcome=\"succeeded\"}", 1.0),
        (
            "bazaar_worker_task_duration_seconds_count{outcome=\"succeeded\"}",
            1.0,
        ),
        ("bazaar_worker_tasks_in_flight", 0.0),
        ("bazaar_worker_module_cache_misses_total", 1.0),
        ("bazaar_worker_module_cache_hits_total", 0.0),
        (
            "bazaar_queue_consumed_total{queue=\"tasks\",outcome=\"ok\"}",
            1.0,
        ),
        // The start, then the result.
        (
            "bazaar_queue_published_total{queue=\"results\",outcome=\"ok\"}",
            2.0,
        ),
    ] {
        assert_eq!(sample(&worker, name), Some(expected), "{name} in\n{worker}");
    }
    assert!(
        !worker.contains("bazaar_http_") && !worker.contains("bazaar_results_"),
        "a worker shows only what it runs:\n{worker}"
    );

    let (status, results) = cluster.results_ops("/metrics").await;
    assert_eq!(status, 200);
    for (name, expected) in [
        ("bazaar_results_stored_total", 1.0),
        ("bazaar_results_duplicates_total", 0.0),
        ("bazaar_results_batch_size_count", 1.0),
        // The start, then the result.
        (
            "bazaar_queue_consumed_total{queue=\"results\",outcome=\"ok\"}",
            2.0,
        ),
    ] {
        assert_eq!(
            sample(&results, name),
            Some(expected),
            "{name} in\n{results}"
        );
    }

    let (status, gateway) = cluster.gateway_root("/metrics").await;
    assert_eq!(status, 200);
    for (name, expected) in [
        (
            "bazaar_http_requests_total{method=\"POST\",route=\"/api/v1/tasks/execute\",status=\"200\"}",
            1.0,
        ),
        (
            "bazaar_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/tasks/execute\",status=\"200\"}",
            1.0,
        ),
        (
            "bazaar_queue_published_total{queue=\"tasks\",outcome=\"ok\"}",
            1.0,
        ),
    ] {
        assert_eq!(
            sample(&gateway, name),
            Some(expected),
            "{name} in\n{gateway}"
        );
    }

    cluster.stop().await;
}
