//! Distributed mode may run several results services on one PostgreSQL database: a waiter
//! on one of them learns of a result another stored, through the database's notifications.
//! SQLite has one writer in one process, so this is PostgreSQL's alone.

use std::time::Duration;

use bazaar_domain::{AgentId, UserId};
use bazaar_queue::InProcessQueue;
use bazaar_results::{ResultsClient, ResultsConfig, ResultsService};
use tokio_util::sync::CancellationToken;

use crate::fixtures::{PATIENCE, RunningResults, result_of};
use crate::stores;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_stored_by_another_replica_wakes_a_waiter_here() {
    let Some(store) = stores::postgres().await else {
        return;
    };
    let here = RunningResults::started(store, 8);
    let there_queue = std::sync::Arc::new(InProcessQueue::new(64, 10));
    let there = ResultsService::new(
        here.store.open_again().await,
        there_queue.clone(),
        ResultsConfig { max_batch: 8 },
    );
    let there_shutdown = CancellationToken::new();
    let _stop_there = there_shutdown.clone().drop_guard();
    tokio::spawn(there.run(there_queue.clone(), there_shutdown));
    let owner = UserId::generate();
    let result = result_of(&AgentId::generate(), &owner, 1);
    let client = here.service.clone();
    let (task_id, waiter) = (result.task_id.clone(), owner.clone());
    let wait = tokio::spawn(async move {
        client
            .wait(&task_id, &waiter, Duration::from_secs(60))
            .await
    });
    here.store.results.until_looked_up(&result.task_id, 1).await;

    bazaar_queue::TaskQueue::publish_result(there_queue.as_ref(), result.clone().into())
        .await
        .unwrap();

    let waited = tokio::time::timeout(PATIENCE, wait)
        .await
        .expect("the waiter here learns of the result stored there")
        .expect("the wait does not panic")
        .unwrap();
    assert_eq!(waited, Some(result));
}
