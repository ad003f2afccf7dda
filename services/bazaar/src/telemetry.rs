//! Telemetry, set up once per process: logs (text or JSON) and, when a collector is
//! configured, traces exported over OTLP/HTTP.
//!
//! Exporting is off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, and `OTEL_SDK_DISABLED=true` turns it off
//! again. Spans leave through a batch processor on a thread of its own, so a slow or missing
//! collector never delays a request: past its queue (`OTEL_BSP_MAX_QUEUE_SIZE`) spans are
//! dropped. The standard `OTEL_*` variables tune the rest (`OTEL_SERVICE_NAME`, by default
//! `bazaar-<target>`; `OTEL_BSP_SCHEDULE_DELAY`; `OTEL_TRACES_SAMPLER`; headers, timeout).
//! The W3C trace context propagator is installed only along with the exporter, so without a
//! collector nothing is injected into messages.

use std::time::Duration;

use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogConfig, LogFormat, Target};

/// How long shutting down waits for the last spans to reach the collector.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Added to a log filter that does not name the target: wasmtime-wasi opens an INFO span
/// for every WASI call a guest makes (millions for a guest polling the clock), which would
/// cost every run and flood the traces. Naming `wasmtime_wasi` in the filter brings them
/// back.
const GUEST_CALL_SPANS_OFF: (&str, &str) = ("wasmtime_wasi", "wasmtime_wasi=warn");

/// The telemetry of a running process; [`Telemetry::shutdown`] flushes it.
#[derive(Debug)]
pub struct Telemetry {
    tracer_provider: Option<SdkTracerProvider>,
}

/// Installs the global `tracing` subscriber: `log.filter` (or `RUST_LOG`) and `log.format`
/// for the log lines, plus the OpenTelemetry layer when traces are exported. Span fields
/// (`task_id`, `agent_id`, …) appear on every log line inside the span, in both formats.
pub fn init(log: &LogConfig, target: Target) -> anyhow::Result<Telemetry> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(filter) => log_filter(&filter),
        Err(_) => log_filter(&log.filter),
    }?;
    let tracer_provider = if exporting_configured() {
        Some(tracer_provider(target)?)
    } else {
        None
    };

    let mut layers = Vec::new();
    layers.push(match log.format {
        LogFormat::Json => tracing_subscriber::fmt::layer().json().boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer().boxed(),
    });
    if let Some(provider) = &tracer_provider {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let tracer = provider.tracer("bazaar");
        layers.push(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_tracked_inactivity(false)
                .boxed(),
        );
    }
    tracing_subscriber::registry()
        .with(filter)
        .with(layers)
        .try_init()
        .context("failed to install the tracing subscriber")?;
    Ok(Telemetry { tracer_provider })
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn exports_traces(&self) -> bool {
        self.tracer_provider.is_some()
    }

    /// Exports the spans still buffered (waiting at most a few seconds for the collector)
    /// and stops the exporter.
    pub async fn shutdown(self) {
        let Some(provider) = self.tracer_provider else {
            return;
        };
        // The flush blocks on the exporter's thread.
        let flushed =
            tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(FLUSH_TIMEOUT))
                .await;
        match flushed {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "failed to flush the last spans"),
            Err(error) => tracing::warn!(%error, "failed to flush the last spans"),
        }
    }
}

fn log_filter(directives: &str) -> anyhow::Result<EnvFilter> {
    let filter = EnvFilter::try_new(directives).context("invalid log filter")?;
    let (target, quiet) = GUEST_CALL_SPANS_OFF;
    if directives.contains(target) {
        return Ok(filter);
    }
    Ok(filter.add_directive(quiet.parse().context("invalid built-in log directive")?))
}

fn exporting_configured() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|value| !value.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED")
        .is_ok_and(|value| value.trim().eq_ignore_ascii_case("true"));
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

fn tracer_provider(target: Target) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .build()
        .context("failed to set up the OTLP span exporter")?;
    let service_name = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| format!("bazaar-{target}"));
    let resource = Resource::builder()
        .with_service_name(service_name)
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spans_of_guest_calls_are_off_unless_the_filter_names_them() {
        let filter = log_filter("info").unwrap().to_string();
        assert!(filter.contains("wasmtime_wasi=warn"), "{filter}");
        let filter = log_filter("info,wasmtime_wasi=info").unwrap().to_string();
        assert!(!filter.contains("wasmtime_wasi=warn"), "{filter}");
        assert!(log_filter("bazaar=loudest").is_err());
    }
}
