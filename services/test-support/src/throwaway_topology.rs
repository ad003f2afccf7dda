//! RabbitMQ queues made for one test: what a queue under a prefix declares (its task and
//! result queues, their dead-letter queues and the dead-letter exchange), deleted after the
//! test. Quorum queues left behind cost the shared broker CPU for good, enough to slow every
//! later test on a small machine.

use lapin::options::QueueDeleteOptions;
use lapin::{Connection, ConnectionProperties};

/// The queues and the exchange a RabbitMQ queue under `prefix` declares, deleted when this
/// is dropped (or by [`ThrowawayTopology::delete`]), whether the test passed or not.
pub struct ThrowawayTopology {
    url: String,
    prefix: String,
    deleted: bool,
}

impl ThrowawayTopology {
    /// The topology under `prefix` on the broker at `url`, to be deleted.
    pub fn new(url: &str, prefix: &str) -> Self {
        ThrowawayTopology {
            url: url.to_owned(),
            prefix: prefix.to_owned(),
            deleted: false,
        }
    }

    /// Deletes the topology now, failing the test if the broker refuses.
    pub async fn delete(mut self) {
        delete_topology(&self.url, &self.prefix)
            .await
            .unwrap_or_else(|error| panic!("failed to delete the test's queues: {error}"));
        self.deleted = true;
    }
}

impl Drop for ThrowawayTopology {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        // As for a throwaway database: a thread with a runtime and a connection of its own,
        // since the test's runtime may be going away. Whatever cannot be deleted is left
        // behind with a warning, never a panic here.
        let url = self.url.clone();
        let prefix = self.prefix.clone();
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| error.to_string())?;
            runtime
                .block_on(delete_topology(&url, &prefix))
                .map_err(|error| error.to_string())
        })
        .join();
        match deleted {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!(
                "warning: the test queues under {} were left behind: {error}",
                self.prefix
            ),
            Err(_) => eprintln!(
                "warning: the test queues under {} were left behind",
                self.prefix
            ),
        }
    }
}

async fn delete_topology(url: &str, prefix: &str) -> Result<(), lapin::Error> {
    let connection = Connection::connect(url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    for suffix in ["tasks", "results", "tasks.dead", "results.dead"] {
        channel
            .queue_delete(
                format!("{prefix}.{suffix}").as_str().into(),
                QueueDeleteOptions::default(),
            )
            .await?;
    }
    channel
        .exchange_delete(
            format!("{prefix}.dead-letter").as_str().into(),
            Default::default(),
        )
        .await?;
    let _ = connection.close(200, "done".into()).await;
    Ok(())
}
