//! A tiny OpenTelemetry collector for tests: an OTLP/HTTP receiver (`POST /v1/traces`,
//! protobuf) on a loopback port that keeps every span it is sent.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;

/// One span as received.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// The `service.name` of the process that sent it.
    pub service: String,
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    pub attributes: HashMap<String, String>,
}

type Spans = Arc<Mutex<Vec<ReceivedSpan>>>;

pub struct Collector {
    address: SocketAddr,
    spans: Spans,
}

impl Collector {
    pub async fn start() -> Collector {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let spans = Spans::default();
        let router = axum::Router::new()
            .route("/v1/traces", post(receive))
            .with_state(spans.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Collector { address, spans }
    }

    /// For `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The spans of trace `trace_id` once `complete` says they are all there; panics after
    /// `timeout`, showing what arrived.
    pub async fn wait_for_trace(
        &self,
        trace_id: &str,
        complete: impl Fn(&[ReceivedSpan]) -> bool,
        timeout: Duration,
    ) -> Vec<ReceivedSpan> {
        let deadline = Instant::now() + timeout;
        loop {
            let spans: Vec<ReceivedSpan> = self
                .spans
                .lock()
                .unwrap()
                .iter()
                .filter(|span| span.trace_id == trace_id)
                .cloned()
                .collect();
            if complete(&spans) {
                return spans;
            }
            if Instant::now() >= deadline {
                panic!(
                    "trace {trace_id} is incomplete after {timeout:?}:\n{}",
                    render_tree(&spans)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn receive(State(spans): State<Spans>, body: Bytes) -> impl IntoResponse {
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP trace export");
    let mut received = spans.lock().unwrap();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .map(|resource| attributes(&resource.attributes))
            .and_then(|attributes| attributes.get("service.name").cloned())
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                received.push(ReceivedSpan {
                    service: service.clone(),
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    attributes: attributes(&span.attributes),
                });
            }
        }
    }
    (
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
}

fn attributes(key_values: &[KeyValue]) -> HashMap<String, String> {
    key_values
        .iter()
        .map(|key_value| {
            let value = match key_value.value.as_ref() {
                Some(AnyValue { value: Some(value) }) => match value {
                    any_value::Value::StringValue(text) => text.clone(),
                    any_value::Value::IntValue(number) => number.to_string(),
                    any_value::Value::BoolValue(flag) => flag.to_string(),
                    any_value::Value::DoubleValue(number) => number.to_string(),
                    other => format!("{other:?}"),
                },
                _ => String::new(),
            };
            (key_value.key.clone(), value)
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

/// The spans as an indented tree: name, service, span id and parent.
pub fn render_tree(spans: &[ReceivedSpan]) -> String {
    let mut text = String::new();
    let ids: Vec<&str> = spans.iter().map(|span| span.span_id.as_str()).collect();
    let roots = spans
        .iter()
        .filter(|span| !ids.contains(&span.parent_span_id.as_str()));
    for root in roots {
        render(spans, root, 0, &mut text);
    }
    text
}

fn render(spans: &[ReceivedSpan], span: &ReceivedSpan, depth: usize, text: &mut String) {
    let parent = if span.parent_span_id.is_empty() {
        "none".to_owned()
    } else {
        span.parent_span_id.clone()
    };
    let _ = writeln!(
        text,
        "{:indent$}{} [{}] span {} parent {}",
        "",
        span.name,
        span.service,
        span.span_id,
        parent,
        indent = depth * 2
    );
    for child in spans
        .iter()
        .filter(|child| child.parent_span_id == span.span_id)
    {
        render(spans, child, depth + 1, text);
    }
}
