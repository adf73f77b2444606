//! Events that belong to no run (`stream_key: none`): inserted once, as
//! `applied`, and nothing else.
//!
//! The crash-safety protocol of [`super`] is about applying an event to its
//! run exactly once; an event of no run has nothing to apply. Its insert is
//! the whole write: the unique `(source, id)` index deduplicates it, and
//! with the store's write concern an acknowledged insert is durable. It is
//! never `pending`, so neither a duplicate nor the sweeper has anything to
//! finish for it.

use mongodb::bson::oid::ObjectId;
use mongodb::error::{ErrorKind, InsertManyError};

use super::doc::event_doc;
use super::{Core, DUPLICATE_KEY, unavailable};
use crate::store::{NewEvent, Outcome, StoreError};

impl Core {
    /// Store `events` (all of no run) in one unordered insert: one result
    /// each, [`Outcome::Stored`] or, for an identity stored before,
    /// [`Outcome::Duplicate`].
    pub(super) async fn store_runless(&self, events: &[&NewEvent]) -> Vec<Result<Outcome, StoreError>> {
        let mut results: Vec<Result<Outcome, StoreError>> = events.iter().map(|e| Ok(Outcome::Stored { seq: e.seq })).collect();
        let mut docs = Vec::with_capacity(events.len());
        let mut doc_event = Vec::with_capacity(events.len());
        for (i, ev) in events.iter().enumerate() {
            match event_doc(ObjectId::new(), ev) {
                Ok(d) => {
                    docs.push(d);
                    doc_event.push(i);
                }
                Err(e) => results[i] = Err(e),
            }
        }
        if docs.is_empty() {
            return results;
        }
        let Err(e) = self.events.insert_many(docs).ordered(false).await else { return results };
        let ErrorKind::InsertMany(InsertManyError { write_errors: Some(errors), write_concern_error: None, .. }) = &*e.kind else {
            // Not known to be stored: none is acknowledged.
            let e = unavailable(e);
            return results.into_iter().map(|_| Err(e.clone())).collect();
        };
        let mut duplicates = Vec::new();
        for w in errors {
            let Some(&i) = doc_event.get(w.index) else { continue };
            if w.code == DUPLICATE_KEY {
                duplicates.push(i);
            } else {
                results[i] = Err(StoreError::unavailable(format!("MongoDB refused the event: {}", w.message)));
            }
        }
        // After the insert, so a duplicate of an event earlier in this
        // same insert finds it.
        for i in duplicates {
            results[i] = self.duplicate(&events[i].source, &events[i].id).await;
        }
        results
    }
}
