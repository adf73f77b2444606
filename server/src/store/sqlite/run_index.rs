//! The per-run event index, written in deferred passes.
//!
//! `GET /api/runs/{id}/events` lists a run's events in `seq` order, so the
//! store needs them findable by run. An ordinary SQLite index on
//! `events (run_id, seq)` puts each new entry at its run's place in the
//! index, so every commit dirtied (and wrote to the WAL) one leaf page per
//! run it touched: with 1000 busy runs, about one 4 KiB page per event. It
//! was the largest cost of ingest. Measured with `bench/ingest.sh`'s loads,
//! dropping it took single events from 22k to 35k req/s (p99 10–15 ms to
//! 4 ms) and batches from 45k to 100k events/s.
//!
//! So the index is a table, `run_event_keys`, written in deferred passes
//! (`deferred.rs`), several entries of a run at a time, one leaf page for
//! all of them:
//!
//! - Entries are keyed by a 64-bit hash of the run id, not the id itself:
//!   a third of the size, so a third of the pages to split and write.
//!   Readers check the event's `run_id`, so a collision costs a skipped
//!   row, never a wrong one.
//! - Runs are split into [`SHARDS`] by the same hash, each with its
//!   watermark in `run_index_watermarks`.
//! - Readers take what is indexed from `run_event_keys` and the rest — the
//!   events above the watermark — from `events` by `pk` range.

use rusqlite::{Connection, Row, params};

use super::deferred::{Deferred, Kind};
use crate::clock::millis_to_rfc3339;
use crate::store::{EventCursor, NO_SEQ, StoredEvent};

/// How many groups the runs are split into.
///
/// `SHARDS * PASS_EVERY` bounds how far the index lags (32k events): more
/// entries per run per pass, so fewer page writes, but a longer unindexed
/// stretch for readers to scan (a run's page of 100 events: 1.7 ms after a
/// batch load). Measured with `bench/ingest.sh`'s loads, one run each,
/// alternating: 32×256 gave 590–700 batch req/s and 28–30k single req/s;
/// 64×512 680–770 and 29–34k; 16×2048 770–835 and 28–35k.
pub(super) const SHARDS: usize = 64;

/// Committed events per indexing pass (see [`SHARDS`]).
pub(super) const PASS_EVERY: usize = 512;

// The `ord` of an event without `seq` is `NO_SEQ`: after every `seq`
// (a 64-bit integer), then in arrival (`pk`) order.

/// The `run_key` of a run: its id's FNV-1a hash. Not std's hasher, which
/// may change between Rust versions: what is stored must stay findable.
fn run_key(run_id: &str) -> i64 {
    let hash = run_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    hash as i64
}

/// The shard of a run key.
fn shard(run_key: i64) -> usize {
    (run_key as u64 % SHARDS as u64) as usize
}

/// One entry of `run_event_keys`: a stored event of a run. Ordered as the
/// table's primary key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Key {
    run_key: i64,
    ord: i64,
    pk: i64,
}

impl Key {
    /// The entry of the event of `run_id` stored at `pk`.
    pub(super) fn new(run_id: &str, seq: Option<i64>, pk: i64) -> Self {
        Key { run_key: run_key(run_id), ord: seq.unwrap_or(NO_SEQ), pk }
    }
}

/// The per-run event index: `run_event_keys`.
#[derive(Debug)]
pub(super) struct RunKeys;

impl Kind for RunKeys {
    type Entry = Key;
    const NAME: &'static str = "run index";
    const WATERMARKS: &'static str = "run_index_watermarks";
    const SHARDS: usize = SHARDS;
    const PASS_EVERY: usize = PASS_EVERY;
    const COLUMNS: &'static str = "run_id, seq, pk";

    fn entry(&self, r: &Row<'_>) -> rusqlite::Result<Key> {
        Ok(Key::new(&r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
    }

    fn shard(k: &Key) -> usize {
        shard(k.run_key)
    }

    fn pk(k: &Key) -> i64 {
        k.pk
    }

    fn write(tx: &Connection, keys: &[Key]) -> rusqlite::Result<()> {
        let mut insert = tx.prepare_cached("INSERT OR IGNORE INTO run_event_keys (run_key, ord, pk) VALUES (?1, ?2, ?3)")?;
        for k in keys {
            insert.execute(params![k.run_key, k.ord, k.pk])?;
        }
        Ok(())
    }
}

/// The writer's side of the run index.
pub(super) type RunIndex = Deferred<RunKeys>;

/// Open the run index, indexing what a crash or an older store left out.
pub(super) fn open(conn: &mut Connection) -> rusqlite::Result<RunIndex> {
    Deferred::open(conn, RunKeys)
}

/// A run's stored events in `seq` order (events without `seq` last, in
/// arrival order) after the position `after` (`(ord, pk)`, exclusive),
/// at most `limit`, each with its position and envelope size.
pub(super) fn run_events(
    c: &Connection,
    run_id: &str,
    after: (i64, i64),
    limit: usize,
) -> rusqlite::Result<Vec<(EventCursor, StoredEvent, usize)>> {
    let row = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(i64, i64, StoredEvent, usize)> {
        let envelope: String = r.get(5)?;
        let size = envelope.len();
        Ok((
            r.get(0)?,
            r.get(1)?,
            StoredEvent {
                seq: r.get(2)?,
                state: r.get(3)?,
                received_at: millis_to_rfc3339(r.get(4)?),
                event: StoredEvent::envelope(envelope)
                    .map_err(|e| rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, Box::new(e)))?,
            },
            size,
        ))
    };
    let key = run_key(run_id);
    let through: i64 = c
        .prepare_cached("SELECT COALESCE(MAX(through_pk), 0) FROM run_index_watermarks WHERE shard = ?1")?
        .query_row([shard(key)], |r| r.get(0))?;
    let mut found: Vec<(i64, i64, StoredEvent, usize)> = c
        .prepare_cached(
            "SELECT k.ord, k.pk, e.seq, e.state, e.received_at, e.envelope
             FROM run_event_keys k JOIN events e ON e.pk = k.pk
             WHERE k.run_key = ?1 AND e.run_id = ?5 AND (k.ord, k.pk) > (?2, ?3) ORDER BY k.ord, k.pk LIMIT ?4",
        )?
        .query_map(params![key, after.0, after.1, limit, run_id], row)?
        .collect::<rusqlite::Result<_>>()?;
    // The unindexed rest: at most about SHARDS * PASS_EVERY events by `pk`.
    let rest = c
        .prepare_cached(
            "SELECT COALESCE(seq, ?3), pk, seq, state, received_at, envelope FROM events
             WHERE pk > ?1 AND run_id = ?2 AND (COALESCE(seq, ?3), pk) > (?4, ?5)",
        )?
        .query_map(params![through, run_id, NO_SEQ, after.0, after.1], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    found.extend(rest);
    found.sort_by_key(|(ord, pk, _, _)| (*ord, *pk));
    // The writer may have indexed part of the rest between the two reads.
    found.dedup_by_key(|(_, pk, _, _)| *pk);
    found.truncate(limit);
    Ok(found.into_iter().map(|(ord, pk, e, size)| (EventCursor { ord, key: pk.to_string() }, e, size)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.sqlite3")).unwrap();
        super::super::schema::migrate(&mut conn, &crate::runstate::Layout::default()).unwrap();
        (dir, conn)
    }

    /// Store an event as the writer does, returning its index entry.
    fn insert(conn: &Connection, run_id: &str, seq: Option<i64>) -> Key {
        conn.execute(
            "INSERT INTO events (source, id, type, run_id, seq, received_at, state, envelope)
             VALUES ('/t', hex(randomblob(8)), 't', ?1, ?2, 0, 'applied', ?3)",
            params![run_id, seq, format!(r#"{{"run":"{run_id}","seq":{}}}"#, seq.map_or("null".into(), |s| s.to_string()))],
        )
        .unwrap();
        Key::new(run_id, seq, conn.last_insert_rowid())
    }

    /// The `seq`s listed after `after` (a seq: the events above it and
    /// those without one).
    fn seqs(conn: &Connection, run_id: &str, after: Option<i64>, limit: usize) -> Vec<Option<i64>> {
        let after = after.map_or((i64::MIN, i64::MIN), |s| (s, i64::MAX));
        run_events(conn, run_id, after, limit).unwrap().into_iter().map(|(_, e, _)| e.seq).collect()
    }

    fn indexed(conn: &Connection) -> i64 {
        conn.query_row("SELECT COUNT(*) FROM run_event_keys", [], |r| r.get(0)).unwrap()
    }

    /// Commit `n` events spread over `runs` runs through `index`, one
    /// transaction per 64, as the writer would. Returns the most index
    /// entries one transaction wrote.
    fn ingest(conn: &mut Connection, index: &mut RunIndex, runs: usize, n: usize) -> usize {
        let mut most = 0;
        for chunk in (0..n).collect::<Vec<_>>().chunks(64) {
            let tx = conn.transaction().unwrap();
            let passes = index.write_passes(&tx, false).unwrap();
            most = most.max(passes.iter().map(|p| p.written()).sum());
            let new: Vec<Key> = chunk.iter().map(|i| insert(&tx, &format!("run-{}", i % runs), Some(*i as i64))).collect();
            tx.commit().unwrap();
            index.committed(passes, new, |_| ());
        }
        most
    }

    #[test]
    fn events_read_the_same_whether_indexed_or_not() {
        let (_dir, mut conn) = store();
        let mut index = open(&mut conn).unwrap();
        for seq in [3, 1, 2] {
            let k = insert(&conn, "r", Some(seq));
            index.committed(Vec::new(), vec![k], |_| ());
        }
        let k = insert(&conn, "r", None);
        index.committed(Vec::new(), vec![k], |_| ());
        insert(&conn, "other", Some(1));
        assert_eq!(indexed(&conn), 0, "nothing is written before a pass is due");
        let before = seqs(&conn, "r", None, 10);
        assert_eq!(before, vec![Some(1), Some(2), Some(3), None]);

        let passes = index.write_passes(&conn, true).unwrap();
        index.committed(passes, Vec::new(), |_| ());
        assert_eq!(indexed(&conn), 4);
        assert_eq!(seqs(&conn, "r", None, 10), before);
        assert_eq!(seqs(&conn, "r", Some(1), 10), vec![Some(2), Some(3), None], "after a seq: the higher seqs, then events without");
        assert_eq!(seqs(&conn, "r", None, 2), vec![Some(1), Some(2)]);
        assert_eq!(seqs(&conn, "missing", None, 10), Vec::<Option<i64>>::new());
    }

    #[test]
    fn a_half_indexed_run_merges_both_halves_without_repeats() {
        let (_dir, mut conn) = store();
        let mut index = open(&mut conn).unwrap();
        let first: Vec<Key> = (1..=3).map(|s| insert(&conn, "r", Some(s))).collect();
        index.committed(Vec::new(), first, |_| ());
        let passes = index.write_passes(&conn, true).unwrap();
        index.committed(passes, Vec::new(), |_| ());
        let later: Vec<Key> = (4..=6).map(|s| insert(&conn, "r", Some(s))).collect();
        index.committed(Vec::new(), later, |_| ());
        assert_eq!(indexed(&conn), 3);
        assert_eq!(seqs(&conn, "r", None, 10), (1..=6).map(Some).collect::<Vec<_>>());
        assert_eq!(seqs(&conn, "r", Some(2), 3), vec![Some(3), Some(4), Some(5)]);
        // An entry indexed twice (a reader between a pass and its
        // watermark) is still listed once.
        conn.execute("UPDATE run_index_watermarks SET through_pk = 0", []).unwrap();
        assert_eq!(seqs(&conn, "r", None, 10), (1..=6).map(Some).collect::<Vec<_>>());
    }

    #[test]
    fn passes_keep_every_shard_close_behind_and_stay_small() {
        let (_dir, mut conn) = store();
        let mut index = open(&mut conn).unwrap();
        let n = 40 * PASS_EVERY;
        let most = ingest(&mut conn, &mut index, 1000, n);
        assert!(most > 0 && most <= 4 * PASS_EVERY, "one transaction wrote {most} index entries");
        let behind = index.waiting();
        assert!(indexed(&conn) as usize + behind == n);
        assert!(behind <= SHARDS * PASS_EVERY + 64, "{behind} entries still waiting");
        let oldest = *index.through().iter().min().unwrap();
        assert!(index.committed_through() - oldest <= (SHARDS * PASS_EVERY + 64) as i64, "a shard fell behind");
        for r in [0, 999, 500] {
            let listed = seqs(&conn, &format!("run-{r}"), None, 1000);
            assert_eq!(listed.len(), (0..n).filter(|i| i % 1000 == r).count(), "run-{r}");
            assert!(listed.windows(2).all(|w| w[0] < w[1]), "run-{r} in seq order");
        }
    }

    #[test]
    fn shards_without_events_keep_up_too() {
        let (_dir, mut conn) = store();
        let mut index = open(&mut conn).unwrap();
        // One busy run: one shard has entries, the others none.
        let most = ingest(&mut conn, &mut index, 1, 40 * PASS_EVERY);
        assert!(most <= 4 * PASS_EVERY, "one transaction wrote {most} index entries");
        let oldest = *index.through().iter().min().unwrap();
        assert!(index.committed_through() - oldest <= (2 * PASS_EVERY) as i64, "an idle shard's watermark stayed behind at {oldest}");
        let stored: Vec<i64> = conn
            .prepare("SELECT through_pk FROM run_index_watermarks ORDER BY shard")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(stored, index.through(), "the table says what memory says");
        assert_eq!(seqs(&conn, "run-0", None, 100_000).len(), 40 * PASS_EVERY);
    }

    #[test]
    fn open_indexes_what_a_crash_left_waiting() {
        let (dir, mut conn) = store();
        let mut index = open(&mut conn).unwrap();
        ingest(&mut conn, &mut index, 10, 20 * PASS_EVERY);
        let before: Vec<_> = (0..10).map(|r| seqs(&conn, &format!("run-{r}"), None, 10_000)).collect();
        assert!(index.waiting() > 0, "some entries were waiting when the process died");
        drop(index);
        drop(conn);

        let mut conn = Connection::open(dir.path().join("t.sqlite3")).unwrap();
        // Chunks that do not divide the events evenly.
        let index = RunIndex::open_in_chunks(&mut conn, RunKeys, 777).unwrap();
        assert_eq!(index.waiting(), 0);
        assert_eq!(indexed(&conn) as usize, 20 * PASS_EVERY, "every event indexed once");
        let after: Vec<_> = (0..10).map(|r| seqs(&conn, &format!("run-{r}"), None, 10_000)).collect();
        assert_eq!(before, after);
    }

    #[test]
    fn an_older_store_gets_its_runs_indexed_and_loses_the_old_index() {
        let (dir, conn) = store();
        // A store from before `run_event_keys`: an ordinary index instead.
        conn.execute_batch(
            "DROP TABLE run_event_keys; DROP TABLE run_index_watermarks;
             CREATE INDEX events_by_run ON events (run_id, seq);
             PRAGMA user_version = 0;",
        )
        .unwrap();
        for seq in [2, 1] {
            insert(&conn, "r", Some(seq));
        }
        insert(&conn, "r", None);
        drop(conn);

        let mut conn = Connection::open(dir.path().join("t.sqlite3")).unwrap();
        super::super::schema::migrate(&mut conn, &crate::runstate::Layout::default()).unwrap();
        open(&mut conn).unwrap();
        assert_eq!(indexed(&conn), 3);
        assert_eq!(seqs(&conn, "r", None, 10), vec![Some(1), Some(2), None]);
        let old: i64 = conn.query_row("SELECT COUNT(*) FROM sqlite_master WHERE name = 'events_by_run'", [], |r| r.get(0)).unwrap();
        assert_eq!(old, 0);
    }

    #[test]
    fn a_run_key_shared_with_another_run_lists_only_the_runs_own_events() {
        let (_dir, mut conn) = store();
        let mut index = open(&mut conn).unwrap();
        let mine = insert(&conn, "mine", Some(1));
        let other = insert(&conn, "other", Some(2));
        index.committed(Vec::new(), vec![mine, other], |_| ());
        let passes = index.write_passes(&conn, true).unwrap();
        index.committed(passes, Vec::new(), |_| ());
        // What a hash collision would store: the other run's event under
        // this run's key.
        conn.execute("INSERT INTO run_event_keys (run_key, ord, pk) VALUES (?1, 2, ?2)", params![mine.run_key, other.pk]).unwrap();
        assert_eq!(seqs(&conn, "mine", None, 10), vec![Some(1)]);
    }

    #[test]
    fn similar_run_ids_spread_over_the_shards() {
        // Run ids that differ only in their last digits still spread out,
        // so one pass covers about 1/SHARDS of the runs.
        let mut counts = [0; SHARDS];
        for i in 0..10_000 {
            counts[shard(run_key(&format!("00000000-0000-4000-8000-{i:012}")))] += 1;
        }
        assert!(counts.iter().all(|&c| c > 10_000 / SHARDS / 2), "{counts:?}");
    }
}
