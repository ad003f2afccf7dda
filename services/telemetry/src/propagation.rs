//! Carrying a span's context to another process, so that one task makes one trace.
//!
//! The format is W3C Trace Context (`traceparent`, `tracestate`), through whatever text map
//! propagator the binary installed globally; with none installed (the default), injecting
//! yields an empty context and extracting changes nothing.

use opentelemetry::global;
use opentelemetry::propagation::{Extractor, Injector};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The fields of a W3C trace context, the only ones a [`TraceContext`] keeps.
const FIELDS: [&str; 2] = ["traceparent", "tracestate"];

/// A span's context as text fields, to travel with a message (AMQP headers, gRPC metadata,
/// the in-process queue's envelope). Empty when traces are not exported, which allocates
/// nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceContext {
    fields: Vec<(String, String)>,
}

impl TraceContext {
    /// The context of the current span: what a message published now should carry.
    pub fn current() -> Self {
        Self::of(&Span::current())
    }

    /// The context of `span`.
    pub fn of(span: &Span) -> Self {
        let context = span.context();
        let mut carrier = TraceContext::default();
        global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&context, &mut carrier)
        });
        carrier
    }

    /// A context received as text fields (message headers, say); fields that are not part of
    /// a trace context are left out.
    pub fn from_fields<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        TraceContext {
            fields: fields
                .into_iter()
                .filter(|(name, _)| FIELDS.contains(name))
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
        }
    }

    /// The fields to send, as name and value.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// True when there is nothing to send, as when traces are off; a receiver then need not
    /// make a span that would never be exported.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Makes `span` a child of the remote span this context names. Must be called before the
    /// span is first entered; does nothing when the context is empty or traces are off.
    pub fn set_parent_of(&self, span: &Span) {
        if self.fields.is_empty() {
            return;
        }
        let parent = global::get_text_map_propagator(|propagator| propagator.extract(self));
        // Fails only when no OpenTelemetry layer is installed or the span is disabled: then
        // there is nothing to link.
        let _ = span.set_parent(parent);
    }
}

impl Injector for TraceContext {
    fn set(&mut self, key: &str, value: String) {
        self.fields.push((key.to_owned(), value));
    }
}

impl Extractor for TraceContext {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, value)| value.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.fields.iter().map(|(name, _)| name.as_str()).collect()
    }
}

/// Makes `span`, the span of an incoming HTTP request, a child of the caller's span when the
/// request carries a `traceparent` header.
pub fn set_parent_from_headers(span: &Span, headers: &http::HeaderMap) {
    if !headers.contains_key(FIELDS[0]) {
        return;
    }
    let parent =
        global::get_text_map_propagator(|propagator| propagator.extract(&HeaderExtractor(headers)));
    let _ = span.set_parent(parent);
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    fn with_tracing(test: impl FnOnce()) {
        global::set_text_map_propagator(TraceContextPropagator::new());
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, test);
    }

    #[test]
    fn a_context_carried_as_fields_makes_the_receiving_span_a_child() {
        with_tracing(|| {
            let sender = tracing::info_span!("publish");
            let carried = sender.in_scope(TraceContext::current);
            assert!(
                carried.fields().any(|(name, _)| name == "traceparent"),
                "{carried:?}"
            );

            let received = TraceContext::from_fields(carried.fields().chain([("other", "x")]));
            assert_eq!(received, carried, "only trace context fields are kept");
            let receiver = tracing::info_span!("consume");
            received.set_parent_of(&receiver);

            let sender_context = sender.context().span().span_context().clone();
            let receiver_context = receiver.context();
            assert_eq!(
                receiver_context.span().span_context().trace_id(),
                sender_context.trace_id()
            );
        });
    }

    #[test]
    fn an_incoming_traceparent_header_becomes_the_parent() {
        with_tracing(|| {
            let mut headers = http::HeaderMap::new();
            headers.insert(
                "traceparent",
                http::HeaderValue::from_static(
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ),
            );
            let span = tracing::info_span!("http_request");
            set_parent_from_headers(&span, &headers);
            assert_eq!(
                span.context().span().span_context().trace_id().to_string(),
                "4bf92f3577b34da6a3ce929d0e0e4736"
            );
        });
    }

    #[test]
    fn without_a_propagator_nothing_is_carried() {
        let span = tracing::info_span!("publish");
        assert!(span.in_scope(TraceContext::current).is_empty());
    }
}
