use bazaar_domain::{AgentId, UserId};
use bazaar_results::ResultsClient;

use crate::fixtures::{PATIENCE, RunningResults, result_of};
use crate::stores::TestStore;

pub async fn a_result_that_failed_to_store_is_stored_once_the_store_is_back(store: TestStore) {
    let owner = UserId::generate();
    let agent = AgentId::generate();
    let result = result_of(&agent, &owner, 1);
    let service = RunningResults::started(store, 8);
    service
        .store
        .execute("alter table task_results rename to task_results_away")
        .await;
    let wait = service.service.register(&result.task_id).unwrap();

    service.publish(std::slice::from_ref(&result)).await;
    service.store.results.until_inserts_failed(1).await;
    service
        .store
        .execute("alter table task_results_away rename to task_results")
        .await;

    assert_eq!(wait.wait(&owner, PATIENCE).await, Some(result));
    let stats = service.service.stats(&agent).await.unwrap();
    assert_eq!(stats.tasks_completed, 1);
}
