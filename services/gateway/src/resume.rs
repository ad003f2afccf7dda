//! Resuming accepted tasks after a restart, for a queue that does not survive one.
//!
//! The gateway records every task it accepts before publishing it, so the tasks table knows
//! every task ever answered with 202. RabbitMQ keeps published tasks across restarts; the
//! in-process queue of embedded mode loses them with the process. At start-up, then, the
//! tasks that have no result are queued again, oldest first: those that were waiting in the
//! lost queue, those a worker was running, and any accepted just before a crash, between
//! being recorded and being published. A task whose result was stored is never queued again;
//! one whose run had finished but whose result was not yet stored runs again, and the first
//! result stored wins, as with any redelivery.

use std::sync::Arc;
use std::time::Duration;

use bazaar_database::{StoreError, TaskStore, UnfinishedTask};
use bazaar_domain::{Task, TaskMessage};
use bazaar_queue::{QueueError, TaskQueue};
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Tasks read from the database at a time.
const PAGE_SIZE: u32 = 500;

/// The longest wait between two tries to read a page when the database fails.
const MAX_DATABASE_BACKOFF: Duration = Duration::from_secs(2);

/// The longest wait between two tries to queue a task while the queue is full: short, since
/// the workers free room continually and each wait delays every task still to be resumed.
const MAX_QUEUE_BACKOFF: Duration = Duration::from_millis(100);

/// What [`resume_unfinished_tasks`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resumed {
    /// Tasks queued again.
    pub queued: u64,
    /// Tasks left as they were because their agent's row is gone, so their binary is
    /// unknown; the schema's foreign key makes this impossible, short of manual deletion.
    pub without_agent: u64,
    /// Whether `stop` came before every task was queued again; the rest are resumed at the
    /// next start.
    pub interrupted: bool,
}

/// Queues again every task accepted before `accepted_before` that has no result yet,
/// oldest first, and returns what it did. Call it with a time taken before the gateway
/// accepts its first task, so that no task this process accepts is queued twice.
///
/// It waits whenever the queue is full (the workers drain it meanwhile), so it never drops
/// a task and never holds more than the queue's capacity in memory; it runs beside the
/// gateway, which serves from the start (a submission made while the queue is full is
/// refused with 503, as always). A database failure is retried with backoff. It returns
/// early, between two tasks, when `stop` is cancelled.
pub async fn resume_unfinished_tasks(
    tasks: Arc<dyn TaskStore>,
    queue: Arc<dyn TaskQueue>,
    accepted_before: DateTime<Utc>,
    stop: CancellationToken,
) -> Resumed {
    let mut resumed = Resumed::default();
    let mut after: Option<Task> = None;
    loop {
        let Some(page) = next_page(tasks.as_ref(), accepted_before, after.as_ref(), &stop).await
        else {
            resumed.interrupted = true;
            break;
        };
        let Some(last) = page.last() else {
            break;
        };
        after = Some(last.task.clone());
        let full_page = page.len() == PAGE_SIZE as usize;
        for unfinished in page {
            let UnfinishedTask { task, binary_hash } = unfinished;
            let Some(binary_hash) = binary_hash else {
                tracing::error!(task_id = %task.id, agent_id = %task.agent_id, "cannot resume a task whose agent is gone");
                resumed.without_agent += 1;
                continue;
            };
            let message = TaskMessage {
                task_id: task.id.clone(),
                agent_id: task.agent_id.clone(),
                owner: task.owner.clone(),
                binary_hash,
                input: task.input.clone(),
                timeout_ms: u64::try_from(task.timeout_ms).unwrap_or(1).max(1),
            };
            if !publish_when_there_is_room(queue.as_ref(), message, &stop).await {
                resumed.interrupted = true;
                return log(resumed);
            }
            resumed.queued += 1;
        }
        if !full_page {
            break;
        }
    }
    log(resumed)
}

fn log(resumed: Resumed) -> Resumed {
    tracing::info!(
        queued = resumed.queued,
        without_agent = resumed.without_agent,
        interrupted = resumed.interrupted,
        "resumed the tasks accepted before start-up that had no result"
    );
    resumed
}

/// The next page of unfinished tasks, retrying a failing database; `None` at `stop`.
async fn next_page(
    tasks: &dyn TaskStore,
    accepted_before: DateTime<Utc>,
    after: Option<&Task>,
    stop: &CancellationToken,
) -> Option<Vec<UnfinishedTask>> {
    let mut backoff = Duration::from_millis(100);
    loop {
        let listed: Result<Vec<UnfinishedTask>, StoreError> = tokio::select! {
            _ = stop.cancelled() => return None,
            listed = tasks.unfinished_tasks(accepted_before, after, PAGE_SIZE) => listed,
        };
        match listed {
            Ok(page) => return Some(page),
            Err(error) => {
                tracing::warn!(%error, ?backoff, "failed to list the tasks to resume; retrying");
            }
        }
        if !pause(&mut backoff, MAX_DATABASE_BACKOFF, stop).await {
            return None;
        }
    }
}

/// Publishes `message`, waiting while the queue is full; `false` if `stop` came first.
async fn publish_when_there_is_room(
    queue: &dyn TaskQueue,
    message: TaskMessage,
    stop: &CancellationToken,
) -> bool {
    let mut backoff = Duration::from_millis(10);
    loop {
        if stop.is_cancelled() {
            return false;
        }
        let span = tracing::info_span!(
            "publish_task",
            otel.kind = "producer",
            task_id = %message.task_id,
            agent_id = %message.agent_id,
            resumed = true
        );
        match queue.publish_task(message.clone()).instrument(span).await {
            Ok(()) => return true,
            Err(QueueError::Full) => {}
            Err(error) => {
                tracing::warn!(%error, task_id = %message.task_id, ?backoff, "failed to queue a resumed task; retrying");
            }
        }
        if !pause(&mut backoff, MAX_QUEUE_BACKOFF, stop).await {
            return false;
        }
    }
}

/// Sleeps for `backoff`, then doubles it up to `max`; `false` if `stop` came first.
async fn pause(backoff: &mut Duration, max: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        _ = stop.cancelled() => return false,
        _ = tokio::time::sleep(*backoff) => {}
    }
    *backoff = (*backoff * 2).min(max);
    true
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use bazaar_database::{AccountStore, AgentStore, ResultStore, SqliteStore, TaskStore};
    use bazaar_domain::{
        AgentId, AgentName, Capabilities, NewAgent, Price, ResultStatus, Sha256, Task, TaskId,
        TaskResult, UserId, Username, Version,
    };
    use bazaar_queue::{InProcessQueue, TaskQueue};
    use chrono::{TimeDelta, Utc};
    use tokio_util::sync::CancellationToken;

    use super::{Resumed, resume_unfinished_tasks};

    /// An embedded store holding one agent and `count` tasks accepted a second apart, the
    /// oldest first; the last one has a result.
    async fn store_with_tasks(
        directory: &std::path::Path,
        count: usize,
    ) -> (Arc<SqliteStore>, Sha256, Vec<Task>) {
        let url = format!("sqlite://{}/bazaar.db", directory.display());
        let store = Arc::new(SqliteStore::open(&url).await.unwrap());
        let owner = UserId::generate();
        store
            .create_user(&owner, &Username::parse("ada").unwrap(), "hash")
            .await
            .unwrap();
        let binary_hash = Sha256::digest(b"agent");
        let agent = store
            .insert_agent(&NewAgent {
                id: AgentId::generate(),
                owner: owner.clone(),
                name: AgentName::parse("slow").unwrap(),
                description: "an agent whose tasks are resumed".to_owned(),
                version: Version::parse("1.0.0").unwrap(),
                capabilities: Capabilities::default(),
                price: Price::from_cents(0).unwrap(),
                binary_url: format!("file:///blobs/{binary_hash}"),
                binary_hash: binary_hash.clone(),
                binary_size: 10,
                badges: Vec::new(),
            })
            .await
            .unwrap();
        let accepted = Utc::now() - TimeDelta::hours(1);
        let mut tasks = Vec::new();
        for index in 0..count {
            let task = Task {
                id: TaskId::generate(),
                agent_id: agent.id.clone(),
                owner: owner.clone(),
                input_size: 1,
                input: Arc::from(vec![index as u8]),
                timeout_ms: 1000,
                created_at: accepted + TimeDelta::seconds(index as i64),
                webhook: None,
            };
            store.insert_task(&task).await.unwrap();
            tasks.push(task);
        }
        let finished = tasks.last().unwrap();
        let result = TaskResult {
            task_id: finished.id.clone(),
            agent_id: finished.agent_id.clone(),
            owner: finished.owner.clone(),
            status: ResultStatus::Succeeded,
            exit_code: 0,
            stdout: Vec::new(),
            stderr: Vec::new(),
            stdout_truncated: false,
            stderr_truncated: false,
            duration_ms: 1,
            error: None,
            created_at: Utc::now(),
        };
        store.insert_results(&[result]).await.unwrap();
        (store, binary_hash, tasks)
    }

    #[tokio::test]
    async fn unfinished_tasks_are_queued_oldest_first_waiting_whenever_the_queue_is_full() {
        let directory = tempfile::tempdir().unwrap();
        let (store, binary_hash, tasks) = store_with_tasks(directory.path(), 7).await;
        // Room for two: resuming six must wait for the consumer below, never drop one.
        let queue = Arc::new(InProcessQueue::new(2, 5));
        let mut consumer = queue.consume_tasks().await.unwrap();

        let resuming = tokio::spawn(resume_unfinished_tasks(
            store,
            queue.clone(),
            Utc::now(),
            CancellationToken::new(),
        ));
        let mut received = Vec::new();
        while received.len() < 6 {
            let delivery = tokio::time::timeout(Duration::from_secs(10), consumer.next())
                .await
                .expect("the resumed tasks keep coming")
                .unwrap();
            // A slow consumer: the queue stays full while tasks wait to be resumed.
            tokio::time::sleep(Duration::from_millis(20)).await;
            received.push(delivery.message.clone());
            delivery.ack().await.unwrap();
        }

        let resumed = resuming.await.unwrap();
        assert_eq!(
            resumed,
            Resumed {
                queued: 6,
                without_agent: 0,
                interrupted: false
            }
        );
        let expected: Vec<&TaskId> = tasks[..6].iter().map(|task| &task.id).collect();
        let got: Vec<&TaskId> = received.iter().map(|message| &message.task_id).collect();
        assert_eq!(
            got, expected,
            "oldest first, and the finished task is not resumed"
        );
        assert!(
            received
                .iter()
                .all(|message| message.binary_hash == binary_hash)
        );
        assert_eq!(&*received[3].input, &[3]);
    }

    #[tokio::test]
    async fn resuming_stops_when_asked_while_it_waits_for_room() {
        let directory = tempfile::tempdir().unwrap();
        let (store, _, _) = store_with_tasks(directory.path(), 5).await;
        let queue = Arc::new(InProcessQueue::new(1, 5));
        let stop = CancellationToken::new();

        let resuming = tokio::spawn(resume_unfinished_tasks(
            store,
            queue,
            Utc::now(),
            stop.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.cancel();
        let resumed = tokio::time::timeout(Duration::from_secs(5), resuming)
            .await
            .expect("resuming stops at once")
            .unwrap();

        assert_eq!(
            resumed.queued, 1,
            "only one fits in a queue nobody consumes"
        );
        assert!(resumed.interrupted);
    }
}
