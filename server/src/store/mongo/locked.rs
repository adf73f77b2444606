//! Runs whose documents another transaction holds, refused for a while.
//!
//! A server that dies inside a transaction leaves the documents it wrote
//! (its events' `(source, id)` keys, its runs and their items) locked
//! until MongoDB expires the transaction (`transactionLifetimeLimitSeconds`,
//! 60 s by default). A transaction touching them fails at once with
//! `WriteConflict`, but a write outside a transaction *waits* for them —
//! and with one coalescing worker, every other run's events would wait
//! behind it. So the transaction path isolates the runs that conflict
//! ([`super::txn`]) and this table refuses their events with 503 for a
//! backoff period (doubling while they stay locked), instead of letting a
//! write wait on them: other runs keep flowing, and the senders' retries
//! of the locked run's events probe it again later.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::StoreError;

/// The first refusal period of a run found locked.
const FIRST_HOLD: Duration = Duration::from_millis(250);

/// The longest refusal period: a probe at least this often notices soon
/// enough that MongoDB released the run.
const MAX_HOLD: Duration = Duration::from_secs(4);

/// Bound on the runs remembered; past it, forgotten holds are dropped.
const REMEMBER: usize = 10_000;

/// One run found locked.
#[derive(Debug, Clone, Copy)]
struct Hold {
    /// Refused until then.
    until: Instant,
    /// The refusal period last applied (doubles on each new strike).
    period: Duration,
}

/// The runs found locked by another transaction, and until when their
/// events are refused.
#[derive(Debug, Default)]
pub(super) struct Locked {
    runs: Mutex<HashMap<String, Hold>>,
}

impl Locked {
    /// How much longer `run_id`'s events are refused at `now`, if at all.
    pub fn refused(&self, run_id: &str, now: Instant) -> Option<Duration> {
        let runs = self.runs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        runs.get(run_id).and_then(|h| h.until.checked_duration_since(now)).filter(|d| !d.is_zero())
    }

    /// `run_id` was found locked at `now`: refuse it for the next period
    /// (the first, or twice the last, at most [`MAX_HOLD`]). Returns it.
    pub fn strike(&self, run_id: &str, now: Instant) -> Duration {
        let mut runs = self.runs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if runs.len() >= REMEMBER {
            // Holds long over are only a strike count; dropping them
            // restarts their backoff, nothing worse.
            runs.retain(|_, h| now.saturating_duration_since(h.until) < MAX_HOLD);
        }
        let period = match runs.get(run_id) {
            Some(h) => (h.period * 2).min(MAX_HOLD),
            None => FIRST_HOLD,
        };
        runs.insert(run_id.to_owned(), Hold { until: now + period, period });
        period
    }

    /// `run_id` was written: no longer locked.
    pub fn clear(&self, run_id: &str) {
        let mut runs = self.runs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !runs.is_empty() {
            runs.remove(run_id);
        }
    }
}

/// The 503 for an event of `run_id`, refused for `wait` more.
pub(super) fn refusal(run_id: &str, wait: Duration) -> StoreError {
    StoreError::unavailable(format!(
        "run {run_id} is locked by another MongoDB transaction (most likely of a server that died while writing it: \
         MongoDB frees it when that transaction expires, after transactionLifetimeLimitSeconds, 60 s by default); \
         retry in {} ms",
        wait.as_millis().max(1)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_run_is_refused_for_a_doubling_period_until_written() {
        let locked = Locked::default();
        let t0 = Instant::now();
        assert_eq!(locked.refused("r", t0), None);
        assert_eq!(locked.strike("r", t0), FIRST_HOLD);
        assert_eq!(locked.refused("r", t0), Some(FIRST_HOLD));
        assert_eq!(locked.refused("other", t0), None, "only the run found locked");
        let after = t0 + FIRST_HOLD;
        assert_eq!(locked.refused("r", after), None, "probed again once the period is over");
        assert_eq!(locked.strike("r", after), FIRST_HOLD * 2, "still locked: twice as long");
        let mut period = FIRST_HOLD * 2;
        for _ in 0..10 {
            period = locked.strike("r", after);
        }
        assert_eq!(period, MAX_HOLD, "capped");
        locked.clear("r");
        assert_eq!(locked.refused("r", after), None);
        assert_eq!(locked.strike("r", after), FIRST_HOLD, "a run written starts over");
    }

    #[test]
    fn the_table_stays_bounded() {
        let locked = Locked::default();
        let t0 = Instant::now();
        for i in 0..REMEMBER {
            locked.strike(&format!("r{i}"), t0);
        }
        let later = t0 + MAX_HOLD * 3;
        locked.strike("new", later);
        assert_eq!(locked.runs.lock().unwrap().len(), 1, "holds long over were dropped");
    }
}
