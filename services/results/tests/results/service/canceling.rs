//! Cancellation: a task not started yet ends `canceled` at once; every worker is told; a
//! canceled task whose start is announced later is cancelled again; a finished one stays.

use std::time::Duration;

use bazaar_domain::{
    AgentId, ResultMessage, ResultStatus, Signal, SignalTopic, TaskId, TaskProgress, TaskStarted,
    UserId,
};
use bazaar_queue::{Subscription, TaskQueue};
use bazaar_results::ResultsClient;
use chrono::Utc;

use crate::fixtures::{PATIENCE, RunningResults, result_of};
use crate::stores::TestStore;

async fn next_signal(subscription: &mut Box<dyn Subscription>) -> Signal {
    tokio::time::timeout(PATIENCE, subscription.next())
        .await
        .expect("a signal in time")
        .expect("the queue is open")
}

/// Announces a first start of `task` as a worker does; returns once it is recorded.
async fn start(
    service: &RunningResults,
    task: &TaskId,
    agent: &AgentId,
    owner: &UserId,
) -> TaskProgress {
    service
        .queue
        .publish_result(ResultMessage::Started(TaskStarted {
            task_id: task.clone(),
            agent_id: agent.clone(),
            owner: owner.clone(),
            attempt: 1,
            started_at: Utc::now(),
        }))
        .await
        .unwrap();
    tokio::time::timeout(PATIENCE, async {
        loop {
            let progress = service.service.progress(task, owner).await.unwrap();
            if progress.run.started_at.is_some() {
                return progress;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the start is recorded")
}

pub async fn a_task_not_started_is_canceled_at_once_and_every_worker_is_told(store: TestStore) {
    let service = RunningResults::started(store, 8);
    let mut workers = service
        .queue
        .subscribe(SignalTopic::Cancellations)
        .await
        .unwrap();
    let owner = UserId::generate();
    let agent = AgentId::generate();
    let task = result_of(&agent, &owner, 1).task_id;

    let progress = service.service.cancel(&task, &agent, &owner).await.unwrap();

    let result = progress.result.expect("canceled at once");
    assert_eq!(result.status, ResultStatus::Canceled);
    assert_eq!(result.owner, owner);
    assert!(progress.run.cancel_requested_at.is_some());
    assert_eq!(
        next_signal(&mut workers).await,
        Signal::Cancel(task.clone())
    );
    let again = service.service.cancel(&task, &agent, &owner).await.unwrap();
    assert_eq!(
        again.result.map(|result| result.status),
        Some(ResultStatus::Canceled)
    );
}

pub async fn a_canceled_task_whose_start_is_announced_later_is_canceled_again(store: TestStore) {
    let service = RunningResults::started(store, 8);
    let owner = UserId::generate();
    let agent = AgentId::generate();
    let task = result_of(&agent, &owner, 1).task_id;
    // Running somewhere: its start is known, so the cancellation waits for the worker.
    let running = start(&service, &task, &agent, &owner).await;
    assert_eq!(running.run.attempts, 1);
    let progress = service.service.cancel(&task, &agent, &owner).await.unwrap();
    assert!(
        progress.result.is_none(),
        "a running task ends when its worker stops it"
    );

    // Another worker, which never heard of the cancellation, starts it again.
    let mut workers = service
        .queue
        .subscribe(SignalTopic::Cancellations)
        .await
        .unwrap();
    service
        .queue
        .publish_result(ResultMessage::Started(TaskStarted {
            task_id: task.clone(),
            agent_id: agent,
            owner: owner.clone(),
            attempt: 2,
            started_at: Utc::now(),
        }))
        .await
        .unwrap();

    assert_eq!(
        next_signal(&mut workers).await,
        Signal::Cancel(task.clone())
    );
    // The signal may be the periodic one, sent before the second start was recorded.
    tokio::time::timeout(PATIENCE, async {
        while service
            .service
            .progress(&task, &owner)
            .await
            .unwrap()
            .run
            .attempts
            < 2
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the second start is recorded");
}

pub async fn a_finished_task_stays_as_it_finished(store: TestStore) {
    let service = RunningResults::started(store, 8);
    let owner = UserId::generate();
    let agent = AgentId::generate();
    let finished = result_of(&agent, &owner, 1);
    service.store(std::slice::from_ref(&finished)).await;

    let progress = service
        .service
        .cancel(&finished.task_id, &agent, &owner)
        .await
        .unwrap();

    assert_eq!(progress.result, Some(finished));
}

pub async fn a_running_tasks_cancellation_is_signalled_again_until_it_ends(store: TestStore) {
    let service = RunningResults::started(store, 8);
    let owner = UserId::generate();
    let agent = AgentId::generate();
    let task = result_of(&agent, &owner, 1).task_id;
    start(&service, &task, &agent, &owner).await;
    service.service.cancel(&task, &agent, &owner).await.unwrap();

    // A worker that missed the first signal (it subscribes only now) hears a later one.
    let mut late_worker = service
        .queue
        .subscribe(SignalTopic::Cancellations)
        .await
        .unwrap();
    assert_eq!(
        next_signal(&mut late_worker).await,
        Signal::Cancel(task.clone())
    );
}
