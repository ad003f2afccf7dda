//! `ResultStore`'s record of task runs: starts and attempts, cancellation, and a task's
//! progress with its result.

use bazaar_domain::{
    AgentStats, ResultStatus, TaskId, TaskProgress, TaskResult, TaskRun, TaskStarted, UserId,
};

use crate::backends::Backend;
use crate::fixtures::{at, create_user, publish_named, result_of};

fn started(task_id: &TaskId, result: &TaskResult, attempt: u32, seconds: i64) -> TaskStarted {
    TaskStarted {
        task_id: task_id.clone(),
        agent_id: result.agent_id.clone(),
        owner: result.owner.clone(),
        attempt,
        started_at: at(seconds),
    }
}

async fn a_result(backend: &Backend) -> (UserId, TaskResult) {
    let owner = create_user(backend, "ada").await;
    let agent = publish_named(backend, &owner, "json-format").await;
    let result = result_of(&agent, &owner, 100);
    (owner, result)
}

pub async fn a_task_nobody_started_has_no_run_and_no_result(backend: Backend) {
    let progress = backend
        .results
        .task_progress(&TaskId::generate())
        .await
        .unwrap();
    assert_eq!(progress, TaskProgress::default());
}

pub async fn a_start_is_recorded_with_its_attempt(backend: Backend) {
    let (_, result) = a_result(&backend).await;
    let task_id = result.task_id.clone();

    let canceled = backend
        .results
        .record_starts(&[started(&task_id, &result, 1, 10)])
        .await
        .unwrap();

    assert!(canceled.is_empty());
    let progress = backend.results.task_progress(&task_id).await.unwrap();
    assert_eq!(
        progress,
        TaskProgress {
            run: TaskRun {
                started_at: Some(at(10)),
                attempts: 1,
                cancel_requested_at: None,
            },
            result: None,
        }
    );
}

pub async fn a_later_attempt_counts_and_a_late_announcement_of_an_earlier_one_changes_nothing(
    backend: Backend,
) {
    let (_, result) = a_result(&backend).await;
    let task_id = result.task_id.clone();
    backend
        .results
        .record_starts(&[started(&task_id, &result, 1, 10)])
        .await
        .unwrap();
    backend
        .results
        .record_starts(&[
            started(&task_id, &result, 2, 20),
            started(&task_id, &result, 1, 10),
        ])
        .await
        .unwrap();

    let run = backend.results.task_progress(&task_id).await.unwrap().run;
    assert_eq!(run.attempts, 2);
    assert_eq!(run.started_at, Some(at(20)));
}

pub async fn a_cancellation_is_recorded_once_and_reported_for_a_later_start(backend: Backend) {
    let (owner, result) = a_result(&backend).await;
    let task_id = result.task_id.clone();

    let progress = backend
        .results
        .request_cancel(&task_id, &result.agent_id, &owner, at(5))
        .await
        .unwrap();
    assert_eq!(progress.run.cancel_requested_at, Some(at(5)));
    assert_eq!(progress.run.started_at, None);
    let again = backend
        .results
        .request_cancel(&task_id, &result.agent_id, &owner, at(9))
        .await
        .unwrap();
    assert_eq!(
        again.run.cancel_requested_at,
        Some(at(5)),
        "the first request's time stays"
    );

    let canceled = backend
        .results
        .record_starts(&[started(&task_id, &result, 1, 10)])
        .await
        .unwrap();
    assert_eq!(canceled, vec![task_id.clone()]);
    let run = backend.results.task_progress(&task_id).await.unwrap().run;
    assert_eq!(run.started_at, Some(at(10)));
    assert_eq!(run.cancel_requested_at, Some(at(5)));
}

pub async fn progress_carries_the_stored_result_and_canceled_results_count_apart(backend: Backend) {
    let (_, result) = a_result(&backend).await;
    let canceled = TaskResult {
        status: ResultStatus::Canceled,
        ..result.clone()
    };
    backend
        .results
        .record_starts(&[started(&result.task_id, &result, 1, 10)])
        .await
        .unwrap();
    backend
        .results
        .insert_results(std::slice::from_ref(&canceled))
        .await
        .unwrap();

    let progress = backend
        .results
        .task_progress(&result.task_id)
        .await
        .unwrap();
    assert_eq!(progress.result, Some(canceled.clone()));
    assert_eq!(progress.run.attempts, 1);
    let stats = backend.results.agent_stats(&result.agent_id).await.unwrap();
    assert_eq!(
        stats,
        AgentStats {
            tasks_completed: 1,
            canceled: 1,
            mean_duration_ms: stats.mean_duration_ms,
            p50_duration_ms: stats.p50_duration_ms,
            p95_duration_ms: stats.p95_duration_ms,
            p99_duration_ms: stats.p99_duration_ms,
            last_run_at: stats.last_run_at,
            ..AgentStats::default()
        }
    );
}

pub async fn a_start_later_than_the_latest_is_a_new_attempt_whatever_its_number(backend: Backend) {
    let (_, result) = a_result(&backend).await;
    let task_id = result.task_id.clone();
    // Embedded mode resumes a task after a restart with the queue's count started over.
    for seconds in [10, 20] {
        backend
            .results
            .record_starts(&[started(&task_id, &result, 1, seconds)])
            .await
            .unwrap();
    }
    let run = backend.results.task_progress(&task_id).await.unwrap().run;
    assert_eq!((run.attempts, run.started_at), (2, Some(at(20))));
}

pub async fn unfinished_cancellations_of_started_tasks_are_listed_until_their_result(
    backend: Backend,
) {
    let (owner, result) = a_result(&backend).await;
    let running = result.task_id.clone();
    let queued = TaskId::generate();
    for task_id in [&running, &queued] {
        backend
            .results
            .request_cancel(task_id, &result.agent_id, &owner, at(50))
            .await
            .unwrap();
    }
    backend
        .results
        .record_starts(&[started(&running, &result, 1, 40)])
        .await
        .unwrap();

    let pending = backend
        .results
        .unfinished_cancellations(at(0), 10)
        .await
        .unwrap();
    assert_eq!(pending, vec![running.clone()], "only the started one");
    assert!(
        backend
            .results
            .unfinished_cancellations(at(60), 10)
            .await
            .unwrap()
            .is_empty(),
        "asked before the window"
    );
    backend
        .results
        .insert_results(std::slice::from_ref(&result))
        .await
        .unwrap();
    assert!(
        backend
            .results
            .unfinished_cancellations(at(0), 10)
            .await
            .unwrap()
            .is_empty(),
        "finished"
    );
}
