use bazaar_domain::{AgentId, UserId};
use bazaar_results::ResultsClient;

use crate::fixtures::{PATIENCE, RunningResults, everything_of, result_of};
use crate::stores::TestStore;

pub async fn results_waiting_in_the_queue_are_stored_in_batches_of_at_most_max_batch(
    store: TestStore,
) {
    let owner = UserId::generate();
    let agent = AgentId::generate();
    let results: Vec<_> = (0..10)
        .map(|second| result_of(&agent, &owner, second))
        .collect();
    let mut service = RunningResults::new(store, 4);
    let waits: Vec<_> = results
        .iter()
        .map(|result| service.service.register(&result.task_id).unwrap())
        .collect();
    service.publish(&results).await;

    service.start();
    for wait in waits {
        assert!(wait.wait(&owner, PATIENCE).await.is_some());
    }

    assert_eq!(
        service.store.results.stored_batches(),
        [4, 4, 2],
        "what waits is taken in batches as large as allowed"
    );
    let page = service.service.list(&everything_of(&owner)).await.unwrap();
    assert_eq!(page.total, 10);
}

pub async fn a_burst_of_results_is_stored_and_counted_in_full(store: TestStore) {
    let owner = UserId::generate();
    let (busy_agent, quiet_agent) = (AgentId::generate(), AgentId::generate());
    let results: Vec<_> = (0..40)
        .map(|second| {
            let agent = if second % 4 == 0 {
                &quiet_agent
            } else {
                &busy_agent
            };
            result_of(agent, &owner, second)
        })
        .collect();
    let service = RunningResults::started(store, 8);

    service.store(&results).await;

    let batches = service.store.results.stored_batches();
    assert_eq!(batches.iter().sum::<usize>(), 40, "{batches:?}");
    assert!(batches.iter().all(|&size| size <= 8), "{batches:?}");
    let busy = service.service.stats(&busy_agent).await.unwrap();
    let quiet = service.service.stats(&quiet_agent).await.unwrap();
    assert_eq!((busy.tasks_completed, quiet.tasks_completed), (30, 10));
    let page = service.service.list(&everything_of(&owner)).await.unwrap();
    assert_eq!(page.total, 40);
}
