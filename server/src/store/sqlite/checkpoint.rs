//! WAL checkpoints on their own thread.
//!
//! With SQLite's automatic checkpoint, the commit that crosses the
//! threshold copies the whole WAL into the database file and fsyncs it —
//! on the writer thread, so every request waiting behind that commit waits
//! for the copy too (the p99 spikes). Here a separate connection runs
//! `PASSIVE` checkpoints, which never block the writer: they copy what is
//! not being written and stop.
//!
//! SQLite starts the WAL over from the beginning only when a write begins
//! after a checkpoint has copied *every* frame — which a checkpoint racing
//! a busy writer never does, so the WAL grew without bound (1.7 GB after
//! 12 s of full-speed ingest, and the kernel zeroing fresh blocks for it
//! took 13% of the server's CPU). So the writer itself, between two
//! commits, runs a `PASSIVE` pass now and then ([`WalRestart`]): with
//! nothing being written it copies the short tail the background thread
//! left, and the next commit restarts the WAL. That pass costs the
//! requests queued behind it 5–15 ms (measured), the price of a WAL that
//! stays around 100 MB at full speed.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::throttle::Throttle;

/// How often the background thread checkpoints. Often, so that the tail
/// the writer's own pass ([`WalRestart`]) has to copy — while requests
/// wait — stays short. Measured with `bench/ingest.sh`'s single-event load
/// (one run, alternating): 20 ms vs 250 ms, p99 14.5/10.9 ms vs
/// 36.1/19.7 ms at the same throughput (22.4k/22.6k vs 22.3k/23.2k
/// req/s); batches 5–12% slower.
const EVERY: Duration = Duration::from_millis(20);

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
                // Every pass fails the same way on a full disk.
                let mut failures = Throttle::new();
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EVERY);
                    match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        Ok(()) => failures.reset(),
                        Err(e) => {
                            if let Some(folded) = failures.pass() {
                                tracing::warn!(error = %e, earlier_failures_not_logged = folded, "WAL checkpoint failed; will retry");
                            }
                        }
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

/// How often the writer tries to catch the checkpoint up (and so let the
/// WAL restart). The WAL holds at most about this much ingest, plus what
/// the background thread has not copied yet.
const RESTART_EVERY: Duration = Duration::from_millis(500);

/// The writer's side: a `PASSIVE` checkpoint between commits, every
/// [`RESTART_EVERY`], retried after each commit until it catches up.
pub(super) struct WalRestart {
    last: Instant,
    failures: Throttle,
}

impl WalRestart {
    pub(super) fn new() -> Self {
        WalRestart { last: Instant::now(), failures: Throttle::new() }
    }

    /// Call between commits, on the writer's connection.
    pub(super) fn after_commit(&mut self, conn: &Connection) {
        if self.last.elapsed() < RESTART_EVERY {
            return;
        }
        // (busy, frames in the WAL, frames copied): caught up when all are.
        let pass =
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)));
        match pass {
            Ok((0, log, copied)) if log == copied => {
                self.last = Instant::now();
                self.failures.reset();
            }
            // The background pass holds the checkpoint lock, or a reader
            // pins old frames: try again after the next commit.
            Ok(_) => {}
            Err(e) => {
                if let Some(folded) = self.failures.pass() {
                    tracing::warn!(error = %e, earlier_failures_not_logged = folded, "WAL checkpoint on the writer failed; will retry");
                }
                self.last = Instant::now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames in the WAL now (a `PASSIVE` pass reports them).
    fn wal_frames(conn: &Connection) -> i64 {
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1)).unwrap()
    }

    fn busy_store(dir: &Path) -> Connection {
        let conn = Connection::open(dir.join("t.sqlite3")).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        for _ in 0..100 {
            conn.execute("INSERT INTO t VALUES (zeroblob(3000))", []).unwrap();
        }
        conn
    }

    #[test]
    fn the_writer_pass_lets_the_wal_start_over() {
        let dir = tempfile::tempdir().unwrap();
        let conn = busy_store(dir.path());
        let mut wal = WalRestart { last: Instant::now() - 2 * RESTART_EVERY, failures: Throttle::new() };
        wal.after_commit(&conn);
        conn.execute("INSERT INTO t VALUES (1)", []).unwrap();
        assert!(wal_frames(&conn) <= 2, "the write after the pass started the WAL over");
        assert!(wal.last.elapsed() < RESTART_EVERY, "caught up: the next pass waits");
    }

    #[test]
    fn without_the_pass_the_wal_keeps_growing() {
        // The control: the same writes, no writer pass, and the WAL holds
        // every frame since the start (checkpointed or not).
        let dir = tempfile::tempdir().unwrap();
        let conn = busy_store(dir.path());
        conn.execute("INSERT INTO t VALUES (1)", []).unwrap();
        assert!(wal_frames(&conn) > 100, "{}", wal_frames(&conn));
    }
}
