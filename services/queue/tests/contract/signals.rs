//! Starts travel the results queue beside results; signals reach whoever subscribed to
//! their topic at the time, and nobody else.

use std::time::Duration;

use bazaar_domain::{OutputStream, ResultMessage, Signal, SignalTopic, TaskId};
use bazaar_queue::Subscription;
use chrono::{DateTime, Utc};

use crate::backends::QueueBackend;
use crate::fixtures::{PATIENCE, QUIET, next, result, started};

async fn receive(subscription: &mut Box<dyn Subscription>) -> Signal {
    tokio::time::timeout(PATIENCE, subscription.next())
        .await
        .expect("no signal in time")
        .expect("the subscription ended")
}

async fn assert_no_signal(subscription: &mut Box<dyn Subscription>) {
    let received = tokio::time::timeout(QUIET, subscription.next()).await;
    assert!(received.is_err(), "expected no signal, got {received:?}");
}

pub async fn a_start_and_a_result_travel_the_results_queue_intact_and_in_order(
    backend: QueueBackend,
) {
    let start = started();
    let finish = result();

    backend.queue.publish_result(start.clone()).await.unwrap();
    backend.queue.publish_result(finish.clone()).await.unwrap();

    let mut results = backend.queue.consume_results().await.unwrap();
    let first = next(&mut results).await;
    assert!(matches!(first.message, ResultMessage::Started(_)));
    assert_eq!(first.message, start);
    first.ack().await.unwrap();
    let second = next(&mut results).await;
    assert_eq!(second.message, finish);
    second.ack().await.unwrap();
}

pub async fn a_cancellation_reaches_every_worker_and_no_follower(backend: QueueBackend) {
    let task_id = TaskId::generate();
    let mut first_worker = backend
        .queue
        .subscribe(SignalTopic::Cancellations)
        .await
        .unwrap();
    let mut second_worker = backend
        .queue
        .subscribe(SignalTopic::Cancellations)
        .await
        .unwrap();
    let mut follower = backend
        .queue
        .subscribe(SignalTopic::Task(task_id.clone()))
        .await
        .unwrap();

    backend
        .queue
        .publish_signal(Signal::Cancel(task_id.clone()))
        .await
        .unwrap();

    assert_eq!(
        receive(&mut first_worker).await,
        Signal::Cancel(task_id.clone())
    );
    assert_eq!(
        receive(&mut second_worker).await,
        Signal::Cancel(task_id.clone())
    );
    assert_no_signal(&mut follower).await;
}

pub async fn a_tasks_start_and_output_reach_its_followers_only_in_order(backend: QueueBackend) {
    let followed = TaskId::generate();
    let other = TaskId::generate();
    let mut follower = backend
        .queue
        .subscribe(SignalTopic::Task(followed.clone()))
        .await
        .unwrap();
    let mut worker = backend
        .queue
        .subscribe(SignalTopic::Cancellations)
        .await
        .unwrap();
    let started_at = DateTime::<Utc>::from_timestamp_micros(1_790_000_000_000_001).unwrap();
    let signals = [
        Signal::Running {
            task_id: followed.clone(),
            attempt: 1,
            started_at,
        },
        Signal::Output {
            task_id: other.clone(),
            stream: OutputStream::Stdout,
            bytes: b"not yours".to_vec(),
        },
        Signal::Output {
            task_id: followed.clone(),
            stream: OutputStream::Stdout,
            bytes: b"first line\n".to_vec(),
        },
        Signal::Output {
            task_id: followed.clone(),
            stream: OutputStream::Stderr,
            bytes: b"\xff\x00 binary".to_vec(),
        },
    ];
    for signal in &signals {
        backend.queue.publish_signal(signal.clone()).await.unwrap();
    }

    assert_eq!(receive(&mut follower).await, signals[0]);
    assert_eq!(receive(&mut follower).await, signals[2]);
    assert_eq!(receive(&mut follower).await, signals[3]);
    assert_no_signal(&mut follower).await;
    assert_no_signal(&mut worker).await;
}

pub async fn a_signal_nobody_listens_for_is_sent_without_error(backend: QueueBackend) {
    let sent = tokio::time::timeout(
        Duration::from_secs(5),
        backend.queue.publish_signal(Signal::Cancel(TaskId::generate())),
    )
    .await
    .expect("a signal is sent at once");
    sent.unwrap();
}
