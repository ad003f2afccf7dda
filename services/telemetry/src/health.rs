//! Readiness: one list of the dependencies a process needs, checked the same way by every
//! process, whichever endpoint serves it (the gateway's `/readyz`, or the operations
//! endpoint of a worker or results service).
//!
//! Each service adds the dependencies it uses when it starts (the queue, the database, the
//! blob store), by name; a dependency two services share is checked once. A process that is
//! shutting down is not ready, so that a load balancer stops sending it work first.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// What checking one dependency returns: `Err` with a message an operator can act on.
pub type ProbeFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

type Probe = Arc<dyn Fn() -> ProbeFuture + Send + Sync>;

/// The dependencies of one process and whether it is shutting down. Cheap to clone; every
/// clone sees the same list.
#[derive(Clone, Default)]
pub struct Readiness {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    probes: Mutex<Vec<(&'static str, Probe)>>,
    draining: AtomicBool,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Readiness")
            .field("dependencies", &self.dependencies())
            .field("draining", &self.is_draining())
            .finish()
    }
}

impl Readiness {
    /// A process with no dependencies yet.
    pub fn new() -> Self {
        Readiness::default()
    }

    /// Adds a dependency called `name` (`database`, `queue`, `blob store`), checked by
    /// `probe`. A name already present is kept as it was: services that share a dependency
    /// may each add it.
    pub fn add<F, Fut>(&self, name: &'static str, probe: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let mut probes = self.inner.probes.lock().expect("readiness lock");
        if probes.iter().any(|(existing, _)| *existing == name) {
            return;
        }
        probes.push((name, Arc::new(move || Box::pin(probe()) as ProbeFuture)));
    }

    /// The names of the dependencies checked, in the order they were added.
    pub fn dependencies(&self) -> Vec<&'static str> {
        let probes = self.inner.probes.lock().expect("readiness lock");
        probes.iter().map(|(name, _)| *name).collect()
    }

    /// From now on the process reports itself not ready: it is shutting down.
    pub fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::Release);
    }

    /// Whether [`start_draining`](Self::start_draining) was called.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::Acquire)
    }

    /// Checks every dependency at once. `Ok` when all answer and the process is not
    /// shutting down; otherwise every problem, each prefixed with what it concerns.
    pub async fn check(&self) -> Result<(), Vec<String>> {
        let probes: Vec<(&'static str, Probe)> =
            self.inner.probes.lock().expect("readiness lock").clone();
        let mut problems = Vec::new();
        if self.is_draining() {
            problems.push("shutting down".to_owned());
        }
        let outcomes =
            futures_util::future::join_all(probes.iter().map(|(_, probe)| probe())).await;
        for ((name, _), outcome) in probes.iter().zip(outcomes) {
            if let Err(problem) = outcome {
                problems.push(format!("{name}: {problem}"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_process_whose_dependencies_answer_is_ready() {
        let readiness = Readiness::new();
        readiness.add("queue", || async { Ok(()) });

        assert_eq!(readiness.check().await, Ok(()));
    }

    #[tokio::test]
    async fn readiness_names_every_dependency_that_failed() {
        let readiness = Readiness::new();
        readiness.add("database", || async {
            Err("connection refused".to_owned())
        });
        readiness.add("queue", || async { Ok(()) });
        readiness.add("blob store", || async { Err("no such bucket".to_owned()) });

        assert_eq!(
            readiness.check().await,
            Err(vec![
                "database: connection refused".to_owned(),
                "blob store: no such bucket".to_owned()
            ])
        );
    }

    #[tokio::test]
    async fn a_dependency_added_twice_is_checked_once() {
        let readiness = Readiness::new();
        readiness.add("queue", || async { Err("down".to_owned()) });
        readiness.add("queue", || async { Ok(()) });

        assert_eq!(readiness.dependencies(), ["queue"]);
        assert_eq!(readiness.check().await, Err(vec!["queue: down".to_owned()]));
    }

    #[tokio::test]
    async fn a_process_that_is_shutting_down_is_not_ready() {
        let readiness = Readiness::new();
        readiness.add("queue", || async { Ok(()) });
        readiness.start_draining();

        assert_eq!(
            readiness.check().await,
            Err(vec!["shutting down".to_owned()])
        );
    }
}
