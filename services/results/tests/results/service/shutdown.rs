use bazaar_domain::{AgentId, UserId};
use bazaar_results::ResultsClient;

use crate::fixtures::{RunningResults, everything_of, result_of};
use crate::stores::TestStore;

pub async fn results_already_queued_are_stored_before_the_service_stops(store: TestStore) {
    let owner = UserId::generate();
    let agent = AgentId::generate();
    let results: Vec<_> = (0..10)
        .map(|second| result_of(&agent, &owner, second))
        .collect();
    let mut service = RunningResults::new(store, 4);
    service.publish(&results).await;
    service.shutdown().cancel();

    service.start();
    service.stop().await;

    let page = service.service.list(&everything_of(&owner)).await.unwrap();
    assert_eq!(page.total, 10, "every queued result is stored");
    let batches = service.store.results.stored_batches();
    assert!(
        batches.iter().all(|&size| size <= 4),
        "max_batch holds while draining too: {batches:?}"
    );
}
