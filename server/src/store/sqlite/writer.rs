//! The single writer thread and its group commit.
//!
//! SQLite allows one writer at a time, and a durable commit costs an
//! fsync. So every write goes through one thread: it takes the first
//! waiting job, drains whatever else is already queued (up to
//! [`MAX_GROUP_EVENTS`]), runs them all in one transaction, commits once,
//! and only then answers each caller. Under load many requests share one
//! fsync; when idle a lone request commits at once — no timer, no delay.
//!
//! A group runs without savepoints: a savepoint per job made SQLite copy
//! every page a job touched into a sub-journal first, 13% of the writer's
//! time under batch load (perf). Jobs practically fail only when the
//! database does (disk full, I/O error), and then the whole group would
//! fail anyway; so on an error the group is rolled back and each of its
//! jobs retried in a transaction of its own, which keeps one bad job from
//! failing the others. Nothing is acknowledged before its commit.
//!
//! The writer also owns the run index's waiting entries (`run_index.rs`):
//! a group's transaction carries the index passes that are due.

use std::sync::Arc;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::apply::{self, Run, RunCache, Runs};
use super::run_index::{Key, Pass, RunIndex};
use crate::clock::now_millis;
use crate::runstate::Rules;
use crate::store::{NewEvent, Outcome, StoreError};

/// Upper bound on events per commit, so one commit's latency stays small.
pub(super) const MAX_GROUP_EVENTS: usize = 2048;

/// Work for the writer thread.
pub(super) enum Job {
    /// Shared with the request, which frees the events after the reply:
    /// freeing them here took 8% of the writer's time under batch load.
    Ingest { events: Arc<Vec<NewEvent>>, reply: oneshot::Sender<Result<Vec<Outcome>, StoreError>> },
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

/// What a job asks for, apart from where its answer goes.
enum Work {
    Ingest(Arc<Vec<NewEvent>>),
    ReleaseGaps(i64),
}

/// Where a job's answer goes.
enum Reply {
    Ingest(oneshot::Sender<Result<Vec<Outcome>, StoreError>>),
    ReleaseGaps(oneshot::Sender<Result<usize, StoreError>>),
}

/// A job's result, sent only after its transaction committed.
enum Done {
    Ingest(Vec<Outcome>),
    ReleaseGaps(usize),
}

impl Reply {
    fn send(self, result: Result<Done, StoreError>) {
        // A caller that went away (client disconnected) just misses its
        // answer; the commit stands either way.
        match (self, result) {
            (Reply::Ingest(tx), Ok(Done::Ingest(outcomes))) => drop(tx.send(Ok(outcomes))),
            (Reply::ReleaseGaps(tx), Ok(Done::ReleaseGaps(n))) => drop(tx.send(Ok(n))),
            (Reply::Ingest(tx), Err(e)) => drop(tx.send(Err(e))),
            (Reply::ReleaseGaps(tx), Err(e)) => drop(tx.send(Err(e))),
            (Reply::Ingest(tx), Ok(_)) => drop(tx.send(Err(StoreError::internal("internal: mismatched job result")))),
            (Reply::ReleaseGaps(tx), Ok(_)) => drop(tx.send(Err(StoreError::internal("internal: mismatched job result")))),
        }
    }
}

/// The writer loop; returns when the channel closes or on `Shutdown`.
pub(super) fn run(mut conn: Connection, mut index: RunIndex, mut rx: mpsc::Receiver<Job>, rules: Rules) {
    let mut wal = super::checkpoint::WalRestart::new();
    let mut cache = RunCache::default();
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
        commit_group(&mut conn, &mut index, &mut cache, group, &rules);
        if shutdown {
            break;
        }
        wal.after_commit(&conn);
    }
    // Write the index's waiting entries, so the next open has nothing to
    // catch up on. Failure is harmless: the next open indexes them.
    if let Err(e) = index_everything(&mut conn, &mut index) {
        tracing::warn!(error = %e, "writing the run index on close failed; the next open will");
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

fn commit_group(conn: &mut Connection, index: &mut RunIndex, cache: &mut RunCache, group: Vec<Job>, rules: &Rules) {
    let now = now_millis();
    let (work, replies): (Vec<Work>, Vec<Reply>) = group
        .into_iter()
        .filter_map(|job| match job {
            Job::Ingest { events, reply } => Some((Work::Ingest(events), Reply::Ingest(reply))),
            Job::ReleaseGaps { cutoff, reply } => Some((Work::ReleaseGaps(cutoff), Reply::ReleaseGaps(reply))),
            Job::Shutdown => None,
        })
        .unzip();
    if work.is_empty() {
        return;
    }
    let results: Vec<Result<Done, StoreError>> = match transact(conn, Some(index), cache, &work, now, rules) {
        Ok(Committed { done, passes, keys, runs }) => {
            index.committed(passes, keys);
            cache.keep(runs);
            done.into_iter().map(Ok).collect()
        }
        Err(e) if work.len() == 1 => vec![Err(e)],
        Err(e) => {
            tracing::warn!(error = %e, jobs = work.len(), "group commit failed; retrying its jobs one by one");
            work.iter()
                .map(|w| {
                    let c = transact(conn, None, cache, std::slice::from_ref(w), now, rules)?;
                    index.committed(Vec::new(), c.keys);
                    cache.keep(c.runs);
                    Ok(c.done.into_iter().next().expect("one result per job"))
                })
                .collect()
        }
    };
    // Before the replies, so the requests hold the last references.
    drop(work);
    for (reply, result) in replies.into_iter().zip(results) {
        if let Err(e) = &result {
            tracing::error!(error = %e, "commit failed; the job's events were not acknowledged");
        }
        reply.send(result);
    }
}

/// What a committed transaction did.
struct Committed {
    /// One result per job.
    done: Vec<Done>,
    /// The run index passes it carried.
    passes: Vec<Pass>,
    /// Run index entries of the events it stored.
    keys: Vec<Key>,
    /// The runs it wrote.
    runs: Vec<Run>,
}

/// Run `work` in one transaction, with the run index passes due when
/// `index` is given, and commit it; all or nothing.
fn transact(
    conn: &mut Connection,
    index: Option<&RunIndex>,
    cache: &mut RunCache,
    work: &[Work],
    now: i64,
    rules: &Rules,
) -> Result<Committed, StoreError> {
    // Dropping `tx` on an error rolls everything back.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(unavailable)?;
    let passes = match index {
        Some(index) => index.write_passes(&tx, false).map_err(unavailable)?,
        None => Vec::new(),
    };
    let mut keys = Vec::new();
    let mut results = Vec::with_capacity(work.len());
    let mut runs = Runs::new(cache, &rules.layout, &rules.initial_status);
    for w in work {
        let done = match w {
            Work::Ingest(events) => Done::Ingest(
                events
                    .iter()
                    .map(|ev| apply::ingest_one(&tx, &mut runs, &mut keys, ev, now))
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(unavailable)?,
            ),
            Work::ReleaseGaps(cutoff) => {
                Done::ReleaseGaps(apply::release_gaps(&tx, &mut runs, *cutoff, now).map_err(unavailable)?)
            }
        };
        results.push(done);
    }
    let runs = runs.flush(&tx, now).map_err(unavailable)?;
    tx.commit().map_err(unavailable)?;
    Ok(Committed { done: results, passes, keys, runs })
}

/// Write every waiting run index entry in a transaction of its own.
fn index_everything(conn: &mut Connection, index: &mut RunIndex) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let passes = index.write_passes(&tx, true)?;
    tx.commit()?;
    index.committed(passes, Vec::new());
    Ok(())
}

fn unavailable(e: rusqlite::Error) -> StoreError {
    super::store_error(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::RunChange;
    use crate::store::sqlite::schema;

    use crate::runstate::Layout;

    fn rules() -> Rules {
        Rules { layout: Layout::new(["nodes"]), initial_status: "queued".into() }
    }

    fn event(source: &str, id: &str) -> NewEvent {
        NewEvent {
            source: source.into(),
            id: id.into(),
            type_name: "t".into(),
            run_id: "r".into(),
            seq: None,
            envelope: "{}".into(),
            change: RunChange::new("r").set(["last"], id),
        }
    }

    #[test]
    fn a_failing_job_fails_alone_and_the_rest_of_its_group_commits() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.sqlite3")).unwrap();
        schema::configure(&conn).unwrap();
        schema::migrate(&mut conn, &Layout::default()).unwrap();
        let mut index = RunIndex::open(&mut conn).unwrap();
        // Stands in for a job that hits an error of its own.
        conn.execute_batch(
            "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.source = '/poison'
             BEGIN SELECT RAISE(ABORT, 'poisoned'); END;",
        )
        .unwrap();
        let (a, mut ra) = oneshot::channel();
        let (b, mut rb) = oneshot::channel();
        let (c, mut rc) = oneshot::channel();
        let group = vec![
            Job::Ingest { events: Arc::new(vec![event("/ok", "1")]), reply: a },
            Job::Ingest { events: Arc::new(vec![event("/ok", "2"), event("/poison", "3")]), reply: b },
            Job::Ingest { events: Arc::new(vec![event("/ok", "4")]), reply: c },
        ];
        let mut cache = RunCache::default();
        commit_group(&mut conn, &mut index, &mut cache, group, &rules());

        let applied = |o: Vec<Outcome>| o.iter().all(|o| matches!(o, Outcome::Applied { .. }));
        assert!(applied(ra.try_recv().unwrap().unwrap()));
        let err = rb.try_recv().unwrap().unwrap_err();
        assert!(err.message.contains("poisoned"), "{err}");
        assert!(applied(rc.try_recv().unwrap().unwrap()));
        let ids: Vec<String> =
            conn.prepare("SELECT id FROM events ORDER BY pk").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(ids, ["1", "4"], "the failed job's events are all rolled back, the others kept");
        let (applied_events, doc): (i64, String) =
            conn.query_row("SELECT applied_events, doc FROM runs WHERE run_id = 'r'", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        assert_eq!(applied_events, 2);
        assert_eq!(doc, r#"{"last":"4"}"#);

        // The run as the rolled-back group had changed it must not come
        // back from the writer's cache.
        let (d, mut rd) = oneshot::channel();
        commit_group(&mut conn, &mut index, &mut cache, vec![Job::Ingest { events: Arc::new(vec![event("/ok", "5")]), reply: d }], &rules());
        assert!(applied(rd.try_recv().unwrap().unwrap()));
        let applied_events: i64 = conn.query_row("SELECT applied_events FROM runs WHERE run_id = 'r'", [], |r| r.get(0)).unwrap();
        assert_eq!(applied_events, 3, "1, 4 and 5");
    }
}
