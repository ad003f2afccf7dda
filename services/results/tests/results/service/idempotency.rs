//! Delivery is at least once: a worker that publishes a result and dies before its
//! acknowledgement runs the task again, and publishes a second result for the same task.

use bazaar_domain::{AgentId, UserId};
use bazaar_results::ResultsClient;

use crate::fixtures::{PATIENCE, RunningResults, everything_of, result_of};
use crate::stores::TestStore;

pub async fn a_result_delivered_twice_in_one_batch_is_stored_and_counted_once(store: TestStore) {
    let owner = UserId::generate();
    let agent = AgentId::generate();
    let first = result_of(&agent, &owner, 1);
    let mut again = first.clone();
    again.stdout = b"a second run".to_vec();
    let mut service = RunningResults::new(store, 8);
    let wait = service.service.register(&first.task_id).unwrap();
    service.publish(&[first.clone(), again]).await;

    service.start();
    assert!(wait.wait(&owner, PATIENCE).await.is_some());

    assert_eq!(
        service.store.results.stored_batches(),
        [2],
        "both deliveries came in one batch"
    );
    assert_eq!(
        service.service.get(&first.task_id, &owner).await.unwrap(),
        Some(first),
        "the first result is kept"
    );
    let stats = service.service.stats(&agent).await.unwrap();
    assert_eq!(stats.tasks_completed, 1);
    let page = service.service.list(&everything_of(&owner)).await.unwrap();
    assert_eq!(page.total, 1);
}

pub async fn a_result_delivered_again_later_keeps_the_first_and_is_counted_once(store: TestStore) {
    let owner = UserId::generate();
    let agent = AgentId::generate();
    let first = result_of(&agent, &owner, 1);
    let mut again = first.clone();
    again.stdout = b"a second run".to_vec();
    again.created_at = crate::fixtures::at(2);
    let service = RunningResults::started(store, 8);
    service.store(std::slice::from_ref(&first)).await;

    service.publish(&[again]).await;
    // Results are stored in the order they are queued: once the next one is stored, the
    // second delivery has been handled.
    let next = result_of(&agent, &owner, 3);
    service.store(std::slice::from_ref(&next)).await;

    assert_eq!(
        service.service.get(&first.task_id, &owner).await.unwrap(),
        Some(first)
    );
    let stats = service.service.stats(&agent).await.unwrap();
    assert_eq!(stats.tasks_completed, 2, "{stats:?}");
    assert_eq!(
        stats.last_run_at,
        Some(next.created_at),
        "the ignored delivery did not move the last run"
    );
    let page = service.service.list(&everything_of(&owner)).await.unwrap();
    assert_eq!(page.total, 2);
}
