//! The results client contract: what the gateway may rely on, whichever client it holds.
//! Each case is an `async fn(Client)`, written against the `ResultsClient` trait only and
//! run against every client by `results_client_contract!` in `main.rs`.

pub mod failures;
pub mod listing;
pub mod reading;
pub mod statistics;
pub mod waiting;
