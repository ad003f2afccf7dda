//! The worker: takes tasks from the queue, runs agents in the sandbox, publishes results.
//!
//! Workers are stateless and hold no database credentials. A worker is a loop around one
//! step, [`Worker::execute_one`], which turns a task into an [`Outcome`]; the loop owns
//! acknowledging, retrying and publishing. Binaries come from the blob store by SHA-256 and
//! are verified before they are compiled; compiled modules stay in the sandbox's cache, so an
//! agent compiles once per worker.
//!
//! Each run is announced twice when it starts: durably to the results service (a
//! [`ResultMessage::Started`], so the task shows `running` with its attempts) and as a signal
//! to whoever follows the task, together with its output as it is written. Every worker
//! listens for cancellations: a running task is interrupted and ends `canceled` with the
//! output so far; a task canceled before it arrives is not run.
//!
//! Each task is one `execute_task` span, a child of the gateway's `publish_task` span (its
//! context arrives with the delivery), with `fetch_binary`, `compile`, `run_agent` and
//! `publish_result` inside; the worker's counters are in [`bazaar_telemetry::metrics`].

#![warn(missing_docs)]

mod cancellations;

use anyhow::Context;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bazaar_blobs::{BlobError, BlobStore};
use bazaar_domain::{
    OutputStream, ResultMessage, ResultStatus, Sha256, Signal, SignalTopic, TaskMessage,
    TaskResult, TaskStarted,
};
use bazaar_queue::{Delivery, TaskQueue};
use bazaar_sandbox::{
    Execution, Outcome as RunOutcome, PrepareError as SandboxPrepareError, PreparedAgent,
    PreparedFrom, RunControl, Sandbox,
};
use bazaar_telemetry::metrics::metrics;
use bytes::Bytes;
use cancellations::Cancellations;
use chrono::{DateTime, SubsecRound, Utc};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// What became of one task.
#[derive(Debug)]
pub enum Outcome {
    /// The task ran (successfully or not) or can never run: publish this result.
    Done(TaskResult),
    /// A dependency failed (the blob store, say); the task should be tried again later.
    Retry(String),
}

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Tasks run at the same time.
    pub concurrency: usize,
    /// Deliveries of one task before a transient failure becomes a failed result.
    pub max_attempts: u32,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 32,
            max_attempts: 5,
        }
    }
}

/// A worker. Cheap to clone.
#[derive(Clone)]
pub struct Worker {
    sandbox: Sandbox,
    blobs: Arc<dyn BlobStore>,
    config: WorkerConfig,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Worker")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker that runs agents under `sandbox`'s limits and module caches, and fetches the
    /// binaries the caches lack from `blobs`. A gateway in the same process shares the
    /// sandbox, so an upload warms the worker's cache.
    pub fn new(sandbox: Sandbox, blobs: Arc<dyn BlobStore>, config: WorkerConfig) -> Self {
        Worker {
            sandbox,
            blobs,
            config,
        }
    }

    /// Runs one task to an outcome. Never panics on anything the agent does.
    pub async fn execute_one(&self, task: &TaskMessage) -> Outcome {
        self.execute_with(task, &RunControl::default()).await
    }

    /// Runs one task to an outcome under `control`, which can cancel it and follow its
    /// output.
    pub async fn execute_with(&self, task: &TaskMessage, control: &RunControl) -> Outcome {
        let timeout = Duration::from_millis(task.timeout_ms);
        let prepared = match self.prepared_agent(&task.binary_hash).await {
            Ok(prepared) => prepared,
            Err(PrepareError::Transient(message)) => return Outcome::Retry(message),
            Err(PrepareError::Permanent(message)) => return Outcome::Done(failed(task, message)),
        };
        let execution = self
            .sandbox
            .run_with(&prepared, task.input.clone(), timeout, control)
            .instrument(tracing::info_span!("run_agent"))
            .await;
        Outcome::Done(result_of(task, execution, timeout))
    }

    /// The compiled agent: from the sandbox's caches (memory, then disk), else fetched from
    /// the blob store, verified against its hash and compiled, once however many tasks ask.
    async fn prepared_agent(&self, hash: &Sha256) -> Result<PreparedAgent, PrepareError> {
        if let Some(prepared) = self.sandbox.cached(hash) {
            metrics().worker.module_cache_hit();
            return Ok(prepared);
        }
        // Both steps are children of the task's span, though fetching happens inside the
        // sandbox's preparation (and only when the disk cache has no compiled copy).
        let task_span = tracing::Span::current();
        let fetch = || {
            async {
                let bytes = match self.blobs.get_agent_binary(hash).await {
                    Ok(bytes) => bytes,
                    Err(BlobError::NotFound(_)) => {
                        return Err(PrepareError::Permanent(format!(
                            "the agent's binary {hash} is missing from storage"
                        )));
                    }
                    Err(BlobError::Other(error)) => {
                        return Err(PrepareError::Transient(format!(
                            "failed to fetch the agent binary: {error:#}"
                        )));
                    }
                };
                let actual = Sha256::digest(&bytes);
                if &actual != hash {
                    return Err(PrepareError::Permanent(format!(
                        "integrity error: the stored binary hashes to {actual}, not {hash}; it was not run"
                    )));
                }
                Ok(bytes)
            }
            .instrument(tracing::info_span!(parent: &task_span, "fetch_binary"))
        };
        let prepared = self
            .sandbox
            .prepare_with(hash, fetch)
            .instrument(tracing::info_span!("compile"))
            .await;
        match prepared {
            Ok((prepared, from)) => {
                match from {
                    PreparedFrom::Compiled => metrics().worker.module_cache_miss(),
                    PreparedFrom::Memory | PreparedFrom::Disk => {
                        metrics().worker.module_cache_hit()
                    }
                }
                tracing::debug!(%hash, from = from.as_str(), "agent prepared");
                Ok(prepared)
            }
            Err(SandboxPrepareError::Fetch(error)) => Err(error),
            Err(SandboxPrepareError::Invalid(error)) => Err(PrepareError::Permanent(format!(
                "the agent could not be compiled: {error}"
            ))),
        }
    }

    /// Consumes tasks until `shutdown`, then stops consuming (the deliveries it was sent
    /// but had not started go back to the queue) and waits for the tasks in flight to finish
    /// and publish their results.
    pub async fn run(
        self,
        queue: Arc<dyn TaskQueue>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let cancellations = Cancellations::default();
        let cancel_signals = queue
            .subscribe(SignalTopic::Cancellations)
            .await
            .context("failed to listen for cancellations")?;
        let listening = tokio::spawn(cancellations.clone().listen(cancel_signals));
        let mut consumer = queue
            .consume_tasks()
            .await
            .context("failed to consume tasks")?;
        let slots = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let in_flight = TaskTracker::new();
        loop {
            let slot = tokio::select! {
                _ = shutdown.cancelled() => break,
                slot = slots.clone().acquire_owned() => slot.expect("the worker never closes its slots"),
            };
            let delivery = tokio::select! {
                _ = shutdown.cancelled() => break,
                delivery = consumer.next() => match delivery {
                    Some(delivery) => delivery,
                    None => break,
                },
            };
            let worker = self.clone();
            let queue = queue.clone();
            let cancellations = cancellations.clone();
            let span = tracing::info_span!(
                "execute_task",
                otel.kind = "consumer",
                task_id = %delivery.message.task_id,
                agent_id = %delivery.message.agent_id
            );
            delivery.trace_context.set_parent_of(&span);
            in_flight.spawn(
                async move {
                    worker.handle(delivery, &queue, &cancellations).await;
                    drop(slot);
                }
                .instrument(span),
            );
        }
        drop(consumer);
        in_flight.close();
        in_flight.wait().await;
        listening.abort();
        Ok(())
    }

    /// Executes one delivery and settles it: announce the start, run, publish the result,
    /// then acknowledge.
    async fn handle(
        &self,
        delivery: Delivery<TaskMessage>,
        queue: &Arc<dyn TaskQueue>,
        cancellations: &Cancellations,
    ) {
        let _in_flight = metrics().worker.in_flight();
        let started = Instant::now();
        let task = &delivery.message;
        let run = match cancellations.begin(&task.task_id) {
            Some(run) => run,
            None => {
                tracing::debug!(task_id = %task.task_id, "the task was canceled before it ran");
                let result = canceled_before_running(task);
                self.settle(delivery, queue.as_ref(), result).await;
                return;
            }
        };
        let attempt = delivery.previous_deliveries.saturating_add(1);
        let started_run = TaskStarted {
            task_id: task.task_id.clone(),
            agent_id: task.agent_id.clone(),
            owner: task.owner.clone(),
            attempt,
            started_at: completed_now(),
        };
        let announced = tokio::spawn(announce_start(queue.clone(), started_run));
        let (output, forwarded) = forward_output(queue.clone(), task);
        let control = run.control.clone().with_output(output);
        let outcome = self.execute_with(task, &control).await;
        let canceled = control.is_canceled();
        drop(run);
        drop(control);
        // The start and the output go out before the result, so that no follower sees
        // them after the end.
        let _ = announced.await;
        let _ = forwarded.await;
        let result = match outcome {
            Outcome::Done(result) => result,
            // Canceled while a dependency failed: it ends canceled, not retried.
            Outcome::Retry(_) if canceled => canceled_before_running(task),
            Outcome::Retry(message) if attempt < self.config.max_attempts => {
                metrics().worker.task_retried();
                tracing::warn!(task_id = %task.task_id, %message, "task will be retried");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                if let Err(error) = delivery.reject(true).await {
                    tracing::error!(%error, "failed to requeue a task");
                }
                return;
            }
            Outcome::Retry(message) => failed(
                task,
                format!(
                    "gave up after {} attempts: {message}",
                    self.config.max_attempts
                ),
            ),
        };
        metrics()
            .worker
            .task_done(result.status.as_str(), started.elapsed());
        tracing::debug!(task_id = %task.task_id, status = result.status.as_str(), duration_ms = result.duration_ms, "task done");
        self.settle(delivery, queue.as_ref(), result).await;
    }

    /// Publishes a task's result, then acknowledges its delivery; a result that cannot be
    /// published sends the task back to the queue.
    async fn settle(
        &self,
        delivery: Delivery<TaskMessage>,
        queue: &dyn TaskQueue,
        result: TaskResult,
    ) {
        let published = queue
            .publish_result(ResultMessage::Finished(result))
            .instrument(tracing::info_span!(
                "publish_result",
                otel.kind = "producer"
            ))
            .await;
        match published {
            Ok(()) => {
                if let Err(error) = delivery.ack().await {
                    tracing::warn!(%error, "failed to acknowledge a task whose result is published");
                }
            }
            Err(error) => {
                tracing::error!(%error, task_id = %delivery.message.task_id, "failed to publish a result; the task will run again");
                if let Err(error) = delivery.reject(true).await {
                    tracing::error!(%error, "failed to requeue a task");
                }
            }
        }
    }
}

/// Tells the results service (durably) and the task's followers (as a signal) that an
/// attempt started. Neither is needed for the run itself: a failure is logged.
async fn announce_start(queue: Arc<dyn TaskQueue>, started: TaskStarted) {
    let signal = Signal::Running {
        task_id: started.task_id.clone(),
        attempt: started.attempt,
        started_at: started.started_at,
    };
    let task_id = started.task_id.clone();
    // The durable announcement first: a cancellation relies on it.
    if let Err(error) = queue.publish_result(ResultMessage::Started(started)).await {
        tracing::warn!(%error, %task_id, "failed to announce a task's start; it will show `queued` until its result");
    }
    if let Err(error) = queue.publish_signal(signal).await {
        tracing::debug!(%error, "failed to signal a task's start");
    }
}

/// How long output is gathered before it is sent to followers, and how much at most.
const OUTPUT_FLUSH_INTERVAL: Duration = Duration::from_millis(50);
const OUTPUT_FLUSH_BYTES: usize = 32 * 1024;

/// A sender for a run's output and the task that sends it on to the task's followers, in
/// chunks gathered for up to [`OUTPUT_FLUSH_INTERVAL`]; it ends when every sender is gone.
fn forward_output(
    queue: Arc<dyn TaskQueue>,
    task: &TaskMessage,
) -> (
    tokio::sync::mpsc::UnboundedSender<(OutputStream, Bytes)>,
    tokio::task::JoinHandle<()>,
) {
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<(OutputStream, Bytes)>();
    let task_id = task.task_id.clone();
    let forwarding = tokio::spawn(async move {
        let mut pending: Option<(OutputStream, Vec<u8>)> = None;
        let mut flush_at = tokio::time::Instant::now();
        loop {
            let received = match pending {
                Some(_) => tokio::time::timeout_at(flush_at, receiver.recv())
                    .await
                    .ok(),
                None => Some(receiver.recv().await),
            };
            let (stream, bytes) = match received {
                // Gathered long enough.
                None => {
                    send_output(queue.as_ref(), &task_id, pending.take()).await;
                    continue;
                }
                // The run is over.
                Some(None) => {
                    send_output(queue.as_ref(), &task_id, pending.take()).await;
                    return;
                }
                Some(Some(chunk)) => chunk,
            };
            if pending
                .as_ref()
                .is_some_and(|(pending_stream, _)| *pending_stream != stream)
            {
                send_output(queue.as_ref(), &task_id, pending.take()).await;
            }
            match &mut pending {
                Some((_, gathered)) => gathered.extend_from_slice(&bytes),
                None => {
                    pending = Some((stream, bytes.to_vec()));
                    flush_at = tokio::time::Instant::now() + OUTPUT_FLUSH_INTERVAL;
                }
            }
            if pending
                .as_ref()
                .is_some_and(|(_, gathered)| gathered.len() >= OUTPUT_FLUSH_BYTES)
            {
                send_output(queue.as_ref(), &task_id, pending.take()).await;
            }
        }
    });
    (sender, forwarding)
}

/// Sends gathered output to the task's followers, if there is any.
async fn send_output(
    queue: &dyn TaskQueue,
    task_id: &bazaar_domain::TaskId,
    gathered: Option<(OutputStream, Vec<u8>)>,
) {
    let Some((stream, bytes)) = gathered else {
        return;
    };
    let signal = Signal::Output {
        task_id: task_id.clone(),
        stream,
        bytes,
    };
    if let Err(error) = queue.publish_signal(signal).await {
        tracing::debug!(%error, "failed to send live output");
    }
}

enum PrepareError {
    Transient(String),
    Permanent(String),
}

fn failed(task: &TaskMessage, error: String) -> TaskResult {
    TaskResult::failure(task, error, completed_now())
}

fn canceled_before_running(task: &TaskMessage) -> TaskResult {
    TaskResult::canceled_before_running(
        task.task_id.clone(),
        task.agent_id.clone(),
        task.owner.clone(),
        completed_now(),
    )
}

fn result_of(task: &TaskMessage, execution: Execution, timeout: Duration) -> TaskResult {
    let status = match execution.outcome {
        RunOutcome::Exited(0) => ResultStatus::Succeeded,
        RunOutcome::TimedOut => ResultStatus::TimedOut,
        RunOutcome::Canceled => ResultStatus::Canceled,
        _ => ResultStatus::Failed,
    };
    TaskResult {
        task_id: task.task_id.clone(),
        agent_id: task.agent_id.clone(),
        owner: task.owner.clone(),
        status,
        exit_code: execution.exit_code(),
        error: execution.error_message(timeout),
        duration_ms: i64::try_from(execution.duration.as_millis()).unwrap_or(i64::MAX),
        stdout: execution.stdout,
        stderr: execution.stderr,
        stdout_truncated: execution.stdout_truncated,
        stderr_truncated: execution.stderr_truncated,
        created_at: completed_now(),
    }
}

/// Now, at the microsecond precision the stores keep, so a result reads the same whether it
/// comes straight from the worker or back from the database.
fn completed_now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
