//! Bazaar's wire types, generated from `proto/`: the queue's task and result messages and the
//! results service's gRPC contract. One schema describes every boundary between services.
//!
//! The conversions to and from the domain types live here too, so that every service parses
//! what arrives over the wire the same way: a message that does not parse is rejected, never
//! half-used.

mod convert;

pub use convert::{WireError, from_micros, to_micros};

/// Version 1 of the schema (`package bazaar.v1`).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("bazaar.v1");
}
