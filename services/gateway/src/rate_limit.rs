//! A token bucket per user for task submissions.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use bazaar_domain::UserId;

/// Beyond this many tracked users, buckets that have refilled are forgotten.
const MAX_TRACKED_USERS: usize = 100_000;

pub(crate) struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<UserId, Bucket>>,
}

struct Bucket {
    tokens: f64,
    refilled_at: Instant,
}

impl RateLimiter {
    pub(crate) fn new(per_second: f64, burst: u32) -> Self {
        RateLimiter {
            per_second,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `user`; false when the user is over the limit.
    pub(crate) fn allow(&self, user: &UserId) -> bool {
        if self.per_second <= 0.0 {
            return true;
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("rate limiter lock poisoned");
        if buckets.len() >= MAX_TRACKED_USERS {
            let (per_second, burst) = (self.per_second, self.burst);
            buckets.retain(|_, bucket| {
                bucket.tokens + now.duration_since(bucket.refilled_at).as_secs_f64() * per_second
                    < burst
            });
        }
        let bucket = buckets.entry(user.clone()).or_insert(Bucket {
            tokens: self.burst,
            refilled_at: now,
        });
        let refill = now.duration_since(bucket.refilled_at).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.refilled_at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_over_the_burst_is_refused_and_others_are_not() {
        let limiter = RateLimiter::new(0.001, 2);
        let alice = UserId::generate();
        let bob = UserId::generate();
        assert!(limiter.allow(&alice));
        assert!(limiter.allow(&alice));
        assert!(!limiter.allow(&alice));
        assert!(limiter.allow(&bob));
    }

    #[test]
    fn a_zero_rate_means_no_limit() {
        let limiter = RateLimiter::new(0.0, 1);
        let alice = UserId::generate();
        assert!((0..1000).all(|_| limiter.allow(&alice)));
    }
}
