//! The results service: the single writer of task results, of task runs (starts, attempts,
//! cancellations) and of agent statistics.
//!
//! It consumes the workers' reports from the queue — starts and results — and stores them in
//! batches (idempotently: the task id is the key, so a redelivered result is stored and
//! counted once), acknowledges them only after the commit, and wakes whoever waits for them.
//! It takes cancellations: a task not started yet is stored `canceled` at once, and every
//! worker is told to stop it (again, should a worker announce its start later). Readers reach it through
//! [`ResultsClient`]: in-process in embedded mode, over gRPC in distributed mode.
//!
//! Each stored result has a `store_result` span, a child of the worker's `publish_result`
//! span, so that every task's trace ends here even though results are stored in batches.

#![warn(missing_docs)]

pub mod grpc;
pub mod retention;

use anyhow::Context;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bazaar_database::{ResultStore, ResultsStored, RetentionStore, StoreError};
use bazaar_domain::{
    AgentId, AgentStats, ErrorCode, Page, ResultFilter, ResultMessage, ResultStatus, Signal,
    TaskId, TaskMessage, TaskProgress, TaskResult, TaskStarted, UserId,
};
use bazaar_queue::{Consumer, Delivery, QueueError, TaskQueue};
use bazaar_telemetry::metrics::metrics;
use chrono::{SubsecRound, Utc};
use futures_util::FutureExt;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use retention::RetentionConfig;

/// A results request failed. Whichever way the results service is reached, the failure
/// keeps its [`ErrorCode`]: a remote service's gRPC status is mapped back to the code it
/// was sent for.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// The results store failed.
    #[error("the results store failed")]
    Store(#[from] StoreError),
    /// The queue, through which workers are told to stop, failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The remote results service answered with an error (or could not be reached, which
    /// tonic reports as a status too).
    #[error("the results service answered {code}: {message}")]
    Remote {
        /// The code the server sent the status for; `Unavailable` when it could not be
        /// reached.
        code: ErrorCode,
        /// The status message. The server logs internal causes instead of sending them, so the
        /// gateway passes this on to its client for codes below 500.
        message: String,
    },
    /// Anything else: a bug, or an answer that could not be read.
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl ResultsError {
    /// What this failure means to a caller on any protocol.
    pub fn code(&self) -> ErrorCode {
        match self {
            ResultsError::Store(error) => error.code(),
            ResultsError::Queue(error) => error.code(),
            ResultsError::Remote { code, .. } => *code,
            ResultsError::Internal(_) => ErrorCode::Internal,
        }
    }
}

/// What the gateway asks of the results service.
#[async_trait]
pub trait ResultsClient: Send + Sync + 'static {
    /// The result of `task_id` if it exists and belongs to `owner`.
    async fn get(
        &self,
        task_id: &TaskId,
        owner: &UserId,
    ) -> Result<Option<TaskResult>, ResultsError>;

    /// The owner's results, newest first.
    async fn list(&self, filter: &ResultFilter) -> Result<Page<TaskResult>, ResultsError>;

    /// Waits up to `timeout` for the result of `task_id` (belonging to `owner`) to be stored.
    async fn wait(
        &self,
        task_id: &TaskId,
        owner: &UserId,
        timeout: Duration,
    ) -> Result<Option<TaskResult>, ResultsError>;

    /// The agent's statistics, readable by anyone; all zeros for an agent that never ran, and
    /// for one that does not exist (the gateway answers 404 for that before asking).
    async fn stats(&self, agent_id: &AgentId) -> Result<AgentStats, ResultsError>;

    /// What is known of `task_id`'s runs and, once it is finished, its result; the result
    /// only if it belongs to `owner`.
    async fn progress(
        &self,
        task_id: &TaskId,
        owner: &UserId,
    ) -> Result<TaskProgress, ResultsError>;

    /// Cancels `task_id` (of `agent_id`; the caller checked it is `owner`'s): a task not
    /// started yet is finished `canceled` at once; a running one is stopped by its worker,
    /// which stores it `canceled` with its output so far. A finished task stays as it is.
    /// Returns what is known of the task afterwards.
    async fn cancel(
        &self,
        task_id: &TaskId,
        agent_id: &AgentId,
        owner: &UserId,
    ) -> Result<TaskProgress, ResultsError>;

    /// Starts waiting for `task_id`'s result *before* its task is queued, which spares the
    /// look-up [`ResultsClient::wait`] has to make. `None` when this client cannot (a remote
    /// results service learns of the wait only when it is asked): use `wait` then.
    fn register(&self, _task_id: &TaskId) -> Option<RegisteredWait> {
        None
    }
}

/// How often cancellations of running tasks are signalled again while unfinished.
const RESIGNAL_INTERVAL: Duration = Duration::from_secs(2);

/// How long after it was asked a cancellation is signalled again: longer than any run.
const RESIGNAL_WINDOW: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Tuning of the consuming loop.
#[derive(Debug, Clone)]
pub struct ResultsConfig {
    /// The most results stored in one transaction.
    pub max_batch: usize,
}

impl Default for ResultsConfig {
    fn default() -> Self {
        ResultsConfig { max_batch: 256 }
    }
}

type Waiters = Mutex<HashMap<TaskId, Vec<oneshot::Sender<TaskResult>>>>;

/// The results service.
pub struct ResultsService {
    store: Arc<dyn ResultStore>,
    /// Where cancellations are signalled to the workers.
    queue: Arc<dyn TaskQueue>,
    waiters: Arc<Waiters>,
    config: ResultsConfig,
    /// The retention job [`run`](Self::run) runs beside consuming, if any.
    retention: Option<(Arc<dyn RetentionStore>, RetentionConfig)>,
}

impl std::fmt::Debug for ResultsService {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ResultsService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ResultsService {
    /// One per process, shared: [`run`](Self::run) consumes with it, [`grpc::serve`] answers
    /// with it, and a gateway in the same process holds it as its [`ResultsClient`], so its
    /// waits are woken directly, without gRPC.
    /// It consumes from `queue` (in [`run`](Self::run)) and signals cancellations there.
    pub fn new(
        store: Arc<dyn ResultStore>,
        queue: Arc<dyn TaskQueue>,
        config: ResultsConfig,
    ) -> Arc<Self> {
        Self::build(store, queue, config, None)
    }

    /// [`ResultsService::new`] that also runs the retention job (see [`retention`]) while it
    /// [runs](Self::run).
    pub fn with_retention(
        store: Arc<dyn ResultStore>,
        queue: Arc<dyn TaskQueue>,
        config: ResultsConfig,
        retention_store: Arc<dyn RetentionStore>,
        retention: RetentionConfig,
    ) -> Arc<Self> {
        Self::build(store, queue, config, Some((retention_store, retention)))
    }

    fn build(
        store: Arc<dyn ResultStore>,
        queue: Arc<dyn TaskQueue>,
        config: ResultsConfig,
        retention: Option<(Arc<dyn RetentionStore>, RetentionConfig)>,
    ) -> Arc<Self> {
        Arc::new(ResultsService {
            store,
            queue,
            waiters: Arc::new(Mutex::new(HashMap::new())),
            config,
            retention,
        })
    }

    /// Consumes result messages (and dead-lettered tasks, where the queue has them) until
    /// `shutdown`; what was already delivered is stored first. Runs the retention job
    /// meanwhile, if it has one.
    pub async fn run(
        self: Arc<Self>,
        queue: Arc<dyn TaskQueue>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let consumer = queue
            .consume_results()
            .await
            .context("failed to consume results")?;
        let dead_tasks = queue
            .consume_dead_tasks()
            .await
            .context("failed to consume dead-lettered tasks")?;
        let notifications = self
            .store
            .watch_results()
            .await
            .context("failed to watch for stored results")?;
        let results = self.clone().consume_results(consumer, shutdown.clone());
        let dead_tasks = async {
            match dead_tasks {
                Some(dead_tasks) => {
                    self.clone()
                        .consume_dead_tasks(dead_tasks, shutdown.clone())
                        .await
                }
                None => Ok(()),
            }
        };
        let notifications = async {
            match notifications {
                Some(notifications) => {
                    self.clone()
                        .follow_notifications(notifications, shutdown.clone())
                        .await
                }
                None => Ok(()),
            }
        };
        let retention = async {
            match self.retention.clone() {
                Some((store, config)) => retention::run(store, config, shutdown.clone()).await,
                None => Ok(()),
            }
        };
        let resignal = self.clone().signal_cancellations_again(shutdown.clone());
        tokio::try_join!(results, dead_tasks, notifications, retention, resignal)?;
        Ok(())
    }

    /// Wakes the waiters of results that another replica of this service stored (this one
    /// wakes its own waiters as it stores). After a lost notification it looks up every
    /// result it waits for, since any of them may have been stored meanwhile.
    async fn follow_notifications(
        self: Arc<Self>,
        mut notifications: tokio::sync::mpsc::Receiver<ResultsStored>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        loop {
            let event = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                event = notifications.recv() => match event {
                    Some(event) => event,
                    None => anyhow::bail!("the result notifications stopped"),
                },
            };
            let awaited: Vec<TaskId> = {
                let waiters = self.waiters.lock().expect("waiters lock poisoned");
                match event {
                    ResultsStored::Tasks(task_ids) => task_ids
                        .into_iter()
                        .filter(|task_id| waiters.contains_key(task_id))
                        .collect(),
                    ResultsStored::Missed => waiters.keys().cloned().collect(),
                }
            };
            for task_id in awaited {
                match self.store.get_result(&task_id).await {
                    Ok(Some(result)) => self.wake(result),
                    Ok(None) => {}
                    Err(error) => {
                        tracing::warn!(%error, %task_id, "failed to read a notified result; its waiter will time out")
                    }
                }
            }
        }
    }

    /// Tells the workers again, every [`RESIGNAL_INTERVAL`], to stop the running tasks whose
    /// cancellation was asked for within [`RESIGNAL_WINDOW`] and that have no result yet: a
    /// worker that was reconnecting when the first signal went out hears a later one.
    async fn signal_cancellations_again(
        self: Arc<Self>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(RESIGNAL_INTERVAL) => {}
            }
            let since = Utc::now() - RESIGNAL_WINDOW;
            let pending = match self.store.unfinished_cancellations(since, 1000).await {
                Ok(pending) => pending,
                Err(error) => {
                    tracing::warn!(%error, "failed to look for cancellations to signal again");
                    continue;
                }
            };
            for task_id in pending {
                tracing::debug!(%task_id, "signalling a cancellation again");
                if let Err(error) = self.queue.publish_signal(Signal::Cancel(task_id)).await {
                    tracing::debug!(%error, "failed to signal a cancellation again");
                }
            }
        }
    }

    /// A task the queue gave up on (it reached the delivery limit, or it could not be
    /// handled) becomes a failed result, so its submitter learns what happened.
    async fn consume_dead_tasks(
        self: Arc<Self>,
        mut consumer: Box<dyn Consumer<TaskMessage>>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        loop {
            let delivery = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                delivery = consumer.next() => match delivery {
                    Some(delivery) => delivery,
                    None => return Ok(()),
                },
            };
            let task = &delivery.message;
            let span = tracing::info_span!(
                "store_dead_task",
                otel.kind = "consumer",
                task_id = %task.task_id,
                agent_id = %task.agent_id
            );
            delivery.trace_context.set_parent_of(&span);
            span.in_scope(|| tracing::warn!("a task was dead-lettered; storing it as failed"));
            let result = TaskResult::failure(
                task,
                "the task was given up after repeated delivery failures (it kept crashing or stalling workers)"
                    .to_owned(),
                Utc::now().trunc_subsecs(6),
            );
            let stored = self
                .store
                .insert_results(std::slice::from_ref(&result))
                .instrument(span)
                .await;
            match stored {
                Ok(new) => {
                    metrics().results.batch_stored(1, new);
                    let _ = delivery.ack().await;
                    self.wake_stored(vec![result], new).await;
                }
                Err(error) => {
                    metrics().results.store_failed();
                    tracing::error!(%error, "failed to store a dead-lettered task; it will come back");
                    let _ = delivery.reject(true).await;
                    tokio::select! {
                        _ = shutdown.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
    }

    async fn consume_results(
        self: Arc<Self>,
        mut consumer: Box<dyn Consumer<ResultMessage>>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut failures: u32 = 0;
        loop {
            let first = tokio::select! {
                _ = shutdown.cancelled() => {
                    // Store what the workers already published before going away, in batches
                    // no larger than usual: a batch is one statement, whose size is bounded.
                    loop {
                        let mut batch = Vec::new();
                        while batch.len() < self.config.max_batch.max(1) {
                            match consumer.next().now_or_never() {
                                Some(Some(delivery)) => batch.push(delivery),
                                _ => break,
                            }
                        }
                        if batch.is_empty() {
                            return Ok(());
                        }
                        self.store_batch(batch).await?;
                    }
                }
                delivery = consumer.next() => match delivery {
                    Some(delivery) => delivery,
                    None => return Ok(()),
                },
            };
            // Take whatever else is already waiting, without waiting for more.
            let mut batch = vec![first];
            while batch.len() < self.config.max_batch {
                match consumer.next().now_or_never() {
                    Some(Some(delivery)) => batch.push(delivery),
                    _ => break,
                }
            }
            match self.store_batch(batch).await {
                Ok(()) => failures = 0,
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let backoff = Duration::from_millis(50 * 2u64.pow(failures.min(7)));
                    tracing::error!(error = %error, ?backoff, "failed to store results; they will be redelivered");
                    tokio::select! {
                        _ = shutdown.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(backoff) => {}
                    }
                }
            }
        }
    }

    /// Stores a batch, acknowledges it, then wakes the waiters. On failure the deliveries
    /// are rejected for redelivery and nothing is acknowledged.
    async fn store_batch(&self, batch: Vec<Delivery<ResultMessage>>) -> Result<(), StoreError> {
        let (starts, batch): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .partition(|delivery| matches!(delivery.message, ResultMessage::Started(_)));
        if !starts.is_empty() {
            self.store_starts(starts).await?;
        }
        if batch.is_empty() {
            return Ok(());
        }
        let results: Vec<TaskResult> = batch
            .iter()
            .filter_map(|delivery| match &delivery.message {
                ResultMessage::Finished(result) => Some(result.clone()),
                ResultMessage::Started(_) => None,
            })
            .collect();
        // One span per traced result, each continuing its task's trace, open while the batch
        // is stored and acknowledged. Untraced results (traces off) cost no span.
        let spans: Vec<tracing::Span> = batch
            .iter()
            .map(|delivery| {
                if delivery.trace_context.is_empty() {
                    return tracing::Span::none();
                }
                let result = delivery.message.task_id();
                let span = tracing::info_span!(
                    parent: None,
                    "store_result",
                    otel.kind = "consumer",
                    task_id = %result,
                    batch_size = batch.len()
                );
                delivery.trace_context.set_parent_of(&span);
                span
            })
            .collect();
        let inserted = self.store.insert_results(&results).await;
        let new = match inserted {
            Ok(new) => new,
            Err(error) => {
                metrics().results.store_failed();
                for delivery in batch {
                    if let Err(reject_error) = delivery.reject(true).await {
                        tracing::warn!(error = %reject_error, "failed to reject a result delivery");
                    }
                }
                return Err(error);
            }
        };
        metrics().results.batch_stored(results.len(), new);
        for delivery in batch {
            if let Err(error) = delivery.ack().await {
                // Stored already: a redelivery is harmless, the insert is idempotent.
                tracing::warn!(error = %error, "failed to acknowledge a stored result");
            }
        }
        for (result, span) in results.iter().zip(spans) {
            span.in_scope(|| tracing::debug!(task_id = %result.task_id, agent_id = %result.agent_id, status = result.status.as_str(), "result stored"));
        }
        self.wake_stored(results, new).await;
        Ok(())
    }

    /// Records announced starts, acknowledges them, and tells the workers again to stop the
    /// tasks among them that were canceled (a worker that joined after the cancellation, or
    /// that forgot it, started one).
    async fn store_starts(&self, starts: Vec<Delivery<ResultMessage>>) -> Result<(), StoreError> {
        let announced: Vec<TaskStarted> = starts
            .iter()
            .filter_map(|delivery| match &delivery.message {
                ResultMessage::Started(started) => Some(started.clone()),
                ResultMessage::Finished(_) => None,
            })
            .collect();
        let canceled = match self.store.record_starts(&announced).await {
            Ok(canceled) => canceled,
            Err(error) => {
                metrics().results.store_failed();
                for delivery in starts {
                    let _ = delivery.reject(true).await;
                }
                return Err(error);
            }
        };
        // Only a first attempt is refused: a run that began before the deactivation and was
        // delivered again goes on. Only their agents are looked up.
        let first_attempts: Vec<&TaskStarted> = announced
            .iter()
            .filter(|started| started.attempt == 1)
            .collect();
        let agents: Vec<AgentId> = first_attempts
            .iter()
            .map(|started| started.agent_id.clone())
            .collect();
        let inactive = if agents.is_empty() {
            Vec::new()
        } else {
            self.store.inactive_agents(&agents).await?
        };
        let refused: Vec<TaskResult> = first_attempts
            .into_iter()
            .filter(|started| inactive.contains(&started.agent_id))
            .map(|started| {
                TaskResult::without_output(
                    started.task_id.clone(),
                    started.agent_id.clone(),
                    started.owner.clone(),
                    ResultStatus::Failed,
                    format!(
                        "agent {} was deactivated by its owner before this task ran; it was stopped",
                        started.agent_id
                    ),
                    Utc::now().trunc_subsecs(6),
                )
            })
            .collect();
        let refused_new = if refused.is_empty() {
            0
        } else {
            self.store.insert_results(&refused).await?
        };
        for delivery in starts {
            if let Err(error) = delivery.ack().await {
                tracing::warn!(%error, "failed to acknowledge a recorded start");
            }
        }
        let mut to_stop = canceled;
        for result in &refused {
            tracing::info!(task_id = %result.task_id, agent_id = %result.agent_id, "a task of a deactivated agent was started; it is failed and stopped");
            to_stop.push(result.task_id.clone());
        }
        self.wake_stored(refused, refused_new).await;
        for task_id in to_stop {
            tracing::info!(%task_id, "a task that must not run was started; telling the workers to stop it");
            if let Err(error) = self.queue.publish_signal(Signal::Cancel(task_id)).await {
                tracing::warn!(%error, "failed to signal a cancellation again");
            }
        }
        Ok(())
    }

    /// Wakes the waiters of `results`, of which `new` were stored by this insert. When some
    /// were stored before (a redelivery, or a cancellation that finished the task first),
    /// waiters get what is stored, not what arrived.
    async fn wake_stored(&self, results: Vec<TaskResult>, new: u64) {
        if new == results.len() as u64 {
            for result in results {
                self.wake(result);
            }
            return;
        }
        for result in results {
            match self.store.get_result(&result.task_id).await {
                Ok(Some(stored)) => self.wake(stored),
                Ok(None) => self.wake(result),
                Err(error) => {
                    tracing::warn!(%error, task_id = %result.task_id, "failed to read a stored result back; its waiters will look it up");
                }
            }
        }
    }

    fn wake(&self, result: TaskResult) {
        let waiting = self
            .waiters
            .lock()
            .expect("waiters lock poisoned")
            .remove(&result.task_id);
        for waiter in waiting.into_iter().flatten() {
            let _ = waiter.send(result.clone());
        }
    }

    /// Starts waiting for `task_id`'s result; see [`RegisteredWait`].
    fn register_wait(&self, task_id: &TaskId) -> RegisteredWait {
        let (sender, receiver) = oneshot::channel();
        self.waiters
            .lock()
            .expect("waiters lock poisoned")
            .entry(task_id.clone())
            .or_default()
            .push(sender);
        RegisteredWait {
            receiver,
            waiters: self.waiters.clone(),
            task_id: task_id.clone(),
        }
    }
}

/// Drops the closed waiters of `task_id`.
fn forget_waiter(waiters: &Waiters, task_id: &TaskId) {
    let mut waiters = waiters.lock().expect("waiters lock poisoned");
    if let Some(list) = waiters.get_mut(task_id) {
        list.retain(|sender| !sender.is_closed());
        if list.is_empty() {
            waiters.remove(task_id);
        }
    }
}

/// A wait for a result that began before its task was queued (see
/// [`ResultsClient::register`]): the result cannot have been stored before it, so none is
/// looked up. Dropping it stops waiting.
#[derive(Debug)]
pub struct RegisteredWait {
    receiver: oneshot::Receiver<TaskResult>,
    waiters: Arc<Waiters>,
    task_id: TaskId,
}

impl RegisteredWait {
    /// The result, if it is stored within `timeout` and belongs to `owner`.
    pub async fn wait(mut self, owner: &UserId, timeout: Duration) -> Option<TaskResult> {
        let result = tokio::time::timeout(timeout, &mut self.receiver)
            .await
            .ok()?
            .ok();
        visible_to(result, owner)
    }
}

impl Drop for RegisteredWait {
    fn drop(&mut self) {
        self.receiver.close();
        forget_waiter(&self.waiters, &self.task_id);
    }
}

fn visible_to(result: Option<TaskResult>, owner: &UserId) -> Option<TaskResult> {
    result.filter(|result| &result.owner == owner)
}

#[async_trait]
impl ResultsClient for ResultsService {
    async fn get(
        &self,
        task_id: &TaskId,
        owner: &UserId,
    ) -> Result<Option<TaskResult>, ResultsError> {
        Ok(visible_to(self.store.get_result(task_id).await?, owner))
    }

    async fn list(&self, filter: &ResultFilter) -> Result<Page<TaskResult>, ResultsError> {
        Ok(self.store.list_results(filter).await?)
    }

    async fn wait(
        &self,
        task_id: &TaskId,
        owner: &UserId,
        timeout: Duration,
    ) -> Result<Option<TaskResult>, ResultsError> {
        // Register before looking, so a result stored in between is not missed; dropping
        // the registration on any way out forgets it.
        let registered = self.register_wait(task_id);
        if let Some(stored) = self.store.get_result(task_id).await? {
            return Ok(visible_to(Some(stored), owner));
        }
        Ok(registered.wait(owner, timeout).await)
    }

    async fn stats(&self, agent_id: &AgentId) -> Result<AgentStats, ResultsError> {
        Ok(self.store.agent_stats(agent_id).await?)
    }

    async fn progress(
        &self,
        task_id: &TaskId,
        owner: &UserId,
    ) -> Result<TaskProgress, ResultsError> {
        let mut progress = self.store.task_progress(task_id).await?;
        progress.result = visible_to(progress.result, owner);
        Ok(progress)
    }

    async fn cancel(
        &self,
        task_id: &TaskId,
        agent_id: &AgentId,
        owner: &UserId,
    ) -> Result<TaskProgress, ResultsError> {
        let now = Utc::now().trunc_subsecs(6);
        let mut progress = self
            .store
            .request_cancel(task_id, agent_id, owner, now)
            .await?;
        if progress.result.is_some() {
            progress.result = visible_to(progress.result, owner);
            return Ok(progress);
        }
        // Every worker hears it: the one running the task stops it, the others will not
        // start it.
        self.queue
            .publish_signal(Signal::Cancel(task_id.clone()))
            .await?;
        if progress.run.started_at.is_none() {
            let canceled = TaskResult::canceled_before_running(
                task_id.clone(),
                agent_id.clone(),
                owner.clone(),
                now,
            );
            self.store
                .insert_results(std::slice::from_ref(&canceled))
                .await?;
            progress = self.store.task_progress(task_id).await?;
            if let Some(stored) = &progress.result {
                self.wake(stored.clone());
            }
        }
        progress.result = visible_to(progress.result, owner);
        Ok(progress)
    }

    fn register(&self, task_id: &TaskId) -> Option<RegisteredWait> {
        Some(self.register_wait(task_id))
    }
}
