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
//! The writer also owns the waiting entries of the deferred indexes (the
//! run index, `run_index.rs`, and the dedup guard, `dedup_index.rs`): a
//! group's transaction carries the index passes that are due; and the
//! runs it holds ahead of the tables (`runs.rs`): a group's transaction
//! writes them when they are due.

use std::sync::Arc;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::apply::{self, Arrival, Record, Runs};
use super::dedup_index::DedupIndex;
use super::deferred::Pass;
use super::health::WriteHealth;
use super::run_index::{self, Key, RunIndex};
use super::runs::{Materialize, Run, RunCache, Written};
use crate::clock::now_millis;
use crate::metrics::CommitProbe;
use crate::runstate::Rules;
use crate::store::{Outcome, StoreError};
use crate::throttle::Throttle;

/// Upper bound on events per commit, so one commit's latency stays small.
pub(super) const MAX_GROUP_EVENTS: usize = 2048;

/// The deferred indexes the writer fills (see `deferred.rs`).
#[derive(Debug)]
pub(super) struct Indexes {
    /// A run's events in `seq` order.
    runs: RunIndex,
    /// The dedup guard.
    ids: DedupIndex,
}

impl Indexes {
    /// Open both, indexing what a crash or an older store left out.
    pub(super) fn open(conn: &mut Connection) -> rusqlite::Result<Self> {
        Ok(Indexes { runs: run_index::open(conn)?, ids: DedupIndex::open(conn)? })
    }
}

/// Work for the writer thread: what to do, and where its result goes
/// (sent only after the transaction that did it committed).
pub(super) enum Job {
    Run {
        work: Work,
        reply: oneshot::Sender<Result<Done, StoreError>>,
    },
    /// Finish what is queued before this, then close the database.
    Shutdown,
}

impl Job {
    fn weight(&self) -> usize {
        match self {
            Job::Run { work: Work::Ingest(events), .. } => events.len().max(1),
            _ => 1,
        }
    }
}

/// What a job asks the writer to do.
pub(super) enum Work {
    /// Shared with the request, which frees the events after the reply:
    /// freeing them here took 8% of the writer's time under batch load.
    Ingest(Arc<Vec<Arrival>>),
    /// Give up on gaps whose first parked event arrived before this time
    /// (milliseconds since the epoch).
    ReleaseGaps(i64),
    /// Write the runs held ahead of the tables, so a read sees every
    /// acknowledged event.
    Materialize,
    /// Commit a write of one page (the schema version, unchanged), to see
    /// whether writes work again after failing (`/readyz`).
    Probe,
}

/// A job's result: one variant per [`Work`] variant.
#[derive(Debug)]
pub(super) enum Done {
    Ingest(Vec<Outcome>),
    ReleaseGaps(usize),
    Materialize,
    Probe,
}

impl Done {
    /// The kind of job this answers, for error messages.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Done::Ingest(_) => "ingest",
            Done::ReleaseGaps(_) => "release gaps",
            Done::Materialize => "materialize",
            Done::Probe => "probe",
        }
    }
}

/// The writer loop, starting from the runs `cache` holds (as
/// [`apply::recover`] left them); returns when the channel closes or on
/// `Shutdown`. Each group that carried events is reported to `commits`;
/// whether its commit worked, to `health`.
pub(super) fn run(
    mut conn: Connection,
    mut index: Indexes,
    cache: RunCache,
    mut rx: mpsc::Receiver<Job>,
    rules: Rules,
    commits: CommitProbe,
    health: Arc<WriteHealth>,
) {
    let mut wal = super::checkpoint::WalRestart::new();
    let mut failures = Throttle::new();
    let mut cache = Some(cache);
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
        let events: usize = group.iter().map(|j| if let Job::Run { work: Work::Ingest(events), .. } = j { events.len() } else { 0 }).sum();
        let started = std::time::Instant::now();
        let committed = commit_group(&mut conn, &mut index, &mut cache, group, &rules, &health, &mut failures);
        if events > 0 && committed {
            commits.record(events, started.elapsed());
        }
        if shutdown {
            break;
        }
        wal.after_commit(&conn);
    }
    // Write the runs held, so the next open has nothing to replay. Failure
    // is harmless: the next open replays the events past the watermark.
    if let Err(e) = attempt(&mut conn, &mut index, false, &mut cache, &[Work::Materialize], now_millis(), &rules) {
        tracing::warn!(error = %e, "writing run state on close failed; the next open will replay it");
    }
    // Write the indexes' waiting entries, so the next open has nothing to
    // catch up on. Failure is harmless: the next open indexes them.
    if let Err(e) = index_everything(&mut conn, &mut index) {
        tracing::warn!(error = %e, "writing the indexes on close failed; the next open will");
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

/// Commit `group`; whether any of its jobs committed. Failures go to
/// `health`, and to the log through `failures`: on a full disk every
/// request fails the same way, and one line per period says so.
fn commit_group(
    conn: &mut Connection,
    index: &mut Indexes,
    cache: &mut Option<RunCache>,
    group: Vec<Job>,
    rules: &Rules,
    health: &WriteHealth,
    failures: &mut Throttle,
) -> bool {
    let now = now_millis();
    let (work, replies): (Vec<Work>, Vec<_>) = group
        .into_iter()
        .filter_map(|job| match job {
            Job::Run { work, reply } => Some((work, reply)),
            Job::Shutdown => None,
        })
        .unzip();
    if work.is_empty() {
        return false;
    }
    let results: Vec<Result<Done, StoreError>> = match attempt(conn, index, true, cache, &work, now, rules) {
        Ok(done) => done.into_iter().map(Ok).collect(),
        Err(e) if work.len() == 1 => vec![Err(e)],
        Err(e) => {
            if failures.pass().is_some() {
                tracing::warn!(error = %e, jobs = work.len(), "group commit failed; retrying its jobs one by one");
            }
            work.iter()
                .map(|w| {
                    let done = attempt(conn, index, false, cache, std::slice::from_ref(w), now, rules)?;
                    done.into_iter().next().ok_or_else(|| StoreError::internal("internal: a job without a result"))
                })
                .collect()
        }
    };
    // Before the replies, so the requests hold the last references.
    drop(work);
    let mut committed = false;
    let mut failed = None;
    for (reply, result) in replies.into_iter().zip(results) {
        match &result {
            Ok(_) => committed = true,
            Err(e) => failed = Some(e.message.clone()),
        }
        // A caller that went away (client disconnected) just misses its
        // answer; the commit stands either way.
        drop(reply.send(result));
    }
    if committed {
        health.ok();
        failures.reset();
    } else if let Some(why) = failed {
        health.failed(&why);
        if let Some(folded) = failures.pass() {
            tracing::error!(error = %why, earlier_failures_not_logged = folded, "commit failed; its events were not acknowledged");
        }
    }
    committed
}

/// Run `work` in one transaction (with the run index passes that are due
/// when `passes`), and keep what it did. A failed transaction loses the
/// runs it had taken from the cache, so the cache is dropped and rebuilt
/// from the log before the next one ([`apply::recover`]); until that
/// succeeds, nothing is committed.
fn attempt(
    conn: &mut Connection,
    index: &mut Indexes,
    passes: bool,
    cache: &mut Option<RunCache>,
    work: &[Work],
    now: i64,
    rules: &Rules,
) -> Result<Vec<Done>, StoreError> {
    let held = match cache {
        Some(held) => held,
        None => cache.insert(apply::recover(conn, &rules.layout, &rules.initial_status).map_err(|e| {
            let e = unavailable(e);
            StoreError { message: format!("cannot bring run state in line with the event log: {}", e.message), ..e }
        })?),
    };
    match transact(conn, index, passes, held, work, now, rules) {
        Ok(Committed { done, passes, keys, runs, written }) => {
            index.runs.committed(passes.runs, keys, |_| ());
            index.ids.committed(passes.ids);
            held.keep(runs, written);
            Ok(done)
        }
        Err(e) => {
            index.ids.rolled_back();
            *cache = None;
            Err(e)
        }
    }
}

/// What a committed transaction did.
struct Committed {
    /// One result per job.
    done: Vec<Done>,
    /// The index passes it carried.
    passes: Passes,
    /// Run index entries of the events it stored.
    keys: Vec<Key>,
    /// The runs it changed.
    runs: Vec<Run>,
    /// The runs it wrote to the tables.
    written: Written,
}

/// Index passes written in one transaction.
#[derive(Default)]
struct Passes {
    runs: Vec<Pass>,
    ids: Vec<Pass>,
}

impl Passes {
    /// The passes due (`all`: every waiting entry), written into `tx`.
    fn write(tx: &Connection, index: &Indexes, all: bool) -> rusqlite::Result<Self> {
        Ok(Passes { runs: index.runs.write_passes(tx, all)?, ids: index.ids.write_passes(tx, all)? })
    }
}

/// Run `work` in one transaction, with the index passes that are due when
/// `passes`, writing the runs that are due (all of them when a
/// job asked), and commit it; all or nothing.
fn transact(
    conn: &mut Connection,
    index: &mut Indexes,
    passes: bool,
    cache: &mut RunCache,
    work: &[Work],
    now: i64,
    rules: &Rules,
) -> Result<Committed, StoreError> {
    // Dropping `tx` on an error rolls everything back.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(unavailable)?;
    let passes = if passes { Passes::write(&tx, index, false).map_err(unavailable)? } else { Passes::default() };
    let mut keys = Vec::new();
    let mut results = Vec::with_capacity(work.len());
    let mut asked = false;
    let mut runs = Runs::new(cache, &rules.layout, &rules.initial_status);
    for w in work {
        let done = match w {
            Work::Ingest(events) => Done::Ingest(
                events
                    .iter()
                    .map(|ev| apply::ingest_one(&tx, &mut runs, &mut index.ids, &mut keys, ev, now))
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(unavailable)?,
            ),
            Work::ReleaseGaps(cutoff) => Done::ReleaseGaps(apply::release_gaps(&tx, &mut runs, *cutoff, now).map_err(unavailable)?),
            Work::Materialize => {
                asked = true;
                Done::Materialize
            }
            // An unchanged value still rewrites page 1, so this commit
            // needs disk space like any other.
            Work::Probe => {
                tx.pragma_update(None, "user_version", super::schema::VERSION).map_err(unavailable)?;
                Done::Probe
            }
        };
        results.push(done);
    }
    let runs = runs.flush(&tx, Record::Yes).map_err(unavailable)?;
    let which = if asked { Materialize::All } else { Materialize::Due };
    let written = cache.materialize(&tx, &runs, which).map_err(unavailable)?;
    tx.commit().map_err(unavailable)?;
    Ok(Committed { done: results, passes, keys, runs, written })
}

/// Write every waiting index entry in a transaction of its own.
fn index_everything(conn: &mut Connection, index: &mut Indexes) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let passes = Passes::write(&tx, index, true)?;
    tx.commit()?;
    index.runs.committed(passes.runs, Vec::new(), |_| ());
    index.ids.committed(passes.ids);
    Ok(())
}

fn unavailable(e: rusqlite::Error) -> StoreError {
    super::store_error(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::RunChange;
    use crate::store::NewEvent;
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
            run_id: Some("r".into()),
            seq: None,
            envelope: "{}".into(),
            change: RunChange::new().set(["last"], id),
        }
    }

    fn arrivals(events: Vec<NewEvent>) -> Arc<Vec<Arrival>> {
        Arc::new(Arrival::all(events).unwrap())
    }

    fn open() -> (tempfile::TempDir, Connection, Indexes) {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.sqlite3")).unwrap();
        schema::configure(&conn).unwrap();
        schema::migrate(&mut conn, &Layout::default()).unwrap();
        let index = Indexes::open(&mut conn).unwrap();
        (dir, conn, index)
    }

    fn ingest(conn: &mut Connection, index: &mut Indexes, cache: &mut Option<RunCache>, events: Vec<NewEvent>) -> Vec<Outcome> {
        let (reply, mut rx) = oneshot::channel();
        commit_group(
            conn,
            index,
            cache,
            vec![Job::Run { work: Work::Ingest(arrivals(events)), reply }],
            &rules(),
            &WriteHealth::default(),
            &mut Throttle::new(),
        );
        match rx.try_recv().unwrap().unwrap() {
            Done::Ingest(outcomes) => outcomes,
            other => panic!("{other:?}"),
        }
    }

    fn materialize(conn: &mut Connection, index: &mut Indexes, cache: &mut Option<RunCache>) {
        let (reply, mut rx) = oneshot::channel();
        commit_group(
            conn,
            index,
            cache,
            vec![Job::Run { work: Work::Materialize, reply }],
            &rules(),
            &WriteHealth::default(),
            &mut Throttle::new(),
        );
        rx.try_recv().unwrap().unwrap();
    }

    #[test]
    fn a_failing_job_fails_alone_and_the_rest_of_its_group_commits() {
        let (_dir, mut conn, mut index) = open();
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
            Job::Run { work: Work::Ingest(arrivals(vec![event("/ok", "1")])), reply: a },
            Job::Run { work: Work::Ingest(arrivals(vec![event("/ok", "2"), event("/poison", "3")])), reply: b },
            Job::Run { work: Work::Ingest(arrivals(vec![event("/ok", "4")])), reply: c },
        ];
        let mut cache = Some(RunCache::default());
        commit_group(&mut conn, &mut index, &mut cache, group, &rules(), &WriteHealth::default(), &mut Throttle::new());

        let applied = |o: Vec<Outcome>| o.iter().all(|o| matches!(o, Outcome::Applied { .. }));
        let outcomes = |done| match done {
            Done::Ingest(outcomes) => outcomes,
            other => panic!("{other:?}"),
        };
        assert!(applied(outcomes(ra.try_recv().unwrap().unwrap())));
        let err = rb.try_recv().unwrap().unwrap_err();
        assert!(err.message.contains("poisoned"), "{err}");
        assert!(applied(outcomes(rc.try_recv().unwrap().unwrap())));
        let ids: Vec<String> =
            conn.prepare("SELECT id FROM events ORDER BY pk").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(ids, ["1", "4"], "the failed job's events are all rolled back, the others kept");
        materialize(&mut conn, &mut index, &mut cache);
        let (applied_events, doc): (i64, String) =
            conn.query_row("SELECT applied_events, doc FROM runs WHERE run_id = 'r'", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        assert_eq!(applied_events, 2);
        assert_eq!(doc, r#"{"last":"4"}"#);

        // The run as the rolled-back group had changed it must not come
        // back from the writer's cache.
        assert!(applied(ingest(&mut conn, &mut index, &mut cache, vec![event("/ok", "5")])));
        materialize(&mut conn, &mut index, &mut cache);
        let applied_events: i64 = conn.query_row("SELECT applied_events FROM runs WHERE run_id = 'r'", [], |r| r.get(0)).unwrap();
        assert_eq!(applied_events, 3, "1, 4 and 5");
    }

    /// Jobs of two runs: single events and a batch of one run (written
    /// through), one event parked behind a gap and then released, a stale
    /// one, and a job with events of both runs. Each event adds a node and
    /// sets a field.
    fn script() -> Vec<Vec<NewEvent>> {
        let plan: [&[(&str, i64)]; 9] = [
            &[("r", 1)],
            &[("q", 1)],
            &[("r", 2), ("r", 3), ("r", 4), ("r", 5), ("r", 6), ("r", 7), ("r", 8), ("r", 9)],
            &[("q", 2)],
            &[("r", 11)],
            &[("q", 3)],
            &[("r", 10)],
            &[("q", 2)],
            &[("r", 12), ("q", 4)],
        ];
        let mut n = 0;
        plan.iter()
            .map(|job| {
                job.iter()
                    .map(|&(run, seq)| {
                        n += 1;
                        NewEvent {
                            run_id: Some(run.into()),
                            seq: Some(seq),
                            change: RunChange::new().set(["last"], seq).set(["nodes", &format!("n{seq}"), "at"], seq),
                            ..event("/s", &format!("e{n}"))
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// What the tables say of the runs and their events.
    fn snapshot(conn: &Connection) -> String {
        let rows =
            |sql: &str| -> Vec<String> { conn.prepare(sql).unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect() };
        let runs = rows(
            "SELECT run_id || ':' || status || last_event_seq || '/' || applied_events || '/' || parked_events || doc FROM runs ORDER BY run_id",
        );
        let items = rows("SELECT run_id || '.' || key || '=' || value FROM run_items ORDER BY run_id, key");
        let states = rows("SELECT id || ':' || state FROM events ORDER BY pk");
        let history = rows("SELECT run_id || kind || detail FROM run_history ORDER BY pk");
        format!("{runs:?}\n{items:?}\n{states:?}\n{history:?}")
    }

    #[test]
    fn run_state_lost_in_a_crash_is_replayed_from_the_event_log() {
        let (_dir, mut conn, mut index) = open();
        let mut cache = Some(RunCache::default());
        for job in script() {
            ingest(&mut conn, &mut index, &mut cache, job);
        }
        materialize(&mut conn, &mut index, &mut cache);
        let expected = snapshot(&conn);
        assert!(expected.starts_with(r#"["q:queued4/4/0{\"last\":4}", "r:queued12/12/0{\"last\":12}"]"#), "{expected}");
        assert!(
            expected.contains(r#""e12:applied", "e13:applied", "e14:applied", "e15:stale""#),
            "r's 11 parked then applied, q's second 2 stale: {expected}"
        );

        // The writer dies after each prefix of the script, holding runs the
        // tables do not have yet; a new writer opens the same database.
        for crash_after in 0..script().len() {
            let (_dir, mut conn, mut index) = open();
            let mut cache = Some(RunCache::default());
            let mut jobs = script().into_iter();
            for job in jobs.by_ref().take(crash_after) {
                ingest(&mut conn, &mut index, &mut cache, job);
            }
            drop((conn, index, cache));
            let mut conn = Connection::open(_dir.path().join("t.sqlite3")).unwrap();
            schema::configure(&conn).unwrap();
            let mut index = Indexes::open(&mut conn).unwrap();
            let mut cache = Some(apply::recover(&mut conn, &rules().layout, &rules().initial_status).unwrap());
            for job in jobs {
                ingest(&mut conn, &mut index, &mut cache, job);
            }
            materialize(&mut conn, &mut index, &mut cache);
            assert_eq!(snapshot(&conn), expected, "crash after {crash_after} jobs");
        }
    }
}
