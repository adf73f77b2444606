//! A run as the MongoDB store holds it, and one run write being planned.
//!
//! Nothing here talks to MongoDB, and nothing here decides what an event
//! does to its run: that is the shared planner's
//! ([`crate::runstate::RunState`]). [`Planning`] feeds it the run as
//! stored and turns its plan into the next version of the run document:
//! the head, and an outbox holding everything else the write produced
//! (event states, item values, history entries) until it is flushed.

use std::collections::BTreeMap;

use mongodb::bson::oid::ObjectId;
use serde_json::Value;

use crate::change::RunChange;
use crate::runstate::{self, ItemKey, Layout, Need, Outcome, RunHead, RunState, Writes};

/// Event states. `pending`: inserted, not yet processed (or processed by a
/// run write whose outbox has not been flushed yet).
pub(super) mod state {
    use crate::runstate::EventState;

    pub const PENDING: &str = "pending";
    pub const APPLIED: &str = EventState::Applied.as_str();
    pub const PARKED: &str = EventState::Parked.as_str();
    pub const STALE: &str = EventState::Stale.as_str();
    pub const ILLEGAL: &str = EventState::IllegalTransition.as_str();
}

/// A new state for a stored event, produced by a run write.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Settle {
    pub event: ObjectId,
    pub state: &'static str,
}

/// A history entry, as written to `run_history`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct History {
    pub at: i64,
    pub kind: String,
    pub detail: Value,
}

/// What one run write produced besides the head, kept in the run document
/// until it has reached the other collections (see the module docs of
/// [`super`]). Replaying it is harmless: every part is written
/// idempotently and only forwards.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Outbox {
    /// New event states.
    pub settles: Vec<Settle>,
    /// New item values (`None`: removed), stamped with the run version
    /// that holds this outbox.
    pub items: Vec<(ItemKey, Option<Value>)>,
    /// New history entries, oldest first.
    pub history: Vec<History>,
}

impl Outbox {
    /// Whether there is nothing to flush.
    pub fn is_empty(&self) -> bool {
        self.settles.is_empty() && self.items.is_empty() && self.history.is_empty()
    }
}

/// A run as loaded from (and written back to) the `runs` collection.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Run {
    pub head: RunHead,
    /// Compare-and-set guard; 0 = not stored yet.
    pub version: i64,
    /// Collections emptied as a whole, with the run version that did it:
    /// items stamped with an older version are gone.
    pub cleared: BTreeMap<String, i64>,
    /// What the write of `version` produced.
    pub outbox: Outbox,
}

impl Run {
    /// A run that has received nothing yet.
    pub fn new(run_id: &str, initial_status: &str) -> Self {
        Run { head: RunHead::new(run_id, initial_status), version: 0, cleared: BTreeMap::new(), outbox: Outbox::default() }
    }

    /// The run id.
    pub fn id(&self) -> &str {
        &self.head.run_id
    }

    /// Whether an item stored with `stamp` (the version that wrote it) is
    /// still part of the run.
    pub fn keeps(&self, collection: &str, stamp: i64) -> bool {
        self.cleared.get(collection).is_none_or(|&at| stamp >= at)
    }
}

/// The event being processed.
pub(super) type Incoming<'a> = runstate::Incoming<'a, ObjectId>;

/// A parked event of the run.
pub(super) type Parked = runstate::Parked<ObjectId>;

/// An item as read from `run_items`: its value (`null` when removed) and
/// the run version that wrote it.
pub(super) type StoredItem = (ItemKey, Value, i64);

/// One run write being planned.
#[derive(Debug)]
pub(super) struct Planning {
    run: Run,
    state: RunState<ObjectId>,
}

impl Planning {
    /// Plan the next write of `run`. Its outbox must have been flushed
    /// (it is replaced when the plan is done).
    pub fn new(run: Run) -> Self {
        let state = RunState::new(run.head.clone());
        Planning { run, state }
    }

    /// The run id.
    pub fn run_id(&self) -> &str {
        self.run.id()
    }

    /// Whether processing an event with `seq` would ask for the run's
    /// parked events: worth reading them up front, with other runs'.
    pub fn wants_parked(&self, seq: Option<i64>) -> bool {
        self.state.needs_parked(seq)
    }

    /// Give the run's stored parked events.
    pub fn provide_parked(&mut self, parked: Vec<Parked>) {
        self.state.provide_parked(parked);
    }

    /// Items the planner would need to apply `changes`.
    pub fn items_needed<'c>(&self, layout: &Layout, changes: impl IntoIterator<Item = &'c RunChange>) -> Vec<ItemKey> {
        self.state.items_needed(layout, changes)
    }

    /// Give the planner the items it asked for, from what `run_items`
    /// holds (`found`; an item not found does not exist). The run's last
    /// outbox is newer than `run_items` when it was not flushed yet, so
    /// its values win.
    pub fn provide_items(&mut self, asked: Vec<ItemKey>, found: &[StoredItem]) {
        for item in asked {
            let pending = self.run.outbox.items.iter().find(|(k, _)| *k == item).map(|(_, v)| v.clone());
            let value = match pending {
                Some(v) => v,
                None => found
                    .iter()
                    .find(|(k, _, _)| *k == item)
                    .filter(|(k, v, stamp)| !v.is_null() && self.run.keeps(&k.collection, *stamp))
                    .map(|(_, v, _)| v.clone()),
            };
            self.state.provide_item(item, value);
        }
    }

    /// Process one event; `Err` says what to load first.
    pub fn apply(&mut self, layout: &Layout, ev: &Incoming<'_>, now: i64) -> Result<Outcome, Need> {
        self.state.apply(layout, ev, now)
    }

    /// Give up on the gap before the lowest parked event (see
    /// [`RunState::skip_gap`]).
    pub fn skip_gap(&mut self, layout: &Layout, now: i64) -> Result<Option<usize>, Need> {
        self.state.skip_gap(layout, now)
    }

    /// The run's next version as planned, its outbox holding the plan's
    /// writes (`version` is still the one read: the compare-and-set guard).
    pub fn finish(mut self) -> Run {
        let Writes { cleared, items, settles, history } = self.state.take_writes();
        let next = self.run.version + 1;
        for c in cleared {
            self.run.cleared.insert(c, next);
        }
        self.run.outbox = Outbox {
            settles: settles.into_iter().map(|s| Settle { event: s.key, state: s.state.as_str() }).collect(),
            items,
            history: history.into_iter().map(|h| History { at: h.at, kind: h.kind.as_str().to_owned(), detail: h.detail }).collect(),
        };
        self.run.head = self.state.into_head();
        self.run
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn layout() -> Layout {
        crate::orchestrator::layout()
    }

    #[test]
    fn the_plan_becomes_the_next_outbox() {
        let run = Run { version: 3, ..Run::new("r", "queued") };
        let mut p = Planning::new(run);
        let change = RunChange::new().set(["nodes", "n", "status"], "done").set(["progress"], 0.5);
        let oid = ObjectId::new();
        let ev = Incoming { key: oid, source: "/s", id: "1", seq: None, change: &change };
        let asked = match p.apply(&layout(), &ev, 9) {
            Err(Need::Items(asked)) => asked,
            other => panic!("expected a request for the node, got {other:?}"),
        };
        p.provide_items(asked, &[(ItemKey::new("nodes", "n"), json!({"status": "created", "t": 1}), 2)]);
        assert!(matches!(p.apply(&layout(), &ev, 9), Ok(Outcome::Applied { .. })));
        let run = p.finish();
        assert_eq!(run.version, 3, "still the version read: the CAS guard");
        assert_eq!(run.head.fields["progress"], 0.5);
        assert_eq!(run.outbox.items, vec![(ItemKey::new("nodes", "n"), Some(json!({"status": "done", "t": 1})))]);
        assert_eq!(run.outbox.settles, vec![Settle { event: oid, state: "applied" }]);
    }

    #[test]
    fn an_unflushed_outbox_and_a_cleared_collection_decide_what_an_item_is() {
        let mut run = Run { version: 5, ..Run::new("r", "queued") };
        run.cleared.insert("papers".into(), 4);
        run.outbox.items.push((ItemKey::new("nodes", "a"), Some(json!({"from": "outbox"}))));
        let mut p = Planning::new(run);
        let asked =
            vec![ItemKey::new("nodes", "a"), ItemKey::new("papers", "old"), ItemKey::new("papers", "new"), ItemKey::new("nodes", "gone")];
        let found = [
            (ItemKey::new("nodes", "a"), json!({"from": "store"}), 4),
            (ItemKey::new("papers", "old"), json!({"x": 1}), 3),
            (ItemKey::new("papers", "new"), json!({"x": 2}), 4),
            (ItemKey::new("nodes", "gone"), Value::Null, 5),
        ];
        p.provide_items(asked, &found);
        let change = RunChange::new()
            .set(["nodes", "a", "y"], 1)
            .set(["papers", "old", "y"], 1)
            .set(["papers", "new", "y"], 1)
            .set(["nodes", "gone", "y"], 1);
        let ev = Incoming { key: ObjectId::new(), source: "/s", id: "1", seq: None, change: &change };
        p.apply(&layout(), &ev, 1).unwrap();
        let items = p.finish().outbox.items;
        assert_eq!(
            items,
            vec![
                (ItemKey::new("nodes", "a"), Some(json!({"from": "outbox", "y": 1}))),
                (ItemKey::new("papers", "old"), Some(json!({"y": 1})),),
                (ItemKey::new("papers", "new"), Some(json!({"x": 2, "y": 1}))),
                (ItemKey::new("nodes", "gone"), Some(json!({"y": 1}))),
            ]
        );
    }
}
