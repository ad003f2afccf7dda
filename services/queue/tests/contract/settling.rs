//! Settling a delivery: acknowledged, it is gone; rejected with requeue or dropped unsettled,
//! it comes back with its count raised, up to the delivery limit; rejected without requeue or
//! past the limit, the task is given up the way its backend gives tasks up.

use bazaar_domain::TaskMessage;

use crate::backends::QueueBackend;
use crate::fixtures::{assert_quiet, next, result, task};

pub async fn an_acknowledged_task_is_not_delivered_again(backend: QueueBackend) {
    let sent = task();
    backend.queue.publish_task(sent.clone()).await.unwrap();
    let mut tasks = backend.queue.consume_tasks().await.unwrap();
    let delivery = next(&mut tasks).await;
    assert_eq!(delivery.message, sent);

    delivery.ack().await.unwrap();

    assert_quiet(&mut tasks).await;
    // Nor to a consumer that comes later: the acknowledgement was not lost with the first.
    drop(tasks);
    let mut later = backend.queue.consume_tasks().await.unwrap();
    assert_quiet(&mut later).await;
}

pub async fn an_acknowledged_result_is_not_delivered_again(backend: QueueBackend) {
    let sent = result();
    backend.queue.publish_result(sent.clone()).await.unwrap();
    let mut results = backend.queue.consume_results().await.unwrap();
    let delivery = next(&mut results).await;
    assert_eq!(delivery.message, sent);

    delivery.ack().await.unwrap();

    assert_quiet(&mut results).await;
    drop(results);
    let mut later = backend.queue.consume_results().await.unwrap();
    assert_quiet(&mut later).await;
}

pub async fn a_task_rejected_with_requeue_comes_back_with_its_count_raised(backend: QueueBackend) {
    let sent = task();
    backend.queue.publish_task(sent.clone()).await.unwrap();
    let mut tasks = backend.queue.consume_tasks().await.unwrap();
    let first = next(&mut tasks).await;
    assert_eq!(first.previous_deliveries, 0);

    first.reject(true).await.unwrap();

    let second = next(&mut tasks).await;
    assert_eq!(second.message, sent);
    assert_eq!(second.previous_deliveries, 1);
    second.ack().await.unwrap();
    assert_quiet(&mut tasks).await;
}

pub async fn a_task_dropped_unsettled_comes_back_with_its_count_raised(backend: QueueBackend) {
    let sent = task();
    backend.queue.publish_task(sent.clone()).await.unwrap();
    let mut tasks = backend.queue.consume_tasks().await.unwrap();
    let first = next(&mut tasks).await;
    assert_eq!(first.previous_deliveries, 0);

    // A worker that died in the middle of the task, as far as the queue can tell.
    drop(first);

    let again = next(&mut tasks).await;
    assert_eq!(again.message, sent);
    assert_eq!(again.previous_deliveries, 1);
    again.ack().await.unwrap();
    assert_quiet(&mut tasks).await;
}

pub async fn a_task_rejected_at_every_delivery_is_given_up_at_the_delivery_limit(
    backend: QueueBackend,
) {
    let sent = task();
    backend.queue.publish_task(sent.clone()).await.unwrap();
    let mut tasks = backend.queue.consume_tasks().await.unwrap();

    for attempt in 0..backend.delivery_limit {
        let delivery = next(&mut tasks).await;
        assert_eq!(delivery.message, sent);
        assert_eq!(delivery.previous_deliveries, attempt);
        delivery.reject(true).await.unwrap();
    }

    assert_quiet(&mut tasks).await;
    assert_given_up(&backend, &sent).await;
}

pub async fn a_task_dropped_at_every_delivery_is_given_up_at_the_delivery_limit(
    backend: QueueBackend,
) {
    let sent = task();
    backend.queue.publish_task(sent.clone()).await.unwrap();
    let mut tasks = backend.queue.consume_tasks().await.unwrap();

    // A task that kills every worker that takes it.
    for attempt in 0..backend.delivery_limit {
        let delivery = next(&mut tasks).await;
        assert_eq!(delivery.message, sent);
        assert_eq!(delivery.previous_deliveries, attempt);
        drop(delivery);
    }

    assert_quiet(&mut tasks).await;
    assert_given_up(&backend, &sent).await;
}

pub async fn a_task_rejected_without_requeue_is_given_up_at_once(backend: QueueBackend) {
    let sent = task();
    backend.queue.publish_task(sent.clone()).await.unwrap();
    let mut tasks = backend.queue.consume_tasks().await.unwrap();

    next(&mut tasks).await.reject(false).await.unwrap();

    assert_quiet(&mut tasks).await;
    assert_given_up(&backend, &sent).await;
}

pub async fn a_result_rejected_at_every_delivery_stops_at_the_delivery_limit(
    backend: QueueBackend,
) {
    let sent = result();
    backend.queue.publish_result(sent.clone()).await.unwrap();
    let mut results = backend.queue.consume_results().await.unwrap();

    for attempt in 0..backend.delivery_limit {
        let delivery = next(&mut results).await;
        assert_eq!(delivery.message, sent);
        assert_eq!(delivery.previous_deliveries, attempt);
        delivery.reject(true).await.unwrap();
    }

    assert_quiet(&mut results).await;
}

/// The task was given up: it is in the dead-letter queue, once, for the results service to
/// record a failed result (so that no task stays queued forever).
async fn assert_given_up(backend: &QueueBackend, sent: &TaskMessage) {
    let mut dead = backend
        .queue
        .consume_dead_tasks()
        .await
        .unwrap()
        .expect("every backend dead-letters the tasks it gives up");
    let delivery = next(&mut dead).await;
    assert_eq!(delivery.message, *sent);
    delivery.ack().await.unwrap();
    assert_quiet(&mut dead).await;
}
