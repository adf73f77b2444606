//! Runs written by versions that kept a whole run in one document — its
//! items under `doc.nodes.<id>` and the like, its latest history in a
//! `history` array, its outbox as a list of event states — converted to
//! the current layout when the store opens.
//!
//! Each run is converted by a compare-and-set write of its next version,
//! like any run write, so a crash half-way leaves runs either converted or
//! not, and a second start converts the rest. Older server processes must
//! be stopped first: one that writes a run in the old shape after its
//! conversion would undo it (the conversion gives up, with that advice,
//! when runs keep appearing in the old shape).

use mongodb::bson::{Bson, Document, doc};

use super::apply::{History, Outbox, Settle};
use super::doc::{run_from_doc, settle_from_doc};
use super::outbox::settle_updates;
use super::{Core, bson, unavailable};
use crate::store::StoreError;

/// Runs converted per read.
const BATCH: i64 = 100;

/// Reads of old-shape runs before giving up.
const MAX_BATCHES: usize = 100_000;

impl Core {
    /// Convert every run still in the old shape. Returns how many were.
    pub(super) async fn migrate(&self) -> Result<usize, StoreError> {
        let mut old_shape = vec![doc! {"outbox": {"$type": "array"}}, doc! {"history": {"$exists": true}}];
        for c in self.layout.collections() {
            old_shape.push(doc! {format!("doc.{}", bson::escape_key(c)): {"$exists": true}});
        }
        let filter = doc! {"$or": old_shape};
        let mut converted = 0;
        for _ in 0..MAX_BATCHES {
            let mut cursor = self.runs.find(filter.clone()).limit(BATCH).await.map_err(unavailable)?;
            let mut docs = Vec::new();
            while cursor.advance().await.map_err(unavailable)? {
                docs.push(cursor.deserialize_current().map_err(unavailable)?);
            }
            if docs.is_empty() {
                return Ok(converted);
            }
            for d in &docs {
                if self.migrate_run(d).await? {
                    converted += 1;
                }
            }
        }
        Err(StoreError::unavailable(
            "runs keep being written in the layout of an older herald-server; stop older servers on this database, then start again",
        ))
    }

    /// Convert one old-shape run document. `false`: it changed meanwhile
    /// (the next read sees it again if it is still old).
    async fn migrate_run(&self, d: &Document) -> Result<bool, StoreError> {
        let Ok(run_id) = d.get_str("_id") else { return Ok(false) };
        // The old outbox first: its entries may leave it only once flushed.
        let settles: Vec<Settle> =
            d.get_array("outbox").map(|a| a.iter().filter_map(Bson::as_document).filter_map(settle_from_doc).collect()).unwrap_or_default();
        for (filter, update) in settle_updates(settles.iter()) {
            self.events.update_many(filter, update).await.map_err(unavailable)?;
        }
        let whole = d.get_document("doc").map(bson::to_map).unwrap_or_default();
        let (fields, items) = self.layout.split(whole);
        let history = d
            .get_array("history")
            .map(|a| {
                a.iter()
                    .filter_map(Bson::as_document)
                    .map(|h| History {
                        at: h.get_i64("at").unwrap_or_default(),
                        kind: h.get_str("kind").unwrap_or_default().to_owned(),
                        detail: h.get("detail").map(bson::to_json).unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut run = run_from_doc(run_id, d);
        run.head.fields = fields;
        // Unknown until counted: read when a release needs it.
        run.head.parked_events = -1;
        run.outbox = Outbox { settles: Vec::new(), items: items.into_iter().map(|(k, v)| (k, Some(v))).collect(), history };

        let mut next = super::doc::run_to_doc(&run);
        next.insert("version", run.version + 1);
        let read_version = d.get("version").cloned().unwrap_or(Bson::Null);
        let replaced = self.runs.replace_one(doc! {"_id": run_id, "version": read_version}, next).await.map_err(unavailable)?;
        if replaced.matched_count != 1 {
            return Ok(false);
        }
        self.flush_written(&[&run]).await?;
        Ok(true)
    }
}
