//! Run state held by the writer and written behind the event log.
//!
//! Writing each touched run's row and items in every commit cost a page per
//! run per commit, and a group commit of single events touches as many runs
//! as it has events: those pages were most of what a commit wrote (~55 of
//! ~76 WAL frames per commit under the single-event worker load). So the
//! event log is the truth and run state a view of it, written behind:
//!
//! - every event row records the change its handler made (`events.change`),
//!   and the event's state (applied, parked, stale, illegal transition) and
//!   the run's history are written in the event's own commit, as before;
//! - the runs an event changed stay in the writer's [`RunCache`], dirty,
//!   with their item writes in a [`Pending`] overlay the planner reads first;
//! - a dirty run is written ("materialized") by a later commit, with
//!   `runs.through_pk`: the events of the run its row now holds are those
//!   up to that pk. Commits trickle them out, oldest first: each writes the
//!   runs dirty for [`MATERIALIZE_EVERY`], and the oldest beyond the memory
//!   bounds ([`MAX_DIRTY_RUNS`], [`MAX_PENDING_ITEMS`]), so no commit stalls
//!   the queue behind it with hundreds of rows. A read of run state and
//!   shutdown write them all;
//! - a run is written in the same commit when that commit parks or
//!   releases one of its events or skips its gap, and when a request
//!   brought [`WRITE_THROUGH`] or more of its events at once (a batch of
//!   one run): those events then need no recorded change, and the run row
//!   costs once per batch anyway;
//! - `run_materialized.through_pk` is a global lower bound: every event
//!   past it that a run row does not hold is replayed, on open or after a
//!   commit failed (which loses the runs it held), through the planner
//!   (`apply::recover`), skipping the events at or below their run's own
//!   `through_pk`. The planner is deterministic, so replay makes the same
//!   decisions: the same head, the same items. Parked events are the one
//!   input that lives outside the run; because a commit that moves one
//!   writes its run, the parked events a replayed event meets are exactly
//!   those the store lists as parked.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use serde_json::Value;

use crate::runstate::{ItemKey, RunHead};

/// A run is written this long after it became dirty (by the first commit
/// after that), which also bounds what a restart replays to about this
/// much of the load. Trickled out a few per commit, runs rarely share a
/// page of `runs`, so each write costs a page: the longer a run gathers
/// events, the fewer pages per event. Single-event worker load, writer
/// CPU per event: 17 µs at 200 ms, 15 µs at 1 s, no better at 3 s.
pub(super) const MATERIALIZE_EVERY: Duration = Duration::from_secs(1);

/// A request bringing this many events of one run has that run written in
/// its own commit, its events stored without their change.
pub(super) const WRITE_THROUGH: usize = 8;

/// Dirty runs held at most before they are written.
pub(super) const MAX_DIRTY_RUNS: usize = 1024;

/// Unwritten item values held at most (over all runs) before they are
/// written: with items of a few hundred bytes, a few MB.
pub(super) const MAX_PENDING_ITEMS: usize = 8192;

/// Clean runs kept for later groups, beside the dirty ones. A held run
/// costs about 4 KB with the orchestrator's run fields (a few nested
/// JSON objects), so this bound is worth ~4 MB: 4096 held 12 MB more at
/// the worker batch load's peak (`BENCHMARKS.md`), for runs that had
/// mostly finished. Twice the worker load's 512 live runs; a run dropped
/// from here is one row read away.
const CACHED_RUNS: usize = 1024;

/// One run's item writes not yet in `run_items`, composed in order.
#[derive(Debug, Default)]
pub(super) struct Pending {
    collections: HashMap<String, PendingCollection>,
    /// Items held, over all collections.
    len: usize,
}

#[derive(Debug, Default)]
struct PendingCollection {
    /// Emptied: a stored item not in `items` no longer exists.
    cleared: bool,
    /// Item key → its new value (`None`: deleted).
    items: HashMap<String, Option<Value>>,
}

impl Pending {
    /// What the pending writes say of `item`: `Some(value)` when they
    /// decide it, `None` when its stored value stands.
    pub(super) fn lookup(&self, item: &ItemKey) -> Option<Option<Value>> {
        let c = self.collections.get(&item.collection)?;
        match c.items.get(&item.key) {
            Some(v) => Some(v.clone()),
            None if c.cleared => Some(None),
            None => None,
        }
    }

    /// Add a plan's item writes: its emptied collections first, then its
    /// items (the order the planner's `Writes` mean).
    pub(super) fn record(&mut self, cleared: Vec<String>, items: Vec<(ItemKey, Option<Value>)>) {
        for collection in cleared {
            let c = self.collections.entry(collection).or_default();
            self.len -= c.items.len();
            c.items.clear();
            c.cleared = true;
        }
        for (item, value) in items {
            let c = self.collections.entry(item.collection).or_default();
            if c.items.insert(item.key, value).is_none() {
                self.len += 1;
            }
        }
    }

    /// Items held.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    fn write(&self, tx: &Connection, run_id: &str) -> rusqlite::Result<()> {
        for (collection, c) in &self.collections {
            if c.cleared {
                tx.prepare_cached("DELETE FROM run_items WHERE run_id = ?1 AND coll = ?2")?.execute(params![run_id, collection])?;
            }
            for (key, value) in &c.items {
                match value {
                    Some(v) => tx
                        .prepare_cached(
                            "INSERT INTO run_items (run_id, coll, key, value) VALUES (?1, ?2, ?3, ?4)
                             ON CONFLICT (run_id, coll, key) DO UPDATE SET value = excluded.value",
                        )?
                        .execute(params![run_id, collection, key, json_text(v)?])?,
                    None => tx
                        .prepare_cached("DELETE FROM run_items WHERE run_id = ?1 AND coll = ?2 AND key = ?3")?
                        .execute(params![run_id, collection, key])?,
                };
            }
        }
        Ok(())
    }
}

/// Since when, and from which event, a run holds state its row lacks.
#[derive(Debug, Clone, Copy)]
pub(super) struct Dirty {
    pub(super) since: Instant,
    /// The first event whose effect the row lacks.
    pub(super) first_pk: i64,
}

/// A run as the writer holds it between transactions.
#[derive(Debug)]
pub(super) struct Run {
    pub(super) head: RunHead,
    /// The status in the `runs` row; `None` while there is no row.
    pub(super) stored_status: Option<String>,
    /// The row holds the run's events up to this pk.
    pub(super) through_pk: i64,
    /// Item writes not in `run_items` yet.
    pub(super) pending: Pending,
    /// `Some` while `head` or `pending` holds what the tables do not.
    pub(super) dirty: Option<Dirty>,
    /// Must be written in the commit that holds it (it moved parked
    /// events, or has events stored without their change).
    pub(super) write_now: bool,
}

impl Run {
    /// A run as its row (or its absence) says.
    pub(super) fn stored(head: RunHead, stored_status: Option<String>, through_pk: i64) -> Self {
        Run { head, stored_status, through_pk, pending: Pending::default(), dirty: None, write_now: false }
    }

    /// Write the run's row and pending items in `tx`, as holding its
    /// events up to `through_pk`.
    fn write(&self, tx: &Connection, through_pk: i64) -> rusqlite::Result<()> {
        self.pending.write(tx, &self.head.run_id)?;
        let h = &self.head;
        let doc = json_text(&h.fields)?;
        let written = match &self.stored_status {
            None => tx
                .prepare_cached(
                    "INSERT INTO runs (run_id, status, last_event_seq, updated_at, doc, applied_events, parked_events, through_pk)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![h.run_id, h.status, h.last_event_seq, h.updated_at, doc, h.applied_events, h.parked_events, through_pk])?,
            // `status` (and so the `runs_by_status` index) left alone unless it changed.
            Some(stored) if *stored == h.status => tx
                .prepare_cached(
                    "UPDATE runs SET last_event_seq = ?2, updated_at = ?3, doc = ?4, applied_events = ?5, parked_events = ?6,
                     through_pk = ?7 WHERE run_id = ?1",
                )?
                .execute(params![h.run_id, h.last_event_seq, h.updated_at, doc, h.applied_events, h.parked_events, through_pk])?,
            Some(_) => tx
                .prepare_cached(
                    "UPDATE runs SET status = ?2, last_event_seq = ?3, updated_at = ?4, doc = ?5, applied_events = ?6,
                     parked_events = ?7, through_pk = ?8 WHERE run_id = ?1",
                )?
                .execute(params![h.run_id, h.status, h.last_event_seq, h.updated_at, doc, h.applied_events, h.parked_events, through_pk])?,
        };
        // Rows are never deleted, so this cannot happen; if it did, failing
        // the commit beats dropping the run's changes.
        if written != 1 {
            return Err(rusqlite::Error::StatementChangedRows(written));
        }
        Ok(())
    }

    /// The run's state is in the tables now.
    fn written(&mut self, through_pk: i64) {
        self.pending = Pending::default();
        self.stored_status = Some(self.head.status.clone());
        self.through_pk = through_pk;
        self.dirty = None;
        self.write_now = false;
    }
}

/// Which dirty runs a commit writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Materialize {
    /// Every one (a read asked, or shutdown).
    All,
    /// Those due: dirty long enough, over the bounds, or `write_now`.
    Due,
}

/// What a commit wrote, to mark once it has committed.
#[derive(Debug, Default)]
pub(super) struct Written {
    runs: Vec<String>,
    through_pk: i64,
    /// When the held runs were looked at: the next time to look.
    next_scan: Option<Instant>,
}

/// The runs the writer holds: every dirty run, and clean ones kept so
/// later groups need not read and parse them again. Only the writer writes
/// runs, so a held run is the truth. A run a transaction uses is taken out
/// and comes back only once that transaction commits.
#[derive(Debug, Default)]
pub(super) struct RunCache {
    runs: HashMap<String, Run>,
    /// Dirty runs held (taken runs not counted).
    dirty_runs: usize,
    /// Pending items over the runs held.
    pending_items: usize,
    /// No held run falls due before this (`None`: look now). Runs only
    /// become dirty with `since` = the time of their commit, so after
    /// looking at all of them, the oldest left dirty says when the next
    /// one can fall due.
    next_scan: Option<Instant>,
}

impl RunCache {
    /// Take `run_id` out for a transaction.
    pub(super) fn take(&mut self, run_id: &str) -> Option<Run> {
        let run = self.runs.remove(run_id)?;
        self.dirty_runs -= usize::from(run.dirty.is_some());
        self.pending_items -= run.pending.len();
        Some(run)
    }

    /// Keep the runs a transaction used, now that it has committed, and
    /// mark what it wrote.
    pub(super) fn keep(&mut self, runs: Vec<Run>, written: Written) {
        for run in runs {
            if self.runs.len() >= CACHED_RUNS {
                // Drop about half of the clean runs, whichever: cheaper
                // than tracking use, and a dropped run is one read away.
                // Dirty runs stay: they are the only copy of their state.
                let mut n = 0_u32;
                self.runs.retain(|_, r| {
                    n += 1;
                    r.dirty.is_some() || n.is_multiple_of(2)
                });
            }
            self.dirty_runs += usize::from(run.dirty.is_some());
            self.pending_items += run.pending.len();
            if let Some(old) = self.runs.insert(run.head.run_id.clone(), run) {
                // Not reached: a run is taken before it is used.
                self.dirty_runs -= usize::from(old.dirty.is_some());
                self.pending_items -= old.pending.len();
            }
        }
        if written.next_scan.is_some() {
            self.next_scan = written.next_scan;
        }
        for run_id in written.runs {
            if let Some(run) = self.runs.get_mut(&run_id) {
                self.dirty_runs -= usize::from(run.dirty.is_some());
                self.pending_items -= run.pending.len();
                run.written(written.through_pk);
            }
        }
    }

    /// Whether any held run or any of `also` has unwritten state (what the
    /// tests check the cache's bookkeeping with).
    #[cfg(test)]
    pub(super) fn is_dirty(&self, also: &[Run]) -> bool {
        self.dirty_runs > 0 || also.iter().any(|r| r.dirty.is_some())
    }

    /// Write the dirty runs `which` asks for, of those held and `also` (a
    /// transaction's, not back yet), in `tx`, and lower the replay
    /// watermark to the first event a dirty run still lacks. Give the
    /// result to [`RunCache::keep`] once `tx` has committed.
    ///
    /// Looking at every held run costs O(runs held) (up to ~2,000), which
    /// was 7% of the writer's time under single events when done in every
    /// commit; so held runs are only looked at when one can be due (see
    /// [`RunCache::next_scan`]) or a bound is crossed. In between, only
    /// `also`'s `write_now` runs are written, and the watermark stays where
    /// it is: lower than it could be is safe (replay skips what a run row
    /// holds), and runs dirtied since have later events anyway.
    pub(super) fn materialize(&self, tx: &Connection, also: &[Run], which: Materialize) -> rusqlite::Result<Written> {
        let now = Instant::now();
        let also_dirty = also.iter().filter(|r| r.dirty.is_some());
        let over_bounds = self.dirty_runs + also_dirty.clone().count() >= MAX_DIRTY_RUNS
            || self.pending_items + also_dirty.map(|r| r.pending.len()).sum::<usize>() >= MAX_PENDING_ITEMS;
        let scan = which == Materialize::All || over_bounds || self.next_scan.is_none_or(|at| now >= at);
        if !scan {
            let write: Vec<&Run> = also.iter().filter(|r| r.dirty.is_some() && r.write_now).collect();
            return self.write(tx, &write, None);
        }
        let mut dirty: Vec<&Run> = self.runs.values().chain(also).filter(|r| r.dirty.is_some()).collect();
        let mut write: Vec<&Run> = Vec::new();
        if which == Materialize::All {
            write = std::mem::take(&mut dirty);
        } else {
            let due_by_time = |r: &Run| r.dirty.is_some_and(|d| now.saturating_duration_since(d.since) >= MATERIALIZE_EVERY);
            dirty.retain(|r| {
                let due = r.write_now || due_by_time(r);
                if due {
                    write.push(r);
                }
                !due
            });
            // Over a bound: the oldest go too, down to three quarters of it.
            let mut pending: usize = dirty.iter().map(|r| r.pending.len()).sum();
            if dirty.len() >= MAX_DIRTY_RUNS || pending >= MAX_PENDING_ITEMS {
                dirty.sort_by_key(|r| r.dirty.map(|d| d.first_pk));
                let mut n = 0;
                while n < dirty.len() && (dirty.len() - n > MAX_DIRTY_RUNS * 3 / 4 || pending > MAX_PENDING_ITEMS * 3 / 4) {
                    pending -= dirty[n].pending.len();
                    n += 1;
                }
                write.extend(dirty.drain(..n));
            }
        }
        // The runs left dirty are the only ones that can fall due before
        // runs dirtied later, which fall due at least MATERIALIZE_EVERY
        // after now.
        let oldest = dirty.iter().filter_map(|r| r.dirty.map(|d| d.since)).min().unwrap_or(now);
        let mut written = self.write(tx, &write, Some(&dirty))?;
        written.next_scan = Some(oldest + MATERIALIZE_EVERY);
        Ok(written)
    }

    /// Write `runs`; with `still_dirty` (every dirty run not in `runs`),
    /// also move the replay watermark up to the first event one of them
    /// lacks.
    fn write(&self, tx: &Connection, runs: &[&Run], still_dirty: Option<&[&Run]>) -> rusqlite::Result<Written> {
        if runs.is_empty() && still_dirty.is_none() {
            return Ok(Written::default());
        }
        let through_pk: i64 = tx.prepare_cached("SELECT COALESCE(MAX(pk), 0) FROM events")?.query_row([], |r| r.get(0))?;
        for run in runs {
            run.write(tx, through_pk)?;
        }
        if let Some(dirty) = still_dirty {
            // Replay starts after this: every event of a still-dirty run
            // from its first unwritten one on is past it.
            let watermark = dirty.iter().filter_map(|r| r.dirty.map(|d| d.first_pk - 1)).min().unwrap_or(through_pk);
            tx.prepare_cached("UPDATE run_materialized SET through_pk = ?1 WHERE id = 0")?.execute([watermark])?;
        }
        Ok(Written { runs: runs.iter().map(|r| r.head.run_id.clone()).collect(), through_pk, next_scan: None })
    }
}

pub(super) fn json_text(v: &impl serde::Serialize) -> rusqlite::Result<String> {
    serde_json::to_string(v).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key(c: &str, k: &str) -> ItemKey {
        ItemKey::new(c, k)
    }

    #[test]
    fn pending_writes_compose_in_order() {
        let mut p = Pending::default();
        assert_eq!(p.lookup(&key("nodes", "a")), None, "nothing pending: the stored value stands");
        p.record(Vec::new(), vec![(key("nodes", "a"), Some(json!(1))), (key("nodes", "b"), None)]);
        assert_eq!(p.lookup(&key("nodes", "a")), Some(Some(json!(1))));
        assert_eq!(p.lookup(&key("nodes", "b")), Some(None), "a pending delete");
        assert_eq!(p.lookup(&key("nodes", "c")), None);
        assert_eq!(p.len(), 2);
        p.record(vec!["nodes".into()], vec![(key("nodes", "c"), Some(json!(3)))]);
        assert_eq!(p.lookup(&key("nodes", "a")), Some(None), "emptied after it was written");
        assert_eq!(p.lookup(&key("nodes", "c")), Some(Some(json!(3))), "written after the collection was emptied");
        assert_eq!(p.lookup(&key("papers", "a")), None, "other collections untouched");
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn pending_writes_reach_the_table_as_the_planner_meant_them() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE run_items (run_id TEXT, coll TEXT, key TEXT, value TEXT, PRIMARY KEY (run_id, coll, key));
             INSERT INTO run_items VALUES ('r', 'nodes', 'old', '0'), ('r', 'nodes', 'kept', '1'), ('r', 'papers', 'p', '2');",
        )
        .unwrap();
        let mut p = Pending::default();
        p.record(vec!["nodes".into()], vec![(key("nodes", "new"), Some(json!({"x": 1})))]);
        p.record(Vec::new(), vec![(key("papers", "p"), None), (key("papers", "q"), Some(json!(5)))]);
        p.write(&conn, "r").unwrap();
        let rows: Vec<(String, String, String)> = conn
            .prepare("SELECT coll, key, value FROM run_items ORDER BY coll, key")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let rows: Vec<(&str, &str, &str)> = rows.iter().map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str())).collect();
        assert_eq!(rows, [("nodes", "new", r#"{"x":1}"#), ("papers", "q", "5")]);
    }

    /// A run with `items` pending items, dirty since `age` ago from
    /// event `first_pk` on (clean when `None`).
    fn run(id: &str, dirty: Option<(u64, i64)>, items: usize) -> Run {
        let mut run = Run::stored(RunHead::new(id, "queued"), None, 0);
        run.pending.record(Vec::new(), (0..items).map(|i| (key("nodes", &i.to_string()), Some(json!(i)))).collect());
        run.dirty = dirty.map(|(age, first_pk)| Dirty { since: Instant::now().checked_sub(Duration::from_millis(age)).unwrap(), first_pk });
        run
    }

    #[test]
    fn the_cache_counts_what_it_holds_and_never_drops_a_dirty_run() {
        let mut cache = RunCache::default();
        cache.keep(vec![run("a", Some((0, 1)), 3), run("b", None, 0)], Written::default());
        assert!(cache.is_dirty(&[]));
        let a = cache.take("a").unwrap();
        assert!(!cache.is_dirty(&[]), "taken runs are the transaction's");
        assert!(cache.is_dirty(&[a]), "but count with them");
        cache.keep(vec![run("a", Some((0, 1)), 3)], Written::default());
        cache.keep((0..CACHED_RUNS + 10).map(|i| run(&format!("c{i}"), None, 0)).collect(), Written::default());
        assert!(cache.runs.len() <= CACHED_RUNS + 1);
        assert!(cache.runs.get("a").is_some_and(|r| r.dirty.is_some()), "the dirty run survived eviction");
        assert_eq!((cache.dirty_runs, cache.pending_items), (1, 3));
        cache.keep(Vec::new(), Written { runs: vec!["a".into()], through_pk: 7, next_scan: None });
        assert!(!cache.is_dirty(&[]));
        assert_eq!((cache.dirty_runs, cache.pending_items), (0, 0));
        assert_eq!(cache.runs["a"].stored_status.as_deref(), Some("queued"));
        assert_eq!(cache.runs["a"].through_pk, 7);
    }

    fn store() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn, &crate::runstate::Layout::new(["nodes"])).unwrap();
        conn.execute_batch(
            "INSERT INTO events (pk, source, id, type, run_id, received_at, state, envelope)
             VALUES (20, '/s', 'x', 't', 'r', 0, 'applied', '{}')",
        )
        .unwrap();
        conn
    }

    fn rows(conn: &Connection) -> (Vec<(String, i64)>, i64) {
        let runs = conn
            .prepare("SELECT run_id, through_pk FROM runs ORDER BY run_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mark = conn.query_row("SELECT through_pk FROM run_materialized", [], |r| r.get(0)).unwrap();
        (runs, mark)
    }

    #[test]
    fn commits_trickle_out_the_runs_that_are_due_and_keep_the_watermark_below_the_rest() {
        let conn = store();
        let mut cache = RunCache::default();
        cache.keep(vec![run("old", Some((1000, 5)), 1), run("young", Some((0, 9)), 1), run("clean", None, 0)], Written::default());
        let mut now = run("now", Some((0, 12)), 0);
        now.write_now = true;
        let written = cache.materialize(&conn, &[now], Materialize::Due).unwrap();
        assert_eq!(rows(&conn), (vec![("now".into(), 20), ("old".into(), 20)], 8), "young waits; replay starts after 8");
        let mut names = written.runs.clone();
        names.sort();
        assert_eq!(names, ["now", "old"]);

        cache.keep(vec![run("now", None, 0)], written);
        assert_eq!(cache.dirty_runs, 1);
        let written = cache.materialize(&conn, &[], Materialize::All).unwrap();
        assert_eq!(rows(&conn).1, 20, "nothing dirty is left: the watermark is the last event");
        cache.keep(Vec::new(), written);
        assert!(!cache.is_dirty(&[]));
        assert_eq!(cache.materialize(&conn, &[], Materialize::All).unwrap().runs.len(), 0, "nothing to write");
    }

    #[test]
    fn held_runs_are_looked_at_only_when_one_can_be_due() {
        let conn = store();
        let mut cache = RunCache::default();
        cache.keep(vec![run("young", Some((200, 9)), 1)], Written::default());
        let written = cache.materialize(&conn, &[], Materialize::Due).unwrap();
        assert!(written.runs.is_empty());
        assert_eq!(rows(&conn).1, 8, "a first look moves the watermark up to the dirty run");
        let since = cache.runs["young"].dirty.unwrap().since;
        assert_eq!(written.next_scan, Some(since + MATERIALIZE_EVERY), "the next look is when the oldest dirty run falls due");
        cache.keep(Vec::new(), written);

        // Before then, only the transaction's `write_now` runs are written,
        // and the watermark stays: runs dirtied since have later events.
        let mut now = run("now", Some((0, 12)), 0);
        now.write_now = true;
        cache.runs.get_mut("young").unwrap().dirty = Some(Dirty { since: since - MATERIALIZE_EVERY, first_pk: 9 });
        let written = cache.materialize(&conn, &[now, run("other", Some((0, 13)), 0)], Materialize::Due).unwrap();
        assert_eq!(written.runs, ["now"]);
        assert_eq!(written.next_scan, None);
        assert_eq!(rows(&conn), (vec![("now".into(), 20)], 8));
        cache.keep(Vec::new(), written);

        // Once it is time, the held run that fell due is written.
        cache.next_scan = Some(Instant::now());
        let written = cache.materialize(&conn, &[], Materialize::Due).unwrap();
        assert_eq!(written.runs, ["young"]);
        assert_eq!(rows(&conn).1, 20, "nothing dirty is left");
    }

    #[test]
    fn over_a_bound_the_oldest_dirty_runs_are_written() {
        let conn = store();
        let mut cache = RunCache::default();
        cache.keep((0..MAX_DIRTY_RUNS as i64).map(|i| run(&format!("r{i:04}"), Some((0, 100 + i)), 0)).collect(), Written::default());
        let written = cache.materialize(&conn, &[], Materialize::Due).unwrap();
        assert_eq!(written.runs.len(), MAX_DIRTY_RUNS / 4);
        assert!(written.runs.iter().all(|r| r.as_str() < "r0256"), "the oldest first");
        assert_eq!(rows(&conn).1, 100 + (MAX_DIRTY_RUNS / 4) as i64 - 1);
        cache.keep(Vec::new(), written);

        let big = run("big", Some((0, 5000)), MAX_PENDING_ITEMS);
        let written = cache.materialize(&conn, &[big], Materialize::Due).unwrap();
        assert!(written.runs.len() > 1, "pending items over the bound write runs until under it");
    }
}
