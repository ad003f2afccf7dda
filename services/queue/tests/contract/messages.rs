//! What arrives: the message as it was published, with the publisher's trace context, on the
//! consumer of its kind only.

use crate::backends::QueueBackend;
use crate::fixtures::{assert_quiet, in_a_traced_span, next, result, task};

pub async fn a_published_task_is_consumed_intact_with_its_trace_context(backend: QueueBackend) {
    let traced = task();
    let untraced = task();

    let (published, publisher_context) =
        in_a_traced_span(backend.queue.publish_task(traced.clone())).await;
    published.unwrap();
    backend.queue.publish_task(untraced.clone()).await.unwrap();

    let mut tasks = backend.queue.consume_tasks().await.unwrap();
    let delivery = next(&mut tasks).await;
    assert_eq!(delivery.message, traced);
    assert_eq!(delivery.previous_deliveries, 0);
    assert_eq!(delivery.trace_context, publisher_context);
    delivery.ack().await.unwrap();
    let delivery = next(&mut tasks).await;
    assert_eq!(delivery.message, untraced);
    assert!(
        delivery.trace_context.is_empty(),
        "a task published outside a trace carries no context: {:?}",
        delivery.trace_context
    );
    delivery.ack().await.unwrap();
}

pub async fn a_published_result_is_consumed_intact_with_its_trace_context(backend: QueueBackend) {
    let sent = result();

    let (published, publisher_context) =
        in_a_traced_span(backend.queue.publish_result(sent.clone())).await;
    published.unwrap();

    let mut results = backend.queue.consume_results().await.unwrap();
    let delivery = next(&mut results).await;
    assert_eq!(delivery.message, sent);
    assert_eq!(delivery.previous_deliveries, 0);
    assert_eq!(delivery.trace_context, publisher_context);
    delivery.ack().await.unwrap();
}

pub async fn a_task_does_not_reach_the_results_consumer(backend: QueueBackend) {
    let mut results = backend.queue.consume_results().await.unwrap();
    let sent = task();

    backend.queue.publish_task(sent.clone()).await.unwrap();

    assert_quiet(&mut results).await;
    let mut tasks = backend.queue.consume_tasks().await.unwrap();
    let delivery = next(&mut tasks).await;
    assert_eq!(delivery.message, sent);
    delivery.ack().await.unwrap();
}

pub async fn a_result_does_not_reach_the_task_consumer(backend: QueueBackend) {
    let mut tasks = backend.queue.consume_tasks().await.unwrap();
    let sent = result();

    backend.queue.publish_result(sent.clone()).await.unwrap();

    assert_quiet(&mut tasks).await;
    let mut results = backend.queue.consume_results().await.unwrap();
    let delivery = next(&mut results).await;
    assert_eq!(delivery.message, sent);
    delivery.ack().await.unwrap();
}
