//! The ordering rules, as a pure computation on a loaded run.
//!
//! The rules are [`crate::store::sequence`]'s, shared with the SQLite store.
//!
//! Nothing here talks to MongoDB: [`Plan`] collects the new run state and
//! the event state changes ("settles"), and the store writes them with one
//! compare-and-set on the run document.

use mongodb::bson::oid::ObjectId;
use serde_json::{Map, Value, json};

use crate::change::{RunChange, apply_sets};
use crate::store::Outcome;
use crate::store::sequence::{self, Position};

/// Event states. `pending`: inserted, not yet processed (or processed by a
/// run write whose outbox has not been flushed yet).
pub(super) mod state {
    pub const PENDING: &str = "pending";
    pub const APPLIED: &str = "applied";
    pub const PARKED: &str = "parked";
    pub const STALE: &str = "stale";
    pub const ILLEGAL: &str = "illegal_transition";
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
#[derive(Debug, Clone)]
pub(super) struct Incoming<'a> {
    pub oid: ObjectId,
    pub source: &'a str,
    pub id: &'a str,
    pub seq: Option<i64>,
    pub change: &'a RunChange,
}

/// A parked event of the run, lowest `seq` first.
#[derive(Debug, Clone)]
pub(super) struct Parked {
    pub oid: ObjectId,
    pub id: String,
    pub seq: i64,
    pub change: RunChange,
}

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
pub(super) fn plan(mut run: Run, ev: &Incoming<'_>, parked: &[Parked], now: i64) -> Plan {
    let run_id = run.run_id.clone();
    let outcome = match ev.seq {
        None => match apply(&mut run, ev.oid, ev.id, ev.change, now) {
            Ok(()) => Outcome::Applied { run_id, seq: None, released: Vec::new() },
            Err((from, to)) => Outcome::IllegalTransition { run_id, from, to },
        },
        Some(seq) => match sequence::position(run.last_event_seq, seq) {
            Position::Behind { last } => {
                settle(&mut run, ev.oid, state::STALE);
                history(
                    &mut run,
                    now,
                    "stale_event",
                    json!({"id": ev.id, "source": ev.source, "seq": seq, "last_event_seq": last}),
                );
                Outcome::Stale { run_id, seq, last_event_seq: last }
            }
            Position::Ahead { expected } => {
                settle(&mut run, ev.oid, state::PARKED);
                Outcome::Parked { run_id, seq, expected_seq: expected }
            }
            Position::Next => {
                let applied = apply(&mut run, ev.oid, ev.id, ev.change, now);
                run.last_event_seq = Some(seq);
                let released = release(&mut run, parked, now);
                match applied {
                    Ok(()) => Outcome::Applied { run_id, seq: Some(seq), released },
                    Err((from, to)) => Outcome::IllegalTransition { run_id, from, to },
                }
            }
        },
    };
    run.updated_at = now;
    Plan { run, outcome }
}

/// Process several events of one run, in arrival order, for one run
/// write: each is planned on the run as the previous ones left it, and
/// against the parked events the database will hold by then (those this
/// write parks join, those it settles leave). One outcome per event.
pub(super) fn plan_all(mut run: Run, events: &[Incoming<'_>], mut parked: Vec<Parked>, now: i64) -> (Run, Vec<Outcome>) {
    let mut outcomes = Vec::with_capacity(events.len());
    for ev in events {
        let p = plan(run, ev, &parked, now);
        run = p.run;
        parked.retain(|q| !run.outbox.iter().any(|s| s.event == q.oid && s.state != state::PARKED));
        if let Outcome::Parked { seq, .. } = p.outcome {
            let at = parked.partition_point(|q| (q.seq, q.oid) < (seq, ev.oid));
            parked.insert(at, Parked { oid: ev.oid, id: ev.id.to_owned(), seq, change: ev.change.clone() });
        }
        outcomes.push(p.outcome);
    }
    (run, outcomes)
}

/// Whether processing an event with `seq` needs the run's parked events.
pub(super) fn needs_parked(run: &Run, seq: Option<i64>) -> bool {
    seq.is_some_and(|s| sequence::position(run.last_event_seq, s) == Position::Next)
}

/// Give up on the gap before the lowest parked event: record it, then
/// apply from there on. Returns the new run and how many events applied,
/// or `None` when nothing is parked.
pub(super) fn skip_gap(mut run: Run, parked: &[Parked], now: i64) -> Option<(Run, usize)> {
    let lowest = parked.iter().map(|p| p.seq).min()?;
    run.outbox.clear();
    let expected = sequence::expected(run.last_event_seq);
    if lowest > expected {
        history(&mut run, now, "gap_skipped", json!({"missing_from_seq": expected, "missing_to_seq": lowest - 1}));
    }
    run.last_event_seq = Some(lowest - 1);
    let applied = release(&mut run, parked, now).len();
    run.updated_at = now;
    Some((run, applied))
}

/// Apply parked events that are next in line, one `seq` at a time; parked
/// events at or below `last_event_seq` become stale.
fn release(run: &mut Run, parked: &[Parked], now: i64) -> Vec<i64> {
    let mut released = Vec::new();
    let mut done = vec![false; parked.len()];
    loop {
        let Some(last) = run.last_event_seq else { return released };
        for (i, p) in parked.iter().enumerate() {
            if !done[i] && p.seq <= last {
                done[i] = true;
                settle(run, p.oid, state::STALE);
            }
        }
        // Lowest `_id` first among equal `seq`s: `parked` comes sorted.
        let Some(i) = (0..parked.len()).find(|&i| !done[i] && parked[i].seq == last + 1) else { return released };
        done[i] = true;
        let p = &parked[i];
        let _ = apply(run, p.oid, &p.id, &p.change, now);
        run.last_event_seq = Some(last + 1);
        released.push(last + 1);
    }
}

/// Apply `change` for event `oid`, or record why not (`Err((from, to))`).
fn apply(run: &mut Run, oid: ObjectId, id: &str, change: &RunChange, now: i64) -> Result<(), (String, String)> {
    if let Some(t) = &change.transition {
        if !t.from.contains(&run.status) {
            settle(run, oid, state::ILLEGAL);
            let detail = json!({"id": id, "from": run.status, "to": t.to, "allowed_from": t.from});
            history(run, now, "illegal_transition", detail);
            return Err((run.status.clone(), t.to.clone()));
        }
        run.status = t.to.clone();
    }
    apply_sets(&mut run.doc, &change.sets);
    run.applied_events += 1;
    settle(run, oid, state::APPLIED);
    Ok(())
}

/// Record `event`'s new state; a later state of the same event in the same
/// write replaces the earlier one (parked, then released).
fn settle(run: &mut Run, event: ObjectId, state: &'static str) {
    match run.outbox.iter_mut().find(|s| s.event == event) {
        Some(s) => s.state = state,
        None => run.outbox.push(Settle { event, state }),
    }
}

/// Most history entries a run document keeps (the query API shows as
/// many): the document must stay far below MongoDB's 16 MiB limit.
pub(super) const HISTORY_KEEP: usize = 100;

fn history(run: &mut Run, at: i64, kind: &str, detail: Value) {
    run.history.push(History { at, kind: kind.to_owned(), detail });
    if run.history.len() > HISTORY_KEEP {
        let extra = run.history.len() - HISTORY_KEEP;
        run.history.drain(..extra);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Transition;

    fn progress(run: &str, p: f64) -> RunChange {
        RunChange::new(run).set(["progress"], p)
    }

    fn incoming<'a>(oid: ObjectId, id: &'a str, seq: Option<i64>, change: &'a RunChange) -> Incoming<'a> {
        Incoming { oid, source: "/s", id, seq, change }
    }

    #[test]
    fn next_applies_and_releases_parked_in_order_with_stale_duplicates() {
        let run = Run { last_event_seq: Some(1), ..Run::new("r", "queued") };
        let (a, b, c, d) = (ObjectId::new(), ObjectId::new(), ObjectId::new(), ObjectId::new());
        let parked = vec![
            Parked { oid: b, id: "b".into(), seq: 3, change: progress("r", 0.3) },
            Parked { oid: c, id: "c".into(), seq: 3, change: progress("r", 0.33) },
            Parked { oid: d, id: "d".into(), seq: 4, change: progress("r", 0.4) },
        ];
        let change = progress("r", 0.2);
        assert!(needs_parked(&run, Some(2)));
        let p = plan(run, &incoming(a, "a", Some(2), &change), &parked, 7);
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
        let p = plan(run.clone(), &incoming(ObjectId::new(), "x", Some(6), &change), &[], 1);
        assert_eq!(p.outcome, Outcome::Parked { run_id: "r".into(), seq: 6, expected_seq: 4 });
        assert_eq!(p.run.outbox[0].state, "parked");
        assert!(p.run.doc.is_empty());
        let p = plan(run, &incoming(ObjectId::new(), "y", Some(2), &change), &[], 1);
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
        let p = plan(run, &incoming(ObjectId::new(), "s", Some(1), &change), &[], 1);
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
        let parked = vec![Parked { oid: stored, id: "5".into(), seq: 5, change: progress("r", 0.5) }];
        let oids: Vec<ObjectId> = (0..5).map(|_| ObjectId::new()).collect();
        let changes: Vec<RunChange> = [0.1, 0.3, 0.2, 0.33, 0.4].iter().map(|p| progress("r", *p)).collect();
        let seqs = [1, 3, 2, 3, 4];
        let ids = ["1", "3", "2", "3b", "4"];
        let events: Vec<Incoming<'_>> =
            (0..5).map(|i| incoming(oids[i], ids[i], Some(seqs[i]), &changes[i])).collect();
        let (run, outcomes) = plan_all(Run::new("r", "queued"), &events, parked, 3);
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
            Parked { oid: ObjectId::new(), id: "4".into(), seq: 4, change: progress("r", 0.4) },
            Parked { oid: ObjectId::new(), id: "5".into(), seq: 5, change: progress("r", 0.5) },
        ];
        let (run, n) = skip_gap(run, &parked, 9).unwrap();
        assert_eq!(n, 2);
        assert_eq!(run.last_event_seq, Some(5));
        assert_eq!(run.history[0].detail, json!({"missing_from_seq": 2, "missing_to_seq": 3}));
        assert!(skip_gap(run, &[], 9).is_none());
    }

    #[test]
    fn history_is_capped() {
        let mut run = Run::new("r", "queued");
        for i in 0..(HISTORY_KEEP as i64 + 5) {
            history(&mut run, i, "k", Value::Null);
        }
        assert_eq!(run.history.len(), HISTORY_KEEP);
        assert_eq!(run.history[0].at, 5);
    }
}
