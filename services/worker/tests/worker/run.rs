//! The loop around the step, on the real in-process queue: it publishes each result before
//! acknowledging its task, retries what a dependency failed, gives up after the configured
//! attempts with a result that says so, and lets the task in flight finish on shutdown.

use std::sync::Arc;

use bazaar_domain::{
    ResultMessage, ResultStatus, Sha256, Signal, SignalTopic, TaskMessage, TaskResult, TaskStarted,
};
use bazaar_queue::{Consumer, InProcessQueue, TaskQueue};
use futures_util::FutureExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{PATIENCE, TestWorker, example, module, task, test_worker, worker_config};

/// A worker's loop running on its own queue, and the results side of that queue.
struct Running {
    queue: Arc<InProcessQueue>,
    results: Box<dyn Consumer<ResultMessage>>,
    /// The starts announced so far, in order.
    starts: Vec<TaskStarted>,
    shutdown: CancellationToken,
    worker: JoinHandle<anyhow::Result<()>>,
}

/// Starts `test`'s worker loop. The queue delivers a task more often than any test's worker
/// tries it, so that giving up is the worker's decision, not the queue's.
async fn start(test: &TestWorker) -> Running {
    let queue = Arc::new(InProcessQueue::new(64, 100));
    let results = queue.consume_results().await.expect("results are consumed");
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(test.worker.clone().run(queue.clone(), shutdown.clone()));
    Running {
        queue,
        results,
        starts: Vec::new(),
        shutdown,
        worker,
    }
}

impl Running {
    async fn publish(&self, task: &TaskMessage) {
        self.queue
            .publish_task(task.clone())
            .await
            .expect("the task is queued");
    }

    /// The next report the worker publishes: a start or a result.
    async fn next_report(&mut self) -> ResultMessage {
        let delivery = tokio::time::timeout(PATIENCE, self.results.next())
            .await
            .expect("the worker published nothing in time")
            .expect("the results queue is open");
        let report = delivery.message.clone();
        delivery.ack().await.expect("the report is acknowledged");
        report
    }

    /// The next result the worker publishes, keeping the starts announced before it.
    async fn next_result(&mut self) -> TaskResult {
        loop {
            match self.next_report().await {
                ResultMessage::Started(started) => self.starts.push(started),
                ResultMessage::Finished(result) => return result,
            }
        }
    }

    /// The next start the worker announces.
    async fn next_start(&mut self) -> TaskStarted {
        loop {
            if let ResultMessage::Started(started) = self.next_report().await {
                self.starts.push(started.clone());
                return started;
            }
        }
    }

    /// Stops the loop and waits for it, as the process does on shutdown.
    async fn stop(self) -> Arc<InProcessQueue> {
        self.shutdown.cancel();
        tokio::time::timeout(PATIENCE, self.worker)
            .await
            .expect("the worker stops in time")
            .expect("the worker does not panic")
            .expect("the worker stops cleanly");
        self.queue
    }
}

/// Whether a task is waiting in `queue`: one that was requeued is there at once, since the
/// in-process queue puts a rejected delivery back before `reject` returns.
async fn a_task_is_queued(queue: &InProcessQueue) -> bool {
    let mut tasks = queue.consume_tasks().await.expect("tasks are consumed");
    matches!(tasks.next().now_or_never(), Some(Some(_)))
}

#[tokio::test]
async fn a_successful_task_publishes_its_result_and_is_not_delivered_again() {
    let test = test_worker(worker_config(3));
    let echo = example("echo");
    let hash = test.blobs.add(echo.wasm);
    let task = task(&hash, echo.examples[0].input);
    let mut running = start(&test).await;

    running.publish(&task).await;
    let result = running.next_result().await;

    assert_eq!(result.task_id, task.task_id);
    assert_eq!(result.status, ResultStatus::Succeeded, "{result:?}");
    assert_eq!(
        String::from_utf8_lossy(&result.stdout),
        echo.examples[0].expected_stdout
    );
    let queue = running.stop().await;
    assert!(
        !a_task_is_queued(&queue).await,
        "a task whose result is published is acknowledged"
    );
    assert_eq!(test.blobs.reads(), 1, "the task ran once");
}

#[tokio::test]
async fn a_task_whose_blob_store_stays_down_is_given_up_after_max_attempts_with_a_failed_result() {
    let test = test_worker(worker_config(3));
    let hash = test.blobs.add(example("echo").wasm);
    test.blobs.set_down(true);
    let task = task(&hash, "hello");
    let mut running = start(&test).await;

    running.publish(&task).await;
    let result = running.next_result().await;

    assert_eq!(result.task_id, task.task_id);
    assert_eq!(result.status, ResultStatus::Failed);
    let error = result.error.expect("a failed result says why");
    assert!(error.contains("gave up after 3 attempts"), "{error}");
    assert!(error.contains("failed to fetch"), "{error}");
    assert_eq!(test.blobs.reads(), 3, "one fetch per attempt");
    let queue = running.stop().await;
    assert!(
        !a_task_is_queued(&queue).await,
        "a task given up with a result is not delivered again"
    );
}

#[tokio::test]
async fn a_task_retried_while_the_blob_store_is_down_succeeds_once_it_is_back() {
    let test = test_worker(worker_config(5));
    let hash = test.blobs.add(example("echo").wasm);
    test.blobs.set_down(true);
    let task = task(&hash, "patience\n");
    let mut running = start(&test).await;

    running.publish(&task).await;
    test.blobs.until_read(1).await;
    test.blobs.set_down(false);
    let result = running.next_result().await;

    assert_eq!(result.task_id, task.task_id);
    assert_eq!(result.status, ResultStatus::Succeeded, "{result:?}");
    assert_eq!(result.stdout, b"patience\n");
    assert_eq!(test.blobs.reads(), 2, "one failed fetch, one that worked");
    running.stop().await;
}

#[tokio::test]
async fn a_missing_binary_is_published_as_failed_on_the_first_delivery() {
    let test = test_worker(worker_config(3));
    let task = task(&Sha256::digest(b"never uploaded"), "");
    let mut running = start(&test).await;

    running.publish(&task).await;
    let result = running.next_result().await;

    assert_eq!(result.task_id, task.task_id);
    assert_eq!(result.status, ResultStatus::Failed);
    let error = result.error.expect("a failed result says why");
    assert!(error.contains("missing"), "{error}");
    assert!(!error.contains("gave up"), "it was not retried: {error}");
    assert_eq!(test.blobs.reads(), 1);
    let queue = running.stop().await;
    assert!(!a_task_is_queued(&queue).await);
}

#[tokio::test]
async fn shutdown_lets_the_task_in_flight_finish_and_publish_its_result() {
    let test = test_worker(worker_config(3));
    let hash = test.blobs.add(module(
        r#"(module (memory (export "memory") 1) (func (export "_start") (loop $forever (br $forever))))"#,
    ));
    let mut task = task(&hash, "");
    task.timeout_ms = 300;
    let mut running = start(&test).await;

    running.publish(&task).await;
    test.blobs.until_read(1).await;
    running.shutdown.cancel();
    let result = running.next_result().await;

    assert_eq!(result.task_id, task.task_id);
    assert_eq!(result.status, ResultStatus::TimedOut, "{result:?}");
    let queue = running.stop().await;
    assert!(!a_task_is_queued(&queue).await);
}

/// A WebAssembly text module that loops forever.
const SPIN: &str = r#"(module
    (memory (export "memory") 1)
    (func (export "_start") (loop $forever (br $forever))))"#;

#[tokio::test]
async fn a_running_task_is_canceled_by_a_signal_and_the_worker_serves_the_next_task() {
    let test = test_worker(worker_config(3));
    let mut running = start(&test).await;
    let spinning = task(&test.blobs.add(module(SPIN)), "");
    running.publish(&spinning).await;
    let started = running.next_start().await;
    assert_eq!(started.task_id, spinning.task_id);
    assert_eq!(started.attempt, 1);
    running
        .queue
        .publish_signal(Signal::Cancel(spinning.task_id.clone()))
        .await
        .expect("the cancellation is sent");
    let result = running.next_result().await;
    assert_eq!(result.task_id, spinning.task_id);
    assert_eq!(result.status, ResultStatus::Canceled, "{result:?}");
    assert!(result.duration_ms < 5_000, "{result:?}");

    let next = task(&test.blobs.add(example("echo").wasm), "hello");
    running.publish(&next).await;
    let result = running.next_result().await;
    assert_eq!(result.task_id, next.task_id);
    assert_eq!(result.status, ResultStatus::Succeeded, "{result:?}");
    running.stop().await;
}

#[tokio::test]
async fn a_task_canceled_before_it_arrives_is_not_run() {
    let test = test_worker(worker_config(3));
    let mut running = start(&test).await;
    let spinning = task(&test.blobs.add(module(SPIN)), "");
    // The worker is listening once it has served a task.
    let warm_up = task(&test.blobs.add(example("echo").wasm), "hello");
    running.publish(&warm_up).await;
    running.next_result().await;
    running
        .queue
        .publish_signal(Signal::Cancel(spinning.task_id.clone()))
        .await
        .expect("the cancellation is sent");
    running.publish(&spinning).await;
    let result = running.next_result().await;
    assert_eq!(result.task_id, spinning.task_id);
    assert_eq!(result.status, ResultStatus::Canceled, "{result:?}");
    assert!(
        !running
            .starts
            .iter()
            .any(|started| started.task_id == spinning.task_id),
        "a canceled task never starts"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_run_sends_its_output_to_whoever_follows_the_task() {
    let test = test_worker(worker_config(3));
    let mut running = start(&test).await;
    let echo = task(&test.blobs.add(example("echo").wasm), "hello");
    let mut following = running
        .queue
        .subscribe(SignalTopic::Task(echo.task_id.clone()))
        .await
        .expect("the task is followed");
    running.publish(&echo).await;
    let result = running.next_result().await;
    assert_eq!(result.status, ResultStatus::Succeeded, "{result:?}");
    let mut output = Vec::new();
    let mut saw_running = false;
    while output.len() < result.stdout.len() {
        match tokio::time::timeout(PATIENCE, following.next())
            .await
            .expect("the output arrives")
            .expect("the queue is open")
        {
            Signal::Running { attempt, .. } => {
                assert_eq!(attempt, 1);
                saw_running = true;
            }
            Signal::Output { bytes, .. } => output.extend_from_slice(&bytes),
            Signal::Cancel(_) => panic!("a follower gets no cancellations"),
        }
    }
    assert!(saw_running, "the start is signalled before the output");
    assert_eq!(output, result.stdout);
    running.stop().await;
}
