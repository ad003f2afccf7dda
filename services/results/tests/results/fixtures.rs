//! Results with plain defaults, and the results service running on a store, fed by the real
//! in-process queue as the workers feed it.

use std::sync::Arc;
use std::time::Duration;

use bazaar_domain::{AgentId, ResultFilter, ResultStatus, TaskId, TaskResult, UserId};
use bazaar_queue::{InProcessQueue, TaskQueue};
use bazaar_results::{ResultsClient, ResultsConfig, ResultsService};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::stores::TestStore;

/// The longest a test waits for something that should happen at once; reaching it fails
/// the test instead of hanging it.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A fixed instant plus `seconds`: times that compare exactly after a trip through any
/// database or the wire.
pub fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap() + TimeDelta::seconds(seconds)
}

/// A successful result of a new task of `agent` for `owner`, created at `at(seconds)`.
pub fn result_of(agent: &AgentId, owner: &UserId, seconds: i64) -> TaskResult {
    TaskResult {
        task_id: TaskId::generate(),
        agent_id: agent.clone(),
        owner: owner.clone(),
        status: ResultStatus::Succeeded,
        exit_code: 0,
        stdout: b"{}".to_vec(),
        stderr: Vec::new(),
        stdout_truncated: false,
        stderr_truncated: false,
        duration_ms: 10,
        error: None,
        created_at: at(seconds),
    }
}

pub fn with_status(mut result: TaskResult, status: ResultStatus) -> TaskResult {
    result.status = status;
    if status != ResultStatus::Succeeded {
        result.exit_code = -1;
        result.error = Some(format!("the run ended {}", status.as_str()));
    }
    result
}

pub fn with_duration(mut result: TaskResult, duration_ms: i64) -> TaskResult {
    result.duration_ms = duration_ms;
    result
}

/// Every result of `owner`, with room for all of them.
pub fn everything_of(owner: &UserId) -> ResultFilter {
    ResultFilter {
        owner: owner.clone(),
        agent_id: None,
        status: None,
        limit: 100,
        offset: 0,
    }
}

/// The task ids of `results`, in order.
pub fn task_ids(results: &[TaskResult]) -> Vec<&TaskId> {
    results.iter().map(|result| &result.task_id).collect()
}

/// The results service on a store, with the queue it consumes. Built stopped, so that a
/// test can queue results before the service sees any; stopped when dropped.
pub struct RunningResults {
    pub service: Arc<ResultsService>,
    pub queue: Arc<InProcessQueue>,
    pub store: TestStore,
    shutdown: CancellationToken,
    running: Option<JoinHandle<anyhow::Result<()>>>,
}

impl RunningResults {
    /// The service on `store`, not consuming yet.
    pub fn new(store: TestStore, max_batch: usize) -> Self {
        // Room for every test's results, and redeliveries enough for a store to recover.
        let queue = Arc::new(InProcessQueue::new(1024, 100));
        RunningResults {
            service: ResultsService::new(
                store.results.clone(),
                queue.clone(),
                ResultsConfig { max_batch },
            ),
            queue,
            store,
            shutdown: CancellationToken::new(),
            running: None,
        }
    }

    /// The service on `store`, consuming.
    pub fn started(store: TestStore, max_batch: usize) -> Self {
        let mut results = RunningResults::new(store, max_batch);
        results.start();
        results
    }

    /// Starts consuming the queue.
    pub fn start(&mut self) {
        assert!(self.running.is_none(), "the service runs already");
        self.running = Some(tokio::spawn(
            self.service
                .clone()
                .run(self.queue.clone(), self.shutdown.clone()),
        ));
    }

    /// The token that stops the service (and anything started beside it, such as a gRPC
    /// server) when cancelled.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Publishes results as a worker does, without waiting for them to be stored.
    pub async fn publish(&self, results: &[TaskResult]) {
        for result in results {
            self.queue
                .publish_result(result.clone().into())
                .await
                .expect("the result is queued");
        }
    }

    /// Publishes results as a worker does and returns once the service has stored them
    /// (the service must be running).
    pub async fn store(&self, results: &[TaskResult]) {
        let waits: Vec<_> = results
            .iter()
            .map(|result| {
                self.service
                    .register(&result.task_id)
                    .expect("the in-process service takes registered waits")
            })
            .collect();
        self.publish(results).await;
        for (wait, result) in waits.into_iter().zip(results) {
            let stored = wait.wait(&result.owner, PATIENCE).await;
            assert!(
                stored.is_some(),
                "the result of {} was not stored in time",
                result.task_id
            );
        }
    }

    /// Stops the service and waits for it to finish, as the process does on shutdown.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        let running = self.running.take().expect("the service was started");
        tokio::time::timeout(PATIENCE, running)
            .await
            .expect("the service stops in time")
            .expect("the service does not panic")
            .expect("the service stops cleanly");
    }
}

impl Drop for RunningResults {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
