//! A wait begins with a lookup, so a test that sees the lookup knows the waiter is in place
//! and can store the result then, without sleeping.

use std::time::{Duration, Instant};

use bazaar_domain::{AgentId, UserId};

use crate::clients::Client;
use crate::fixtures::{PATIENCE, result_of};

/// Longer than any test runs: a wait that ends, ends because of what the test did.
const LONG_WAIT: Duration = Duration::from_secs(60);

pub async fn a_wait_for_a_stored_result_returns_it_at_once(backend: Client) {
    let owner = UserId::generate();
    let result = result_of(&AgentId::generate(), &owner, 1);
    backend.results.store(std::slice::from_ref(&result)).await;

    let waited = tokio::time::timeout(
        PATIENCE,
        backend.client.wait(&result.task_id, &owner, LONG_WAIT),
    )
    .await
    .expect("a stored result is not waited for")
    .unwrap();

    assert_eq!(waited, Some(result));
}

pub async fn a_wait_returns_a_result_stored_while_it_waits(backend: Client) {
    let owner = UserId::generate();
    let result = result_of(&AgentId::generate(), &owner, 1);
    let client = backend.client.clone();
    let (task_id, waiter) = (result.task_id.clone(), owner.clone());
    let wait = tokio::spawn(async move { client.wait(&task_id, &waiter, LONG_WAIT).await });
    backend
        .results
        .store
        .results
        .until_looked_up(&result.task_id, 1)
        .await;

    backend.results.store(std::slice::from_ref(&result)).await;

    let waited = tokio::time::timeout(PATIENCE, wait)
        .await
        .expect("the waiter was not woken")
        .expect("the wait does not panic")
        .unwrap();
    assert_eq!(waited, Some(result));
}

pub async fn a_wait_for_a_result_that_never_comes_is_none_after_its_timeout(backend: Client) {
    let owner = UserId::generate();
    let never_stored = result_of(&AgentId::generate(), &owner, 1);
    let timeout = Duration::from_millis(200);
    let started = Instant::now();

    let waited = backend
        .client
        .wait(&never_stored.task_id, &owner, timeout)
        .await
        .unwrap();

    assert_eq!(waited, None);
    let elapsed = started.elapsed();
    assert!(elapsed >= timeout, "gave up after {elapsed:?}");
    assert!(elapsed < PATIENCE, "waited {elapsed:?}");
}

pub async fn a_wait_for_another_users_stored_result_is_none(backend: Client) {
    let result = result_of(&AgentId::generate(), &UserId::generate(), 1);
    backend.results.store(std::slice::from_ref(&result)).await;

    let waited = tokio::time::timeout(
        PATIENCE,
        backend
            .client
            .wait(&result.task_id, &UserId::generate(), LONG_WAIT),
    )
    .await
    .expect("a stored result is not waited for, whoever asks")
    .unwrap();

    assert_eq!(waited, None);
}

pub async fn a_wait_for_another_users_result_is_none_when_it_arrives(backend: Client) {
    let result = result_of(&AgentId::generate(), &UserId::generate(), 1);
    let client = backend.client.clone();
    let task_id = result.task_id.clone();
    let wait =
        tokio::spawn(async move { client.wait(&task_id, &UserId::generate(), LONG_WAIT).await });
    backend
        .results
        .store
        .results
        .until_looked_up(&result.task_id, 1)
        .await;

    backend.results.store(std::slice::from_ref(&result)).await;

    let waited = tokio::time::timeout(PATIENCE, wait)
        .await
        .expect("the waiter was not woken")
        .expect("the wait does not panic")
        .unwrap();
    assert_eq!(waited, None);
}
