//! The read side: runs, their items, history and events.

use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Bson, Document, doc};

use super::apply::Run;
use super::doc::run_from_doc;
use super::{Core, bson, unavailable};
use crate::clock::millis_to_rfc3339;
use crate::store::{
    EventCursor, EventPage, EventQuery, HistoryEntry, INLINE_ITEMS, Item, ItemPage, NO_SEQ, RunPage, RunQuery, RunView, StoreError,
    StoredEvent,
};

/// How many history entries `run()` returns (the newest).
const HISTORY_LIMIT: i64 = 100;

/// The items of `collection` that are part of `run`: not removed, and not
/// older than the run's last emptying of the collection.
fn visible(run: &Run, collection: &str) -> Document {
    let since = run.cleared.get(collection).copied().unwrap_or(i64::MIN);
    doc! {"run_id": run.id(), "coll": collection, "v": {"$ne": Bson::Null}, "ver": {"$gte": since}}
}

impl Core {
    /// The run, with everything its last write produced in place: a
    /// write whose process died before flushing is completed first.
    async fn read_run(&self, run_id: &str) -> Result<Option<Run>, StoreError> {
        let Some(d) = self.runs.find_one(doc! {"_id": run_id}).await.map_err(unavailable)? else { return Ok(None) };
        let run = run_from_doc(run_id, &d);
        self.flush_run(&run).await?;
        Ok(Some(run))
    }

    pub(super) async fn run(&self, run_id: &str) -> Result<Option<(RunView, Vec<HistoryEntry>)>, StoreError> {
        let Some(run) = self.read_run(run_id).await? else { return Ok(None) };
        let mut view = self.view(&run).await?;
        for collection in self.layout.collections() {
            let n = self.items.count_documents(visible(&run, collection)).await.map_err(unavailable)?;
            if n == 0 {
                continue;
            }
            view.item_counts.insert(collection.clone(), i64::try_from(n).unwrap_or(i64::MAX));
            if usize::try_from(n).is_ok_and(|n| n <= INLINE_ITEMS) {
                let items = self.collect_items(visible(&run, collection), None).await?;
                let map = items.into_iter().map(|i| (i.key, i.value)).collect();
                view.doc.insert(collection.clone(), serde_json::Value::Object(map));
            }
        }
        let mut cursor =
            self.history.find(doc! {"run_id": run_id}).sort(doc! {"_id": -1}).limit(HISTORY_LIMIT).await.map_err(unavailable)?;
        let mut history = Vec::new();
        while cursor.advance().await.map_err(unavailable)? {
            let h: Document = cursor.deserialize_current().map_err(unavailable)?;
            history.push(HistoryEntry {
                at: millis_to_rfc3339(h.get_i64("at").unwrap_or_default()),
                kind: h.get_str("kind").unwrap_or_default().to_owned(),
                detail: h.get("detail").map(bson::to_json).unwrap_or_default(),
            });
        }
        history.reverse();
        Ok(Some((view, history)))
    }

    pub(super) async fn run_items(
        &self,
        run_id: &str,
        collection: &str,
        cursor: Option<String>,
        limit: usize,
    ) -> Result<ItemPage, StoreError> {
        let Some(run) = self.read_run(run_id).await? else { return Ok(ItemPage::from_overfetch(Vec::new(), limit)) };
        let mut filter = visible(&run, collection);
        if let Some(after) = cursor {
            filter.insert("key", doc! {"$gt": after});
        }
        let items = self.collect_items(filter, Some(limit + 1)).await?;
        Ok(ItemPage::from_overfetch(items, limit))
    }

    async fn collect_items(&self, filter: Document, limit: Option<usize>) -> Result<Vec<Item>, StoreError> {
        let mut find = self.items.find(filter).sort(doc! {"key": 1}).projection(doc! {"key": 1, "v": 1});
        if let Some(limit) = limit {
            find = find.limit(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        let mut cursor = find.await.map_err(unavailable)?;
        let mut out = Vec::new();
        while cursor.advance().await.map_err(unavailable)? {
            let d: Document = cursor.deserialize_current().map_err(unavailable)?;
            let key = d.get_str("key").unwrap_or_default().to_owned();
            out.push(Item { key, value: d.get("v").map(bson::to_json).unwrap_or_default() });
        }
        Ok(out)
    }

    async fn view(&self, run: &Run) -> Result<RunView, StoreError> {
        let h = &run.head;
        let parked_events = if h.parked_events >= 0 {
            h.parked_events
        } else {
            // Written before the count was kept.
            let n =
                self.events.count_documents(doc! {"run_id": &h.run_id, "state": super::apply::state::PARKED}).await.map_err(unavailable)?;
            i64::try_from(n).unwrap_or(i64::MAX)
        };
        Ok(RunView {
            run_id: h.run_id.clone(),
            status: h.status.clone(),
            last_event_seq: h.last_event_seq,
            updated_at: millis_to_rfc3339(h.updated_at),
            parked_events,
            applied_events: h.applied_events,
            item_counts: Default::default(),
            doc: h.fields.clone(),
        })
    }

    pub(super) async fn runs(&self, q: RunQuery) -> Result<RunPage, StoreError> {
        let limit = q.limit.max(1);
        let mut filter = doc! {"_id": {"$gt": q.cursor.unwrap_or_default()}};
        if let Some(status) = q.status {
            filter.insert("status", status);
        }
        let mut cursor =
            self.runs.find(filter).sort(doc! {"_id": 1}).limit(i64::try_from(limit + 1).unwrap_or(i64::MAX)).await.map_err(unavailable)?;
        let mut docs = Vec::new();
        while cursor.advance().await.map_err(unavailable)? {
            docs.push(cursor.deserialize_current().map_err(unavailable)?);
        }
        let mut runs = Vec::with_capacity(docs.len());
        for d in docs.iter().take(limit) {
            let run_id = d.get_str("_id").unwrap_or_default().to_owned();
            runs.push(self.view(&run_from_doc(&run_id, d)).await?);
        }
        let next_cursor = if docs.len() > limit { runs.last().map(|r| r.run_id.clone()) } else { None };
        Ok(RunPage { runs, next_cursor })
    }

    pub(super) async fn run_events(&self, run_id: &str, query: EventQuery) -> Result<EventPage, StoreError> {
        let want = i64::try_from(query.limit + 1).unwrap_or(i64::MAX);
        // An unreadable key (not one this store gave out) skips its `ord`.
        let after = query.after().map(|(ord, key)| (ord, key.map(|k| ObjectId::parse_str(k).ok())));
        // `seq` order, then events without `seq` in arrival order, as SQLite.
        let mut found = Vec::new();
        let seq_part = match after {
            None => Some(doc! {"run_id": run_id, "seq": {"$ne": Bson::Null}}),
            Some((ord, _)) if ord == NO_SEQ => None,
            Some((ord, Some(Some(oid)))) => {
                Some(doc! {"run_id": run_id, "$or": [{"seq": {"$gt": ord}}, {"seq": ord, "_id": {"$gt": oid}}]})
            }
            Some((ord, _)) => Some(doc! {"run_id": run_id, "seq": {"$gt": ord}}),
        };
        if let Some(filter) = seq_part {
            found = self.collect_events(filter, doc! {"seq": 1, "_id": 1}, want).await?;
        }
        let rest = want - i64::try_from(found.len()).unwrap_or(want);
        if rest > 0 {
            let filter = match after {
                Some((ord, Some(key))) if ord == NO_SEQ => match key {
                    Some(oid) => doc! {"run_id": run_id, "seq": Bson::Null, "_id": {"$gt": oid}},
                    None => doc! {"run_id": run_id, "seq": Bson::Null, "_id": {"$exists": false}},
                },
                _ => doc! {"run_id": run_id, "seq": Bson::Null},
            };
            found.extend(self.collect_events(filter, doc! {"_id": 1}, rest).await?);
        }
        Ok(EventPage::from_overfetch(found, query.limit))
    }

    async fn collect_events(
        &self,
        filter: Document,
        sort: Document,
        limit: i64,
    ) -> Result<Vec<(EventCursor, StoredEvent, usize)>, StoreError> {
        let mut out = Vec::new();
        if limit <= 0 {
            return Ok(out);
        }
        let mut cursor = self.events.find(filter).sort(sort).limit(limit).await.map_err(unavailable)?;
        while cursor.advance().await.map_err(unavailable)? {
            let d: Document = cursor.deserialize_current().map_err(unavailable)?;
            let envelope = d.get_str("envelope").unwrap_or_default();
            let seq = d.get_i64("seq").ok();
            let key = d.get_object_id("_id").map(|o| o.to_hex()).unwrap_or_default();
            let event = StoredEvent {
                seq,
                state: d.get_str("state").unwrap_or_default().to_owned(),
                received_at: millis_to_rfc3339(d.get_i64("received_at").unwrap_or_default()),
                event: StoredEvent::envelope(envelope.to_owned())
                    .map_err(|e| StoreError::internal(format!("stored event {key} is not JSON: {e}")))?,
            };
            out.push((EventCursor { ord: seq.unwrap_or(NO_SEQ), key }, event, envelope.len()));
        }
        Ok(out)
    }
}
