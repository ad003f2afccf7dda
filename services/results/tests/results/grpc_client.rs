//! What only the gRPC client has to say: the network between it and the service.

use bazaar_domain::{ErrorCode, TaskId, UserId};
use bazaar_results::ResultsClient;
use bazaar_results::grpc::GrpcResultsClient;

use crate::clients;

#[tokio::test]
async fn an_unreachable_results_service_is_unavailable() {
    // A port that was free a moment ago and that nobody listens on now.
    let address = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let client = GrpcResultsClient::new(&format!("http://{address}")).unwrap();

    let error = client
        .get(&TaskId::generate(), &UserId::generate())
        .await
        .unwrap_err();

    assert_eq!(error.code(), ErrorCode::Unavailable, "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internal_failure_reaches_a_remote_caller_without_its_details() {
    let backend = clients::grpc().await.expect("sqlite is always there");
    backend
        .results
        .store
        .execute("drop table task_results")
        .await;

    let error = backend
        .client
        .get(&TaskId::generate(), &UserId::generate())
        .await
        .unwrap_err();

    assert_eq!(error.code(), ErrorCode::Internal, "{error}");
    let shown = error.to_string();
    assert!(
        !shown.contains("task_results") && !shown.to_lowercase().contains("sql"),
        "the cause is for the service's logs, not for its callers: {shown}"
    );
}

#[test]
fn a_results_service_url_that_is_not_a_url_is_refused() {
    let error = GrpcResultsClient::new("not a url at all").unwrap_err();

    assert!(error.to_string().contains("not a url at all"), "{error}");
}
