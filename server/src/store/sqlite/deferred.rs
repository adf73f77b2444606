//! Indexes written in deferred, sorted passes instead of one entry per
//! insert.
//!
//! An ordinary SQLite index puts each new entry at its key's place, so a
//! commit dirties (and writes to the WAL) one leaf page per distinct place
//! it touched. When keys arrive scattered over the key space — events of
//! many runs, random UUID event ids — that is about one 4 KiB page per
//! event, the largest cost of ingest. Written later, many entries at a
//! time and sorted, the same entries share their leaf pages.
//!
//! The scheme, shared by the run index (`run_index.rs`) and the dedup index
//! (`dedup_index.rs`):
//!
//! - Entries are split into `SHARDS` by their key, so that each shard is a
//!   contiguous range of the index (or, for the run index, of its runs).
//!   Each shard has a watermark in its own table: every event of the shard
//!   with `pk <= through_pk` has its entry in the index.
//! - New entries wait in memory. For every `PASS_EVERY` events committed,
//!   the writer writes the waiting entries of the shard whose watermark is
//!   lowest, in the transaction of its next group, and moves that
//!   watermark to the newest committed event; shards with nothing waiting
//!   have their watermarks moved along with it. So no shard lags more than
//!   about `SHARDS * PASS_EVERY` events, and each pass costs about
//!   `PASS_EVERY` entries: no single commit stalls for long.
//! - Readers take what is indexed from the index and the rest — the events
//!   above the shard's watermark — from `events` by `pk` range (run index)
//!   or from the waiting entries themselves (dedup index).
//! - The waiting entries live only in memory. After a crash, [`Deferred::open`]
//!   indexes everything above the lowest watermark again (`INSERT OR
//!   IGNORE`: entries already there stay as they are).

use rusqlite::{Connection, Row, params};

/// What one deferred index stores and where.
pub(super) trait Kind {
    /// One entry; ordered as the index's key, so a sorted pass writes
    /// neighbours together.
    type Entry: Copy + Ord + std::fmt::Debug;
    /// What the log calls it.
    const NAME: &'static str;
    /// The watermark table: `(shard INTEGER PRIMARY KEY, through_pk INTEGER)`.
    const WATERMARKS: &'static str;
    /// How many shards the entries are split into.
    const SHARDS: usize;
    /// Committed events per pass.
    const PASS_EVERY: usize;
    /// The columns of `events` that [`Kind::entry`] reads.
    const COLUMNS: &'static str;
    /// The entry of a stored event, from [`Kind::COLUMNS`].
    fn entry(&self, row: &Row<'_>) -> rusqlite::Result<Self::Entry>;
    /// The shard an entry belongs to.
    fn shard(entry: &Self::Entry) -> usize;
    /// The `pk` of the event an entry is for.
    fn pk(entry: &Self::Entry) -> i64;
    /// Insert `entries`, sorted, into the index (those already there stay).
    fn write(tx: &Connection, entries: &[Self::Entry]) -> rusqlite::Result<()>;
}

/// Events indexed per transaction when [`Deferred::open`] catches up.
pub(super) const CATCH_UP_CHUNK: i64 = 100_000;

/// A pass written in an open transaction; [`Deferred::committed`] makes it
/// count once that transaction has committed.
#[derive(Debug)]
pub(super) struct Pass {
    shard: usize,
    /// How many of the shard's waiting entries it wrote (the oldest).
    written: usize,
    /// The shard's new watermark.
    through: i64,
}

impl Pass {
    /// How many entries the pass wrote.
    #[cfg(test)]
    pub(super) fn written(&self) -> usize {
        self.written
    }
}

/// The writer's side of a deferred index: what waits to be written, per
/// shard.
#[derive(Debug)]
pub(super) struct Deferred<K: Kind> {
    pub(super) kind: K,
    waiting: Vec<Vec<K::Entry>>,
    through: Vec<i64>,
    /// The highest `pk` committed.
    committed_through: i64,
    /// Events committed since the last pass (minus `PASS_EVERY` per pass).
    owed: usize,
}

impl<K: Kind> Deferred<K> {
    /// Index whatever the watermarks do not cover (a crash loses the
    /// waiting entries; an older store has none at all), then start with
    /// every shard fully indexed.
    pub(super) fn open(conn: &mut Connection, kind: K) -> rusqlite::Result<Self> {
        Self::open_in_chunks(conn, kind, CATCH_UP_CHUNK)
    }

    /// [`Deferred::open`], catching up `chunk` events per transaction.
    pub(super) fn open_in_chunks(conn: &mut Connection, kind: K, chunk: i64) -> rusqlite::Result<Self> {
        let lowest: i64 = conn.query_row(&format!("SELECT COALESCE(MIN(through_pk), 0) FROM {}", K::WATERMARKS), [], |r| r.get(0))?;
        let newest: i64 = conn.query_row("SELECT COALESCE(MAX(pk), 0) FROM events", [], |r| r.get(0))?;
        if newest - lowest > chunk {
            tracing::info!(events = newest - lowest, index = K::NAME, "indexing stored events (once, for a store from an earlier version)");
        }
        // In chunks, each committed and checkpointed, so memory and the WAL
        // stay small however large an older store is. A crash in between
        // is harmless: the watermarks move only at the end, and entries
        // already written are ignored the next time.
        let mut from = lowest;
        while from < newest {
            let to = from.saturating_add(chunk).min(newest);
            let tx = conn.transaction()?;
            let mut entries = tx
                .prepare(&format!("SELECT {} FROM events WHERE pk > ?1 AND pk <= ?2", K::COLUMNS))?
                .query_map([from, to], |r| kind.entry(r))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            entries.sort_unstable();
            K::write(&tx, &entries)?;
            tx.commit()?;
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
            from = to;
        }
        // Rewritten whole, so a change of SHARDS between versions is harmless.
        let tx = conn.transaction()?;
        tx.execute(&format!("DELETE FROM {}", K::WATERMARKS), [])?;
        for shard in 0..K::SHARDS {
            tx.execute(&format!("INSERT INTO {} (shard, through_pk) VALUES (?1, ?2)", K::WATERMARKS), params![shard, newest])?;
        }
        tx.commit()?;
        Ok(Deferred { kind, waiting: vec![Vec::new(); K::SHARDS], through: vec![newest; K::SHARDS], committed_through: newest, owed: 0 })
    }

    /// Write the passes now due into the open transaction `tx`: one per
    /// `PASS_EVERY` events committed, each for the shard that has waited
    /// longest. `all` writes every shard that has entries waiting.
    pub(super) fn write_passes(&self, tx: &Connection, all: bool) -> rusqlite::Result<Vec<Pass>> {
        // Most commits owe no pass: answer them without sorting shards or
        // preparing a statement.
        if !all && self.owed < K::PASS_EVERY {
            return Ok(Vec::new());
        }
        let mut shards: Vec<usize> = (0..K::SHARDS).filter(|&s| !self.waiting[s].is_empty()).collect();
        shards.sort_by_key(|&s| self.through[s]);
        if !all {
            shards.truncate(self.owed / K::PASS_EVERY);
        }
        let mut mark = tx.prepare_cached(&format!("UPDATE {} SET through_pk = ?2 WHERE shard = ?1", K::WATERMARKS))?;
        let mut passes = Vec::with_capacity(shards.len());
        for shard in shards {
            let mut waiting = self.waiting[shard].clone();
            waiting.sort_unstable();
            K::write(tx, &waiting)?;
            mark.execute(params![shard, self.committed_through])?;
            passes.push(Pass { shard, written: waiting.len(), through: self.committed_through });
        }
        // A shard with nothing waiting is fully indexed: move its watermark
        // too, or readers of its runs would scan everything committed since
        // its last pass (for an idle shard, without bound). Once per pass
        // slot, so about every PASS_EVERY events.
        if !passes.is_empty() {
            for shard in (0..K::SHARDS).filter(|&s| self.waiting[s].is_empty() && self.through[s] < self.committed_through) {
                mark.execute(params![shard, self.committed_through])?;
                passes.push(Pass { shard, written: 0, through: self.committed_through });
            }
        }
        Ok(passes)
    }

    /// The transaction holding `passes` and the events `new` committed;
    /// `written` is told each entry the passes wrote, which stops waiting.
    pub(super) fn committed(&mut self, passes: Vec<Pass>, new: impl IntoIterator<Item = K::Entry>, mut written: impl FnMut(&K::Entry)) {
        for p in passes {
            if p.written > 0 {
                self.waiting[p.shard].drain(..p.written).for_each(|e| written(&e));
                self.owed = self.owed.saturating_sub(K::PASS_EVERY);
            }
            self.through[p.shard] = p.through;
        }
        for e in new {
            self.owed += 1;
            self.committed_through = self.committed_through.max(K::pk(&e));
            self.waiting[K::shard(&e)].push(e);
        }
        // Never owe passes for entries that are not there.
        self.owed = self.owed.min(self.waiting());
    }

    /// Entries waiting to be written, all shards.
    pub(super) fn waiting(&self) -> usize {
        self.waiting.iter().map(Vec::len).sum()
    }

    /// The shards' watermarks, as the writer last committed them.
    #[cfg(test)]
    pub(super) fn through(&self) -> &[i64] {
        &self.through
    }

    /// The highest `pk` committed.
    #[cfg(test)]
    pub(super) fn committed_through(&self) -> i64 {
        self.committed_through
    }
}
