//! `TaskStore`: submitted tasks.

use bazaar_domain::{Task, TaskId};

use chrono::TimeDelta;

use crate::backends::Backend;
use crate::fixtures::{at, create_user, publish_named};

/// A task of a fresh user for a fresh agent.
async fn new_task(backend: &Backend) -> Task {
    let owner = create_user(backend, "ada").await;
    let agent = publish_named(backend, &owner, "json-format").await;
    Task {
        id: TaskId::generate(),
        agent_id: agent.id,
        owner,
        input_size: 4096,
        timeout_ms: 30_000,
        created_at: at(42),
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

pub async fn a_task_time_keeps_its_microseconds(backend: Backend) {
    let task = Task {
        created_at: at(42) + TimeDelta::microseconds(123_456),
        ..new_task(&backend).await
    };

    backend.tasks.insert_task(&task).await.unwrap();

    let read = backend.tasks.get_task(&task.id).await.unwrap().unwrap();
    assert_eq!(read.created_at, task.created_at);
}
