//! `RetentionStore`: what outlives its retention is deleted, in batches; what is recent or
//! unfinished stays, and statistics do not change.

use std::sync::Arc;

use bazaar_database::RetentionPolicy;
use bazaar_domain::{
    Agent, AgentStats, IdempotencyClaim, IdempotencyKey, Sha256, Task, TaskId, TaskResult,
    TaskStarted, UserId,
};
use chrono::TimeDelta;

use crate::backends::Backend;
use crate::fixtures::{at, create_user, publish_named, result_of};

/// A user and one agent of theirs.
async fn owner_and_agent(backend: &Backend) -> (UserId, Agent) {
    let owner = create_user(backend, "ada").await;
    let agent = publish_named(backend, &owner, "json-format").await;
    (owner, agent)
}

/// A task accepted at `at(seconds)`.
async fn accept(backend: &Backend, agent: &Agent, owner: &UserId, seconds: i64) -> Task {
    let task = Task {
        id: TaskId::generate(),
        agent_id: agent.id.clone(),
        owner: owner.clone(),
        input_size: 5,
        input: Arc::from(&b"hello"[..]),
        timeout_ms: 1000,
        created_at: at(seconds),
        webhook: None,
    };
    backend.tasks.insert_task(&task).await.unwrap();
    task
}

/// Records that a worker started `task` a second after it was accepted.
async fn start(backend: &Backend, task: &Task) {
    let started = TaskStarted {
        task_id: task.id.clone(),
        agent_id: task.agent_id.clone(),
        owner: task.owner.clone(),
        attempt: 1,
        started_at: task.created_at + TimeDelta::seconds(1),
    };
    backend.results.record_starts(&[started]).await.unwrap();
}

/// A task accepted at `at(seconds)`, started, and finished two seconds later.
async fn finished_task(backend: &Backend, agent: &Agent, owner: &UserId, seconds: i64) -> Task {
    let task = accept(backend, agent, owner, seconds).await;
    start(backend, &task).await;
    let result = TaskResult {
        task_id: task.id.clone(),
        duration_ms: 10 + seconds,
        ..result_of(agent, owner, seconds + 2)
    };
    assert_eq!(backend.results.insert_results(&[result]).await.unwrap(), 1);
    task
}

/// Deletes results stored before `at(results_before)` and nothing else of age: tokens and
/// keys are dated long before `at(0)` in these tests only when a test says so.
fn policy(results_before: Option<i64>, batch_size: u32) -> RetentionPolicy {
    RetentionPolicy {
        results_before: results_before.map(at),
        tokens_expired_before: at(-1_000_000),
        idempotency_keys_before: at(-1_000_000),
        batch_size,
    }
}

async fn stats(backend: &Backend, agent: &Agent) -> AgentStats {
    backend.results.agent_stats(&agent.id).await.unwrap()
}

pub async fn results_past_the_cutoff_go_with_their_tasks_and_runs(backend: Backend) {
    let (owner, agent) = owner_and_agent(&backend).await;
    let old = finished_task(&backend, &agent, &owner, 10).await;
    let recent = finished_task(&backend, &agent, &owner, 200).await;

    let deleted = backend
        .retention
        .delete_expired(&policy(Some(100), 1000))
        .await
        .unwrap()
        .expect("nobody else is running retention");

    assert_eq!(deleted.of("task_results"), 1);
    assert_eq!(deleted.of("tasks"), 1);
    assert_eq!(deleted.of("task_runs"), 1);
    assert_eq!(backend.results.get_result(&old.id).await.unwrap(), None);
    assert_eq!(backend.tasks.get_task(&old.id).await.unwrap(), None);
    let old_progress = backend.results.task_progress(&old.id).await.unwrap();
    assert_eq!(
        old_progress.run.attempts, 0,
        "its run is gone: {old_progress:?}"
    );
    assert!(
        backend
            .results
            .get_result(&recent.id)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        backend.tasks.get_task(&recent.id).await.unwrap(),
        Some(recent.clone())
    );
    let recent_progress = backend.results.task_progress(&recent.id).await.unwrap();
    assert_eq!(recent_progress.run.attempts, 1);
}

pub async fn a_task_without_a_result_is_never_deleted_however_old(backend: Backend) {
    let (owner, agent) = owner_and_agent(&backend).await;
    let queued = accept(&backend, &agent, &owner, 1).await;
    let running = accept(&backend, &agent, &owner, 2).await;
    start(&backend, &running).await;
    finished_task(&backend, &agent, &owner, 3).await;

    let deleted = backend
        .retention
        .delete_expired(&policy(Some(1_000_000), 1000))
        .await
        .unwrap()
        .unwrap();

    assert_eq!(deleted.of("tasks"), 1);
    assert_eq!(
        backend.tasks.get_task(&queued.id).await.unwrap(),
        Some(queued)
    );
    assert_eq!(
        backend.tasks.get_task(&running.id).await.unwrap(),
        Some(running.clone())
    );
    let progress = backend.results.task_progress(&running.id).await.unwrap();
    assert_eq!(progress.run.attempts, 1, "a running task keeps its run");
}

pub async fn statistics_counters_are_unchanged_by_deletion(backend: Backend) {
    let (owner, agent) = owner_and_agent(&backend).await;
    for seconds in [10, 20, 30, 400] {
        finished_task(&backend, &agent, &owner, seconds).await;
    }
    let before = stats(&backend, &agent).await;

    backend
        .retention
        .delete_expired(&policy(Some(100), 1000))
        .await
        .unwrap()
        .unwrap();

    let after = stats(&backend, &agent).await;
    assert_eq!(after.tasks_completed, 4);
    assert_eq!(
        (
            after.tasks_completed,
            after.succeeded,
            after.failed,
            after.timed_out,
            after.canceled,
            after.mean_duration_ms,
            after.last_run_at,
        ),
        (
            before.tasks_completed,
            before.succeeded,
            before.failed,
            before.timed_out,
            before.canceled,
            before.mean_duration_ms,
            before.last_run_at,
        )
    );
    // Percentiles describe the results still stored: only the one at 400 s is left.
    assert_eq!(after.p50_duration_ms, Some(410));
    let listed = backend.agents.get_agent(&agent.id).await.unwrap().unwrap();
    assert_eq!(listed.tasks_completed, 4);
}

pub async fn many_expired_results_are_deleted_batch_after_batch(backend: Backend) {
    let (owner, agent) = owner_and_agent(&backend).await;
    for seconds in 0..23 {
        finished_task(&backend, &agent, &owner, seconds).await;
    }
    let kept = finished_task(&backend, &agent, &owner, 500).await;

    let deleted = backend
        .retention
        .delete_expired(&policy(Some(100), 5))
        .await
        .unwrap()
        .unwrap();

    assert_eq!(deleted.of("task_results"), 23);
    assert_eq!(deleted.of("tasks"), 23);
    assert_eq!(deleted.of("task_runs"), 23);
    let left = backend
        .tasks
        .unfinished_tasks(at(1_000_000), None, 100)
        .await
        .unwrap();
    assert!(left.is_empty(), "no task lost its result: {left:?}");
    assert!(
        backend
            .results
            .get_result(&kept.id)
            .await
            .unwrap()
            .is_some()
    );
    let again = backend
        .retention
        .delete_expired(&policy(Some(100), 5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.total(), 0);
}

pub async fn keeping_results_forever_keeps_every_result_and_task(backend: Backend) {
    let (owner, agent) = owner_and_agent(&backend).await;
    let old = finished_task(&backend, &agent, &owner, 1).await;

    let deleted = backend
        .retention
        .delete_expired(&policy(None, 1000))
        .await
        .unwrap()
        .unwrap();

    assert_eq!(deleted.total(), 0);
    assert!(backend.results.get_result(&old.id).await.unwrap().is_some());
    assert!(backend.tasks.get_task(&old.id).await.unwrap().is_some());
}

pub async fn expired_tokens_are_deleted_and_live_ones_kept(backend: Backend) {
    let owner = create_user(&backend, "ada").await;
    for (token, expires) in [("expired-1", 10), ("expired-2", 20), ("live", 200)] {
        backend
            .accounts
            .create_token(token, &owner, at(expires))
            .await
            .unwrap();
    }

    let deleted = backend
        .retention
        .delete_expired(&RetentionPolicy {
            tokens_expired_before: at(100),
            ..policy(None, 1)
        })
        .await
        .unwrap()
        .unwrap();

    assert_eq!(deleted.of("api_tokens"), 2);
    // The token valid until `at(200)` was kept: it is still there to delete later.
    let again = backend
        .retention
        .delete_expired(&RetentionPolicy {
            tokens_expired_before: at(1000),
            ..policy(None, 1)
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again.of("api_tokens"),
        1,
        "the live token was kept the first time"
    );
}

pub async fn idempotency_keys_past_their_window_are_deleted_and_newer_ones_kept(backend: Backend) {
    let owner = create_user(&backend, "ada").await;
    let claim = |key: &str, claimed_at: i64| IdempotencyClaim {
        owner: owner.clone(),
        key: IdempotencyKey::parse(key).unwrap(),
        task_id: TaskId::generate(),
        request_hash: Sha256::digest(key.as_bytes()),
        created_at: at(claimed_at),
    };
    let old = claim("old", 10);
    let new = claim("new", 200);
    for claimed in [&old, &new] {
        let standing = backend
            .tasks
            .claim_idempotency_key(claimed, at(0))
            .await
            .unwrap();
        assert_eq!(standing, None);
    }

    let deleted = backend
        .retention
        .delete_expired(&RetentionPolicy {
            idempotency_keys_before: at(100),
            ..policy(None, 1000)
        })
        .await
        .unwrap()
        .unwrap();

    assert_eq!(deleted.of("idempotency_keys"), 1);
    // The old key is free again; the new one still names its task.
    let retried_old = claim("old", 300);
    let retried_new = claim("new", 300);
    let old_standing = backend
        .tasks
        .claim_idempotency_key(&retried_old, at(0))
        .await
        .unwrap();
    let new_standing = backend
        .tasks
        .claim_idempotency_key(&retried_new, at(0))
        .await
        .unwrap();
    assert_eq!(old_standing, None);
    assert_eq!(new_standing, Some(new));
}

pub async fn a_run_is_skipped_while_another_process_holds_the_retention_lock(backend: Backend) {
    let (owner, agent) = owner_and_agent(&backend).await;
    let old = finished_task(&backend, &agent, &owner, 10).await;
    // A database only one process uses (SQLite) has no lock to hold.
    let Some(held) = backend.seeding.hold_retention_lock().await else {
        return;
    };

    let skipped = backend
        .retention
        .delete_expired(&policy(Some(100), 1000))
        .await
        .unwrap();
    held.release().await;
    let ran = backend
        .retention
        .delete_expired(&policy(Some(100), 1000))
        .await
        .unwrap();

    assert_eq!(skipped, None);
    assert!(backend.tasks.get_task(&old.id).await.unwrap().is_none());
    assert_eq!(ran.map(|deleted| deleted.of("task_results")), Some(1));
}
