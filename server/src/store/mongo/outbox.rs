//! Flushing outboxes: what a run write produced, written where it belongs
//! — event states to `events`, item values to `run_items`, history entries
//! to `run_history`.
//!
//! Every write is idempotent and only moves forwards, so an outbox may be
//! flushed any number of times, by anyone, late:
//! - event states: only `pending → *` and `parked → applied | stale |
//!   illegal_transition` (conditional updates);
//! - items carry `ver`, the run version whose outbox wrote them, and an
//!   item is written only over one with `ver` at most its own: a late
//!   flush of an older outbox changes nothing (its upsert finds the newer
//!   item, fails on the unique key, and that failure is ignored);
//! - history entries have ids made of the run id, version and position,
//!   inserted only when absent.

use std::collections::{BTreeMap, HashSet};

use mongodb::ClientSession;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Bson, Document, doc};

use super::apply::{Outbox, Run, Settle, state};
use super::{Core, DUPLICATE_KEY, bson, unavailable};
use crate::store::StoreError;

/// One run's outbox to flush.
#[derive(Debug, Clone, Copy)]
pub(super) struct Flush<'a> {
    pub run_id: &'a str,
    /// The run version whose document holds the outbox.
    pub version: i64,
    pub outbox: &'a Outbox,
    pub cleared: &'a BTreeMap<String, i64>,
}

impl<'a> Flush<'a> {
    /// The outbox `run` was read with (written by version `run.version`).
    pub fn stored(run: &'a Run) -> Self {
        Flush { run_id: run.id(), version: run.version, outbox: &run.outbox, cleared: &run.cleared }
    }

    /// The outbox of `run` as just written: planned from `run.version`,
    /// stored as the next version.
    pub fn written(run: &'a Run) -> Self {
        Flush { run_id: run.id(), version: run.version + 1, outbox: &run.outbox, cleared: &run.cleared }
    }
}

/// The `(filter, update)` pairs settling `settles` in `events`, one per
/// distinct state.
pub(super) fn settle_updates<'s>(settles: impl Iterator<Item = &'s Settle> + Clone) -> Vec<(Document, Document)> {
    [state::PARKED, state::APPLIED, state::STALE, state::ILLEGAL]
        .into_iter()
        .filter_map(|target| {
            let ids: Vec<ObjectId> = settles.clone().filter(|s| s.state == target).map(|s| s.event).collect();
            if ids.is_empty() {
                None
            } else if target == state::PARKED {
                Some((doc! {"_id": {"$in": ids}, "state": state::PENDING}, doc! {"$set": {"state": state::PARKED}}))
            } else {
                Some((
                    doc! {"_id": {"$in": ids}, "state": {"$in": [state::PENDING, state::PARKED]}},
                    doc! {"$set": {"state": target}, "$unset": {"change": ""}},
                ))
            }
        })
        .collect()
}

/// The `update` statements writing the items of `flushes`. `guarded`:
/// each conditional on the stored item being no newer (what any flush but
/// a [fresh](Core::flush_in) one needs).
pub(super) fn item_statements(flushes: &[Flush<'_>], upsert: bool, guarded: bool) -> Vec<Document> {
    flushes
        .iter()
        .flat_map(|f| {
            f.outbox.items.iter().map(move |(k, v)| {
                let value = v.as_ref().map_or(Bson::Null, bson::to_bson);
                let mut q = doc! {"run_id": f.run_id, "coll": &k.collection, "key": &k.key};
                if guarded {
                    q.insert("ver", doc! {"$lte": f.version});
                }
                doc! {"q": q, "u": {"$set": {"v": value, "ver": f.version}}, "upsert": upsert}
            })
        })
        .collect()
}

/// The id of the `i`-th history entry of a run's version: sorts by run,
/// then version, then position.
pub(super) fn history_id(run_id: &str, version: i64, i: usize) -> String {
    format!("{run_id}/{version:020}/{i:04}")
}

/// The history entries of `flushes`: id and fields.
fn history_entries<'f>(flushes: &'f [Flush<'_>]) -> impl Iterator<Item = (String, Document)> + 'f {
    flushes.iter().flat_map(|f| {
        f.outbox.history.iter().enumerate().map(move |(i, h)| {
            let fields = doc! {"run_id": f.run_id, "at": h.at, "kind": &h.kind, "detail": bson::to_bson(&h.detail)};
            (history_id(f.run_id, f.version, i), fields)
        })
    })
}

/// The `update` statements inserting the history entries of `flushes`
/// unless present.
pub(super) fn history_statements(flushes: &[Flush<'_>]) -> Vec<Document> {
    history_entries(flushes).map(|(id, fields)| doc! {"q": {"_id": id}, "u": {"$setOnInsert": fields}, "upsert": true}).collect()
}

/// The history entries of `flushes` as documents to insert.
fn history_docs(flushes: &[Flush<'_>]) -> Vec<Document> {
    history_entries(flushes)
        .map(|(id, fields)| {
            let mut d = doc! {"_id": id};
            d.extend(fields);
            d
        })
        .collect()
}

/// Filters of the items the collections emptied by these writes left
/// behind (unreadable already; removed to free the space).
pub(super) fn leftovers(flushes: &[Flush<'_>]) -> Vec<Document> {
    flushes
        .iter()
        .flat_map(|f| {
            f.cleared
                .iter()
                .filter(move |(_, at)| **at == f.version)
                .map(move |(c, at)| doc! {"run_id": f.run_id, "coll": c, "ver": {"$lt": at}})
        })
        .collect()
}

/// A statement's failure in an `update` command reply.
struct WriteError {
    index: usize,
    code: i64,
    message: String,
}

fn write_errors(reply: &Document) -> Result<Vec<WriteError>, StoreError> {
    if let Ok(wce) = reply.get_document("writeConcernError") {
        return Err(StoreError::unavailable(format!("MongoDB did not confirm the writes: {wce}")));
    }
    let mut out = Vec::new();
    for e in reply.get_array("writeErrors").map(Vec::as_slice).unwrap_or_default() {
        let Some(e) = e.as_document() else { continue };
        let number = |name: &str| match e.get(name) {
            Some(Bson::Int32(i)) => Some(i64::from(*i)),
            Some(Bson::Int64(i)) => Some(*i),
            _ => None,
        };
        let Some(index) = number("index").and_then(|i| usize::try_from(i).ok()) else {
            return Err(StoreError::internal(format!("MongoDB reported a write error without a usable index: {e}")));
        };
        out.push(WriteError {
            index,
            code: number("code").unwrap_or_default(),
            message: e.get_str("errmsg").unwrap_or_default().to_owned(),
        });
    }
    Ok(out)
}

impl Core {
    fn update_command(&self, collection: &str, statements: Vec<Document>, session: bool) -> Document {
        let mut command = doc! {"update": collection, "updates": statements, "ordered": false};
        // Inside a transaction the write concern is the transaction's.
        if !session {
            command.insert("writeConcern", self.write_concern.clone());
            self.bound_wait(&mut command);
        }
        command
    }

    /// Flush `flushes` (outside any transaction).
    pub(super) async fn flush(&self, flushes: &[Flush<'_>]) -> Result<(), StoreError> {
        for (filter, update) in settle_updates(flushes.iter().flat_map(|f| f.outbox.settles.iter())) {
            self.events.update_many(filter, update).await.map_err(unavailable)?;
        }
        let items = item_statements(flushes, true, true);
        if !items.is_empty() {
            let reply = self.db.run_command(self.update_command(self.items.name(), items.clone(), false)).await.map_err(unavailable)?;
            let mut retry = Vec::new();
            for e in write_errors(&reply)? {
                if e.code != i64::from(DUPLICATE_KEY) {
                    return Err(StoreError::unavailable(format!("MongoDB refused an item write: {}", e.message)));
                }
                // Either a newer item exists (nothing to do), or another
                // flush inserted this one first: write over it if it is
                // no newer, now that it exists.
                if let Some(mut s) = items.get(e.index).cloned() {
                    s.insert("upsert", false);
                    retry.push(s);
                }
            }
            if !retry.is_empty() {
                let reply = self.db.run_command(self.update_command(self.items.name(), retry, false)).await.map_err(unavailable)?;
                if let Some(e) = write_errors(&reply)?.into_iter().next() {
                    return Err(StoreError::unavailable(format!("MongoDB refused an item write: {}", e.message)));
                }
            }
        }
        let history = history_statements(flushes);
        if !history.is_empty() {
            let reply = self.db.run_command(self.update_command(self.history.name(), history, false)).await.map_err(unavailable)?;
            if let Some(e) = write_errors(&reply)?.into_iter().find(|e| e.code != i64::from(DUPLICATE_KEY)) {
                return Err(StoreError::unavailable(format!("MongoDB refused a history write: {}", e.message)));
            }
        }
        for filter in leftovers(flushes) {
            self.items.delete_many(filter).await.map_err(unavailable)?;
        }
        Ok(())
    }

    /// Flush `flushes` inside the transaction of `session`. Any failure
    /// aborts the transaction (the caller falls back to the path without).
    ///
    /// `fresh`: the flushes are of the run versions this transaction
    /// writes. Then nothing newer than them can exist (the run's
    /// compare-and-set in this transaction holds the run until it commits,
    /// and items and history are only written for versions a run reached)
    /// and nothing of them yet: items are written without the version
    /// guard, and history entries plainly inserted, both cheaper for
    /// MongoDB than conditional upserts.
    pub(super) async fn flush_in(
        &self,
        session: &mut ClientSession,
        flushes: &[Flush<'_>],
        fresh: bool,
    ) -> Result<(), mongodb::error::Error> {
        for (filter, update) in settle_updates(flushes.iter().flat_map(|f| f.outbox.settles.iter())) {
            self.events.update_many(filter, update).session(&mut *session).await?;
        }
        let items = item_statements(flushes, true, !fresh);
        let history = if fresh { Vec::new() } else { history_statements(flushes) };
        for (collection, statements) in [(self.items.name(), items), (self.history.name(), history)] {
            if statements.is_empty() {
                continue;
            }
            let reply = self.db.run_command(self.update_command(collection, statements, true)).session(&mut *session).await?;
            if let Ok(Some(e)) = write_errors(&reply).map(|e| e.into_iter().next()) {
                return Err(mongodb::error::Error::custom(format!("write refused in the transaction: {}", e.message)));
            }
        }
        if fresh {
            let docs = history_docs(flushes);
            if !docs.is_empty() {
                self.history.insert_many(docs).session(&mut *session).await?;
            }
        }
        for filter in leftovers(flushes) {
            self.items.delete_many(filter).session(&mut *session).await?;
        }
        Ok(())
    }

    /// Note that these runs' outboxes (`(run id, version)`) reached their
    /// collections, so readers and the next writer need not flush them.
    pub(super) fn remember_flushed<'r>(&self, runs: impl Iterator<Item = (&'r str, i64)>) {
        /// Bound on the runs remembered: a busy server forgets, and pays
        /// one extra (no-op) flush per run it forgot.
        const REMEMBER: usize = 100_000;
        let mut flushed = self.flushed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (run_id, version) in runs {
            if flushed.len() >= REMEMBER {
                flushed.clear();
            }
            flushed.insert(run_id.to_owned(), version);
        }
    }

    /// Whether this process flushed the outbox of `version` of `run_id`.
    pub(super) fn was_flushed(&self, run_id: &str, version: i64) -> bool {
        let flushed = self.flushed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        flushed.get(run_id) == Some(&version)
    }
}

/// The events a set of outboxes settles.
pub(super) fn settled_events<'a>(outboxes: impl Iterator<Item = &'a Outbox>) -> HashSet<ObjectId> {
    outboxes.flat_map(|o| o.settles.iter().map(|s| s.event)).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::apply::History;
    use super::*;
    use crate::runstate::ItemKey;

    #[test]
    fn item_writes_are_conditional_on_the_stored_version_and_history_ids_sort() {
        let outbox = Outbox {
            items: vec![(ItemKey::new("nodes", "n"), Some(json!({"a": 1}))), (ItemKey::new("nodes", "m"), None)],
            ..Outbox::default()
        };
        let cleared = BTreeMap::from([("papers".to_owned(), 7_i64), ("nodes".to_owned(), 3)]);
        let f = [Flush { run_id: "r", version: 7, outbox: &outbox, cleared: &cleared }];
        let s = item_statements(&f, true, true);
        assert_eq!(s[0].get_document("q").unwrap(), &doc! {"run_id": "r", "coll": "nodes", "key": "n", "ver": {"$lte": 7_i64}});
        let fresh = item_statements(&f, true, false);
        assert_eq!(fresh[0].get_document("q").unwrap(), &doc! {"run_id": "r", "coll": "nodes", "key": "n"}, "no guard");
        assert_eq!(fresh[0].get_document("u").unwrap(), s[0].get_document("u").unwrap(), "the same write");
        assert_eq!(s[1].get_document("u").unwrap(), &doc! {"$set": {"v": Bson::Null, "ver": 7_i64}});
        assert_eq!(leftovers(&f), vec![doc! {"run_id": "r", "coll": "papers", "ver": {"$lt": 7_i64}}], "only what this version emptied");
        assert!(history_id("r", 9, 0) < history_id("r", 10, 0));
        let outbox = Outbox { history: vec![History { at: 5, kind: "stale".into(), detail: json!({"id": "e"}) }], ..Outbox::default() };
        let f = [Flush { run_id: "r", version: 2, outbox: &outbox, cleared: &cleared }];
        let inserted = &history_docs(&f)[0];
        let upserted = &history_statements(&f)[0];
        assert_eq!(inserted.get_str("_id").unwrap(), upserted.get_document("q").unwrap().get_str("_id").unwrap());
        let mut fields = inserted.clone();
        fields.remove("_id");
        assert_eq!(&fields, upserted.get_document("u").unwrap().get_document("$setOnInsert").unwrap(), "one shape, two writes");
        assert!(history_id("r", 10, 1) < history_id("r", 10, 10));
    }
}
