//! Helpers for Bazaar's tests and benchmarks, and for nothing else: no service links this
//! crate, only `[dev-dependencies]` do.
//!
//! What the backend contract suites (blobs, database, queue), the results service's tests
//! and the store benchmarks share lives here once: [`contract_tests!`], which expands a suite
//! written against a trait into one test per backend; [`UnreachableServer`], which skips a
//! test loudly when the server its backend needs is missing, and fails it under `CI`;
//! [`with_database`] for database URLs; and, with the `postgres` feature,
//! `throwaway_postgres_database`, a database of its own for one test, dropped after it; with
//! the `rabbitmq` feature, `ThrowawayTopology`, the RabbitMQ queues of one test, deleted
//! after it.
//! What belongs to one backend alone stays in that backend's suite.

#![warn(missing_docs)]

mod contract;
mod database_url;
pub mod guests;
#[cfg(feature = "postgres")]
mod throwaway_database;
#[cfg(feature = "rabbitmq")]
mod throwaway_topology;
mod unreachable;

pub use database_url::with_database;
#[cfg(feature = "postgres")]
pub use throwaway_database::{
    DEFAULT_POSTGRES_URL, ThrowawayDatabase, throwaway_postgres_database,
};
#[cfg(feature = "rabbitmq")]
pub use throwaway_topology::ThrowawayTopology;
pub use unreachable::UnreachableServer;
