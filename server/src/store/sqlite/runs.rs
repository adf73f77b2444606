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
//! - dirty runs are written ("materialized") together with
//!   `run_materialized.through_pk`, the last event whose effect `runs` and
//!   `run_items` now hold, when [`MATERIALIZE_EVERY`] has passed, when
//!   [`MAX_DIRTY_RUNS`] or [`MAX_PENDING_ITEMS`] is reached (the memory
//!   bound), before any read of run state, in any commit that parks or
//!   releases an event or skips a gap, and on shutdown;
//! - on open, or after a commit failed (which loses the runs it held), the
//!   events past the watermark are replayed through the planner
//!   (`apply::recover`). The planner is deterministic, so replay makes the
//!   same decisions: the same head, the same items. Parked events are the
//!   one input that lives outside the run; because a commit that moves one
//!   materializes, the parked events a replayed event can meet are exactly
//!   those the store lists as parked.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use serde_json::Value;

use crate::runstate::{ItemKey, RunHead};

/// Dirty runs are written at least this often while events arrive, which
/// also bounds what a restart replays to about this much of the load.
pub(super) const MATERIALIZE_EVERY: Duration = Duration::from_millis(200);

/// Dirty runs held at most before they are written.
pub(super) const MAX_DIRTY_RUNS: usize = 1024;

/// Unwritten item values held at most (over all runs) before they are
/// written: with items of a few hundred bytes, a few MB.
pub(super) const MAX_PENDING_ITEMS: usize = 8192;

/// Clean runs kept for later groups, beside the dirty ones.
const CACHED_RUNS: usize = 4096;

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

/// A run as the writer holds it between transactions.
#[derive(Debug)]
pub(super) struct Run {
    pub(super) head: RunHead,
    /// The status in the `runs` row; `None` while there is no row.
    pub(super) stored_status: Option<String>,
    /// Item writes not in `run_items` yet.
    pub(super) pending: Pending,
    /// Whether `head` or `pending` holds anything the tables do not.
    pub(super) dirty: bool,
}

impl Run {
    /// Write the run's row and pending items in `tx`.
    fn write(&self, tx: &Connection) -> rusqlite::Result<()> {
        self.pending.write(tx, &self.head.run_id)?;
        let h = &self.head;
        let doc = json_text(&h.fields)?;
        let written = match &self.stored_status {
            None => tx
                .prepare_cached(
                    "INSERT INTO runs (run_id, status, last_event_seq, updated_at, doc, applied_events, parked_events)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![h.run_id, h.status, h.last_event_seq, h.updated_at, doc, h.applied_events, h.parked_events])?,
            // `status` (and so the `runs_by_status` index) left alone unless it changed.
            Some(stored) if *stored == h.status => tx
                .prepare_cached(
                    "UPDATE runs SET last_event_seq = ?2, updated_at = ?3, doc = ?4, applied_events = ?5, parked_events = ?6
                     WHERE run_id = ?1",
                )?
                .execute(params![h.run_id, h.last_event_seq, h.updated_at, doc, h.applied_events, h.parked_events])?,
            Some(_) => tx
                .prepare_cached(
                    "UPDATE runs SET status = ?2, last_event_seq = ?3, updated_at = ?4, doc = ?5, applied_events = ?6,
                     parked_events = ?7 WHERE run_id = ?1",
                )?
                .execute(params![h.run_id, h.status, h.last_event_seq, h.updated_at, doc, h.applied_events, h.parked_events])?,
        };
        // Rows are never deleted, so this cannot happen; if it did, failing
        // the commit beats dropping the run's changes.
        if written != 1 {
            return Err(rusqlite::Error::StatementChangedRows(written));
        }
        Ok(())
    }

    /// The run's state is in the tables now.
    fn written(&mut self) {
        self.pending = Pending::default();
        self.stored_status = Some(self.head.status.clone());
        self.dirty = false;
    }
}

/// The runs the writer holds: every dirty run, and clean ones kept so
/// later groups need not read and parse them again. Only the writer writes
/// runs, so a held run is the truth. A run a transaction uses is taken out
/// and comes back only once that transaction commits.
#[derive(Debug)]
pub(super) struct RunCache {
    runs: HashMap<String, Run>,
    /// Dirty runs held (taken runs not counted).
    dirty_runs: usize,
    /// Pending items over the runs held.
    pending_items: usize,
    last_materialized: Instant,
}

impl Default for RunCache {
    fn default() -> Self {
        RunCache { runs: HashMap::new(), dirty_runs: 0, pending_items: 0, last_materialized: Instant::now() }
    }
}

impl RunCache {
    /// Take `run_id` out for a transaction.
    pub(super) fn take(&mut self, run_id: &str) -> Option<Run> {
        let run = self.runs.remove(run_id)?;
        self.dirty_runs -= usize::from(run.dirty);
        self.pending_items -= run.pending.len();
        Some(run)
    }

    /// Keep the runs a transaction used, now that it has committed.
    pub(super) fn keep(&mut self, runs: Vec<Run>) {
        for run in runs {
            if self.runs.len() >= CACHED_RUNS {
                // Drop about half of the clean runs, whichever: cheaper
                // than tracking use, and a dropped run is one read away.
                // Dirty runs stay: they are the only copy of their state.
                let mut n = 0_u32;
                self.runs.retain(|_, r| {
                    n += 1;
                    r.dirty || n % 2 == 0
                });
            }
            self.dirty_runs += usize::from(run.dirty);
            self.pending_items += run.pending.len();
            if let Some(old) = self.runs.insert(run.head.run_id.clone(), run) {
                // Not reached: a run is taken before it is used.
                self.dirty_runs -= usize::from(old.dirty);
                self.pending_items -= old.pending.len();
            }
        }
    }

    /// Whether the held runs and `also` (a transaction's, not back yet)
    /// should be written now, by time or by the memory bounds.
    pub(super) fn due(&self, also: &[Run]) -> bool {
        let dirty = self.dirty_runs + also.iter().filter(|r| r.dirty).count();
        let pending = self.pending_items + also.iter().map(|r| r.pending.len()).sum::<usize>();
        dirty > 0 && (dirty >= MAX_DIRTY_RUNS || pending >= MAX_PENDING_ITEMS || self.last_materialized.elapsed() >= MATERIALIZE_EVERY)
    }

    /// Whether any held run or any of `also` has unwritten state.
    pub(super) fn is_dirty(&self, also: &[Run]) -> bool {
        self.dirty_runs > 0 || also.iter().any(|r| r.dirty)
    }

    /// Write every dirty run (held, and `also`) and the watermark in `tx`.
    /// Call [`RunCache::materialized`] once `tx` has committed (and `also`
    /// is back through [`RunCache::keep`]).
    pub(super) fn materialize(&self, tx: &Connection, also: &[Run]) -> rusqlite::Result<()> {
        for run in self.runs.values().chain(also).filter(|r| r.dirty) {
            run.write(tx)?;
        }
        tx.prepare_cached("UPDATE run_materialized SET through_pk = (SELECT COALESCE(MAX(pk), 0) FROM events) WHERE id = 0")?
            .execute([])?;
        Ok(())
    }

    /// The materializing transaction committed: every run is clean.
    pub(super) fn materialized(&mut self) {
        for run in self.runs.values_mut().filter(|r| r.dirty) {
            run.written();
        }
        self.dirty_runs = 0;
        self.pending_items = 0;
        self.last_materialized = Instant::now();
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

    fn run(id: &str, dirty: bool, items: usize) -> Run {
        let mut pending = Pending::default();
        pending.record(Vec::new(), (0..items).map(|i| (key("nodes", &i.to_string()), Some(json!(i)))).collect());
        Run { head: RunHead::new(id, "queued"), stored_status: None, pending, dirty }
    }

    #[test]
    fn the_cache_counts_what_it_holds_and_never_drops_a_dirty_run() {
        let mut cache = RunCache::default();
        cache.keep(vec![run("a", true, 3), run("b", false, 0)]);
        assert!(cache.is_dirty(&[]));
        assert!(!cache.due(&[]), "nothing is due before the interval or a bound");
        assert!(cache.due(&[run("big", true, MAX_PENDING_ITEMS)]), "the item bound counts a transaction's runs");
        let a = cache.take("a").unwrap();
        assert!(!cache.is_dirty(&[]), "taken runs are the transaction's");
        cache.keep(vec![a]);
        cache.keep((0..CACHED_RUNS + 10).map(|i| run(&format!("c{i}"), false, 0)).collect());
        assert!(cache.runs.len() <= CACHED_RUNS + 1);
        assert!(cache.runs.get("a").is_some_and(|r| r.dirty), "the dirty run survived eviction");
        assert_eq!((cache.dirty_runs, cache.pending_items), (1, 3));
        cache.materialized();
        assert!(!cache.is_dirty(&[]));
        assert_eq!(cache.runs["a"].stored_status.as_deref(), Some("queued"));
    }
}
