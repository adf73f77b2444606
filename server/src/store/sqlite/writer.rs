//! The single writer thread and its group commit.
//!
//! SQLite allows one writer at a time, and a durable commit costs an
//! fsync. So every write goes through one thread: it takes the first
//! waiting job, drains whatever else is already queued (up to
//! [`MAX_GROUP_EVENTS`]), runs them all in one transaction, commits once,
//! and only then answers each caller. Under load many requests share one
//! fsync; when idle a lone request commits at once — no timer, no delay.
//!
//! Each job runs under its own savepoint, so one job's failure rolls back
//! only that job; a failed commit fails every job in the group, and none
//! of them has been acknowledged.

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::apply;
use crate::clock::now_millis;
use crate::store::{NewEvent, Outcome, StoreError};

/// Upper bound on events per commit, so one commit's latency stays small.
pub(super) const MAX_GROUP_EVENTS: usize = 2048;

/// Work for the writer thread.
pub(super) enum Job {
    Ingest { events: Vec<NewEvent>, reply: oneshot::Sender<Result<Vec<Outcome>, StoreError>> },
    ReleaseGaps { cutoff: i64, reply: oneshot::Sender<Result<usize, StoreError>> },
    /// Finish what is queued before this, then close the database.
    Shutdown,
}

impl Job {
    fn weight(&self) -> usize {
        match self {
            Job::Ingest { events, .. } => events.len().max(1),
            _ => 1,
        }
    }
}

/// A job's result waiting for the commit.
enum Done {
    Ingest(oneshot::Sender<Result<Vec<Outcome>, StoreError>>, Result<Vec<Outcome>, StoreError>),
    ReleaseGaps(oneshot::Sender<Result<usize, StoreError>>, Result<usize, StoreError>),
}

impl Done {
    fn send(self, commit: &Result<(), StoreError>) {
        // A caller that went away (client disconnected) just misses its
        // answer; the commit stands either way.
        match (self, commit) {
            (Done::Ingest(reply, result), Ok(())) => drop(reply.send(result)),
            (Done::Ingest(reply, _), Err(e)) => drop(reply.send(Err(e.clone()))),
            (Done::ReleaseGaps(reply, result), Ok(())) => drop(reply.send(result)),
            (Done::ReleaseGaps(reply, _), Err(e)) => drop(reply.send(Err(e.clone()))),
        }
    }
}

/// The writer loop; returns when the channel closes or on `Shutdown`.
pub(super) fn run(mut conn: Connection, mut rx: mpsc::Receiver<Job>, initial_status: String) {
    let mut wal = super::checkpoint::WalRestart::new();
    while let Some(first) = rx.blocking_recv() {
        let mut group = Vec::new();
        let mut weight = first.weight();
        let mut shutdown = matches!(first, Job::Shutdown);
        group.push(first);
        while !shutdown && weight < MAX_GROUP_EVENTS {
            match rx.try_recv() {
                Ok(job) => {
                    weight += job.weight();
                    shutdown = matches!(job, Job::Shutdown);
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        commit_group(&mut conn, group, &initial_status);
        if shutdown {
            break;
        }
        wal.after_commit(&conn);
    }
    // Fold the WAL back into the database file so a closed store is one
    // self-contained file. Failure is harmless: the WAL is replayed on open.
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::warn!(error = %e, "WAL checkpoint on close failed; it will be replayed on next open");
    }
    if let Err((_, e)) = conn.close() {
        tracing::error!(error = %e, "closing the SQLite store failed");
    }
}

fn commit_group(conn: &mut Connection, group: Vec<Job>, initial_status: &str) {
    let now = now_millis();
    let mut done = Vec::with_capacity(group.len());
    let commit = (|| -> Result<(), StoreError> {
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(unavailable)?;
        for job in group {
            match job {
                Job::Ingest { events, reply } => {
                    let result = in_savepoint(&mut tx, |sp| {
                        let mut runs = apply::Runs::default();
                        let outcomes = events
                            .iter()
                            .map(|ev| apply::ingest_one(sp, &mut runs, ev, now, initial_status))
                            .collect::<rusqlite::Result<Vec<_>>>()?;
                        runs.flush(sp, now)?;
                        Ok(outcomes)
                    });
                    done.push(Done::Ingest(reply, result));
                }
                Job::ReleaseGaps { cutoff, reply } => {
                    let result = in_savepoint(&mut tx, |sp| {
                        let mut runs = apply::Runs::default();
                        let applied = apply::release_gaps(sp, &mut runs, cutoff, now, initial_status)?;
                        runs.flush(sp, now)?;
                        Ok(applied)
                    });
                    done.push(Done::ReleaseGaps(reply, result));
                }
                Job::Shutdown => {}
            }
        }
        tx.commit().map_err(unavailable)
    })();
    if let Err(e) = &commit {
        tracing::error!(error = %e, jobs = done.len(), "group commit failed; no event in it was acknowledged");
    }
    for d in done {
        d.send(&commit);
    }
}

fn in_savepoint<T>(
    tx: &mut rusqlite::Transaction<'_>,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> Result<T, StoreError> {
    let sp = tx.savepoint().map_err(unavailable)?;
    match f(&sp) {
        Ok(v) => {
            sp.commit().map_err(unavailable)?;
            Ok(v)
        }
        // Dropping the savepoint rolls it back.
        Err(e) => Err(unavailable(e)),
    }
}

fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError(e.to_string())
}
