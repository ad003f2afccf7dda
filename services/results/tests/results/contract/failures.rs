//! A failure keeps its error code across every client: the gateway answers the same HTTP
//! status whether the results service is in its process or across the network.

use std::time::Duration;

use bazaar_database::ResultStore;
use bazaar_domain::{AgentId, ErrorCode, TaskId, UserId};

use crate::clients::Client;
use crate::fixtures::everything_of;

pub async fn a_store_that_fails_is_an_internal_error_on_every_call(backend: Client) {
    let store = &backend.results.store;
    store.execute("drop table task_results").await;
    let task_id = TaskId::generate();
    let owner = UserId::generate();
    let cause = store
        .results
        .get_result(&task_id)
        .await
        .expect_err("the store fails without its table");
    assert_eq!(cause.code(), ErrorCode::Internal, "{cause}");

    let got = backend.client.get(&task_id, &owner).await.unwrap_err();
    let listed = backend
        .client
        .list(&everything_of(&owner))
        .await
        .unwrap_err();
    let waited = backend
        .client
        .wait(&task_id, &owner, Duration::from_secs(5))
        .await
        .unwrap_err();

    assert_eq!(got.code(), ErrorCode::Internal, "{got}");
    assert_eq!(listed.code(), ErrorCode::Internal, "{listed}");
    assert_eq!(waited.code(), ErrorCode::Internal, "{waited}");
}

pub async fn statistics_of_a_store_that_fails_are_an_internal_error(backend: Client) {
    backend
        .results
        .store
        .execute("drop table agent_stats")
        .await;

    let error = backend
        .client
        .stats(&AgentId::generate())
        .await
        .unwrap_err();

    assert_eq!(error.code(), ErrorCode::Internal, "{error}");
}
