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
    /// Every run under way, by task: a task delivered again while its first run goes on
    /// (its channel broke) runs twice here, and a cancellation stops both.
    running: HashMap<TaskId, Vec<(u64, RunControl)>>,
    next_run: u64,
    canceled: HashSet<TaskId>,
    order: VecDeque<TaskId>,
}

/// A run registered with [`Cancellations::begin`]; dropping it ends the registration, however
/// the run ends.
pub(crate) struct Run {
    cancellations: Cancellations,
    task_id: TaskId,
    id: u64,
    /// Cancelled by a cancellation of the task.
    pub(crate) control: RunControl,
}

impl Drop for Run {
    fn drop(&mut self) {
        let mut inner = self
            .cancellations
            .inner
            .lock()
            .expect("cancellations lock poisoned");
        if let Some(runs) = inner.running.get_mut(&self.task_id) {
            runs.retain(|(id, _)| *id != self.id);
            if runs.is_empty() {
                inner.running.remove(&self.task_id);
            }
        }
    }
}

impl Cancellations {
    /// A run of `task_id` about to start, or `None` if the task was canceled.
    pub(crate) fn begin(&self, task_id: &TaskId) -> Option<Run> {
        let mut inner = self.inner.lock().expect("cancellations lock poisoned");
        if inner.canceled.contains(task_id) {
            return None;
        }
        let control = RunControl::new();
        let id = inner.next_run;
        inner.next_run += 1;
        inner
            .running
            .entry(task_id.clone())
            .or_default()
            .push((id, control.clone()));
        Some(Run {
            cancellations: self.clone(),
            task_id: task_id.clone(),
            id,
            control,
        })
    }

    /// Cancels `task_id`: stops its runs here, if any, and remembers it.
    pub(crate) fn cancel(&self, task_id: &TaskId) {
        let mut inner = self.inner.lock().expect("cancellations lock poisoned");
        if let Some(runs) = inner.running.get(task_id) {
            tracing::info!(%task_id, runs = runs.len(), "canceling a running task");
            for (_, control) in runs {
                control.cancel();
            }
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
