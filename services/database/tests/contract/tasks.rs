//! `TaskStore`: submitted tasks.

use bazaar_database::UnfinishedTask;
use bazaar_domain::{
    IdempotencyClaim, IdempotencyKey, ResultStatus, Sha256, Task, TaskId, TaskResult, UserId,
    WebhookSubscription,
};

use std::sync::Arc;

use chrono::TimeDelta;

use crate::backends::Backend;
use crate::fixtures::{at, create_user, publish_named};

/// A task of a fresh user for a fresh agent.
pub(crate) async fn new_task(backend: &Backend) -> Task {
    let owner = create_user(backend, "ada").await;
    let agent = publish_named(backend, &owner, "json-format").await;
    Task {
        id: TaskId::generate(),
        agent_id: agent.id,
        owner,
        input_size: 10,
        input: Arc::from(&b"\x1f\x8b\0\xff\xfe{\"a\":"[..]),
        timeout_ms: 30_000,
        created_at: at(42),
        webhook: None,
    }
}

pub async fn an_inserted_task_reads_back_unchanged(backend: Backend) {
    let task = new_task(&backend).await;

    backend.tasks.insert_task(&task).await.unwrap();

    let read = backend.tasks.get_task(&task.id).await.unwrap();
    assert_eq!(read, Some(task));
}

pub async fn an_unknown_task_is_none(backend: Backend) {
    let task = new_task(&backend).await;
    backend.tasks.insert_task(&task).await.unwrap();

    let read = backend.tasks.get_task(&TaskId::generate()).await.unwrap();

    assert_eq!(read, None);
}

pub async fn a_deleted_task_is_gone_and_other_tasks_stay(backend: Backend) {
    let task = new_task(&backend).await;
    let other = Task {
        id: TaskId::generate(),
        ..task.clone()
    };
    backend.tasks.insert_task(&task).await.unwrap();
    backend.tasks.insert_task(&other).await.unwrap();

    backend.tasks.delete_task(&task.id).await.unwrap();

    assert_eq!(backend.tasks.get_task(&task.id).await.unwrap(), None);
    assert_eq!(
        backend.tasks.get_task(&other.id).await.unwrap(),
        Some(other)
    );
}

pub async fn deleting_an_unknown_task_is_not_an_error(backend: Backend) {
    let deleted = backend.tasks.delete_task(&TaskId::generate()).await;

    assert!(deleted.is_ok(), "{deleted:?}");
}

pub async fn a_task_keeps_its_input_byte_for_byte(backend: Backend) {
    let every_byte: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let task = Task {
        input_size: every_byte.len() as i64,
        input: Arc::from(every_byte),
        ..new_task(&backend).await
    };

    backend.tasks.insert_task(&task).await.unwrap();

    let read = backend.tasks.get_task(&task.id).await.unwrap().unwrap();
    assert_eq!(read.input, task.input);
}

pub async fn a_task_keeps_its_webhook(backend: Backend) {
    let webhook = WebhookSubscription::parse(
        "https://example.com/hooks?from=bazaar",
        &["running".to_owned(), "completed".to_owned()],
    )
    .unwrap();
    let task = Task {
        webhook: Some(webhook),
        ..new_task(&backend).await
    };

    backend.tasks.insert_task(&task).await.unwrap();

    let read = backend.tasks.get_task(&task.id).await.unwrap().unwrap();
    assert_eq!(read.webhook, task.webhook);
}

pub async fn a_task_time_keeps_its_microseconds(backend: Backend) {
    let task = Task {
        created_at: at(42) + TimeDelta::microseconds(123_456),
        ..new_task(&backend).await
    };

    backend.tasks.insert_task(&task).await.unwrap();

    let read = backend.tasks.get_task(&task.id).await.unwrap().unwrap();
    assert_eq!(read.created_at, task.created_at);
}

fn claim(owner: &UserId, key: &str, request: &str, claimed_at: i64) -> IdempotencyClaim {
    IdempotencyClaim {
        owner: owner.clone(),
        key: IdempotencyKey::parse(key).unwrap(),
        task_id: TaskId::generate(),
        request_hash: Sha256::digest(request.as_bytes()),
        created_at: at(claimed_at),
    }
}

pub async fn a_free_idempotency_key_is_claimed_and_then_names_its_task(backend: Backend) {
    let owner = create_user(&backend, "ada").await;
    let first = claim(&owner, "retry-me", "run json-format", 100);

    let claimed = backend
        .tasks
        .claim_idempotency_key(&first, at(0))
        .await
        .unwrap();
    let second = claim(&owner, "retry-me", "run json-format", 101);
    let standing = backend
        .tasks
        .claim_idempotency_key(&second, at(0))
        .await
        .unwrap();

    assert_eq!(claimed, None);
    assert_eq!(standing, Some(first));
}

pub async fn the_same_key_of_another_user_is_a_claim_of_its_own(backend: Backend) {
    let ada = create_user(&backend, "ada").await;
    let bob = create_user(&backend, "bob").await;
    let adas = claim(&ada, "shared-key", "one request", 100);
    let bobs = claim(&bob, "shared-key", "another request", 100);

    backend
        .tasks
        .claim_idempotency_key(&adas, at(0))
        .await
        .unwrap();
    let claimed = backend
        .tasks
        .claim_idempotency_key(&bobs, at(0))
        .await
        .unwrap();

    assert_eq!(claimed, None);
}

pub async fn a_claim_older_than_the_window_is_replaced(backend: Backend) {
    let owner = create_user(&backend, "ada").await;
    let stale = claim(&owner, "old-key", "yesterday's request", 100);
    backend
        .tasks
        .claim_idempotency_key(&stale, at(0))
        .await
        .unwrap();

    let fresh = claim(&owner, "old-key", "today's request", 500);
    let claimed = backend
        .tasks
        .claim_idempotency_key(&fresh, at(200))
        .await
        .unwrap();
    let later = claim(&owner, "old-key", "today's request", 501);
    let standing = backend
        .tasks
        .claim_idempotency_key(&later, at(200))
        .await
        .unwrap();

    assert_eq!(claimed, None);
    assert_eq!(standing, Some(fresh));
}

pub async fn a_released_claim_frees_its_key_but_not_a_later_claim(backend: Backend) {
    let owner = create_user(&backend, "ada").await;
    let first = claim(&owner, "key", "request", 100);
    backend
        .tasks
        .claim_idempotency_key(&first, at(0))
        .await
        .unwrap();

    backend.tasks.release_idempotency_key(&first).await.unwrap();
    let second = claim(&owner, "key", "request", 101);
    let claimed = backend
        .tasks
        .claim_idempotency_key(&second, at(0))
        .await
        .unwrap();
    // Releasing the first claim again (a late cleanup) leaves the second standing.
    backend.tasks.release_idempotency_key(&first).await.unwrap();
    let third = claim(&owner, "key", "request", 102);
    let standing = backend
        .tasks
        .claim_idempotency_key(&third, at(0))
        .await
        .unwrap();

    assert_eq!(claimed, None);
    assert_eq!(standing, Some(second));
}

/// Stores a successful result for `task`.
async fn finish(backend: &Backend, task: &Task) {
    let result = TaskResult {
        task_id: task.id.clone(),
        agent_id: task.agent_id.clone(),
        owner: task.owner.clone(),
        status: ResultStatus::Succeeded,
        exit_code: 0,
        stdout: Vec::new(),
        stderr: Vec::new(),
        stdout_truncated: false,
        stderr_truncated: false,
        duration_ms: 5,
        error: None,
        created_at: task.created_at + TimeDelta::seconds(1),
    };
    let stored = backend.results.insert_results(&[result]).await.unwrap();
    assert_eq!(stored, 1);
}

fn ids(unfinished: &[UnfinishedTask]) -> Vec<TaskId> {
    unfinished
        .iter()
        .map(|entry| entry.task.id.clone())
        .collect()
}

pub async fn unfinished_tasks_are_those_without_a_result_oldest_first_with_their_binary(
    backend: Backend,
) {
    let template = new_task(&backend).await;
    let agent = backend
        .agents
        .get_agent(&template.agent_id)
        .await
        .unwrap()
        .unwrap();
    let tasks: Vec<Task> = [30, 10, 20, 40]
        .into_iter()
        .map(|seconds| Task {
            id: TaskId::generate(),
            created_at: at(seconds),
            ..template.clone()
        })
        .collect();
    for task in &tasks {
        backend.tasks.insert_task(task).await.unwrap();
    }
    finish(&backend, &tasks[2]).await;

    let unfinished = backend
        .tasks
        .unfinished_tasks(at(1000), None, 10)
        .await
        .unwrap();

    assert_eq!(
        ids(&unfinished),
        [
            tasks[1].id.clone(),
            tasks[0].id.clone(),
            tasks[3].id.clone()
        ]
    );
    assert_eq!(
        unfinished[0].task, tasks[1],
        "the task comes whole, input included"
    );
    assert!(
        unfinished
            .iter()
            .all(|entry| entry.binary_hash.as_ref() == Some(&agent.binary_hash))
    );
}

pub async fn tasks_accepted_at_or_after_the_bound_are_not_unfinished_ones(backend: Backend) {
    let template = new_task(&backend).await;
    let before = Task {
        id: TaskId::generate(),
        created_at: at(99),
        ..template.clone()
    };
    let at_bound = Task {
        id: TaskId::generate(),
        created_at: at(100),
        ..template.clone()
    };
    backend.tasks.insert_task(&before).await.unwrap();
    backend.tasks.insert_task(&at_bound).await.unwrap();

    let unfinished = backend
        .tasks
        .unfinished_tasks(at(100), None, 10)
        .await
        .unwrap();

    assert_eq!(ids(&unfinished), [before.id]);
}

pub async fn unfinished_tasks_page_after_the_last_task_even_among_equal_times(backend: Backend) {
    let template = new_task(&backend).await;
    // Five at the same instant, then two later: pages must split the tie by id and list
    // each task exactly once.
    let mut tasks: Vec<Task> = (0..7)
        .map(|index| Task {
            id: TaskId::generate(),
            created_at: at(if index < 5 { 50 } else { 50 + index }),
            ..template.clone()
        })
        .collect();
    for task in &tasks {
        backend.tasks.insert_task(task).await.unwrap();
    }

    let mut listed = Vec::new();
    let mut after: Option<Task> = None;
    loop {
        let page = backend
            .tasks
            .unfinished_tasks(at(1000), after.as_ref(), 2)
            .await
            .unwrap();
        assert!(page.len() <= 2, "a page holds at most `limit` tasks");
        let Some(last) = page.last() else { break };
        after = Some(last.task.clone());
        listed.extend(ids(&page));
    }

    let mut expected: Vec<TaskId> = tasks.drain(..5).map(|task| task.id).collect();
    expected.sort_by(|left, right| left.as_str().cmp(right.as_str()));
    expected.extend(tasks.into_iter().map(|task| task.id));
    assert_eq!(listed, expected);
}
