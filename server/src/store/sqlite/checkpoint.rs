//! WAL checkpoints on their own thread.
//!
//! With SQLite's automatic checkpoint, the commit that crosses the
//! threshold copies the whole WAL into the database file and fsyncs it —
//! on the writer thread, so every request waiting behind that commit waits
//! for the copy too (the p99 spikes). Here a separate connection runs
//! `PASSIVE` checkpoints, which never block the writer: they copy what is
//! not being written and stop. When a checkpoint has caught up, the writer
//! starts the WAL over from the beginning, so it stays bounded.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// How often to checkpoint. Short enough that the WAL stays small (a few
/// MB at full ingest speed), long enough that each pass copies many pages.
const EVERY: Duration = Duration::from_millis(250);

/// The checkpoint thread; stops when dropped via [`Checkpointer::stop`].
pub(super) struct Checkpointer {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Start checkpointing the database at `path`.
    pub(super) fn start(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "busy_timeout", 5000)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("herald-sqlite-checkpoint".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EVERY);
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
                    }
                }
            })
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Checkpointer { stop, handle: Some(handle) })
    }

    /// Stop after the current pass (the writer's final checkpoint on close
    /// folds in whatever is left).
    pub(super) fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
