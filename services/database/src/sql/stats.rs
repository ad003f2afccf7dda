//! An agent's statistics from the raw numbers the databases keep: counters kept as results
//! are stored, and the durations of its most recent results.

use bazaar_domain::AgentStats;
use chrono::{DateTime, Utc};

use crate::percentile;

/// An agent's row of `agent_stats`, counted as its results were stored.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AgentCounters {
    pub(crate) tasks_completed: i64,
    pub(crate) succeeded: i64,
    pub(crate) failed: i64,
    pub(crate) timed_out: i64,
    pub(crate) canceled: i64,
    pub(crate) total_duration_ms: i64,
    pub(crate) last_run_at: Option<DateTime<Utc>>,
}

impl AgentCounters {
    /// The statistics, with duration percentiles over `recent_durations` (in any order).
    pub(crate) fn with_durations(self, mut recent_durations: Vec<i64>) -> AgentStats {
        recent_durations.sort_unstable();
        AgentStats {
            tasks_completed: self.tasks_completed,
            succeeded: self.succeeded,
            failed: self.failed,
            timed_out: self.timed_out,
            canceled: self.canceled,
            mean_duration_ms: (self.tasks_completed > 0)
                .then(|| self.total_duration_ms as f64 / self.tasks_completed as f64),
            p50_duration_ms: percentile(&recent_durations, 0.50),
            p95_duration_ms: percentile(&recent_durations, 0.95),
            p99_duration_ms: percentile(&recent_durations, 0.99),
            last_run_at: self.last_run_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AgentCounters;

    fn counters(tasks_completed: i64, total_duration_ms: i64) -> AgentCounters {
        AgentCounters {
            tasks_completed,
            succeeded: tasks_completed,
            failed: 0,
            timed_out: 0,
            canceled: 0,
            total_duration_ms,
            last_run_at: None,
        }
    }

    #[test]
    fn the_mean_covers_every_result_and_percentiles_the_recent_ones_in_any_order() {
        let stats = counters(4, 100).with_durations(vec![40, 10, 30, 20]);
        assert_eq!(stats.mean_duration_ms, Some(25.0));
        assert_eq!(stats.p50_duration_ms, Some(20));
        assert_eq!(stats.p95_duration_ms, Some(40));
        assert_eq!(stats.p99_duration_ms, Some(40));
    }

    #[test]
    fn counters_without_results_have_no_mean_and_no_percentiles() {
        let stats = counters(0, 0).with_durations(Vec::new());
        assert_eq!(stats.mean_duration_ms, None);
        assert_eq!(stats.p50_duration_ms, None);
    }
}
