//! A TCP proxy between the queue and the broker, so that a test can fail the network under the
//! queue without touching the broker, which other tests share.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use lapin::uri::AMQPUri;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The network between the queue and the broker, as a test wants it.
pub struct FaultyNetwork {
    /// The broker's URL with the proxy's address in place of the broker's.
    pub url: String,
    shared: Arc<Shared>,
    accepting: JoinHandle<()>,
}

struct Shared {
    /// The connections open now: cancelled together by [`FaultyNetwork::cut`].
    connections: Mutex<Connections>,
    /// While false, new connections are closed as soon as they are accepted.
    reachable: AtomicBool,
}

#[derive(Default)]
struct Connections {
    cut: CancellationToken,
    forwarding: TaskTracker,
}

impl FaultyNetwork {
    /// Starts forwarding to the broker of `broker_url`.
    pub async fn start(broker_url: &str) -> FaultyNetwork {
        let uri: AMQPUri = broker_url.parse().expect("an AMQP URL");
        let broker = format!("{}:{}", uri.authority.host, uri.authority.port);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the proxy listens");
        let address = listener.local_addr().expect("the proxy has an address");
        let shared = Arc::new(Shared {
            connections: Mutex::new(Connections::default()),
            reachable: AtomicBool::new(true),
        });
        let accepting = tokio::spawn(accept(listener, broker, shared.clone()));
        FaultyNetwork {
            url: with_address(broker_url, address),
            shared,
            accepting,
        }
    }

    /// Drops every open connection at once, as a failed network would, and returns once they
    /// are closed on both sides; new connections get through if the broker is reachable.
    pub async fn cut(&self) {
        let cut = std::mem::take(&mut *self.shared.lock());
        cut.cut.cancel();
        cut.forwarding.close();
        cut.forwarding.wait().await;
    }

    /// Whether new connections reach the broker; while not, each is closed as soon as it is
    /// accepted, as a broker that is down would refuse it.
    pub fn set_reachable(&self, reachable: bool) {
        self.shared.reachable.store(reachable, Ordering::SeqCst);
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Connections> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for FaultyNetwork {
    fn drop(&mut self) {
        self.accepting.abort();
        self.shared.lock().cut.cancel();
    }
}

async fn accept(listener: TcpListener, broker: String, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        if !shared.reachable.load(Ordering::SeqCst) {
            drop(client);
            continue;
        }
        let connections = shared.lock();
        let cut = connections.cut.clone();
        connections
            .forwarding
            .spawn(forward(client, broker.clone(), cut));
    }
}

/// Copies bytes both ways until either side closes or the connection is cut; dropping the
/// sockets then closes both sides.
async fn forward(mut client: TcpStream, broker: String, cut: CancellationToken) {
    let Ok(mut upstream) = TcpStream::connect(&broker).await else {
        return;
    };
    tokio::select! {
        () = cut.cancelled() => {}
        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
    }
}

/// `url` with `address` in place of its host and port, keeping credentials and virtual host.
fn with_address(url: &str, address: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("an AMQP URL");
    let (authority, path) = match rest.split_once('/') {
        Some((authority, path)) => (authority, format!("/{path}")),
        None => (rest, String::new()),
    };
    let credentials = authority
        .rsplit_once('@')
        .map(|(credentials, _)| format!("{credentials}@"))
        .unwrap_or_default();
    format!("{scheme}://{credentials}{address}{path}")
}
