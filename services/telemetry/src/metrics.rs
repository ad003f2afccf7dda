//! The process's metrics, served as Prometheus text on `/metrics`.
//!
//! One set per process, created on first use: the services count into [`metrics()`] from
//! wherever the thing happens, and the process shows the sections of the services it runs
//! ([`expose`]), so that a gateway alone does not list worker metrics stuck at zero. Label
//! values are static strings, so counting allocates nothing once a label set exists.

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex, PoisonError, RwLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// The `Content-Type` of [`encode`]'s output: the Prometheus text format, version 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Every metric of the process.
#[derive(Debug)]
pub struct Metrics {
    /// Counted by the gateway's middleware; shown under [`Section::Http`].
    pub http: HttpMetrics,
    /// Counted by both queue backends, for every service that publishes or consumes.
    pub queue: QueueMetrics,
    /// Counted by the worker; shown under [`Section::Worker`].
    pub worker: WorkerMetrics,
    /// Counted by the results service; shown under [`Section::Results`].
    pub results: ResultsMetrics,
}

/// The metrics of the process, created on first use.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
        http: HttpMetrics::default(),
        queue: QueueMetrics::default(),
        worker: WorkerMetrics::default(),
        results: ResultsMetrics::default(),
    });
    &METRICS
}

/// A group of metrics that [`encode`] shows once the process runs what it measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// The gateway's HTTP server.
    Http,
    /// Publishing to and consuming from the task queue.
    Queue,
    /// Tasks executed, retried and in flight, and the compiled-module cache.
    Worker,
    /// Results stored, duplicates dropped and failed batches.
    Results,
}

/// Shows `section` on `/metrics` from now on; idempotent.
pub fn expose(section: Section) {
    let mut exposition = exposition().lock().unwrap_or_else(PoisonError::into_inner);
    if !exposition.sections.insert(section) {
        return;
    }
    let metrics = metrics();
    let registry = &mut exposition.registry;
    match section {
        Section::Http => metrics.http.register(registry),
        Section::Queue => metrics.queue.register(registry),
        Section::Worker => metrics.worker.register(registry),
        Section::Results => metrics.results.register(registry),
    }
}

/// The exposed metrics in the Prometheus text format ([`CONTENT_TYPE`]).
pub fn encode() -> String {
    let exposition = exposition().lock().unwrap_or_else(PoisonError::into_inner);
    let mut text = String::with_capacity(8 * 1024);
    prometheus_client::encoding::prometheus_text::encode(&mut text, &exposition.registry)
        .expect("writing to a String does not fail");
    text
}

struct Exposition {
    registry: Registry,
    sections: HashSet<Section>,
}

fn exposition() -> &'static Mutex<Exposition> {
    static EXPOSITION: LazyLock<Mutex<Exposition>> = LazyLock::new(|| {
        Mutex::new(Exposition {
            registry: Registry::default(),
            sections: HashSet::new(),
        })
    });
    &EXPOSITION
}

/// Durations from half a millisecond to about a minute.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.5, 14))
}

/// The gateway's HTTP requests.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// A standard method in upper case (`GET`, `POST`), or `other`, so that clients cannot
    /// add label values.
    pub method: &'static str,
    /// The route template (`/api/v1/tasks/{id}`), or `unmatched`.
    pub route: &'static str,
    /// The status code of the response the client got.
    pub status: u16,
}

/// Requests answered and how long each took, labelled by [`HttpLabels`].
#[derive(Debug)]
pub struct HttpMetrics {
    requests: Family<HttpLabels, Counter>,
    durations: Family<HttpLabels, Histogram, fn() -> Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        HttpMetrics {
            requests: Family::default(),
            durations: Family::new_with_constructor(duration_histogram),
        }
    }
}

impl HttpMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "bazaar_http_requests",
            "HTTP requests answered, by method, route and status",
            self.requests.clone(),
        );
        registry.register_with_unit(
            "bazaar_http_request_duration",
            "Time to answer an HTTP request (until the response head), by method, route and status",
            Unit::Seconds,
            self.durations.clone(),
        );
    }

    /// One request answered.
    pub fn observe(&self, labels: &HttpLabels, elapsed: Duration) {
        self.requests.get_or_create(labels).inc();
        self.durations
            .get_or_create(labels)
            .observe(elapsed.as_secs_f64());
    }

    /// The label for a route template: a `'static` copy, made once per distinct route (the
    /// routes are a small fixed set), so that counting a request allocates nothing.
    pub fn route_label(route: &str) -> &'static str {
        static ROUTES: LazyLock<RwLock<HashSet<&'static str>>> = LazyLock::new(Default::default);
        if let Some(known) = ROUTES
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(route)
        {
            return known;
        }
        let mut routes = ROUTES.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = routes.get(route) {
            return known;
        }
        let leaked: &'static str = Box::leak(route.to_owned().into_boxed_str());
        routes.insert(leaked);
        leaked
    }
}

/// A queue operation: which queue (`tasks`, `results`, `dead_tasks`) and how it went (`ok`,
/// `error`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    /// `tasks`, `results` or `dead_tasks`: the queue's role, not the broker's queue name.
    pub queue: &'static str,
    /// `ok` or `error`.
    pub outcome: &'static str,
}

/// Messages published and received, per queue and outcome.
#[derive(Debug, Default)]
pub struct QueueMetrics {
    published: Family<QueueLabels, Counter>,
    consumed: Family<QueueLabels, Counter>,
}

impl QueueMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "bazaar_queue_published",
            "Messages published to the queue, by queue and outcome (ok: the queue took it)",
            self.published.clone(),
        );
        registry.register(
            "bazaar_queue_consumed",
            "Messages received from the queue, by queue and outcome (error: it did not decode)",
            self.consumed.clone(),
        );
    }

    /// One publish to `queue`; `ok` when the queue took it (for RabbitMQ: confirmed
    /// by the broker in time).
    pub fn published(&self, queue: &'static str, ok: bool) {
        self.published
            .get_or_create(&QueueLabels {
                queue,
                outcome: outcome(ok),
            })
            .inc();
    }

    /// One message received from `queue`; `ok` unless it did not decode.
    pub fn consumed(&self, queue: &'static str, ok: bool) {
        self.consumed
            .get_or_create(&QueueLabels {
                queue,
                outcome: outcome(ok),
            })
            .inc();
    }
}

fn outcome(ok: bool) -> &'static str {
    if ok { "ok" } else { "error" }
}

/// How a task ended: `succeeded`, `failed` or `timed_out`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabels {
    /// The result's status, spelled as the databases store it.
    pub outcome: &'static str,
}

/// What the workers of this process did: tasks by outcome and duration, retries, tasks in
/// flight, and how often a compiled module was already at hand.
#[derive(Debug)]
pub struct WorkerMetrics {
    tasks: Family<TaskLabels, Counter>,
    durations: Family<TaskLabels, Histogram, fn() -> Histogram>,
    retries: Counter,
    in_flight: Gauge,
    cache_hits: Counter,
    cache_misses: Counter,
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        WorkerMetrics {
            tasks: Family::default(),
            durations: Family::new_with_constructor(duration_histogram),
            retries: Counter::default(),
            in_flight: Gauge::default(),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
        }
    }
}

impl WorkerMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "bazaar_worker_tasks",
            "Tasks that ended with a result, by outcome",
            self.tasks.clone(),
        );
        registry.register_with_unit(
            "bazaar_worker_task_duration",
            "Time from taking a task to its result (fetch, compile, run), by outcome",
            Unit::Seconds,
            self.durations.clone(),
        );
        registry.register(
            "bazaar_worker_task_retries",
            "Tasks put back on the queue after a transient failure (the blob store, say)",
            self.retries.clone(),
        );
        registry.register(
            "bazaar_worker_tasks_in_flight",
            "Tasks being executed now",
            self.in_flight.clone(),
        );
        registry.register(
            "bazaar_worker_module_cache_hits",
            "Tasks whose agent was already compiled",
            self.cache_hits.clone(),
        );
        registry.register(
            "bazaar_worker_module_cache_misses",
            "Tasks whose agent had to be fetched and compiled",
            self.cache_misses.clone(),
        );
    }

    /// A task ended with a result.
    pub fn task_done(&self, outcome: &'static str, elapsed: Duration) {
        let labels = TaskLabels { outcome };
        self.tasks.get_or_create(&labels).inc();
        self.durations
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// A task was put back on the queue after a transient failure, to run again.
    pub fn task_retried(&self) {
        self.retries.inc();
    }

    /// Counts a task as in flight until the guard is dropped.
    pub fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(&self.in_flight)
    }

    /// A task found its agent compiled, in memory or on disk.
    pub fn module_cache_hit(&self) {
        self.cache_hits.inc();
    }

    /// A task had its agent fetched from the blob store and compiled.
    pub fn module_cache_miss(&self) {
        self.cache_misses.inc();
    }
}

/// One task in flight; see [`WorkerMetrics::in_flight`].
#[derive(Debug)]
pub struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A table the retention job deleted rows from.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RetentionTableLabels {
    /// The table's name, such as `task_results` or `api_tokens`.
    pub table: &'static str,
}

/// How a retention run went: `ran`, `skipped` (another replica was running it) or `failed`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RetentionRunLabels {
    /// `ran`, `skipped` or `failed`.
    pub outcome: &'static str,
}

/// What the results service of this process stored: new results, redelivered duplicates,
/// failed batches and batch sizes; and what its retention job deleted.
#[derive(Debug)]
pub struct ResultsMetrics {
    stored: Counter,
    duplicates: Counter,
    store_failures: Counter,
    batch_sizes: Histogram,
    retention_deleted: Family<RetentionTableLabels, Counter>,
    retention_runs: Family<RetentionRunLabels, Counter>,
}

impl Default for ResultsMetrics {
    fn default() -> Self {
        ResultsMetrics {
            stored: Counter::default(),
            duplicates: Counter::default(),
            store_failures: Counter::default(),
            batch_sizes: Histogram::new(exponential_buckets(1.0, 2.0, 10)),
            retention_deleted: Family::default(),
            retention_runs: Family::default(),
        }
    }
}

impl ResultsMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "bazaar_results_stored",
            "Results stored (each task's first result)",
            self.stored.clone(),
        );
        registry.register(
            "bazaar_results_duplicates",
            "Results received again for a task already stored (redeliveries), left unchanged",
            self.duplicates.clone(),
        );
        registry.register(
            "bazaar_results_store_failures",
            "Batches of results that failed to store and were put back on the queue",
            self.store_failures.clone(),
        );
        registry.register(
            "bazaar_results_batch_size",
            "Results stored per transaction",
            self.batch_sizes.clone(),
        );
        registry.register(
            "bazaar_retention_deleted_rows",
            "Rows the retention job deleted, by table",
            self.retention_deleted.clone(),
        );
        registry.register(
            "bazaar_retention_runs",
            "Retention runs, by outcome (skipped: another replica was running it)",
            self.retention_runs.clone(),
        );
    }

    /// A batch of `received` results was stored, `new` of them for the first time.
    pub fn batch_stored(&self, received: usize, new: u64) {
        let received = received as u64;
        self.batch_sizes.observe(received as f64);
        self.stored.inc_by(new);
        self.duplicates.inc_by(received.saturating_sub(new));
    }

    /// A batch (or a dead-lettered task) failed to store and went back on the queue.
    pub fn store_failed(&self) {
        self.store_failures.inc();
    }

    /// A retention run deleted `rows` rows of `table`.
    pub fn retention_deleted(&self, table: &'static str, rows: u64) {
        self.retention_deleted
            .get_or_create(&RetentionTableLabels { table })
            .inc_by(rows);
    }

    /// A retention run ended: `ran`, `skipped` or `failed`.
    pub fn retention_run(&self, outcome: &'static str) {
        self.retention_runs
            .get_or_create(&RetentionRunLabels { outcome })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exposed_sections_are_encoded_in_the_prometheus_text_format() {
        metrics()
            .worker
            .task_done("succeeded", Duration::from_millis(3));
        metrics().results.batch_stored(3, 2);
        expose(Section::Worker);
        let text = encode();
        assert!(
            text.contains("# TYPE bazaar_worker_tasks_total counter"),
            "{text}"
        );
        assert!(
            text.contains("bazaar_worker_tasks_total{outcome=\"succeeded\"} "),
            "{text}"
        );
        assert!(
            text.contains("bazaar_worker_task_duration_seconds_bucket{"),
            "{text}"
        );
        assert!(!text.contains("bazaar_results_"), "{text}");

        expose(Section::Results);
        let text = encode();
        assert!(text.contains("bazaar_results_stored_total "), "{text}");
        assert!(text.contains("bazaar_results_batch_size_count "), "{text}");
    }

    #[test]
    fn route_labels_are_shared_per_route() {
        let first = HttpMetrics::route_label("/api/v1/tasks/{id}");
        let second = HttpMetrics::route_label(&String::from("/api/v1/tasks/{id}"));
        assert!(std::ptr::eq(first, second));
    }
}
