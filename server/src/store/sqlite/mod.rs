//! The embedded default store: one SQLite file (bundled SQLite, WAL,
//! durable commits) under the data directory.
//!
//! Writes go through one thread with group commit (`writer.rs`); reads use
//! their own connection, which WAL lets run beside the writer.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

use super::{
    EventPage, EventQuery, HistoryEntry, INLINE_ITEMS, Item, ItemPage, NewEvent, Outcome, Reads, RunPage, RunQuery, RunView, Store,
    StoreError,
};
use crate::clock::{millis_to_rfc3339, now_millis};
use crate::runstate::{Layout, Rules};

mod apply;
mod checkpoint;
mod dedup_index;
mod deferred;
mod health;
mod id_filter;
mod run_index;
mod runs;
mod schema;
mod writer;

use writer::{Done, Job, Work};

/// How many history entries `run()` returns (the newest).
const HISTORY_LIMIT: usize = 100;

/// The SQLite store. Cheap to share: clone the `Arc` it lives in.
pub struct SqliteStore {
    path: PathBuf,
    jobs: mpsc::Sender<Job>,
    reader: Arc<Mutex<Connection>>,
    layout: Layout,
    /// Held open until the store is shut down: the exclusive lock on the
    /// data dir.
    lock: Mutex<Option<std::fs::File>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    checkpointer: Mutex<checkpoint::Checkpointer>,
    /// Where the writer reports its group commits.
    commits: crate::metrics::CommitProbe,
    /// How the writer's last commit went (see `health`).
    health: Arc<health::WriteHealth>,
}

impl SqliteStore {
    /// Open (or create) `herald.sqlite3` in `data_dir`, for runs kept by
    /// `rules`. A store written by an older version is upgraded first.
    pub fn open(data_dir: &Path, rules: Rules) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::unavailable(format!("cannot create the data directory {}: {e}; pass a writable --data-dir", data_dir.display()))
        })?;
        let lock = lock_data_dir(data_dir)?;
        let path = data_dir.join("herald.sqlite3");
        let open_err = |e: rusqlite::Error| StoreError::unavailable(format!("cannot open {}: {e}", path.display()));
        let mut conn = Connection::open(&path).map_err(open_err)?;
        schema::configure(&conn).map_err(open_err)?;
        schema::migrate(&mut conn, &rules.layout).map_err(open_err)?;
        let index = writer::Indexes::open(&mut conn).map_err(open_err)?;
        let runs = apply::recover(&mut conn, &rules.layout, &rules.initial_status).map_err(open_err)?;
        let reader =
            Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(open_err)?;
        reader.pragma_update(None, "busy_timeout", 5000).map_err(open_err)?;

        // Bounded: when the disk is slower than the network, requests wait
        // here instead of piling up in memory.
        let (jobs, rx) = mpsc::channel(4096);
        let layout = rules.layout.clone();
        let commits = crate::metrics::CommitProbe::default();
        let probe = commits.clone();
        let health = Arc::new(health::WriteHealth::default());
        let writes = health.clone();
        let handle = std::thread::Builder::new()
            .name("herald-sqlite-writer".into())
            .spawn(move || writer::run(conn, index, runs, rx, rules, probe, writes))
            .map_err(|e| StoreError::unavailable(format!("cannot start the writer thread: {e}")))?;
        let checkpointer = checkpoint::Checkpointer::start(&path).map_err(open_err)?;
        Ok(SqliteStore {
            path,
            jobs,
            reader: Arc::new(Mutex::new(reader)),
            layout,
            lock: Mutex::new(Some(lock)),
            writer: Mutex::new(Some(handle)),
            checkpointer: Mutex::new(checkpointer),
            commits,
            health,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Commit everything queued, checkpoint and close the database; later
    /// writes fail with [`StoreError`]. Idempotent.
    pub async fn shutdown(&self) {
        let handle = self.writer.lock().map(|mut h| h.take()).unwrap_or(None);
        let Some(handle) = handle else { return };
        if let Ok(mut c) = self.checkpointer.lock() {
            c.stop();
        }
        let _ = self.jobs.send(Job::Shutdown).await;
        let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        // Closed: another process (or a reopen in this one) may take it.
        if let Ok(mut lock) = self.lock.lock() {
            lock.take();
        }
    }

    /// Hand `work` to the writer and wait for its committed result.
    async fn submit(&self, work: Work) -> Result<Done, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.jobs
            .send(Job::Run { work, reply })
            .await
            .map_err(|_| StoreError::unavailable("the writer has stopped (server shutting down)"))?;
        rx.await.map_err(|_| StoreError::unavailable("the writer stopped before committing"))?
    }

    /// Have the writer write the runs it holds ahead of the tables, so a
    /// read that follows sees every acknowledged event's effect.
    async fn materialize(&self) -> Result<(), StoreError> {
        match self.submit(Work::Materialize).await? {
            Done::Materialize => Ok(()),
            other => Err(mismatched(other)),
        }
    }

    async fn read<T: Send + 'static>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static) -> Result<T, StoreError> {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || {
            let conn = reader.lock().map_err(|_| StoreError::internal("reader connection poisoned"))?;
            f(&conn).map_err(store_error)
        })
        .await
        .map_err(|e| StoreError::unavailable(format!("read task failed: {e}")))?
    }
}

impl Store for SqliteStore {
    type Reads = Self;

    fn reads(&self) -> &Self {
        self
    }

    async fn ingest(&self, events: Vec<NewEvent>) -> Result<Vec<Outcome>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let events = apply::Arrival::all(events).map_err(store_error)?;
        let events = Arc::new(events);
        let result = self.submit(Work::Ingest(events.clone())).await;
        // Usually the last reference: the events are freed here, not on the writer.
        drop(events);
        match result? {
            Done::Ingest(outcomes) => Ok(outcomes),
            other => Err(mismatched(other)),
        }
    }

    async fn release_gaps(&self, timeout: Duration) -> Result<usize, StoreError> {
        let cutoff = now_millis() - i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        match self.submit(Work::ReleaseGaps(cutoff)).await? {
            Done::ReleaseGaps(n) => Ok(n),
            other => Err(mismatched(other)),
        }
    }

    async fn ready(&self) -> Result<(), StoreError> {
        if self.jobs.is_closed() {
            return Err(StoreError::unavailable("the writer thread has stopped"));
        }
        // Reads keep working on a full disk: only a write tells. After a
        // failed commit, ready again once a probe write commits (so a node
        // taken out of rotation comes back without traffic to retry).
        if let Some(why) = self.health.failure() {
            self.submit(Work::Probe)
                .await
                .and_then(|done| match done {
                    Done::Probe => Ok(()),
                    other => Err(mismatched(other)),
                })
                .map_err(|e| StoreError::unavailable(format!("writes fail: {} (last failed commit: {why})", e.message)))?;
        }
        self.read(|c| c.query_row("SELECT COUNT(*) FROM runs WHERE 0", [], |r| r.get::<_, i64>(0))).await.map(drop)
    }

    fn commit_probe(&self) -> Option<&crate::metrics::CommitProbe> {
        Some(&self.commits)
    }

    /// Counted on the partial index `events_parked`, which holds parked
    /// events only.
    async fn parked_events(&self) -> Result<Option<u64>, StoreError> {
        let n = self.read(|c| c.query_row("SELECT COUNT(*) FROM events WHERE state = 'parked'", [], |r| r.get::<_, i64>(0))).await?;
        Ok(Some(n.max(0) as u64))
    }

    async fn close(&self) {
        self.shutdown().await;
    }
}

impl Reads for SqliteStore {
    async fn run(&self, run_id: &str) -> Result<Option<(RunView, Vec<HistoryEntry>)>, StoreError> {
        let run_id = run_id.to_owned();
        let layout = self.layout.clone();
        self.materialize().await?;
        self.read(move |c| {
            let Some(mut view) = c.prepare_cached(&format!("{RUN_SELECT} WHERE run_id = ?1"))?.query_row([&run_id], run_view).optional()?
            else {
                return Ok(None);
            };
            let mut history: Vec<HistoryEntry> = c
                .prepare_cached("SELECT at, kind, detail FROM run_history WHERE run_id = ?1 ORDER BY pk DESC LIMIT ?2")?
                .query_map(params![run_id, HISTORY_LIMIT], |r| {
                    Ok(HistoryEntry {
                        at: millis_to_rfc3339(r.get(0)?),
                        kind: r.get(1)?,
                        detail: serde_json::from_str(&r.get::<_, String>(2)?).unwrap_or_default(),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            history.reverse();
            add_items(c, &layout, &mut view)?;
            Ok(Some((view, history)))
        })
        .await
    }

    async fn runs(&self, q: RunQuery) -> Result<RunPage, StoreError> {
        self.materialize().await?;
        self.read(move |c| {
            let limit = q.limit.max(1);
            let cursor = q.cursor.unwrap_or_default();
            // One row more than asked tells whether a next page exists.
            let runs: Vec<RunView> = match &q.status {
                Some(status) => c
                    .prepare_cached(&format!("{RUN_SELECT} WHERE status = ?1 AND run_id > ?2 ORDER BY run_id LIMIT ?3"))?
                    .query_map(params![status, cursor, limit + 1], run_view)?
                    .collect::<rusqlite::Result<_>>()?,
                None => c
                    .prepare_cached(&format!("{RUN_SELECT} WHERE run_id > ?1 ORDER BY run_id LIMIT ?2"))?
                    .query_map(params![cursor, limit + 1], run_view)?
                    .collect::<rusqlite::Result<_>>()?,
            };
            Ok(RunPage::from_overfetch(runs, limit))
        })
        .await
    }

    async fn run_events(&self, run_id: &str, query: EventQuery) -> Result<EventPage, StoreError> {
        let run_id = run_id.to_owned();
        // An unreadable key (not one this store gave out) skips its `ord`.
        let after = query.after().map_or((i64::MIN, i64::MIN), |(ord, key)| (ord, key.map_or(i64::MAX, |k| k.parse().unwrap_or(i64::MAX))));
        let limit = query.limit;
        let found = self.read(move |c| run_index::run_events(c, &run_id, after, limit + 1)).await?;
        Ok(EventPage::from_overfetch(found, limit))
    }

    async fn run_items(&self, run_id: &str, collection: &str, cursor: Option<String>, limit: usize) -> Result<ItemPage, StoreError> {
        let (run_id, collection) = (run_id.to_owned(), collection.to_owned());
        self.materialize().await?;
        self.read(move |c| {
            let items = c
                .prepare_cached("SELECT key, value FROM run_items WHERE run_id = ?1 AND coll = ?2 AND key > ?3 ORDER BY key LIMIT ?4")?
                .query_map(params![run_id, collection, cursor.unwrap_or_default(), limit + 1], item)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(ItemPage::from_overfetch(items, limit))
        })
        .await
    }
}

/// Take the data dir for this process alone. Two servers on one SQLite
/// file would each think they are its only writer: each keeps its own run
/// heads and parked events, so runs end up with parked events nobody
/// releases and gaps recorded as skipped for events acknowledged as
/// applied. The lock goes with the process, however it ends.
fn lock_data_dir(data_dir: &Path) -> Result<std::fs::File, StoreError> {
    let path = data_dir.join("herald.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::unavailable(format!("cannot open {}: {e}; pass a writable --data-dir", path.display())))?;
    #[cfg(unix)]
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(|e| {
        if e == rustix::io::Errno::WOULDBLOCK {
            StoreError::unavailable(format!(
                "another herald-server is using the data dir {} (it holds {}); stop it, or pass another --data-dir",
                data_dir.display(),
                path.display()
            ))
        } else {
            StoreError::unavailable(format!("cannot lock {}: {e}", path.display()))
        }
    })?;
    Ok(file)
}

/// The writer answered a job with another job's result: a bug.
fn mismatched(done: Done) -> StoreError {
    StoreError::internal(format!("internal: the writer answered with a result of another kind of job ({})", done.kind()))
}

/// A SQLite failure as the client sees it: data the store cannot read (or
/// write) as what it should be is corruption or a bug, anything else (I/O,
/// a full disk, a locked or missing file) an outage.
pub(super) fn store_error(e: rusqlite::Error) -> StoreError {
    use rusqlite::Error as E;
    match e {
        E::FromSqlConversionFailure(..)
        | E::ToSqlConversionFailure(_)
        | E::InvalidColumnType(..)
        | E::InvalidColumnIndex(_)
        | E::InvalidColumnName(_)
        | E::StatementChangedRows(_)
        | E::Utf8Error(..)
        | E::IntegralValueOutOfRange(..) => StoreError::internal(e.to_string()),
        _ => StoreError::unavailable(e.to_string()),
    }
}

const RUN_SELECT: &str = "SELECT run_id, status, last_event_seq, updated_at, doc, parked_events, applied_events FROM runs";

/// Count each collection of the run, and show the small ones whole.
fn add_items(c: &Connection, layout: &Layout, view: &mut RunView) -> rusqlite::Result<()> {
    for collection in layout.collections() {
        let n: i64 = c
            .prepare_cached("SELECT COUNT(*) FROM run_items WHERE run_id = ?1 AND coll = ?2")?
            .query_row(params![view.run_id, collection], |r| r.get(0))?;
        if n == 0 {
            continue;
        }
        view.item_counts.insert(collection.clone(), n);
        if usize::try_from(n).is_ok_and(|n| n <= INLINE_ITEMS) {
            let items: serde_json::Map<String, serde_json::Value> = c
                .prepare_cached("SELECT key, value FROM run_items WHERE run_id = ?1 AND coll = ?2 ORDER BY key")?
                .query_map(params![view.run_id, collection], item)?
                .map(|i| i.map(|i| (i.key, i.value)))
                .collect::<rusqlite::Result<_>>()?;
            view.doc.insert(collection.clone(), serde_json::Value::Object(items));
        }
    }
    Ok(())
}

fn item(r: &rusqlite::Row<'_>) -> rusqlite::Result<Item> {
    let value: String = r.get(1)?;
    let value =
        serde_json::from_str(&value).map_err(|e| rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, e.into()))?;
    Ok(Item { key: r.get(0)?, value })
}

fn run_view(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunView> {
    Ok(RunView {
        run_id: r.get(0)?,
        status: r.get(1)?,
        last_event_seq: r.get(2)?,
        updated_at: millis_to_rfc3339(r.get(3)?),
        doc: serde_json::from_str(&r.get::<_, String>(4)?)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, e.into()))?,
        parked_events: r.get(5)?,
        applied_events: r.get(6)?,
        item_counts: Default::default(),
    })
}
