//! The retention job: every `interval`, delete what has outlived its retention (results with
//! their tasks, inputs and runs; expired tokens; idempotency keys past their window), in
//! bounded batches, and say what went.
//!
//! Every replica of the results service runs the job; the store lets one run at a time
//! (PostgreSQL's advisory lock) and the others skip that turn. Agent statistics are
//! counters kept apart from the results, so deleting results leaves them as they were; only
//! duration percentiles, computed over the most recent stored results, come to describe the
//! results still kept.

use std::sync::Arc;
use std::time::Duration;

use bazaar_database::{RetentionPolicy, RetentionStore};
use bazaar_domain::IDEMPOTENCY_WINDOW;
use bazaar_telemetry::metrics::metrics;
use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// What the retention job keeps, and how often it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionConfig {
    /// How long a result (with its task, input and runs) is kept after it was stored;
    /// `None` keeps results forever. Expired tokens and idempotency keys past their window
    /// are deleted either way.
    pub keep_results_for: Option<TimeDelta>,
    /// Time between the starts of two runs; the first run starts with the service.
    pub interval: Duration,
    /// The most rows one statement deletes.
    pub batch_size: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            keep_results_for: Some(TimeDelta::days(30)),
            interval: Duration::from_secs(3600),
            batch_size: 1000,
        }
    }
}

impl RetentionConfig {
    /// What a run starting at `now` deletes.
    pub fn policy_at(&self, now: DateTime<Utc>) -> RetentionPolicy {
        RetentionPolicy {
            results_before: self.keep_results_for.map(|kept_for| now - kept_for),
            tokens_expired_before: now,
            idempotency_keys_before: now - IDEMPOTENCY_WINDOW,
            batch_size: self.batch_size,
        }
    }
}

/// Runs the job until `shutdown`. A failed run is logged and counted, and the next one
/// comes at its time: retention is never a reason to stop storing results. A run in progress
/// at shutdown is abandoned between (or within) its batches; each batch commits on its own,
/// so what was deleted stays deleted and the rest waits for the next start.
pub(crate) async fn run(
    store: Arc<dyn RetentionStore>,
    config: RetentionConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut ticks = tokio::time::interval(config.interval.max(Duration::from_millis(1)));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = ticks.tick() => {}
        }
        let started = tokio::time::Instant::now();
        let policy = config.policy_at(Utc::now());
        let outcome = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            outcome = store.delete_expired(&policy) => outcome,
        };
        let elapsed = started.elapsed();
        match outcome {
            Ok(Some(deleted)) => {
                for (table, rows) in deleted.iter() {
                    metrics().results.retention_deleted(table, rows);
                }
                metrics().results.retention_run("ran");
                let summary: Vec<String> = deleted
                    .iter()
                    .map(|(table, rows)| format!("{table}={rows}"))
                    .collect();
                tracing::info!(
                    deleted = deleted.total(),
                    per_table = summary.join(" "),
                    results_before = ?policy.results_before,
                    elapsed_ms = elapsed.as_millis() as u64,
                    "retention run finished"
                );
            }
            Ok(None) => {
                metrics().results.retention_run("skipped");
                tracing::debug!("another replica is running retention; skipping this turn");
            }
            Err(error) => {
                metrics().results.retention_run("failed");
                tracing::error!(%error, "the retention run failed; the next one retries");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_run_deletes_results_older_than_their_retention_and_keys_older_than_a_day() {
        let now = Utc.with_ymd_and_hms(2026, 3, 31, 12, 0, 0).unwrap();
        let config = RetentionConfig {
            keep_results_for: Some(TimeDelta::days(30)),
            ..RetentionConfig::default()
        };

        let policy = config.policy_at(now);

        assert_eq!(
            policy.results_before,
            Some(Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap())
        );
        assert_eq!(policy.tokens_expired_before, now);
        assert_eq!(
            policy.idempotency_keys_before,
            Utc.with_ymd_and_hms(2026, 3, 30, 12, 0, 0).unwrap()
        );
        assert_eq!(policy.batch_size, 1000);
    }

    #[test]
    fn results_kept_forever_have_no_cutoff() {
        let config = RetentionConfig {
            keep_results_for: None,
            ..RetentionConfig::default()
        };

        assert_eq!(config.policy_at(Utc::now()).results_before, None);
    }
}
