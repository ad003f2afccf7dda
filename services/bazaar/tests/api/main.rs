//! Black-box tests of Bazaar's public HTTP API: each test starts the real thing in embedded
//! mode on port 0 with a fresh data directory and talks to it over HTTP only.

mod helpers;

mod agents;
mod auth;
mod docs;
mod examples;
mod idempotency;
mod lifecycle;
mod listing;
mod retention;
mod reviews;
mod sandbox_via_api;
mod stats;
mod tasks;
mod webhooks;
