//! The documents of the `events` and `runs` collections, to and from the
//! store's types.

use std::sync::LazyLock;

use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Bson, Document, doc};

use super::apply::{History, Outbox, Parked, Run, Settle, state};
use super::bson;
use crate::clock::now_millis;
use crate::runstate::{ItemKey, RunHead};
use crate::store::{NewEvent, StoreError};

/// The `events` document of a new event, `pending` until its run write;
/// an event of no run is `applied` at once, with a `null` `run_id` (see
/// `runless.rs`).
pub(super) fn event_doc(oid: ObjectId, ev: &NewEvent) -> Result<Document, StoreError> {
    let change = serde_json::to_string(&ev.change).map_err(|e| StoreError::internal(format!("cannot encode the change: {e}")))?;
    Ok(doc! {
        "_id": oid,
        "source": &ev.source,
        "id": &ev.id,
        "type": &ev.type_name,
        "run_id": ev.run_id.as_deref().map_or(Bson::Null, |r| Bson::String(r.to_owned())),
        "seq": ev.seq.map_or(Bson::Null, Bson::Int64),
        "received_at": now_millis(),
        "state": if ev.run_id.is_some() { state::PENDING } else { state::APPLIED },
        "change": change,
        "envelope": &ev.envelope,
    })
}

/// The fields [`parked_from_doc`] reads.
pub(super) static PARKED_FIELDS: LazyLock<Document> = LazyLock::new(|| doc! {"_id": 1, "id": 1, "run_id": 1, "seq": 1, "change": 1});

/// A parked `events` document as its run id and [`Parked`]; `None` (with a
/// warning) for one that cannot be applied.
pub(super) fn parked_from_doc(d: &Document) -> Option<(String, Parked)> {
    let (Ok(oid), Ok(seq), Ok(change)) = (d.get_object_id("_id"), d.get_i64("seq"), d.get_str("change")) else {
        tracing::warn!(event = ?d.get("_id"), "parked event without seq or change; skipped");
        return None;
    };
    let Ok(change) = serde_json::from_str(change) else {
        tracing::warn!(event = %oid, "parked event with an unreadable change; skipped");
        return None;
    };
    let run_id = d.get_str("run_id").unwrap_or_default().to_owned();
    Some((run_id, Parked { key: oid, id: d.get_str("id").unwrap_or_default().to_owned(), seq, change }))
}

/// The `runs` document of `run`, without `version` (the writer sets it).
pub(super) fn run_to_doc(run: &Run) -> Document {
    let h = &run.head;
    let o = &run.outbox;
    let settles: Vec<Bson> = o.settles.iter().map(|s| Bson::Document(doc! {"event": s.event, "state": s.state})).collect();
    let items: Vec<Bson> = o
        .items
        .iter()
        .map(|(k, v)| Bson::Document(doc! {"c": &k.collection, "k": &k.key, "v": v.as_ref().map_or(Bson::Null, bson::to_bson)}))
        .collect();
    let history: Vec<Bson> =
        o.history.iter().map(|h| Bson::Document(doc! {"at": h.at, "kind": &h.kind, "detail": bson::to_bson(&h.detail)})).collect();
    let cleared: Document = run.cleared.iter().map(|(c, v)| (bson::escape_key(c), Bson::Int64(*v))).collect();
    doc! {
        "_id": &h.run_id,
        "status": &h.status,
        "last_event_seq": h.last_event_seq.map_or(Bson::Null, Bson::Int64),
        "applied_events": h.applied_events,
        "parked_events": h.parked_events,
        "updated_at": h.updated_at,
        "doc": bson::to_document(&h.fields),
        "cleared": cleared,
        "outbox": {"settles": settles, "items": items, "history": history},
    }
}

/// An outbox entry `{event, state}` (also the shape of the outbox lists
/// older versions kept).
pub(super) fn settle_from_doc(s: &Document) -> Option<Settle> {
    let state = match s.get_str("state").ok()? {
        state::APPLIED => state::APPLIED,
        state::PARKED => state::PARKED,
        state::STALE => state::STALE,
        state::ILLEGAL => state::ILLEGAL,
        _ => return None,
    };
    Some(Settle { event: s.get_object_id("event").ok()?, state })
}

/// A `runs` document written by [`run_to_doc`] back as a [`Run`].
pub(super) fn run_from_doc(run_id: &str, d: &Document) -> Run {
    let outbox = d.get_document("outbox").ok();
    let array =
        |name: &str| outbox.and_then(|o| o.get_array(name).ok()).map(|a| a.iter().filter_map(Bson::as_document)).into_iter().flatten();
    let settles = array("settles").filter_map(settle_from_doc).collect();
    let items = array("items")
        .filter_map(|i| {
            let key = ItemKey::new(i.get_str("c").ok()?, i.get_str("k").ok()?);
            let value = i.get("v").map(bson::to_json).filter(|v| !v.is_null());
            Some((key, value))
        })
        .collect();
    let history = array("history")
        .map(|h| History {
            at: h.get_i64("at").unwrap_or_default(),
            kind: h.get_str("kind").unwrap_or_default().to_owned(),
            detail: h.get("detail").map(bson::to_json).unwrap_or_default(),
        })
        .collect();
    let cleared = d
        .get_document("cleared")
        .map(|c| c.iter().filter_map(|(k, v)| Some((bson::unescape_key(k), v.as_i64()?))).collect())
        .unwrap_or_default();
    Run {
        head: RunHead {
            run_id: run_id.to_owned(),
            status: d.get_str("status").unwrap_or_default().to_owned(),
            last_event_seq: d.get_i64("last_event_seq").ok(),
            applied_events: d.get_i64("applied_events").unwrap_or_default(),
            // Absent in runs written before it was counted: unknown.
            parked_events: d.get_i64("parked_events").unwrap_or(-1),
            updated_at: d.get_i64("updated_at").unwrap_or_default(),
            fields: d.get_document("doc").map(bson::to_map).unwrap_or_default(),
        },
        version: d.get_i64("version").unwrap_or_default(),
        cleared,
        outbox: Outbox { settles, items, history },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_run_round_trips_through_its_document() {
        let mut run = Run::new("r", "queued");
        run.head.fields.insert("a.b".into(), json!({"$x": 1}));
        run.head.last_event_seq = Some(4);
        run.head.parked_events = 2;
        run.cleared.insert("nodes".into(), 3);
        run.outbox.settles.push(Settle { event: ObjectId::new(), state: state::STALE });
        run.outbox.items.push((ItemKey::new("nodes", "n.1"), Some(json!({"s": 1}))));
        run.outbox.items.push((ItemKey::new("papers", "p"), None));
        run.outbox.history.push(History { at: 7, kind: "gap_skipped".into(), detail: json!({"x": [1]}) });
        let mut d = run_to_doc(&run);
        d.insert("version", 0_i64);
        assert_eq!(run_from_doc("r", &d), run);
    }
}
