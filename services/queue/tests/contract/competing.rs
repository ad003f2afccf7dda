//! Several workers on one queue: every task reaches exactly one of them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::sync::{Barrier, mpsc};
use tokio::task::JoinSet;

use crate::backends::QueueBackend;
use crate::fixtures::{PATIENCE, QUIET, task};

/// Enough tasks that neither consumer can hold them all unacknowledged (RabbitMQ's prefetch
/// is 16 by default), so that both take part.
const TASKS: usize = 100;
const CONSUMERS: usize = 2;

pub async fn tasks_published_concurrently_reach_competing_consumers_exactly_once(
    backend: QueueBackend,
) {
    // Each consumer holds its first delivery until every consumer has one: none can take
    // every task before the others start.
    let all_started = Arc::new(Barrier::new(CONSUMERS));
    let (received_sender, mut received) = mpsc::unbounded_channel();
    let mut consumers = JoinSet::new();
    for consumer_number in 0..CONSUMERS {
        let mut consumer = backend.queue.consume_tasks().await.unwrap();
        let all_started = all_started.clone();
        let received = received_sender.clone();
        consumers.spawn(async move {
            let mut first = true;
            while let Some(delivery) = consumer.next().await {
                if first {
                    all_started.wait().await;
                    first = false;
                }
                let task_id = delivery.message.task_id.clone();
                delivery.ack().await.unwrap();
                if received.send((consumer_number, task_id)).is_err() {
                    return;
                }
            }
        });
    }

    let mut publishes = JoinSet::new();
    for _ in 0..TASKS {
        let queue = backend.queue.clone();
        let sent = task();
        publishes.spawn(async move {
            queue
                .publish_task(sent.clone())
                .await
                .map(|()| sent.task_id)
        });
    }
    let mut published = BTreeSet::new();
    while let Some(outcome) = publishes.join_next().await {
        published.insert(outcome.unwrap().unwrap());
    }

    let mut delivered = BTreeSet::new();
    let mut per_consumer = BTreeMap::<usize, usize>::new();
    for _ in 0..TASKS {
        let (consumer_number, task_id) = match tokio::time::timeout(PATIENCE, received.recv()).await
        {
            Ok(Some(receipt)) => receipt,
            _ => {
                // A consumer that panicked says why.
                stop(consumers).await;
                panic!("only {} of {TASKS} tasks were delivered", delivered.len());
            }
        };
        assert!(
            delivered.insert(task_id.clone()),
            "{task_id} was delivered twice"
        );
        *per_consumer.entry(consumer_number).or_default() += 1;
    }
    assert_eq!(delivered, published);
    assert_eq!(
        per_consumer.len(),
        CONSUMERS,
        "every consumer should have taken some tasks: {per_consumer:?}"
    );

    // Nothing is delivered a second time once every task was.
    let late = tokio::time::timeout(QUIET, received.recv()).await;
    assert!(late.is_err(), "a task was delivered again: {late:?}");
    stop(consumers).await;
}

/// Stops the consumers, passing on the panic of any that failed.
async fn stop(mut consumers: JoinSet<()>) {
    consumers.abort_all();
    while let Some(ended) = consumers.join_next().await {
        if let Err(error) = ended
            && error.is_panic()
        {
            std::panic::resume_unwind(error.into_panic());
        }
    }
}
