//! Messages to publish, and patient ways to wait for deliveries.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bazaar_domain::{
    AgentId, ResultMessage, ResultStatus, Sha256, TaskId, TaskMessage, TaskResult, TaskStarted,
    UserId,
};
use bazaar_queue::{Consumer, Delivery};
use bazaar_telemetry::TraceContext;
use chrono::{DateTime, Utc};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Instrument;
use tracing::instrument::WithSubscriber;
use tracing_subscriber::layer::SubscriberExt;

/// How long a delivery may take to arrive: long enough for a broker on a busy two-core
/// machine; a working queue answers in milliseconds.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// How long nothing must arrive for a test to conclude that nothing will. A queue that
/// wrongly delivers again does so at once, well within it.
pub const QUIET: Duration = Duration::from_millis(500);

/// A task whose input holds bytes that no text encoding would survive.
pub fn task() -> TaskMessage {
    TaskMessage {
        task_id: TaskId::generate(),
        agent_id: AgentId::generate(),
        owner: UserId::generate(),
        binary_hash: Sha256::digest(b"wasm"),
        input: Arc::from(&b"some input \x00\xff"[..]),
        timeout_ms: 2500,
    }
}

/// A result with every field away from its default, and a time with microseconds.
pub fn result() -> ResultMessage {
    ResultMessage::Finished(TaskResult {
        task_id: TaskId::generate(),
        agent_id: AgentId::generate(),
        owner: UserId::generate(),
        status: ResultStatus::TimedOut,
        exit_code: -1,
        stdout: b"partial output".to_vec(),
        stderr: b"\xff\x00".to_vec(),
        stdout_truncated: true,
        stderr_truncated: false,
        duration_ms: 5001,
        error: Some("timed out after 5000 ms".to_owned()),
        created_at: DateTime::<Utc>::from_timestamp_micros(1_790_000_000_123_456).unwrap(),
    })
}

/// A worker's announcement of a start, on the same queue as results.
pub fn started() -> ResultMessage {
    ResultMessage::Started(TaskStarted {
        task_id: TaskId::generate(),
        agent_id: AgentId::generate(),
        owner: UserId::generate(),
        attempt: 2,
        started_at: DateTime::<Utc>::from_timestamp_micros(1_790_000_000_654_321).unwrap(),
    })
}

/// The next delivery, failing the test if none arrives in time or the consumer ends.
pub async fn next<T>(consumer: &mut Box<dyn Consumer<T>>) -> Delivery<T> {
    tokio::time::timeout(PATIENCE, consumer.next())
        .await
        .expect("no delivery in time")
        .expect("the consumer ended")
}

/// Nothing is delivered within a short while.
pub async fn assert_quiet<T>(consumer: &mut Box<dyn Consumer<T>>) {
    let delivery = tokio::time::timeout(QUIET, consumer.next()).await;
    assert!(
        delivery.is_err(),
        "expected no delivery, got {:?}",
        delivery.ok().flatten()
    );
}

/// Runs `publishing` inside a span that OpenTelemetry traces, as the gateway and the worker
/// publish with traces exported; returns its output and the trace context the span has, which
/// the message should carry.
pub async fn in_a_traced_span<F: Future>(publishing: F) -> (F::Output, TraceContext) {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let provider = SdkTracerProvider::builder().build();
    let traced = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("queue-contract")));
    let dispatch = tracing::Dispatch::new(traced);
    let span = tracing::dispatcher::with_default(&dispatch, || tracing::info_span!("publish"));
    let context = TraceContext::of(&span);
    assert!(
        context
            .fields()
            .any(|(name, value)| name == "traceparent" && !value.is_empty()),
        "the publishing span should have a trace context: {context:?}"
    );
    let output = publishing.instrument(span).with_subscriber(dispatch).await;
    (output, context)
}
