use std::sync::Arc;

use bazaar_domain::{AgentId, ResultStatus, Sha256, TaskId, TaskMessage, UserId};
use bazaar_queue::TaskQueue;
use bazaar_results::ResultsClient;

use crate::fixtures::{PATIENCE, RunningResults};
use crate::stores::TestStore;

/// A task the queue gives up on (here: a worker rejects it without requeue) ends as a failed
/// result saying why, not queued forever; embedded mode's queue dead-letters as RabbitMQ does.
pub async fn a_task_the_queue_gave_up_on_is_stored_as_a_failed_result(store: TestStore) {
    let owner = UserId::generate();
    let task = TaskMessage {
        task_id: TaskId::generate(),
        agent_id: AgentId::generate(),
        owner: owner.clone(),
        binary_hash: Sha256::digest(b"an agent"),
        input: Arc::from(&b""[..]),
        timeout_ms: 1000,
    };
    let service = RunningResults::started(store, 8);
    let wait = service.service.register(&task.task_id).unwrap();
    service.queue.publish_task(task.clone()).await.unwrap();
    let mut worker = service.queue.consume_tasks().await.unwrap();

    worker.next().await.unwrap().reject(false).await.unwrap();

    let result = wait.wait(&owner, PATIENCE).await.expect("a failed result");
    assert_eq!(result.status, ResultStatus::Failed);
    assert!(
        result
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("given up"),
        "{result:?}"
    );
    let stored = service.service.get(&task.task_id, &owner).await.unwrap();
    assert_eq!(stored, Some(result));
}
