//! A token bucket per tenant, in memory: limits are per process, so N API
//! processes allow up to N times the configured rate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use evni_store::TenantId;

pub(crate) struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<TenantId, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    pub(crate) fn new(per_minute: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Takes a token, or says how long until one is free. A full bucket
    /// holds a minute's worth, so bursts up to the rate pass.
    pub(crate) fn admit(&self, tenant: TenantId) -> Result<(), Duration> {
        self.admit_at(tenant, Instant::now())
    }

    fn admit_at(&self, tenant: TenantId, now: Instant) -> Result<(), Duration> {
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock().expect("rate limiter poisoned");
        let bucket = buckets.entry(tenant).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_up_to_the_rate_passes_then_tokens_refill() {
        let limiter = RateLimiter::new(60);
        let tenant = TenantId::nil();
        let t0 = Instant::now();
        for _ in 0..60 {
            assert!(limiter.admit_at(tenant, t0).is_ok());
        }
        let wait = limiter.admit_at(tenant, t0).unwrap_err();
        assert!(
            wait <= Duration::from_secs(1) && wait > Duration::ZERO,
            "{wait:?}"
        );
        // One token a second at 60 per minute.
        assert!(limiter.admit_at(tenant, t0 + Duration::from_millis(1001)).is_ok());
        assert!(limiter
            .admit_at(tenant, t0 + Duration::from_millis(1002))
            .is_err());
        // Another tenant has its own bucket.
        assert!(limiter.admit_at(TenantId::from_u128(7), t0).is_ok());
    }
}
