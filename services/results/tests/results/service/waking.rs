use std::time::Duration;

use bazaar_domain::{AgentId, UserId};
use bazaar_results::ResultsClient;

use crate::fixtures::{PATIENCE, RunningResults, result_of};
use crate::stores::TestStore;

pub async fn a_wait_registered_before_the_task_was_queued_receives_its_result(store: TestStore) {
    let owner = UserId::generate();
    let result = result_of(&AgentId::generate(), &owner, 1);
    let service = RunningResults::started(store, 8);
    let wait = service
        .service
        .register(&result.task_id)
        .expect("the in-process service takes registered waits");

    service.publish(std::slice::from_ref(&result)).await;

    assert_eq!(wait.wait(&owner, PATIENCE).await, Some(result));
}

pub async fn every_waiter_of_a_task_is_woken(store: TestStore) {
    let owner = UserId::generate();
    let result = result_of(&AgentId::generate(), &owner, 1);
    let service = RunningResults::started(store, 8);
    let waits: Vec<_> = (0..3)
        .map(|_| {
            let client = service.service.clone();
            let (task_id, owner) = (result.task_id.clone(), owner.clone());
            tokio::spawn(
                async move { client.wait(&task_id, &owner, Duration::from_secs(60)).await },
            )
        })
        .collect();
    service
        .store
        .results
        .until_looked_up(&result.task_id, 3)
        .await;

    service.publish(std::slice::from_ref(&result)).await;

    for wait in waits {
        let waited = tokio::time::timeout(PATIENCE, wait)
            .await
            .expect("every waiter is woken")
            .expect("the wait does not panic")
            .unwrap();
        assert_eq!(waited.as_ref(), Some(&result));
    }
}
