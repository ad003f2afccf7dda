//! Telemetry that the services share: trace context propagation and the metrics.
//!
//! The services only speak the OpenTelemetry *API* and `tracing`: they create spans, carry
//! a span's context across a process boundary ([`TraceContext`] over AMQP headers, gRPC
//! metadata and the in-process queue; [`set_parent_from_headers`] for incoming HTTP) and
//! count things in [`metrics`]. Whether spans are exported, and where to, is decided once by
//! the `bazaar` binary, which installs the OpenTelemetry SDK and the W3C trace context
//! propagator. Without them propagation does nothing and costs next to nothing, so tests and
//! embedded mode pay for none of it.
//!
//! [`Readiness`] is the one readiness check of every process: the list of dependencies its
//! services need, served as `/readyz` by the gateway or the operations endpoint.

#![warn(missing_docs)]

mod health;
pub mod metrics;
mod propagation;

pub use health::{ProbeFuture, Readiness};
pub use propagation::{TraceContext, set_parent_from_headers};
