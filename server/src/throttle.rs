//! Keeping a log line that repeats from flooding the log: the first of a
//! run is written, then one per period saying how many were folded into
//! it. One rule for every such line: a failing disk's commits and
//! checkpoints (SQLite), connections over the cap, requests answered 503
//! because the store is down or a run is locked — each of which an
//! outage, or a client hammering the server, repeats many times a second.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most one log line per this long for a line that repeats.
pub(crate) const LOG_EVERY: Duration = Duration::from_secs(10);

/// Lets through the first of a run of repeated log lines, then one per
/// period (by default [`LOG_EVERY`]), saying how many were folded into it.
#[derive(Debug)]
pub(crate) struct Throttle {
    every: Duration,
    last: Option<Instant>,
    folded: u64,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new()
    }
}

impl Throttle {
    /// One line per [`LOG_EVERY`].
    pub(crate) fn new() -> Self {
        Throttle::every(LOG_EVERY)
    }

    /// One line per `every`.
    pub(crate) fn every(every: Duration) -> Self {
        Throttle { every, last: None, folded: 0 }
    }

    /// Whether to log this occurrence now; `Some(n)` when yes, with `n`
    /// earlier occurrences not logged since the last line.
    pub(crate) fn pass(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self.last.is_some_and(|at| now.duration_since(at) < self.every) {
            self.folded += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.folded))
    }

    /// The failure stopped: the next one is logged at once.
    pub(crate) fn reset(&mut self) {
        self.last = None;
        self.folded = 0;
    }
}

/// A [`Throttle`] that concurrent requests share.
#[derive(Debug, Default)]
pub(crate) struct SharedThrottle(Mutex<Throttle>);

impl SharedThrottle {
    /// [`Throttle::pass`]. A poisoned lock lets every line through: better
    /// a noisy log than a silent one.
    pub(crate) fn pass(&self) -> Option<u64> {
        self.0.lock().map(|mut t| t.pass()).unwrap_or(Some(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeating_failure_is_logged_once_per_period_with_a_count() {
        let mut t = Throttle::every(Duration::from_millis(200));
        assert_eq!(t.pass(), Some(0), "the first occurrence is logged");
        assert_eq!(t.pass(), None);
        assert_eq!(t.pass(), None);
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(t.pass(), Some(2), "the next line counts the two folded into it");
        t.reset();
        assert_eq!(t.pass(), Some(0), "after a reset the next failure is logged at once");
    }

    #[test]
    fn a_flood_from_many_threads_logs_one_line() {
        let shared = std::sync::Arc::new(SharedThrottle::default());
        let passed: u64 = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let shared = shared.clone();
                    s.spawn(move || (0..1000).filter(|_| shared.pass().is_some()).count() as u64)
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(passed, 1, "8,000 occurrences within the period: one line");
    }
}
