//! One constructor per results client: the service itself, as the gateway holds it in
//! embedded mode, and the gRPC client of a server on a free port, as in distributed mode.
//! Both stand in front of the real service on real SQLite, fed by the in-process queue;
//! adding a client takes one constructor here and one line in `main.rs`.

use std::sync::Arc;

use bazaar_results::ResultsClient;
use bazaar_results::grpc::{GrpcResultsClient, serve};

use crate::fixtures::RunningResults;
use crate::stores;

/// A results client under test, and the service behind it.
pub struct Client {
    pub client: Arc<dyn ResultsClient>,
    /// The service the client reaches: results get in through its queue.
    pub results: RunningResults,
}

/// A batch size small enough that the contract's results take several batches.
const MAX_BATCH: usize = 4;

/// The service itself.
pub async fn in_process() -> Option<Client> {
    let results = RunningResults::started(stores::sqlite().await?, MAX_BATCH);
    Some(Client {
        client: results.service.clone(),
        results,
    })
}

/// A gRPC client of the service, served on a port of its own until the test ends.
pub async fn grpc() -> Option<Client> {
    let results = RunningResults::started(stores::sqlite().await?, MAX_BATCH);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port on the loopback interface");
    let address = listener.local_addr().expect("the listener has an address");
    tokio::spawn(serve(
        results.service.clone(),
        listener,
        results.shutdown().clone(),
    ));
    let client = GrpcResultsClient::new(&format!("http://{address}"))
        .expect("the results service url is valid");
    Some(Client {
        client: Arc::new(client),
        results,
    })
}
