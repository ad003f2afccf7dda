//! The gateway's shared state: its configuration and dependencies, built once and cloned
//! into every handler.

use std::sync::Arc;
use std::time::Duration;

use bazaar_blobs::BlobStore;
use bazaar_database::{AccountStore, AgentStore, TaskStore, WebhookStore};
use bazaar_domain::{Agent, AgentId, UserId};
use bazaar_queue::TaskQueue;
use bazaar_results::ResultsClient;
use bazaar_sandbox::Sandbox;
use bazaar_telemetry::Readiness;
use bazaar_webhooks::TargetPolicy;

use crate::cache::TtlCache;
use crate::rate_limit::RateLimiter;

/// How the gateway behaves.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The largest agent upload (multipart body), in bytes.
    pub max_upload_bytes: usize,
    /// The largest task input, in bytes.
    pub max_input_bytes: usize,
    /// A task's timeout when the request names none.
    pub default_timeout: Duration,
    /// The longest timeout a request may ask for.
    pub max_timeout: Duration,
    /// How much longer than its timeout a synchronous run waits for its result, to cover
    /// queueing; past that the client gets 202 with the task and its `Location` to follow.
    pub execute_wait_grace: Duration,
    /// How long a login token stays valid.
    pub token_ttl: Duration,
    /// Tasks a user may submit per second (0 turns the limit off).
    pub tasks_per_second_per_user: f64,
    /// How many tasks a user may submit at once before the rate applies.
    pub task_burst: u32,
    /// How long a token's user and an agent, once read, are trusted without reading them
    /// again; a change made through another gateway replica takes this long to be seen here.
    /// Zero turns the cache off.
    pub lookup_cache_ttl: Duration,
    /// Which webhook targets a task may name beside public addresses (none by default):
    /// the same list the webhooks service enforces when it sends.
    pub webhook_targets: TargetPolicy,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            max_upload_bytes: 16 << 20,
            max_input_bytes: 1 << 20,
            default_timeout: Duration::from_secs(30),
            max_timeout: Duration::from_secs(300),
            execute_wait_grace: Duration::from_secs(30),
            token_ttl: Duration::from_secs(30 * 24 * 3600),
            tasks_per_second_per_user: 0.0,
            task_burst: 100,
            lookup_cache_ttl: Duration::from_secs(2),
            webhook_targets: TargetPolicy::default(),
        }
    }
}

/// Entries each lookup cache holds at most.
const LOOKUP_CACHE_CAPACITY: usize = 10_000;

/// Everything the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

/// The gateway's dependencies, each behind its trait.
pub struct Inner {
    pub accounts: Arc<dyn AccountStore>,
    pub agents: Arc<dyn AgentStore>,
    pub tasks: Arc<dyn TaskStore>,
    /// Users' webhook secrets, and the delivery log of their tasks' webhooks.
    pub webhooks: Arc<dyn WebhookStore>,
    /// The process's readiness: what `/readyz` checks, and whether it is shutting down.
    pub readiness: Readiness,
    pub blobs: Arc<dyn BlobStore>,
    pub queue: Arc<dyn TaskQueue>,
    pub results: Arc<dyn ResultsClient>,
    /// Validates (compiles) uploads; in embedded mode it is the worker's sandbox, so an
    /// upload warms the worker's module cache.
    pub sandbox: Sandbox,
    pub config: GatewayConfig,
    pub(crate) rate_limiter: RateLimiter,
    /// Token hash → user.
    pub(crate) token_cache: TtlCache<String, UserId>,
    pub(crate) agent_cache: TtlCache<AgentId, Agent>,
}

/// The dependencies a gateway is built from.
pub struct GatewayDependencies {
    /// Users and their login tokens (stored hashed).
    pub accounts: Arc<dyn AccountStore>,
    /// The marketplace's agents; the gateway is the only service that writes them.
    pub agents: Arc<dyn AgentStore>,
    /// Accepted tasks, so that a task can be found before its result exists.
    pub tasks: Arc<dyn TaskStore>,
    /// Users' webhook secrets (the gateway writes them) and the delivery log (it reads it).
    pub webhooks: Arc<dyn WebhookStore>,
    /// The process's readiness: what `/readyz` checks, and whether it is shutting down.
    pub readiness: Readiness,
    /// Where uploaded binaries are put, under their SHA-256, for workers to fetch.
    pub blobs: Arc<dyn BlobStore>,
    /// Where accepted tasks are published; the gateway never consumes from it.
    pub queue: Arc<dyn TaskQueue>,
    /// How results and statistics are read and awaited: the results service, in process or
    /// over gRPC.
    pub results: Arc<dyn ResultsClient>,
    /// Validates uploads by compiling them; in embedded mode, pass the worker's sandbox so
    /// that an upload warms its module cache.
    pub sandbox: Sandbox,
}

impl AppState {
    /// The state of one gateway. The rate limiter and the lookup caches are this value's
    /// own, shared by its clones only, and start empty.
    pub fn new(dependencies: GatewayDependencies, config: GatewayConfig) -> Self {
        let rate_limiter = RateLimiter::new(config.tasks_per_second_per_user, config.task_burst);
        AppState {
            inner: Arc::new(Inner {
                accounts: dependencies.accounts,
                agents: dependencies.agents,
                tasks: dependencies.tasks,
                webhooks: dependencies.webhooks,
                readiness: dependencies.readiness,
                blobs: dependencies.blobs,
                queue: dependencies.queue,
                results: dependencies.results,
                sandbox: dependencies.sandbox,
                rate_limiter,
                token_cache: TtlCache::new(config.lookup_cache_ttl, LOOKUP_CACHE_CAPACITY),
                agent_cache: TtlCache::new(config.lookup_cache_ttl, LOOKUP_CACHE_CAPACITY),
                config,
            }),
        }
    }

    /// Marks the gateway as draining: readiness fails and new tasks get 503.
    pub fn stop_accepting(&self) {
        self.readiness.start_draining();
    }

    pub(crate) fn is_accepting(&self) -> bool {
        !self.readiness.is_draining()
    }
}

impl axum::extract::FromRef<AppState> for Readiness {
    fn from_ref(state: &AppState) -> Readiness {
        state.readiness.clone()
    }
}
