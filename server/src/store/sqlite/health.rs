//! Whether the store's writes are working, and keeping a failure that
//! repeats from flooding the log.
//!
//! On a full disk every commit and every checkpoint fails, and each used
//! to log a line (about 50 a second from the checkpoint alone, one per
//! request from the writer) while `/readyz` kept saying ready, because it
//! only read. The writer now records how its last commit went
//! ([`WriteHealth`]); readiness reports a failed one until a write
//! succeeds again, and repeated failures are logged once per
//! [`crate::throttle::LOG_EVERY`] with a count ([`crate::throttle::Throttle`],
//! shared with the rest of the server).

use std::sync::Mutex;

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

#[cfg(test)]
mod tests {
    use super::*;

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
