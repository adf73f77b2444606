//! The planner: what a run's events do to it, decided once for every
//! backend.
//!
//! A backend hands a [`RunState`] the run as stored ([`RunHead`]) and the
//! run's incoming events one by one. The state answers each event's
//! [`Outcome`] and collects what must be persisted ([`Writes`]): the new
//! head, the items that changed (final values, never whole collections),
//! the events' new states and the run's new history entries. The backend
//! persists all of it atomically, however it does that (one SQLite
//! transaction, a MongoDB compare-and-set plus outbox, a MongoDB
//! transaction). Nothing here does I/O: when the planner needs stored data
//! it does not hold (the run's parked events, the current value of an item
//! it must merge into) it says so with [`Need`], having changed nothing,
//! and the backend loads it and asks again.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::layout::{ItemKey, Layout, Target};
use super::sequence::{self, Position};
use crate::change::{RunChange, apply_set};

/// What happened to one event. Every variant except an error means the
/// event is durably stored (or was already).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Stored and applied to the run.
    Applied {
        /// The run.
        run_id: String,
        /// The event's `seq`, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        seq: Option<i64>,
        /// Parked events this one unblocked, applied in the same commit.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        released: Vec<i64>,
    },
    /// `(source, id)` was stored before; nothing was done again.
    Duplicate {
        /// The run of the stored event; `None` for an event that belongs
        /// to no run.
        #[serde(skip_serializing_if = "Option::is_none")]
        run_id: Option<String>,
    },
    /// Stored, and its handler called, but applied to no run: its type
    /// belongs to none (`stream_key: none`), so it is not sequenced and no
    /// run state changes. Never the planner's answer (it plans runs).
    Stored {
        /// The event's `seq`, if sent (kept, not ordered by).
        #[serde(skip_serializing_if = "Option::is_none")]
        seq: Option<i64>,
    },
    /// Stored, but ahead of a gap in `seq`: applied once the gap fills or
    /// the gap timeout passes.
    Parked {
        /// The run.
        run_id: String,
        /// The event's `seq`.
        seq: i64,
        /// The `seq` the run waits for.
        expected_seq: i64,
    },
    /// Stored but not applied: its `seq` is at or below the run's
    /// `last_event_seq`, so applying it would move state backwards.
    Stale {
        /// The run.
        run_id: String,
        /// The event's `seq`.
        seq: i64,
        /// The run's `last_event_seq`.
        last_event_seq: i64,
    },
    /// Stored but not applied: the run's status does not allow the move.
    IllegalTransition {
        /// The run.
        run_id: String,
        /// The run's status when the event came.
        from: String,
        /// The status the event asked for.
        to: String,
    },
}

impl Outcome {
    /// The run the event belongs to; `None` for an event that belongs to
    /// no run.
    pub fn run_id(&self) -> Option<&str> {
        match self {
            Outcome::Applied { run_id, .. }
            | Outcome::Parked { run_id, .. }
            | Outcome::Stale { run_id, .. }
            | Outcome::IllegalTransition { run_id, .. } => Some(run_id),
            Outcome::Duplicate { run_id } => run_id.as_deref(),
            Outcome::Stored { .. } => None,
        }
    }
}

/// The state a stored event ends in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventState {
    /// Applied to its run.
    Applied,
    /// Waiting for a `seq` gap to fill.
    Parked,
    /// At or below the run's `last_event_seq`: never applied.
    Stale,
    /// The run's status did not allow its move: its `seq` was consumed,
    /// nothing else changed.
    IllegalTransition,
}

impl EventState {
    /// Every state.
    pub const ALL: [EventState; 4] = [EventState::Applied, EventState::Parked, EventState::Stale, EventState::IllegalTransition];

    /// The stored and shown name.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventState::Applied => "applied",
            EventState::Parked => "parked",
            EventState::Stale => "stale",
            EventState::IllegalTransition => "illegal_transition",
        }
    }

    /// The state named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// Why a history entry was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryKind {
    /// An event asked for a status move its run's status does not allow.
    IllegalTransition,
    /// The gap timeout passed: the missing `seq` range was given up on.
    GapSkipped,
    /// An event came with a `seq` the run had passed.
    StaleEvent,
}

impl HistoryKind {
    /// The stored and shown name.
    pub const fn as_str(self) -> &'static str {
        match self {
            HistoryKind::IllegalTransition => "illegal_transition",
            HistoryKind::GapSkipped => "gap_skipped",
            HistoryKind::StaleEvent => "stale_event",
        }
    }
}

/// A notable thing that happened to a run.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// When, ms since the Unix epoch.
    pub at: i64,
    /// What.
    pub kind: HistoryKind,
    /// Specifics.
    pub detail: Value,
}

/// A run's own fields: everything but its items.
#[derive(Debug, Clone, PartialEq)]
pub struct RunHead {
    /// The run id.
    pub run_id: String,
    /// Lifecycle status.
    pub status: String,
    /// Highest `seq` applied, if any.
    pub last_event_seq: Option<i64>,
    /// Events applied so far.
    pub applied_events: i64,
    /// Events stored for the run and parked; negative when unknown (a run
    /// written by an older version), so the parked events are read
    /// whenever they might be released.
    pub parked_events: i64,
    /// Last change, ms since the Unix epoch.
    pub updated_at: i64,
    /// The fields handlers wrote outside the layout's collections.
    pub fields: Map<String, Value>,
}

impl RunHead {
    /// A run that has received nothing yet.
    pub fn new(run_id: impl Into<String>, initial_status: impl Into<String>) -> Self {
        RunHead {
            run_id: run_id.into(),
            status: initial_status.into(),
            last_event_seq: None,
            applied_events: 0,
            parked_events: 0,
            updated_at: 0,
            fields: Map::new(),
        }
    }
}

/// An event arriving at its run. `K` is how the backend names a stored
/// event (a row id, an ObjectId).
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a, K> {
    /// The stored event.
    pub key: K,
    /// CloudEvents `source`.
    pub source: &'a str,
    /// CloudEvents `id`.
    pub id: &'a str,
    /// The `seq` extension.
    pub seq: Option<i64>,
    /// What its handler wants done.
    pub change: &'a RunChange,
}

/// A stored, parked event of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Parked<K> {
    /// The stored event.
    pub key: K,
    /// CloudEvents `id` (for history entries).
    pub id: String,
    /// Its `seq`.
    pub seq: i64,
    /// What its handler wants done.
    pub change: RunChange,
}

/// Stored data the planner needs before it can go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// The run's parked events ([`RunState::provide_parked`]).
    Parked,
    /// The current values of these items ([`RunState::provide_item`]).
    Items(Vec<ItemKey>),
}

/// An event's new state.
#[derive(Debug, Clone, PartialEq)]
pub struct Settle<K> {
    /// The stored event.
    pub key: K,
    /// Its state now.
    pub state: EventState,
    /// Whether the event arrived in this plan (so its stored state is
    /// whatever the backend inserted it with), rather than being a parked
    /// event stored earlier.
    pub arrived: bool,
    /// For a parked event that arrived in this plan: its change, to keep
    /// until it is applied.
    pub change: Option<RunChange>,
}

/// What a plan asks the backend to persist, besides the head.
#[derive(Debug, Clone, PartialEq)]
pub struct Writes<K> {
    /// Collections emptied as a whole; persist before `items`.
    pub cleared: Vec<String>,
    /// Items that changed, with their final values (`None`: removed).
    pub items: Vec<(ItemKey, Option<Value>)>,
    /// Events whose state changed.
    pub settles: Vec<Settle<K>>,
    /// New history entries, oldest first.
    pub history: Vec<History>,
}

impl<K> Writes<K> {
    /// Whether there is nothing to persist.
    pub fn is_empty(&self) -> bool {
        self.cleared.is_empty() && self.items.is_empty() && self.settles.is_empty() && self.history.is_empty()
    }
}

/// How many times a store runs one planner step before giving up: the
/// planner asks at most twice (the parked events, then the items they and
/// the event merge into) and never again for what it was given, so a
/// third question is a bug.
pub const ROUNDS: usize = 3;

/// An item as the planner holds it.
#[derive(Debug)]
struct Slot {
    value: Option<Value>,
    dirty: bool,
}

/// One run being planned: its head, what the planner knows of its stored
/// data, and what it has decided so far.
#[derive(Debug)]
pub struct RunState<K> {
    head: RunHead,
    /// Parked events, lowest `seq` first (then lowest key): those loaded
    /// from the store plus those parked in this plan.
    parked: VecDeque<Parked<K>>,
    /// Whether `parked` holds every parked event of the run.
    parked_known: bool,
    /// Items by collection, then key; `None`: known not to exist.
    items: HashMap<String, HashMap<String, Slot>>,
    /// Collections emptied in this plan: their items not in `items` are
    /// known not to exist.
    cleared: Vec<String>,
    /// Changed items, in the order first changed.
    dirty: Vec<ItemKey>,
    settles: Vec<Settle<K>>,
    settle_at: HashMap<K, usize>,
    arrived: HashSet<K>,
    history: Vec<History>,
}

impl<K: Copy + Eq + Hash + Ord> RunState<K> {
    /// Plan from the run as stored.
    pub fn new(head: RunHead) -> Self {
        RunState {
            parked_known: head.parked_events == 0,
            head,
            parked: VecDeque::new(),
            items: HashMap::new(),
            cleared: Vec::new(),
            dirty: Vec::new(),
            settles: Vec::new(),
            settle_at: HashMap::new(),
            arrived: HashSet::new(),
            history: Vec::new(),
        }
    }

    /// The run as planned so far.
    pub fn head(&self) -> &RunHead {
        &self.head
    }

    /// The run as planned, once its writes are taken.
    pub fn into_head(self) -> RunHead {
        self.head
    }

    /// Whether applying an event with `seq` would ask for the run's parked
    /// events ([`Need::Parked`]): worth reading them up front, beside other
    /// runs'.
    pub fn needs_parked(&self, seq: Option<i64>) -> bool {
        !self.parked_known && seq.is_some_and(|s| sequence::position(self.head.last_event_seq, s) == Position::Next)
    }

    /// Run `step` until the planner can decide, answering its questions
    /// with `answer` (which loads from the store). `stuck` is the error
    /// for a planner that asks more than [`ROUNDS`] times.
    pub fn decide<T, E>(
        &mut self,
        mut step: impl FnMut(&mut Self) -> Result<T, Need>,
        mut answer: impl FnMut(&mut Self, Need) -> Result<(), E>,
        stuck: impl FnOnce() -> E,
    ) -> Result<T, E> {
        for _ in 0..ROUNDS {
            match step(self) {
                Ok(t) => return Ok(t),
                Err(need) => answer(self, need)?,
            }
        }
        Err(stuck())
    }

    /// Give the run's stored parked events (any order), as [`Need::Parked`]
    /// asked.
    pub fn provide_parked(&mut self, stored: Vec<Parked<K>>) {
        let held: HashSet<K> = self.parked.iter().map(|q| q.key).collect();
        for p in stored {
            if !held.contains(&p.key) && !self.settle_at.contains_key(&p.key) {
                self.parked.push_back(p);
            }
        }
        self.parked.make_contiguous().sort_by_key(|a| (a.seq, a.key));
        self.parked_known = true;
        self.head.parked_events = i64::try_from(self.parked.len()).unwrap_or(i64::MAX);
    }

    /// Give an item's stored value (`None`: there is none), as
    /// [`Need::Items`] asked. An item the plan already holds is kept.
    pub fn provide_item(&mut self, item: ItemKey, value: Option<Value>) {
        self.items.entry(item.collection).or_default().entry(item.key).or_insert(Slot { value, dirty: false });
    }

    /// The items whose stored values any of `changes` would merge into and
    /// the plan does not hold yet.
    pub fn items_needed<'c>(&self, layout: &Layout, changes: impl IntoIterator<Item = &'c RunChange>) -> Vec<ItemKey> {
        let mut out = Vec::new();
        for change in changes {
            self.missing_items(layout, change, &mut out);
        }
        out
    }

    fn missing_items(&self, layout: &Layout, change: &RunChange, out: &mut Vec<ItemKey>) {
        // An item this change replaces whole (or a collection it empties)
        // before merging into it needs no stored value.
        let mut replaced: Vec<(&str, &str)> = Vec::new();
        let mut emptied: Vec<&str> = Vec::new();
        for set in &change.sets {
            match layout.target(&set.path) {
                Target::Collection(c) => emptied.push(c),
                Target::Item { collection, key, path: [] } => replaced.push((collection, key)),
                Target::Item { collection, key, .. } => {
                    let known = replaced.contains(&(collection, key))
                        || emptied.contains(&collection)
                        || self.cleared.iter().any(|c| c == collection)
                        || self.items.get(collection).is_some_and(|m| m.contains_key(key));
                    if !known && !out.iter().any(|k: &ItemKey| k.collection == collection && k.key == key) {
                        out.push(ItemKey::new(collection, key));
                    }
                }
                Target::Field(_) | Target::Nowhere => {}
            }
        }
    }

    /// Process one event that was just stored. `Err` says what to load
    /// first; nothing has changed then.
    pub fn apply(&mut self, layout: &Layout, ev: &Incoming<'_, K>, now: i64) -> Result<Outcome, Need> {
        let position = ev.seq.map(|s| sequence::position(self.head.last_event_seq, s));
        let applies = matches!(position, None | Some(Position::Next));
        if matches!(position, Some(Position::Next)) && !self.parked_known {
            return Err(Need::Parked);
        }
        if applies {
            let mut missing = Vec::new();
            self.missing_items(layout, ev.change, &mut missing);
            if matches!(position, Some(Position::Next)) {
                // Any parked event might be released: over-asking costs a
                // lookup, under-asking a wrong merge.
                for p in &self.parked {
                    self.missing_items(layout, &p.change, &mut missing);
                }
            }
            if !missing.is_empty() {
                return Err(Need::Items(missing));
            }
        }

        self.arrived.insert(ev.key);
        let run_id = self.head.run_id.clone();
        let outcome = match (ev.seq, position) {
            (Some(seq), Some(Position::Behind { last })) => {
                self.settle(ev.key, EventState::Stale, None);
                let detail = json!({"id": ev.id, "source": ev.source, "seq": seq, "last_event_seq": last});
                self.record(now, HistoryKind::StaleEvent, detail);
                Outcome::Stale { run_id, seq, last_event_seq: last }
            }
            (Some(seq), Some(Position::Ahead { expected })) => {
                self.settle(ev.key, EventState::Parked, Some(ev.change.clone()));
                let at = self.parked.partition_point(|q| (q.seq, q.key) < (seq, ev.key));
                self.parked.insert(at, Parked { key: ev.key, id: ev.id.to_owned(), seq, change: ev.change.clone() });
                self.head.parked_events = self.head.parked_events.max(0) + 1;
                Outcome::Parked { run_id, seq, expected_seq: expected }
            }
            (Some(seq), _) => {
                let applied = self.apply_change(layout, ev.key, ev.id, ev.change, now);
                self.head.last_event_seq = Some(seq);
                let released = self.release(layout, now);
                match applied {
                    Ok(()) => Outcome::Applied { run_id, seq: Some(seq), released },
                    Err((from, to)) => Outcome::IllegalTransition { run_id, from, to },
                }
            }
            (None, _) => match self.apply_change(layout, ev.key, ev.id, ev.change, now) {
                Ok(()) => Outcome::Applied { run_id, seq: None, released: Vec::new() },
                Err((from, to)) => Outcome::IllegalTransition { run_id, from, to },
            },
        };
        self.head.updated_at = now;
        Ok(outcome)
    }

    /// Stop waiting for the missing `seq`s before the lowest parked event:
    /// record the skipped range, then apply from there on. `Ok(None)`:
    /// nothing is parked. `Ok(Some(n))`: `n` events were applied.
    pub fn skip_gap(&mut self, layout: &Layout, now: i64) -> Result<Option<usize>, Need> {
        if !self.parked_known {
            return Err(Need::Parked);
        }
        let Some(lowest) = self.parked.front().map(|p| p.seq) else { return Ok(None) };
        let missing = self.items_needed(layout, self.parked.iter().map(|p| &p.change));
        if !missing.is_empty() {
            return Err(Need::Items(missing));
        }
        let expected = sequence::expected(self.head.last_event_seq);
        if lowest > expected {
            self.record(now, HistoryKind::GapSkipped, json!({"missing_from_seq": expected, "missing_to_seq": lowest - 1}));
        }
        self.head.last_event_seq = Some(lowest - 1);
        let applied = self.release(layout, now).len();
        self.head.updated_at = now;
        Ok(Some(applied))
    }

    /// Apply parked events that are next in line, one `seq` at a time;
    /// parked events at or below `last_event_seq` (a second event with a
    /// `seq` already applied) become stale. Returns the released `seq`s.
    fn release(&mut self, layout: &Layout, now: i64) -> Vec<i64> {
        let mut released = Vec::new();
        while let Some(last) = self.head.last_event_seq {
            while self.parked.front().is_some_and(|p| p.seq <= last) {
                let Some(p) = self.parked.pop_front() else { break };
                self.head.parked_events -= 1;
                self.settle(p.key, EventState::Stale, None);
            }
            // Sorted: the first one is the lowest key among equal `seq`s.
            if self.parked.front().is_none_or(|p| p.seq != last + 1) {
                break;
            }
            let Some(p) = self.parked.pop_front() else { break };
            self.head.parked_events -= 1;
            // An illegal move still consumes its `seq`.
            let _ = self.apply_change(layout, p.key, &p.id, &p.change, now);
            self.head.last_event_seq = Some(last + 1);
            released.push(last + 1);
        }
        released
    }

    /// Apply `change` for event `key`, or record why not (`Err((from, to))`).
    fn apply_change(&mut self, layout: &Layout, key: K, id: &str, change: &RunChange, now: i64) -> Result<(), (String, String)> {
        if let Some(t) = &change.transition {
            if !t.from.contains(&self.head.status) {
                self.settle(key, EventState::IllegalTransition, None);
                let detail = json!({"id": id, "from": self.head.status, "to": t.to, "allowed_from": t.from});
                self.record(now, HistoryKind::IllegalTransition, detail);
                return Err((self.head.status.clone(), t.to.clone()));
            }
            self.head.status = t.to.clone();
        }
        for set in &change.sets {
            match layout.target(&set.path) {
                Target::Nowhere => {}
                Target::Field(path) => apply_set(&mut self.head.fields, path, &set.value),
                Target::Collection(collection) => self.replace_collection(collection, &set.value),
                Target::Item { collection, key, path } => {
                    let slot = self.slot(collection, key);
                    if path.is_empty() {
                        slot.value = (!set.value.is_null()).then(|| set.value.clone());
                    } else {
                        let item = slot.value.get_or_insert_with(|| Value::Object(Map::new()));
                        if !item.is_object() {
                            *item = Value::Object(Map::new());
                        }
                        if let Value::Object(map) = item {
                            apply_set(map, path, &set.value);
                        }
                    }
                }
            }
        }
        self.head.applied_events += 1;
        self.settle(key, EventState::Applied, None);
        Ok(())
    }

    /// The item, marked changed.
    fn slot(&mut self, collection: &str, key: &str) -> &mut Slot {
        let slot = self.items.entry(collection.to_owned()).or_default().entry(key.to_owned()).or_insert(Slot { value: None, dirty: false });
        if !slot.dirty {
            slot.dirty = true;
            self.dirty.push(ItemKey::new(collection, key));
        }
        slot
    }

    fn replace_collection(&mut self, collection: &str, value: &Value) {
        if !self.cleared.iter().any(|c| c == collection) {
            self.cleared.push(collection.to_owned());
        }
        let held: Vec<String> = self.items.get(collection).map(|m| m.keys().cloned().collect()).unwrap_or_default();
        for key in held {
            self.slot(collection, &key).value = None;
        }
        if let Value::Object(map) = value {
            for (key, v) in map.iter().filter(|(_, v)| !v.is_null()) {
                self.slot(collection, key).value = Some(v.clone());
            }
        }
    }

    /// Record `key`'s new state; a later state of the same event in the
    /// same plan replaces the earlier one (parked, then released).
    fn settle(&mut self, key: K, state: EventState, change: Option<RunChange>) {
        let arrived = self.arrived.contains(&key);
        match self.settle_at.get(&key) {
            Some(&i) => {
                self.settles[i].state = state;
                self.settles[i].change = change;
            }
            None => {
                self.settle_at.insert(key, self.settles.len());
                self.settles.push(Settle { key, state, arrived, change });
            }
        }
    }

    fn record(&mut self, at: i64, kind: HistoryKind, detail: Value) {
        self.history.push(History { at, kind, detail });
    }

    /// Take what the plan decided so far, for the backend to persist with
    /// [`RunState::head`]. The planner keeps what it knows of the stored
    /// data, so planning may go on for a later write.
    pub fn take_writes(&mut self) -> Writes<K> {
        let items = std::mem::take(&mut self.dirty)
            .into_iter()
            .map(|k| {
                let value = match self.items.get_mut(&k.collection).and_then(|m| m.get_mut(&k.key)) {
                    Some(slot) => {
                        slot.dirty = false;
                        slot.value.clone()
                    }
                    None => None,
                };
                (k, value)
            })
            .collect();
        self.settle_at.clear();
        self.arrived.clear();
        Writes {
            cleared: std::mem::take(&mut self.cleared),
            items,
            settles: std::mem::take(&mut self.settles),
            history: std::mem::take(&mut self.history),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Transition;

    fn layout() -> Layout {
        Layout::new(["nodes", "metrics"])
    }

    fn progress(p: f64) -> RunChange {
        RunChange::new().set(["progress"], p)
    }

    fn ev<'a>(key: i64, id: &'a str, seq: Option<i64>, change: &'a RunChange) -> Incoming<'a, i64> {
        Incoming { key, source: "/s", id, seq, change }
    }

    fn parked(key: i64, seq: i64, p: f64) -> Parked<i64> {
        Parked { key, id: key.to_string(), seq, change: progress(p) }
    }

    fn states(w: &Writes<i64>) -> Vec<(i64, &'static str)> {
        let mut s: Vec<_> = w.settles.iter().map(|s| (s.key, s.state.as_str())).collect();
        s.sort();
        s
    }

    #[test]
    fn next_applies_and_releases_parked_in_order_with_stale_duplicates() {
        let head = RunHead { last_event_seq: Some(1), parked_events: 3, ..RunHead::new("r", "queued") };
        let mut st = RunState::new(head);
        let change = progress(0.2);
        assert_eq!(st.apply(&layout(), &ev(1, "a", Some(2), &change), 7), Err(Need::Parked));
        st.provide_parked(vec![parked(4, 4, 0.4), parked(2, 3, 0.3), parked(3, 3, 0.33)]);
        let o = st.apply(&layout(), &ev(1, "a", Some(2), &change), 7).unwrap();
        assert_eq!(o, Outcome::Applied { run_id: "r".into(), seq: Some(2), released: vec![3, 4] });
        let h = st.head().clone();
        assert_eq!((h.last_event_seq, h.applied_events, h.parked_events), (Some(4), 3, 0), "a, 2 and 4; 3 is stale");
        assert_eq!(h.fields["progress"], 0.4);
        let w = st.take_writes();
        assert_eq!(states(&w), vec![(1, "applied"), (2, "applied"), (3, "stale"), (4, "applied")]);
        assert!(w.settles.iter().find(|s| s.key == 1).unwrap().arrived);
        assert!(!w.settles.iter().find(|s| s.key == 2).unwrap().arrived);
    }

    #[test]
    fn ahead_parks_with_its_change_and_behind_is_stale_with_history() {
        let head = RunHead { last_event_seq: Some(3), ..RunHead::new("r", "queued") };
        let mut st = RunState::new(head);
        let change = progress(0.9);
        let o = st.apply(&layout(), &ev(1, "x", Some(6), &change), 1).unwrap();
        assert_eq!(o, Outcome::Parked { run_id: "r".into(), seq: 6, expected_seq: 4 });
        let o = st.apply(&layout(), &ev(2, "y", Some(2), &change), 1).unwrap();
        assert_eq!(o, Outcome::Stale { run_id: "r".into(), seq: 2, last_event_seq: 3 });
        assert_eq!(st.head().parked_events, 1);
        assert!(st.head().fields.is_empty());
        let w = st.take_writes();
        assert_eq!(w.settles[0].change.as_ref(), Some(&change), "a parked event keeps its change");
        assert_eq!(states(&w), vec![(1, "parked"), (2, "stale")]);
        assert_eq!(w.history[0].kind, HistoryKind::StaleEvent);
    }

    #[test]
    fn events_parked_earlier_in_the_plan_are_released_without_asking_the_store() {
        let mut st = RunState::new(RunHead::new("r", "queued"));
        let (c1, c2, c3) = (progress(0.1), progress(0.3), progress(0.2));
        assert!(matches!(st.apply(&layout(), &ev(1, "1", Some(1), &c1), 1), Ok(Outcome::Applied { .. })));
        assert!(matches!(st.apply(&layout(), &ev(2, "3", Some(3), &c2), 1), Ok(Outcome::Parked { .. })));
        let o = st.apply(&layout(), &ev(3, "2", Some(2), &c3), 1).unwrap();
        assert_eq!(o, Outcome::Applied { run_id: "r".into(), seq: Some(2), released: vec![3] });
        assert_eq!(st.head().fields["progress"], 0.3);
        let w = st.take_writes();
        assert_eq!(states(&w), vec![(1, "applied"), (2, "applied"), (3, "applied")]);
        assert!(w.settles.iter().all(|s| s.change.is_none()), "released: no change kept");
    }

    #[test]
    fn illegal_transition_consumes_seq_and_changes_nothing_else() {
        let mut st = RunState::new(RunHead { status: "completed".into(), ..RunHead::new("r", "queued") });
        let change = RunChange::new()
            .transition(Some(Transition { from: vec!["queued".into()], to: "running".into() }))
            .set(["x"], 1)
            .set(["nodes", "n", "status"], "x");
        let o = st.apply(&layout(), &ev(1, "s", Some(1), &change), 1);
        // Items are asked for before anything is decided.
        assert_eq!(o, Err(Need::Items(vec![ItemKey::new("nodes", "n")])));
        st.provide_item(ItemKey::new("nodes", "n"), None);
        let o = st.apply(&layout(), &ev(1, "s", Some(1), &change), 1).unwrap();
        assert_eq!(o, Outcome::IllegalTransition { run_id: "r".into(), from: "completed".into(), to: "running".into() });
        let h = st.head().clone();
        assert_eq!((h.last_event_seq, h.status.as_str(), h.applied_events), (Some(1), "completed", 0));
        let w = st.take_writes();
        assert!(w.items.is_empty() && h.fields.is_empty());
        assert_eq!(w.history[0].detail["id"], "s");
    }

    #[test]
    fn items_are_merged_by_key_and_written_with_their_final_value() {
        let mut st = RunState::<i64>::new(RunHead::new("r", "queued"));
        let created = RunChange::new().set(["nodes", "a"], serde_json::json!({"status": "created", "parent": null}));
        let done = RunChange::new().set(["nodes", "a", "status"], "done").set(["nodes", "b", "score"], 1);
        let metric = RunChange::new().set(["metrics", "loss"], 0.5);
        st.apply(&layout(), &ev(1, "1", None, &created), 1).unwrap();
        // `a` is held (created above); only `b` must come from the store.
        assert_eq!(st.apply(&layout(), &ev(2, "2", None, &done), 1), Err(Need::Items(vec![ItemKey::new("nodes", "b")])));
        st.provide_item(ItemKey::new("nodes", "b"), Some(serde_json::json!({"status": "executing"})));
        st.apply(&layout(), &ev(2, "2", None, &done), 1).unwrap();
        st.apply(&layout(), &ev(3, "3", None, &metric), 1).unwrap();
        let w = st.take_writes();
        assert_eq!(
            w.items,
            vec![
                (ItemKey::new("nodes", "a"), Some(serde_json::json!({"status": "done", "parent": null}))),
                (ItemKey::new("nodes", "b"), Some(serde_json::json!({"status": "executing", "score": 1}))),
                (ItemKey::new("metrics", "loss"), Some(serde_json::json!(0.5))),
            ]
        );
        assert!(st.head().fields.is_empty(), "items never land in the run's own fields");
        assert_eq!(st.head().applied_events, 3);
        // Later in the same transaction the plan remembers what it wrote.
        let again = RunChange::new().set(["nodes", "a", "score"], 2);
        st.apply(&layout(), &ev(4, "4", None, &again), 1).unwrap();
        assert_eq!(
            st.take_writes().items,
            vec![(ItemKey::new("nodes", "a"), Some(serde_json::json!({"status": "done", "parent": null, "score": 2})))]
        );
    }

    #[test]
    fn replacing_a_collection_empties_it_and_null_removes_an_item() {
        let mut st = RunState::<i64>::new(RunHead::new("r", "queued"));
        st.provide_item(ItemKey::new("nodes", "old"), Some(serde_json::json!(1)));
        let replace = RunChange::new().set(["nodes"], serde_json::json!({"new": {"s": 1}}));
        st.apply(&layout(), &ev(1, "1", None, &replace), 1).unwrap();
        // A merge into the emptied collection needs nothing from the store.
        let merge = RunChange::new().set(["nodes", "other", "s"], 2).set(["nodes", "new"], serde_json::Value::Null);
        st.apply(&layout(), &ev(2, "2", None, &merge), 1).unwrap();
        let w = st.take_writes();
        assert_eq!(w.cleared, vec!["nodes".to_owned()]);
        assert_eq!(
            w.items,
            vec![
                (ItemKey::new("nodes", "old"), None),
                (ItemKey::new("nodes", "new"), None),
                (ItemKey::new("nodes", "other"), Some(serde_json::json!({"s": 2}))),
            ]
        );
    }

    #[test]
    fn skip_gap_records_the_range_and_applies_from_the_lowest_parked() {
        let head = RunHead { last_event_seq: Some(1), parked_events: 2, ..RunHead::new("r", "queued") };
        let mut st = RunState::new(head);
        assert_eq!(st.skip_gap(&layout(), 9), Err(Need::Parked));
        st.provide_parked(vec![parked(5, 5, 0.5), parked(4, 4, 0.4)]);
        assert_eq!(st.skip_gap(&layout(), 9), Ok(Some(2)));
        assert_eq!(st.head().last_event_seq, Some(5));
        let w = st.take_writes();
        assert_eq!(w.history[0].kind, HistoryKind::GapSkipped);
        assert_eq!(w.history[0].detail, json!({"missing_from_seq": 2, "missing_to_seq": 3}));
        assert_eq!(st.skip_gap(&layout(), 9), Ok(None));
    }

    #[test]
    fn an_unknown_parked_count_is_read_before_a_release_and_fixed() {
        let head = RunHead { parked_events: -1, ..RunHead::new("r", "queued") };
        let mut st = RunState::new(head);
        let c = progress(0.1);
        assert_eq!(st.apply(&layout(), &ev(1, "1", Some(1), &c), 1), Err(Need::Parked));
        st.provide_parked(Vec::new());
        assert_eq!(st.head().parked_events, 0);
        assert!(st.apply(&layout(), &ev(1, "1", Some(1), &c), 1).is_ok());
    }
}
