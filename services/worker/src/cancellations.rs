//! What a worker knows of cancellations: the runs it has under way, to stop them, and the
//! tasks canceled lately, so that a canceled task that arrives afterwards is not run.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use bazaar_domain::{Signal, TaskId};
use bazaar_queue::Subscription;
use bazaar_sandbox::RunControl;

/// How many canceled task ids a worker remembers. A canceled task that arrives after this
/// many later cancellations runs until its start reaches the results service, which asks
/// for its cancellation again.
const REMEMBERED: usize = 100_000;

/// Shared by the worker's runs and its listener. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Cancellations {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    running: HashMap<TaskId, RunControl>,
    canceled: HashSet<TaskId>,
    order: VecDeque<TaskId>,
}

impl Cancellations {
    /// A control for a run of `task_id` about to start, or `None` if the task was canceled.
    pub(crate) fn begin(&self, task_id: &TaskId) -> Option<RunControl> {
        let mut inner = self.inner.lock().expect("cancellations lock poisoned");
        if inner.canceled.contains(task_id) {
            return None;
        }
        let control = RunControl::new();
        inner.running.insert(task_id.clone(), control.clone());
        Some(control)
    }

    /// The run of `task_id` is over.
    pub(crate) fn end(&self, task_id: &TaskId) {
        self.inner
            .lock()
            .expect("cancellations lock poisoned")
            .running
            .remove(task_id);
    }

    /// Cancels `task_id`: stops its run here, if any, and remembers it.
    pub(crate) fn cancel(&self, task_id: &TaskId) {
        let mut inner = self.inner.lock().expect("cancellations lock poisoned");
        if let Some(control) = inner.running.get(task_id) {
            tracing::info!(%task_id, "canceling a running task");
            control.cancel();
        }
        if inner.canceled.insert(task_id.clone()) {
            inner.order.push_back(task_id.clone());
            if inner.order.len() > REMEMBERED
                && let Some(oldest) = inner.order.pop_front()
            {
                inner.canceled.remove(&oldest);
            }
        }
    }

    /// Applies the cancellations `signals` brings until it ends.
    pub(crate) async fn listen(self, mut signals: Box<dyn Subscription>) {
        while let Some(signal) = signals.next().await {
            if let Signal::Cancel(task_id) = signal {
                self.cancel(&task_id);
            }
        }
    }
}
