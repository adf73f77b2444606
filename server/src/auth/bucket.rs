//! Token buckets for per-key rate limits.
//!
//! A bucket holds up to `burst` tokens and refills at `rate` tokens per
//! second. Ingest takes one token per event (a batch of 100 takes 100),
//! every other request one. One bucket per configured key, so memory is
//! bounded by the keys file, not by traffic.

use std::time::{Duration, Instant};

/// A key's limit: `rate` tokens per second, at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// Tokens added per second (> 0).
    pub rate: f64,
    /// Most tokens held, and so the largest request (≥ 1).
    pub burst: f64,
}

/// Why a bucket refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Enough tokens will be there after this long.
    Wait(Duration),
    /// The request costs more than the bucket can ever hold.
    OverBurst,
}

/// One key's bucket.
#[derive(Debug, Clone)]
pub struct Bucket {
    limit: Limit,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn new(limit: Limit, now: Instant) -> Bucket {
        Bucket { limit, tokens: limit.burst, last: now }
    }

    /// This bucket under a new limit (a keys-file reload), keeping the
    /// tokens it has so a reload cannot be used to refill it.
    pub fn with_limit(&self, limit: Limit) -> Bucket {
        Bucket { limit, tokens: self.tokens.min(limit.burst), last: self.last }
    }

    /// Take `cost` tokens at `now`, or say how long until they are there.
    pub fn take(&mut self, cost: u64, now: Instant) -> Result<(), Refused> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.limit.rate).min(self.limit.burst);
        self.last = now;
        let cost = cost as f64;
        if cost > self.limit.burst {
            return Err(Refused::OverBurst);
        }
        if self.tokens >= cost {
            self.tokens -= cost;
            return Ok(());
        }
        let wait = (cost - self.tokens) / self.limit.rate;
        Err(Refused::Wait(Duration::from_secs_f64(wait.min(1e9))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(Limit { rate: 2.0, burst: 3.0 }, t0);
        assert_eq!(b.take(3, t0), Ok(()));
        let Err(Refused::Wait(w)) = b.take(1, t0) else { panic!("an empty bucket must refuse") };
        assert!((w.as_secs_f64() - 0.5).abs() < 1e-6, "{w:?}");
        assert_eq!(b.take(1, t0 + Duration::from_millis(500)), Ok(()));
        // Refill stops at the burst.
        let later = t0 + Duration::from_secs(100);
        assert_eq!(b.take(3, later), Ok(()));
        assert!(b.take(1, later).is_err());
        assert_eq!(b.take(4, later + Duration::from_secs(100)), Err(Refused::OverBurst));
    }

    #[test]
    fn a_new_limit_does_not_refill() {
        let t0 = Instant::now();
        let mut b = Bucket::new(Limit { rate: 1.0, burst: 10.0 }, t0);
        b.take(10, t0).unwrap();
        let mut b = b.with_limit(Limit { rate: 1.0, burst: 20.0 });
        assert!(b.take(1, t0).is_err());
    }
}
