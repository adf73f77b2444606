//! A memory-bounded "maybe stored" filter in front of `event_ids`, so a
//! new event's dedup lookup is answered in memory instead of by a B-tree
//! seek on the one writer thread.
//!
//! Almost every event an ingest server sees is new, and proving an
//! identity absent from `event_ids` cost a seek per event: 15% of the
//! writer's time under the worker batch load (perf, BENCHMARKS.md). This
//! is a Bloom filter over the identity hashes ([`super::dedup_index`]'s
//! keyed SipHash, so its bits are uniform and a sender cannot aim at
//! them). It only ever answers "certainly absent" or "maybe": a "maybe"
//! goes to the table as before, so a false positive costs the old seek,
//! never a wrong answer. It never forgets a hash: a hash added for an
//! event whose transaction then rolled back is a false positive too.
//!
//! Blocked per 64-bit word (the word is picked by the hash's low bits,
//! four bits inside it by its high bits): one cache miss per lookup. At
//! [`BITS_PER_ENTRY`] bits per entry about 2–3% of lookups of new
//! identities still go to the table.
//!
//! Memory grows with the store, in segments that double, up to
//! [`MAX_BYTES`]; past that the last segment keeps taking entries and its
//! false-positive rate rises toward 1 — lookups degrade toward the cost of
//! having no filter, and memory stays bounded.

/// Bits of filter per identity while under [`MAX_BYTES`].
const BITS_PER_ENTRY: usize = 10;

/// The first segment's size, in 64-bit words (64 KiB).
const FIRST_WORDS: usize = 8 * 1024;

/// The filter's memory bound: 16 MiB, about 13M identities at
/// [`BITS_PER_ENTRY`]. Larger stores still dedup exactly, with more seeks.
pub(super) const MAX_BYTES: usize = 16 * 1024 * 1024;

/// One Bloom filter of a fixed size, and how many entries it was sized for.
#[derive(Debug)]
struct Segment {
    words: Box<[u64]>,
    capacity: usize,
    len: usize,
}

impl Segment {
    fn new(words: usize) -> Self {
        Segment { words: vec![0; words].into_boxed_slice(), capacity: words * 64 / BITS_PER_ENTRY, len: 0 }
    }

    /// The word a hash lives in: the low 32 bits scaled to the length
    /// (multiply-shift instead of a modulo).
    fn slot(&self, hash: u64) -> usize {
        (((hash & 0xffff_ffff) * self.words.len() as u64) >> 32) as usize
    }

    fn insert(&mut self, hash: u64) {
        let slot = self.slot(hash);
        self.words[slot] |= bits(hash);
        self.len += 1;
    }

    fn may_contain(&self, hash: u64) -> bool {
        let b = bits(hash);
        self.words[self.slot(hash)] & b == b
    }
}

/// Four bits of a word, from four 6-bit fields of the hash's high half
/// (the low half picks the word).
fn bits(hash: u64) -> u64 {
    (1 << (hash >> 58)) | (1 << ((hash >> 52) & 63)) | (1 << ((hash >> 46) & 63)) | (1 << ((hash >> 40) & 63))
}

/// The filter: segments of doubling size, the newest taking new entries.
#[derive(Debug)]
pub(super) struct IdFilter {
    segments: Vec<Segment>,
    max_bytes: usize,
}

impl IdFilter {
    /// An empty filter that will hold up to `max_bytes` of segments.
    pub(super) fn new(max_bytes: usize) -> Self {
        let first = FIRST_WORDS.min(max_bytes / 8).max(1);
        IdFilter { segments: vec![Segment::new(first)], max_bytes }
    }

    /// Remember `hash`.
    pub(super) fn insert(&mut self, hash: i64) {
        let last = self.segments.last().expect("a filter always has a segment");
        if last.len >= last.capacity {
            let next = last.words.len() * 2;
            if (self.bytes() + next * 8) <= self.max_bytes {
                self.segments.push(Segment::new(next));
            }
        }
        self.segments.last_mut().expect("a filter always has a segment").insert(hash as u64);
    }

    /// `false` only if `hash` was never inserted.
    pub(super) fn may_contain(&self, hash: i64) -> bool {
        self.segments.iter().any(|s| s.may_contain(hash as u64))
    }

    /// Memory held by the segments.
    pub(super) fn bytes(&self) -> usize {
        self.segments.iter().map(|s| s.words.len() * 8).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scattered like keyed SipHash outputs.
    fn hash(i: u64) -> i64 {
        let mut x = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (x ^ (x >> 31)) as i64
    }

    #[test]
    fn an_inserted_hash_is_always_maybe_and_most_others_are_absent() {
        let mut f = IdFilter::new(MAX_BYTES);
        let n = 300_000;
        for i in 0..n {
            f.insert(hash(i));
        }
        assert!((0..n).all(|i| f.may_contain(hash(i))), "a Bloom filter has no false negatives");
        let false_positives = (n..2 * n).filter(|&i| f.may_contain(hash(i))).count();
        let rate = false_positives as f64 / n as f64;
        // Doubling segments, each at most ~2-3% full-load error: the union
        // stays well under 10%.
        assert!(rate < 0.10, "false-positive rate {rate}");
        assert!(f.segments.len() > 1, "300k entries outgrow the first segment");
    }

    #[test]
    fn memory_stops_at_the_bound_and_answers_stay_correct() {
        let cap = 256 * 1024;
        let mut f = IdFilter::new(cap);
        let n = 1_000_000;
        for i in 0..n {
            f.insert(hash(i));
        }
        assert!(f.bytes() <= cap, "{} bytes over the {cap} bound", f.bytes());
        assert!((0..n).step_by(7).all(|i| f.may_contain(hash(i))));
    }

    #[test]
    fn an_empty_filter_says_absent() {
        let f = IdFilter::new(MAX_BYTES);
        assert!((0..1000).all(|i| !f.may_contain(hash(i))));
    }
}
