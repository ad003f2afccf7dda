//! `TaskStore`: submitted tasks.

use bazaar_domain::{
    IdempotencyClaim, IdempotencyKey, Sha256, Task, TaskId, UserId, WebhookSubscription,
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
