//! When a failed message is tried again: exponential backoff, each delay four times the
//! last, from `first_retry_delay`, for at most `max_attempts` attempts in all.

use std::time::Duration;

/// How much longer each wait is than the one before.
pub const BACKOFF_FACTOR: u32 = 4;

/// The retry schedule of every message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    /// Attempts in all, the first included; at least 1.
    pub max_attempts: u32,
    /// The wait after the first failed attempt.
    pub first_retry_delay: Duration,
}

impl Default for RetrySchedule {
    /// 5 attempts: at once, then after 45 s, 3 min, 12 min and 48 min, about an hour and
    /// four minutes in all.
    fn default() -> Self {
        RetrySchedule {
            max_attempts: 5,
            first_retry_delay: Duration::from_secs(45),
        }
    }
}

impl RetrySchedule {
    /// The wait after failed attempt `attempt` (1, 2, …) before the next one; `None` when
    /// it was the last.
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_attempts.max(1) {
            return None;
        }
        let factor = BACKOFF_FACTOR.saturating_pow(attempt.saturating_sub(1));
        Some(self.first_retry_delay.saturating_mul(factor))
    }

    /// How long after the first attempt the last one is made, if every attempt fails.
    pub fn total_span(&self) -> Duration {
        (1..self.max_attempts.max(1))
            .filter_map(|attempt| self.delay_after(attempt))
            .fold(Duration::ZERO, Duration::saturating_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_makes_five_attempts_over_about_an_hour() {
        let schedule = RetrySchedule::default();
        let delays: Vec<Option<Duration>> = (1..=5)
            .map(|attempt| schedule.delay_after(attempt))
            .collect();
        assert_eq!(
            delays,
            [
                Some(Duration::from_secs(45)),
                Some(Duration::from_secs(180)),
                Some(Duration::from_secs(720)),
                Some(Duration::from_secs(2880)),
                None,
            ]
        );
        assert_eq!(schedule.total_span(), Duration::from_secs(3825));
    }

    #[test]
    fn one_attempt_means_no_retry() {
        let schedule = RetrySchedule {
            max_attempts: 1,
            first_retry_delay: Duration::from_secs(1),
        };
        assert_eq!(schedule.delay_after(1), None);
        assert_eq!(schedule.total_span(), Duration::ZERO);
    }

    #[test]
    fn long_schedules_saturate_instead_of_overflowing() {
        let schedule = RetrySchedule {
            max_attempts: 100,
            first_retry_delay: Duration::from_secs(1),
        };
        let longest = schedule.delay_after(99).unwrap();
        assert!(
            longest >= Duration::from_secs(u64::from(u32::MAX)),
            "{longest:?}"
        );
    }
}
