//! Readiness and shutdown: `check` while the queue is usable, `close` at the end.

use bazaar_queue::QueueError;

use crate::backends::QueueBackend;
use crate::fixtures::{PATIENCE, next, result, task};

pub async fn a_fresh_queue_passes_its_check(backend: QueueBackend) {
    let fresh = backend.queue.check().await;
    assert!(fresh.is_ok(), "{fresh:?}");

    // And once it is in use, publishing and consuming.
    backend.queue.publish_task(task()).await.unwrap();
    let mut tasks = backend.queue.consume_tasks().await.unwrap();
    next(&mut tasks).await.ack().await.unwrap();
    let in_use = backend.queue.check().await;
    assert!(in_use.is_ok(), "{in_use:?}");
}

pub async fn a_closed_queue_refuses_publishes_ends_its_consumers_and_fails_its_check(
    backend: QueueBackend,
) {
    let mut tasks = backend.queue.consume_tasks().await.unwrap();
    let mut results = backend.queue.consume_results().await.unwrap();

    backend.queue.close().await;

    let ended = tokio::time::timeout(PATIENCE, tasks.next()).await;
    assert!(matches!(ended, Ok(None)), "the task consumer should end");
    let ended = tokio::time::timeout(PATIENCE, results.next()).await;
    assert!(matches!(ended, Ok(None)), "the results consumer should end");
    let published = backend.queue.publish_task(task()).await;
    assert!(
        matches!(published, Err(QueueError::Unavailable(_))),
        "{published:?}"
    );
    let published = backend.queue.publish_result(result()).await;
    assert!(
        matches!(published, Err(QueueError::Unavailable(_))),
        "{published:?}"
    );
    assert!(backend.queue.check().await.is_err());
    // A consumer started after the close ends at once, if it starts at all.
    if let Ok(mut late) = backend.queue.consume_tasks().await {
        let ended = tokio::time::timeout(PATIENCE, late.next()).await;
        assert!(matches!(ended, Ok(None)), "a late consumer should end");
    }
}

pub async fn a_closed_queue_hands_out_nothing_more_though_tasks_wait(backend: QueueBackend) {
    for _ in 0..5 {
        backend.queue.publish_task(task()).await.unwrap();
    }
    let mut tasks = backend.queue.consume_tasks().await.unwrap();
    let first = next(&mut tasks).await;
    // Taken from what the consumer holds (RabbitMQ's prefetch), where the rest wait too.
    let second = next(&mut tasks).await;

    backend.queue.close().await;

    let ended = tokio::time::timeout(PATIENCE, tasks.next()).await;
    assert!(
        matches!(ended, Ok(None)),
        "a closed queue handed out {ended:?}"
    );
    drop((first, second));
}
