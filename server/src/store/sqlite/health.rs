//! Whether the store's writes are working, and keeping a failure that
//! repeats from flooding the log.
//!
//! On a full disk every commit and every checkpoint fails, and each used
//! to log a line (about 50 a second from the checkpoint alone, one per
//! request from the writer) while `/readyz` kept saying ready, because it
//! only read. The writer now records how its last commit went
//! ([`WriteHealth`]); readiness reports a failed one until a write
//! succeeds again, and repeated failures are logged once per
//! [`LOG_EVERY`] with a count ([`Throttle`]).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most one log line per this long for a failure that repeats.
pub(super) const LOG_EVERY: Duration = Duration::from_secs(10);

/// How the writer's last commit went: shared by the writer thread, which
/// records it, and [`super::SqliteStore`]'s readiness check.
#[derive(Default)]
pub(super) struct WriteHealth {
    /// Why the last commit failed; `None` after a successful one.
    failure: Mutex<Option<String>>,
}

impl WriteHealth {
    /// A commit succeeded: writes work.
    pub(super) fn ok(&self) {
        if let Ok(mut f) = self.failure.lock()
            && f.is_some()
        {
            *f = None;
            tracing::info!("SQLite writes succeed again");
        }
    }

    /// A commit failed because of `why` (a full disk, an I/O error).
    pub(super) fn failed(&self, why: &str) {
        if let Ok(mut f) = self.failure.lock() {
            *f = Some(why.to_owned());
        }
    }

    /// Why the last commit failed, while no commit has succeeded since.
    pub(super) fn failure(&self) -> Option<String> {
        self.failure.lock().ok().and_then(|f| f.clone())
    }
}

/// Lets through the first of a run of repeated log lines, then one per
/// [`LOG_EVERY`], saying how many were folded into it.
pub(super) struct Throttle {
    every: Duration,
    last: Option<Instant>,
    folded: u64,
}

impl Throttle {
    /// One line per [`LOG_EVERY`].
    pub(super) fn new() -> Self {
        Throttle::every(LOG_EVERY)
    }

    /// One line per `every`.
    pub(super) fn every(every: Duration) -> Self {
        Throttle { every, last: None, folded: 0 }
    }

    /// Whether to log this occurrence now; `Some(n)` when yes, with `n`
    /// earlier occurrences not logged since the last line.
    pub(super) fn pass(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self.last.is_some_and(|at| now.duration_since(at) < self.every) {
            self.folded += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.folded))
    }

    /// The failure stopped: the next one is logged at once.
    pub(super) fn reset(&mut self) {
        self.last = None;
        self.folded = 0;
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
    fn a_failure_is_reported_until_a_write_succeeds() {
        let h = WriteHealth::default();
        assert_eq!(h.failure(), None);
        h.failed("database or disk is full");
        h.failed("database or disk is full");
        assert_eq!(h.failure().as_deref(), Some("database or disk is full"));
        h.ok();
        assert_eq!(h.failure(), None);
    }
}
