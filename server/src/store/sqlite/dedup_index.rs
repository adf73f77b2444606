//! The dedup guard: which `(source, id)` identities are stored, found
//! without a page write per event.
//!
//! CloudEvents identity is `(source, id)`, and senders use random UUID v4
//! ids. A `UNIQUE (source, id)` index put each new id at a random place in
//! a large B-tree, so every event dirtied its own leaf page: with random
//! ids batches ran at half the rate of sequential ids (BENCHMARKS.md).
//!
//! So the guard is a deferred index (`deferred.rs`), `event_ids`: each
//! stored event's identity as a 64-bit keyed hash, with the event's `pk`.
//! A new identity waits in memory until a pass writes its shard — a
//! contiguous range of hashes — sorted, many entries per leaf page. An
//! identity is stored if it is waiting, or in `event_ids`; either way the
//! event row it points to is read and its `source` and `id` compared, so a
//! hash collision costs a read, never a wrong answer.
//!
//! The hash is SipHash-1-3 with a key made when the store was created and
//! kept in it: a sender cannot choose ids that collide (which would turn
//! every lookup into a scan of the colliding rows), and what is stored
//! stays findable across restarts and versions.
//!
//! Nothing here is a second source of truth: `events` is. After a crash
//! the waiting identities are rebuilt from the events above the lowest
//! watermark ([`DedupIndex::open`]), before any request is answered.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rusqlite::{Connection, OptionalExtension, Row, params};
use siphasher::sip::SipHasher13;

use super::deferred::{CATCH_UP_CHUNK, Deferred, Kind, Pass};
use super::id_filter::{self, IdFilter};

/// Shards of the hash space. With [`PASS_EVERY`], at most about
/// 64 × 1024 = 65k identities wait in memory (≈ 4 MB with the lookup map),
/// and a pass writes about 1024 of them into 1/64 of the index.
const SHARDS: usize = 64;

/// Committed events per pass (see [`SHARDS`]). Random hashes share a leaf
/// page only when a pass holds several of them per leaf of its shard's
/// range: a shard of a store of N events spans about N / 64 / 180 leaves
/// (≈ 20 B per entry), so a pass of 1024 writes well under a page per
/// identity up to some 10M stored events, and about one page each (the
/// cost of a plain index) past ~100M. 2048 measured the same on the worker
/// load and held 4 MB more (BENCHMARKS.md); a store that large would want
/// a second level (an LSM) rather than larger passes.
const PASS_EVERY: usize = 1024;

/// One entry of `event_ids`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct IdKey {
    hash: i64,
    pk: i64,
}

/// What `event_ids` stores: identities hashed with the store's key.
#[derive(Debug)]
pub(super) struct IdKeys {
    sip: (u64, u64),
}

impl IdKeys {
    /// The hash of an identity. The `0xff` between the parts is never in
    /// UTF-8 text, so `("a", "bc")` and `("ab", "c")` hash apart.
    fn hash(&self, source: &str, id: &str) -> i64 {
        let mut h = SipHasher13::new_with_keys(self.sip.0, self.sip.1);
        h.write(source.as_bytes());
        h.write_u8(0xff);
        h.write(id.as_bytes());
        h.finish() as i64
    }
}

impl Kind for IdKeys {
    type Entry = IdKey;
    const NAME: &'static str = "dedup index";
    const WATERMARKS: &'static str = "event_ids_watermarks";
    const SHARDS: usize = SHARDS;
    const PASS_EVERY: usize = PASS_EVERY;
    const COLUMNS: &'static str = "source, id, pk";

    fn entry(&self, r: &Row<'_>) -> rusqlite::Result<IdKey> {
        Ok(IdKey { hash: self.hash(&r.get::<_, String>(0)?, &r.get::<_, String>(1)?), pk: r.get(2)? })
    }

    /// By the hash's top bits, so a shard is one contiguous key range of
    /// `event_ids` and its pass touches only that range's leaves.
    fn shard(k: &IdKey) -> usize {
        ((k.hash as u64) >> (64 - SHARDS.trailing_zeros())) as usize
    }

    fn pk(k: &IdKey) -> i64 {
        k.pk
    }

    fn write(tx: &Connection, keys: &[IdKey]) -> rusqlite::Result<()> {
        let mut insert = tx.prepare_cached("INSERT OR IGNORE INTO event_ids (hash, pk) VALUES (?1, ?2)")?;
        for k in keys {
            insert.execute(params![k.hash, k.pk])?;
        }
        Ok(())
    }
}

/// The hashes are SipHash outputs already: hashing them again would only
/// cost time.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_i64(&mut self, n: i64) {
        self.0 = n as u64;
    }
}

/// The writer's side of the dedup guard.
#[derive(Debug)]
pub(super) struct DedupIndex {
    deferred: Deferred<IdKeys>,
    /// Identities stored but not yet in `event_ids`, by hash: the waiting
    /// entries and those of the open transaction.
    waiting: HashMap<i64, i64, BuildHasherDefault<Identity>>,
    /// Waiting entries whose hash another waiting entry has (a 64-bit
    /// collision: practically never, but then still found).
    collided: Vec<IdKey>,
    /// The open transaction's entries, in the order it stored them.
    fresh: Vec<IdKey>,
    /// Every hash in `event_ids` or claimed since open: a hash it has
    /// never seen is not stored, with no seek in `event_ids`.
    filter: IdFilter,
}

impl DedupIndex {
    /// Open the guard: the store's hash key (made now for a new store),
    /// and every stored identity either indexed or waiting.
    pub(super) fn open(conn: &mut Connection) -> rusqlite::Result<Self> {
        Self::open_in_chunks(conn, CATCH_UP_CHUNK)
    }

    /// [`DedupIndex::open`], catching up `chunk` events per transaction.
    fn open_in_chunks(conn: &mut Connection, chunk: i64) -> rusqlite::Result<Self> {
        let sip = hash_key(conn)?;
        let deferred = Deferred::open_in_chunks(conn, IdKeys { sip }, chunk)?;
        // After the catch-up above, every stored identity is in the table.
        let mut filter = IdFilter::new(id_filter::MAX_BYTES);
        let mut hashes = conn.prepare("SELECT hash FROM event_ids")?;
        for hash in hashes.query_map([], |r| r.get::<_, i64>(0))? {
            filter.insert(hash?);
        }
        drop(hashes);
        Ok(DedupIndex { deferred, waiting: HashMap::default(), collided: Vec::new(), fresh: Vec::new(), filter })
    }

    /// The run of the stored event with the identity `(source, id)`, whose
    /// [`DedupIndex::hash`] is `hash`, if there is one — including events
    /// stored earlier in the open transaction.
    pub(super) fn find(&self, tx: &Connection, hash: i64, source: &str, id: &str) -> rusqlite::Result<Option<String>> {
        let mut same = tx.prepare_cached("SELECT run_id FROM events WHERE pk = ?1 AND source = ?2 AND id = ?3")?;
        let mut check = |pk: i64| same.query_row(params![pk, source, id], |r| r.get::<_, String>(0)).optional();
        let waiting = self.waiting.get(&hash).copied().into_iter();
        let collided = self.collided.iter().filter(|k| k.hash == hash).map(|k| k.pk);
        for pk in waiting.chain(collided) {
            if let Some(run_id) = check(pk)? {
                return Ok(Some(run_id));
            }
        }
        if !self.filter.may_contain(hash) {
            return Ok(None);
        }
        let mut indexed = tx.prepare_cached("SELECT pk FROM event_ids WHERE hash = ?1")?;
        let pks = indexed.query_map([hash], |r| r.get::<_, i64>(0))?;
        for pk in pks {
            if let Some(run_id) = check(pk?)? {
                return Ok(Some(run_id));
            }
        }
        Ok(None)
    }

    /// The hash of an identity, for [`DedupIndex::find`] and
    /// [`DedupIndex::claim`].
    pub(super) fn hash(&self, source: &str, id: &str) -> i64 {
        self.deferred.kind.hash(source, id)
    }

    /// The open transaction stored an event with the identity of `hash`
    /// at `pk` (after [`DedupIndex::find`] found none).
    pub(super) fn claim(&mut self, hash: i64, pk: i64) {
        let key = IdKey { hash, pk };
        self.fresh.push(key);
        self.filter.insert(hash);
        if let Some(&other) = self.waiting.get(&hash) {
            debug_assert_ne!(other, pk);
            self.collided.push(key);
        } else {
            self.waiting.insert(hash, pk);
        }
    }

    /// The passes due, written into the open transaction `tx`.
    pub(super) fn write_passes(&self, tx: &Connection, all: bool) -> rusqlite::Result<Vec<Pass>> {
        self.deferred.write_passes(tx, all)
    }

    /// The transaction holding `passes` and the claims since the last
    /// commit or rollback committed.
    pub(super) fn committed(&mut self, passes: Vec<Pass>) {
        // Drained, not taken: the buffer is reused by the next transaction.
        let (waiting, collided) = (&mut self.waiting, &mut self.collided);
        self.deferred.committed(passes, self.fresh.drain(..), |k| forget(waiting, collided, k));
    }

    /// The open transaction rolled back: its claims are void.
    pub(super) fn rolled_back(&mut self) {
        for k in self.fresh.drain(..) {
            forget(&mut self.waiting, &mut self.collided, &k);
        }
    }

    /// Identities waiting in memory.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.deferred.waiting()
    }
}

/// Stop holding `k` in memory (it is written, or its event was not).
fn forget(waiting: &mut HashMap<i64, i64, BuildHasherDefault<Identity>>, collided: &mut Vec<IdKey>, k: &IdKey) {
    if waiting.get(&k.hash) == Some(&k.pk) {
        waiting.remove(&k.hash);
        // A collided entry of the same hash takes its place.
        if let Some(i) = collided.iter().position(|c| c.hash == k.hash) {
            let c = collided.swap_remove(i);
            waiting.insert(c.hash, c.pk);
        }
    } else {
        collided.retain(|c| c != k);
    }
}

/// The store's SipHash key: made from the OS's randomness (through std's
/// per-process random hasher state) the first time, then read back.
fn hash_key(conn: &Connection) -> rusqlite::Result<(u64, u64)> {
    let stored: Option<(i64, i64)> =
        conn.query_row("SELECT k0, k1 FROM event_ids_key WHERE id = 0", [], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
    if let Some((k0, k1)) = stored {
        return Ok((k0 as u64, k1 as u64));
    }
    use std::hash::BuildHasher;
    let random = || std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now());
    let (k0, k1) = (random(), random());
    conn.execute("INSERT INTO event_ids_key (id, k0, k1) VALUES (0, ?1, ?2)", params![k0 as i64, k1 as i64])?;
    Ok((k0, k1))
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

    /// Store an event as the writer does: look it up, insert it if new,
    /// claim its identity. Returns whether it was new.
    fn ingest(tx: &Connection, index: &mut DedupIndex, source: &str, id: &str) -> bool {
        let hash = index.hash(source, id);
        if index.find(tx, hash, source, id).unwrap().is_some() {
            return false;
        }
        tx.execute(
            "INSERT INTO events (source, id, type, run_id, received_at, state, envelope) VALUES (?1, ?2, 't', 'r', 0, 'applied', '{}')",
            params![source, id],
        )
        .unwrap();
        index.claim(hash, tx.last_insert_rowid());
        true
    }

    fn find(index: &DedupIndex, tx: &Connection, source: &str, id: &str) -> Option<String> {
        index.find(tx, index.hash(source, id), source, id).unwrap()
    }

    fn uuid(i: u64) -> String {
        // Scattered like UUID v4: a multiplicative hash of the counter.
        format!("{:032x}", u128::from(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)) * 0x1_0000_0001)
    }

    fn indexed(conn: &Connection) -> i64 {
        conn.query_row("SELECT COUNT(*) FROM event_ids", [], |r| r.get(0)).unwrap()
    }

    /// Commit `ids` through `index`, `per` events per transaction, with
    /// the passes that are due. Returns how many were new.
    fn commit(conn: &mut Connection, index: &mut DedupIndex, ids: &[String], per: usize) -> usize {
        let mut new = 0;
        for chunk in ids.chunks(per) {
            let tx = conn.transaction().unwrap();
            let passes = index.write_passes(&tx, false).unwrap();
            new += chunk.iter().filter(|id| ingest(&tx, index, "/src", id)).count();
            tx.commit().unwrap();
            index.committed(passes);
        }
        new
    }

    #[test]
    fn an_identity_is_found_waiting_indexed_and_within_its_own_transaction() {
        let (_dir, mut conn) = store();
        let mut index = DedupIndex::open(&mut conn).unwrap();
        let ids: Vec<String> = (0..3 * PASS_EVERY as u64).map(uuid).collect();
        // A batch that repeats its own ids is deduplicated inside the
        // transaction.
        let twice: Vec<String> = ids.iter().chain(ids.iter()).cloned().collect();
        assert_eq!(commit(&mut conn, &mut index, &twice, 500), ids.len());
        let all_again = commit(&mut conn, &mut index, &ids, 500);
        assert_eq!(all_again, 0, "every id is a duplicate, waiting or indexed");
        assert!(indexed(&conn) > 0, "passes ran");
        assert!(index.waiting() > 0, "some still wait");
        // Same id, another source: another identity.
        let tx = conn.transaction().unwrap();
        assert!(ingest(&tx, &mut index, "/other", &ids[0]));
        assert_eq!(find(&index, &tx, "/src", &ids[0]), Some("r".to_owned()));
    }

    #[test]
    fn a_rolled_back_claim_is_forgotten() {
        let (_dir, mut conn) = store();
        let mut index = DedupIndex::open(&mut conn).unwrap();
        {
            let tx = conn.transaction().unwrap();
            assert!(ingest(&tx, &mut index, "/src", "a"));
            // Dropped: rolled back.
        }
        index.rolled_back();
        let tx = conn.transaction().unwrap();
        assert!(ingest(&tx, &mut index, "/src", "a"), "the event of the rolled-back transaction is not stored");
    }

    #[test]
    fn passes_write_sorted_shards_and_keep_memory_bounded() {
        let (_dir, mut conn) = store();
        let mut index = DedupIndex::open(&mut conn).unwrap();
        let ids: Vec<String> = (0..40 * PASS_EVERY as u64).map(uuid).collect();
        commit(&mut conn, &mut index, &ids, 256);
        let waiting = index.waiting();
        assert_eq!(indexed(&conn) as usize + waiting, ids.len());
        assert!(waiting <= SHARDS * PASS_EVERY + 256, "{waiting} identities held in memory");
        assert_eq!(index.waiting.len() + index.collided.len(), waiting, "the lookup map holds exactly the waiting entries");
    }

    #[test]
    fn a_hash_collision_costs_a_read_never_a_wrong_answer() {
        let (_dir, mut conn) = store();
        let mut index = DedupIndex::open(&mut conn).unwrap();
        let tx = conn.transaction().unwrap();
        assert!(ingest(&tx, &mut index, "/src", "a"));
        // What a collision would look like: another identity under a's
        // hash, waiting and indexed.
        tx.execute(
            "INSERT INTO events (source, id, type, run_id, received_at, state, envelope) VALUES ('/src', 'b', 't', 'rb', 0, 'applied', '{}')",
            [],
        )
        .unwrap();
        let b = tx.last_insert_rowid();
        let hash_a = index.hash("/src", "a");
        index.claim(hash_a, b);
        tx.execute("INSERT INTO event_ids (hash, pk) VALUES (?1, ?2)", params![index.hash("/src", "c"), b]).unwrap();
        // Rows reach event_ids only through claims, which the filter sees.
        index.filter.insert(index.hash("/src", "c"));
        assert_eq!(find(&index, &tx, "/src", "a"), Some("r".to_owned()));
        assert_eq!(find(&index, &tx, "/src", "c"), None, "a row under c's hash that is not c");
        tx.commit().unwrap();
        index.committed(Vec::new());
        // Written out: both entries leave memory, and a's is still found.
        let tx = conn.transaction().unwrap();
        let passes = index.write_passes(&tx, true).unwrap();
        tx.commit().unwrap();
        index.committed(passes);
        assert_eq!(index.waiting.len() + index.collided.len(), 0);
        let tx = conn.transaction().unwrap();
        assert_eq!(find(&index, &tx, "/src", "a"), Some("r".to_owned()));
        assert_eq!(find(&index, &tx, "/src", "b"), None, "b was stored under a's hash only");
    }

    #[test]
    fn open_rebuilds_what_a_crash_left_waiting_and_keeps_the_key() {
        let (dir, mut conn) = store();
        let mut index = DedupIndex::open(&mut conn).unwrap();
        let ids: Vec<String> = (0..5 * PASS_EVERY as u64).map(uuid).collect();
        commit(&mut conn, &mut index, &ids, 300);
        assert!(index.waiting() > 0);
        let key = index.deferred.kind.sip;
        drop(index);
        drop(conn);

        let mut conn = Connection::open(dir.path().join("t.sqlite3")).unwrap();
        let mut index = DedupIndex::open_in_chunks(&mut conn, 777).unwrap();
        assert_eq!(index.deferred.kind.sip, key, "the hash key is the store's");
        assert_eq!(index.waiting(), 0);
        assert_eq!(indexed(&conn) as usize, ids.len(), "every identity indexed once");
        assert_eq!(commit(&mut conn, &mut index, &ids, 300), 0, "all still duplicates after the restart");
    }

    #[test]
    fn a_new_identity_is_answered_from_memory_without_reading_the_table() {
        let (_dir, mut conn) = store();
        let mut index = DedupIndex::open(&mut conn).unwrap();
        let ids: Vec<String> = (0..2 * PASS_EVERY as u64).map(uuid).collect();
        commit(&mut conn, &mut index, &ids, 500);
        let tx = conn.transaction().unwrap();
        let passes = index.write_passes(&tx, true).unwrap();
        tx.commit().unwrap();
        index.committed(passes);
        // With the table gone, any lookup that reads it fails.
        conn.execute_batch("ALTER TABLE event_ids RENAME TO event_ids_gone").unwrap();
        let tx = conn.transaction().unwrap();
        let never: Vec<String> = (10_000_000..10_000_000 + 10_000).map(uuid).collect();
        let mut read_table = 0;
        for id in &never {
            match index.find(&tx, index.hash("/src", id), "/src", id) {
                Ok(found) => assert_eq!(found, None),
                Err(_) => read_table += 1,
            }
        }
        // The filter's false positives still read the table: a few percent.
        assert!(read_table < never.len() / 20, "{read_table} of {} new ids read event_ids", never.len());
        assert!(index.find(&tx, index.hash("/src", &ids[0]), "/src", &ids[0]).is_err(), "a stored identity is looked up");
    }

    #[test]
    fn shards_are_contiguous_ranges_of_the_hash() {
        let keys = IdKeys { sip: (1, 2) };
        let mut entries: Vec<IdKey> = (0..10_000).map(|i| IdKey { hash: keys.hash("/s", &uuid(i)), pk: 0 }).collect();
        entries.sort();
        let shards: Vec<usize> = entries.iter().map(IdKeys::shard).collect();
        let changes = shards.windows(2).filter(|w| w[0] != w[1]).count();
        assert_eq!(changes, SHARDS - 1, "each shard one run of sorted keys");
        assert!(shards.iter().all(|&s| s < SHARDS));
    }
}
