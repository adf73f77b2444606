//! The MongoDB store's side of planning: the run as its document holds
//! it, handed to the shared planner ([`crate::runstate::RunState`]), and
//! the plan folded back into the document and its outbox.
//!
//! Nothing here talks to MongoDB, and nothing here decides what an event
//! does to its run: that is the planner's. This store still keeps a run's
//! items inside its document (`doc.nodes.<id>`); the planner asks for the
//! items it merges into and they are read from there.

use mongodb::bson::oid::ObjectId;
use serde_json::{Map, Value};

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

/// A history entry, kept in the run document (newest last).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct History {
    pub at: i64,
    pub kind: String,
    pub detail: Value,
}

/// A run as loaded from (and written back to) the `runs` collection.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Run {
    pub run_id: String,
    /// Compare-and-set guard; 0 = not stored yet.
    pub version: i64,
    pub status: String,
    pub last_event_seq: Option<i64>,
    /// Events applied to the run so far.
    pub applied_events: i64,
    pub updated_at: i64,
    pub doc: Map<String, Value>,
    pub history: Vec<History>,
    /// Event states the last write produced, flushed to `events` by
    /// whoever writes next (or the writer itself, right after).
    pub outbox: Vec<Settle>,
}

impl Run {
    /// A run that has received nothing yet.
    pub fn new(run_id: &str, initial_status: &str) -> Self {
        Run {
            run_id: run_id.to_owned(),
            version: 0,
            status: initial_status.to_owned(),
            last_event_seq: None,
            applied_events: 0,
            updated_at: 0,
            doc: Map::new(),
            history: Vec::new(),
            outbox: Vec::new(),
        }
    }
}

/// The event being processed.
pub(super) type Incoming<'a> = runstate::Incoming<'a, ObjectId>;

/// A parked event of the run.
pub(super) type Parked = runstate::Parked<ObjectId>;

/// A run write to make: the new run (outbox included) and the outcome to
/// report once it is stored.
#[derive(Debug)]
pub(super) struct Plan {
    pub run: Run,
    pub outcome: Outcome,
}

/// Process `ev` against `run`. `parked` is the run's parked events,
/// needed only when `ev` is next in line (see [`needs_parked`]).
///
/// The settles add to `run.outbox`: clear it (after flushing what it held)
/// before planning a new write.
pub(super) fn plan(layout: &Layout, run: Run, ev: &Incoming<'_>, parked: &[Parked], now: i64) -> Plan {
    let (run, mut outcomes) = plan_all(layout, run, std::slice::from_ref(ev), parked.to_vec(), now);
    let outcome = outcomes.pop().unwrap_or_else(|| Outcome::Duplicate { run_id: run.run_id.clone() });
    Plan { run, outcome }
}

/// Process several events of one run, in arrival order, for one run
/// write. `parked` is every parked event of the run when any event has a
/// `seq` ([`needs_parked`]), else may be empty. One outcome per event.
pub(super) fn plan_all(layout: &Layout, run: Run, events: &[Incoming<'_>], parked: Vec<Parked>, now: i64) -> (Run, Vec<Outcome>) {
    let (mut st, mut run) = start(layout, run, parked);
    let mut outcomes = Vec::with_capacity(events.len());
    for ev in events {
        outcomes.push(until_planned(&mut st, &run, |st| st.apply(layout, ev, now)));
    }
    finish(layout, st, &mut run);
    (run, outcomes)
}

/// Whether processing an event with `seq` needs the run's parked events.
pub(super) fn needs_parked(run: &Run, seq: Option<i64>) -> bool {
    seq.is_some_and(|s| runstate::sequence::position(run.last_event_seq, s) == runstate::sequence::Position::Next)
}

/// Give up on the gap before the lowest parked event: record it, then
/// apply from there on. Returns the new run and how many events applied,
/// or `None` when nothing is parked.
pub(super) fn skip_gap(layout: &Layout, run: Run, parked: &[Parked], now: i64) -> Option<(Run, usize)> {
    let (mut st, mut run) = start(layout, run, parked.to_vec());
    run.outbox.clear();
    let applied = until_planned(&mut st, &run, |st| st.skip_gap(layout, now))?;
    finish(layout, st, &mut run);
    Some((run, applied))
}

/// The planner for `run`, all of whose parked events are `parked`.
fn start(layout: &Layout, run: Run, parked: Vec<Parked>) -> (RunState<ObjectId>, Run) {
    let mut fields = run.doc.clone();
    fields.retain(|k, _| !layout.is_collection(k));
    let head = RunHead {
        run_id: run.run_id.clone(),
        status: run.status.clone(),
        last_event_seq: run.last_event_seq,
        applied_events: run.applied_events,
        parked_events: i64::try_from(parked.len()).unwrap_or(i64::MAX),
        updated_at: run.updated_at,
        fields,
    };
    let mut st = RunState::new(head);
    st.provide_parked(parked);
    (st, run)
}

/// Answer the planner's questions from the run document until it plans.
/// It asks at most twice (parked events, then items), and never again for
/// what it was given, so this ends.
fn until_planned<T>(st: &mut RunState<ObjectId>, run: &Run, mut step: impl FnMut(&mut RunState<ObjectId>) -> Result<T, Need>) -> T {
    loop {
        match step(st) {
            Ok(t) => return t,
            // Every parked event was given to `start`.
            Err(Need::Parked) => st.provide_parked(Vec::new()),
            Err(Need::Items(items)) => {
                for item in items {
                    let value = run.doc.get(&item.collection).and_then(|c| c.get(&item.key)).cloned();
                    st.provide_item(item, value);
                }
            }
        }
    }
}

/// Fold the plan back into the run document and its outbox.
fn finish(layout: &Layout, mut st: RunState<ObjectId>, run: &mut Run) {
    let Writes { cleared, items, settles, history } = st.take_writes();
    let head = st.head();
    // The head's fields are the document minus its collections.
    let mut doc = head.fields.clone();
    for c in layout.collections() {
        if let Some(v) = run.doc.remove(c) {
            doc.insert(c.clone(), v);
        }
    }
    for c in cleared {
        doc.remove(&c);
    }
    for (ItemKey { collection, key }, value) in items {
        let slot = doc.entry(collection).or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        if let Value::Object(m) = slot {
            match value {
                Some(v) => m.insert(key, v),
                None => m.remove(&key),
            };
        }
    }
    run.doc = doc;
    run.status = head.status.clone();
    run.last_event_seq = head.last_event_seq;
    run.applied_events = head.applied_events;
    run.updated_at = head.updated_at;
    for s in settles {
        let event = s.key;
        let state = s.state.as_str();
        match run.outbox.iter_mut().find(|o| o.event == event) {
            Some(o) => o.state = state,
            None => run.outbox.push(Settle { event, state }),
        }
    }
    for h in history {
        run.history.push(History { at: h.at, kind: h.kind.as_str().to_owned(), detail: h.detail });
    }
    if run.history.len() > HISTORY_KEEP {
        let extra = run.history.len() - HISTORY_KEEP;
        run.history.drain(..extra);
    }
}

/// Most history entries a run document keeps (the query API shows as
/// many): the document must stay far below MongoDB's 16 MiB limit.
pub(super) const HISTORY_KEEP: usize = 100;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::change::{RunChange, Transition};

    fn layout() -> Layout {
        crate::orchestrator::layout()
    }

    fn progress(run: &str, p: f64) -> RunChange {
        RunChange::new(run).set(["progress"], p)
    }

    fn incoming<'a>(oid: ObjectId, id: &'a str, seq: Option<i64>, change: &'a RunChange) -> Incoming<'a> {
        Incoming { key: oid, source: "/s", id, seq, change }
    }

    #[test]
    fn next_applies_and_releases_parked_in_order_with_stale_duplicates() {
        let run = Run { last_event_seq: Some(1), ..Run::new("r", "queued") };
        let (a, b, c, d) = (ObjectId::new(), ObjectId::new(), ObjectId::new(), ObjectId::new());
        let parked = vec![
            Parked { key: b, id: "b".into(), seq: 3, change: progress("r", 0.3) },
            Parked { key: c, id: "c".into(), seq: 3, change: progress("r", 0.33) },
            Parked { key: d, id: "d".into(), seq: 4, change: progress("r", 0.4) },
        ];
        let change = progress("r", 0.2);
        assert!(needs_parked(&run, Some(2)));
        let p = plan(&layout(), run, &incoming(a, "a", Some(2), &change), &parked, 7);
        assert_eq!(p.outcome, Outcome::Applied { run_id: "r".into(), seq: Some(2), released: vec![3, 4] });
        assert_eq!(p.run.last_event_seq, Some(4));
        assert_eq!(p.run.applied_events, 3, "a, b and d; the second seq 3 is stale");
        assert_eq!(p.run.doc["progress"], 0.4);
        let states: Vec<(ObjectId, &str)> = p.run.outbox.iter().map(|s| (s.event, s.state)).collect();
        assert_eq!(states, vec![(a, "applied"), (b, "applied"), (c, "stale"), (d, "applied")]);
    }

    #[test]
    fn ahead_parks_behind_is_stale_with_history() {
        let run = Run { last_event_seq: Some(3), ..Run::new("r", "queued") };
        let change = progress("r", 0.9);
        let p = plan(&layout(), run.clone(), &incoming(ObjectId::new(), "x", Some(6), &change), &[], 1);
        assert_eq!(p.outcome, Outcome::Parked { run_id: "r".into(), seq: 6, expected_seq: 4 });
        assert_eq!(p.run.outbox[0].state, "parked");
        assert!(p.run.doc.is_empty());
        let p = plan(&layout(), run, &incoming(ObjectId::new(), "y", Some(2), &change), &[], 1);
        assert_eq!(p.outcome, Outcome::Stale { run_id: "r".into(), seq: 2, last_event_seq: 3 });
        assert_eq!(p.run.history.last().unwrap().kind, "stale_event");
        assert_eq!(p.run.last_event_seq, Some(3));
    }

    #[test]
    fn illegal_transition_consumes_seq_and_changes_nothing_else() {
        let run = Run { status: "completed".into(), ..Run::new("r", "queued") };
        let change = RunChange::new("r")
            .transition(Some(Transition { from: vec!["queued".into()], to: "running".into() }))
            .set(["x"], 1);
        let p = plan(&layout(), run, &incoming(ObjectId::new(), "s", Some(1), &change), &[], 1);
        assert_eq!(p.outcome, Outcome::IllegalTransition { run_id: "r".into(), from: "completed".into(), to: "running".into() });
        assert_eq!(p.run.last_event_seq, Some(1));
        assert_eq!(p.run.status, "completed");
        assert_eq!(p.run.applied_events, 0);
        assert!(p.run.doc.is_empty());
        assert_eq!(p.run.history[0].detail["id"], "s");
    }

    #[test]
    fn plan_all_releases_events_parked_earlier_in_the_same_write() {
        let stored = ObjectId::new();
        let parked = vec![Parked { key: stored, id: "5".into(), seq: 5, change: progress("r", 0.5) }];
        let oids: Vec<ObjectId> = (0..5).map(|_| ObjectId::new()).collect();
        let changes: Vec<RunChange> = [0.1, 0.3, 0.2, 0.33, 0.4].iter().map(|p| progress("r", *p)).collect();
        let seqs = [1, 3, 2, 3, 4];
        let ids = ["1", "3", "2", "3b", "4"];
        let events: Vec<Incoming<'_>> =
            (0..5).map(|i| incoming(oids[i], ids[i], Some(seqs[i]), &changes[i])).collect();
        let (run, outcomes) = plan_all(&layout(), Run::new("r", "queued"), &events, parked, 3);
        let statuses: Vec<&str> = outcomes
            .iter()
            .map(|o| match o {
                Outcome::Applied { .. } => "applied",
                Outcome::Parked { .. } => "parked",
                Outcome::Stale { .. } => "stale",
                _ => "other",
            })
            .collect();
        assert_eq!(statuses, vec!["applied", "parked", "applied", "stale", "applied"]);
        assert_eq!(outcomes[2], Outcome::Applied { run_id: "r".into(), seq: Some(2), released: vec![3] });
        assert_eq!(outcomes[4], Outcome::Applied { run_id: "r".into(), seq: Some(4), released: vec![5] });
        assert_eq!(run.last_event_seq, Some(5));
        assert_eq!(run.applied_events, 5, "1, 2, 3 (released), 4, and the stored 5");
        assert_eq!(run.doc["progress"], 0.5);
        // One outbox entry per event, in its final state.
        let mut states: Vec<(ObjectId, &str)> = run.outbox.iter().map(|s| (s.event, s.state)).collect();
        states.sort();
        let mut expected = vec![
            (oids[0], "applied"),
            (oids[1], "applied"),
            (oids[2], "applied"),
            (oids[3], "stale"),
            (oids[4], "applied"),
            (stored, "applied"),
        ];
        expected.sort();
        assert_eq!(states, expected);
    }

    #[test]
    fn skip_gap_records_the_range_and_applies_from_the_lowest_parked() {
        let run = Run { last_event_seq: Some(1), ..Run::new("r", "queued") };
        let parked = vec![
            Parked { key: ObjectId::new(), id: "4".into(), seq: 4, change: progress("r", 0.4) },
            Parked { key: ObjectId::new(), id: "5".into(), seq: 5, change: progress("r", 0.5) },
        ];
        let (run, n) = skip_gap(&layout(), run, &parked, 9).unwrap();
        assert_eq!(n, 2);
        assert_eq!(run.last_event_seq, Some(5));
        assert_eq!(run.history[0].detail, json!({"missing_from_seq": 2, "missing_to_seq": 3}));
        assert!(skip_gap(&layout(), run, &[], 9).is_none());
    }

    #[test]
    fn history_is_capped() {
        let run = Run { last_event_seq: Some(1000), ..Run::new("r", "queued") };
        let change = progress("r", 0.1);
        let ids: Vec<String> = (0..HISTORY_KEEP + 5).map(|i| i.to_string()).collect();
        let stale: Vec<Incoming<'_>> = ids.iter().map(|id| incoming(ObjectId::new(), id, Some(1), &change)).collect();
        let (run, _) = plan_all(&layout(), run, &stale, Vec::new(), 1);
        assert_eq!(run.history.len(), HISTORY_KEEP);
        assert_eq!(run.history[0].detail["id"], "5", "the oldest entries go first");
    }
}
