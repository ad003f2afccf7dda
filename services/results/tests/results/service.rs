//! The results service itself, on each real store: it stores what the workers publish in
//! batches, each result once however often it is delivered, wakes whoever waits, survives a
//! store that fails for a while, and drains its queue on shutdown. Each test is an
//! `async fn(TestStore)`, run on every store by `results_service_tests!` in `main.rs`.

pub mod batching;
pub mod canceling;
pub mod given_up;
pub mod idempotency;
pub mod recovery;
pub mod shutdown;
pub mod waking;
