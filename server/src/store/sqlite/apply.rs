//! Dedup, store and apply — the per-event work inside one transaction,
//! following the ordering rules in [`crate::store::sequence`].

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value, json};

use super::run_index::Key;
use crate::change::{RunChange, apply_sets};
use crate::store::sequence::{self, Position};
use crate::store::{NewEvent, Outcome};

/// A run row, as the writer holds it while applying events.
pub(super) struct Run {
    run_id: String,
    status: String,
    last_event_seq: Option<i64>,
    applied_events: i64,
    doc: Map<String, Value>,
    /// The status in the `runs` row; `None` while there is no row.
    stored_status: Option<String>,
}

/// How many runs [`RunCache`] keeps.
const CACHED_RUNS: usize = 4096;

/// Runs the writer has committed, kept so later groups need not read and
/// parse them again (11% of the writer's time under batch load). Only the
/// writer writes runs, so a cached run is the stored one. A run a
/// transaction uses is taken out and comes back only once that
/// transaction commits, so a rollback cannot leave a changed run here.
#[derive(Default)]
pub(super) struct RunCache {
    runs: HashMap<String, Run>,
}

impl RunCache {
    /// Keep the runs a transaction wrote, now that it has committed.
    pub(super) fn keep(&mut self, runs: Vec<Run>) {
        for run in runs {
            if self.runs.len() >= CACHED_RUNS {
                // Drop about half, whichever: cheaper than tracking use,
                // and the dropped runs are one read away.
                let mut n = 0_u32;
                self.runs.retain(|_, _| {
                    n += 1;
                    n % 2 == 0
                });
            }
            self.runs.insert(run.run_id.clone(), run);
        }
    }
}

/// The runs one transaction has touched, each read once and written back
/// once by [`Runs::flush`], however many of its events it received: a
/// batch of 100 events for one run costs one run-row write, not 100.
pub(super) struct Runs<'c> {
    loaded: HashMap<String, Run>,
    cache: &'c mut RunCache,
}

impl<'c> Runs<'c> {
    /// Runs for a new transaction, starting from those in `cache`.
    pub(super) fn new(cache: &'c mut RunCache) -> Self {
        Runs { loaded: HashMap::new(), cache }
    }

    /// The run, from this transaction, the cache or the database (or a
    /// new one).
    fn take(&mut self, tx: &Connection, run_id: &str, initial_status: &str) -> rusqlite::Result<Run> {
        match self.loaded.remove(run_id).or_else(|| self.cache.runs.remove(run_id)) {
            Some(run) => Ok(run),
            None => load_run(tx, run_id, initial_status),
        }
    }

    fn put(&mut self, run: Run) {
        self.loaded.insert(run.run_id.clone(), run);
    }

    /// Write every touched run; call before the transaction commits, and
    /// give the runs to [`RunCache::keep`] once it has.
    pub(super) fn flush(mut self, tx: &Connection, now: i64) -> rusqlite::Result<Vec<Run>> {
        for run in self.loaded.values_mut() {
            save_run(tx, run, now)?;
        }
        Ok(self.loaded.into_values().collect())
    }
}

/// What applying one change did.
enum Applied {
    Yes,
    Illegal { from: String, to: String },
}

/// Process one new event in the open transaction `tx`; a stored event's
/// run-index entry goes to `keys`.
pub(super) fn ingest_one(
    tx: &Connection,
    runs: &mut Runs<'_>,
    keys: &mut Vec<Key>,
    ev: &NewEvent,
    now: i64,
    initial_status: &str,
) -> rusqlite::Result<Outcome> {
    // The UNIQUE (source, id) index is the dedup guard; inserting first
    // makes the check and the claim one statement.
    let inserted = tx
        .prepare_cached(
            "INSERT INTO events (source, id, type, run_id, seq, received_at, state, envelope)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'applied', ?7)
             ON CONFLICT (source, id) DO NOTHING",
        )?
        .execute(params![ev.source, ev.id, ev.type_name, ev.run_id, ev.seq, now, ev.envelope])?;
    if inserted == 0 {
        let run_id: String = tx
            .prepare_cached("SELECT run_id FROM events WHERE source = ?1 AND id = ?2")?
            .query_row(params![ev.source, ev.id], |r| r.get(0))?;
        return Ok(Outcome::Duplicate { run_id });
    }
    let pk = tx.last_insert_rowid();
    keys.push(Key::new(&ev.run_id, ev.seq, pk));
    let mut run = runs.take(tx, &ev.run_id, initial_status)?;

    let outcome = match ev.seq {
        None => match apply(tx, &mut run, pk, &ev.change, now)? {
            Applied::Yes => Outcome::Applied { run_id: run.run_id.clone(), seq: None, released: Vec::new() },
            Applied::Illegal { from, to } => Outcome::IllegalTransition { run_id: run.run_id.clone(), from, to },
        },
        Some(seq) => match sequence::position(run.last_event_seq, seq) {
            Position::Behind { last } => {
                set_state(tx, pk, "stale", None)?;
                history(tx, &run.run_id, now, "stale_event", json!({"id": ev.id, "source": ev.source, "seq": seq, "last_event_seq": last}))?;
                Outcome::Stale { run_id: run.run_id.clone(), seq, last_event_seq: last }
            }
            Position::Ahead { expected } => {
                let change = serde_json::to_string(&ev.change).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
                set_state(tx, pk, "parked", Some(&change))?;
                Outcome::Parked { run_id: run.run_id.clone(), seq, expected_seq: expected }
            }
            Position::Next => {
                let applied = apply(tx, &mut run, pk, &ev.change, now)?;
                run.last_event_seq = Some(seq);
                let released = release_parked(tx, &mut run, now)?;
                match applied {
                    Applied::Yes => Outcome::Applied { run_id: run.run_id.clone(), seq: Some(seq), released },
                    Applied::Illegal { from, to } => Outcome::IllegalTransition { run_id: run.run_id.clone(), from, to },
                }
            }
        },
    };
    runs.put(run);
    Ok(outcome)
}

/// Stop waiting for the missing `seq`s of runs whose oldest parked event
/// arrived at or before `cutoff`: record the skipped range, then apply
/// from the lowest parked `seq` on. Returns how many events were applied.
pub(super) fn release_gaps(
    tx: &Connection,
    runs: &mut Runs<'_>,
    cutoff: i64,
    now: i64,
    initial_status: &str,
) -> rusqlite::Result<usize> {
    let waiting: Vec<String> = tx
        .prepare_cached(
            "SELECT run_id FROM events WHERE state = 'parked'
             GROUP BY run_id HAVING MIN(received_at) <= ?1",
        )?
        .query_map([cutoff], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut applied = 0;
    for run_id in waiting {
        let mut run = runs.take(tx, &run_id, initial_status)?;
        let lowest: Option<i64> = tx
            .prepare_cached("SELECT MIN(seq) FROM events WHERE run_id = ?1 AND state = 'parked'")?
            .query_row([&run_id], |r| r.get(0))?;
        let Some(lowest) = lowest else {
            runs.put(run);
            continue;
        };
        let expected = sequence::expected(run.last_event_seq);
        if lowest > expected {
            history(tx, &run_id, now, "gap_skipped", json!({"missing_from_seq": expected, "missing_to_seq": lowest - 1}))?;
        }
        run.last_event_seq = Some(lowest - 1);
        applied += release_parked(tx, &mut run, now)?.len();
        runs.put(run);
    }
    Ok(applied)
}

/// Apply parked events that are now next in line, one `seq` at a time.
/// Parked events at or below `last_event_seq` (a second event with a seq
/// already applied) become stale.
fn release_parked(tx: &Connection, run: &mut Run, now: i64) -> rusqlite::Result<Vec<i64>> {
    let mut released = Vec::new();
    loop {
        let Some(last) = run.last_event_seq else { return Ok(released) };
        tx.prepare_cached("UPDATE events SET state = 'stale', change = NULL WHERE run_id = ?1 AND state = 'parked' AND seq <= ?2")?
            .execute(params![run.run_id, last])?;
        let next: Option<(i64, String)> = tx
            .prepare_cached(
                "SELECT pk, change FROM events WHERE run_id = ?1 AND state = 'parked' AND seq = ?2 ORDER BY pk LIMIT 1",
            )?
            .query_row(params![run.run_id, last + 1], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((pk, change)) = next else { return Ok(released) };
        let change: RunChange = serde_json::from_str(&change)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into()))?;
        if let Applied::Yes = apply(tx, run, pk, &change, now)? {
            set_state(tx, pk, "applied", None)?;
        }
        run.last_event_seq = Some(last + 1);
        released.push(last + 1);
    }
}

/// Apply `change` to `run` for the stored event `pk`, or record why not
/// (marking the event `illegal_transition`). Marking it `applied` is the
/// caller's: a new event is inserted as `applied` already, which saves an
/// `UPDATE` per event on the hot path; a released parked one is not.
fn apply(tx: &Connection, run: &mut Run, pk: i64, change: &RunChange, now: i64) -> rusqlite::Result<Applied> {
    if let Some(t) = &change.transition {
        if !t.from.contains(&run.status) {
            set_state(tx, pk, "illegal_transition", None)?;
            let id: String = tx.prepare_cached("SELECT id FROM events WHERE pk = ?1")?.query_row([pk], |r| r.get(0))?;
            history(tx, &run.run_id, now, "illegal_transition", json!({"id": id, "from": run.status, "to": t.to, "allowed_from": t.from}))?;
            return Ok(Applied::Illegal { from: run.status.clone(), to: t.to.clone() });
        }
        run.status = t.to.clone();
    }
    apply_sets(&mut run.doc, &change.sets);
    run.applied_events += 1;
    Ok(Applied::Yes)
}

fn set_state(tx: &Connection, pk: i64, state: &str, change: Option<&str>) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE events SET state = ?2, change = ?3 WHERE pk = ?1")?.execute(params![pk, state, change])?;
    Ok(())
}

fn history(tx: &Connection, run_id: &str, now: i64, kind: &str, detail: Value) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT INTO run_history (run_id, at, kind, detail) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![run_id, now, kind, detail.to_string()])?;
    Ok(())
}

fn load_run(tx: &Connection, run_id: &str, initial_status: &str) -> rusqlite::Result<Run> {
    let row: Option<(String, Option<i64>, i64, String)> = tx
        .prepare_cached("SELECT status, last_event_seq, applied_events, doc FROM runs WHERE run_id = ?1")?
        .query_row([run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    Ok(match row {
        Some((status, last_event_seq, applied_events, doc)) => Run {
            run_id: run_id.to_owned(),
            stored_status: Some(status.clone()),
            status,
            last_event_seq,
            applied_events,
            doc: serde_json::from_str(&doc).unwrap_or_default(),
        },
        // The first event of a run creates it, whatever its type: workers
        // may report progress before (or without) `ai.run.started`.
        None => Run {
            run_id: run_id.to_owned(),
            status: initial_status.to_owned(),
            last_event_seq: None,
            applied_events: 0,
            doc: Map::new(),
            stored_status: None,
        },
    })
}

/// Write `run`'s row. A plain `UPDATE` when the row exists, leaving
/// `status` (and so the `runs_by_status` index) alone unless it changed:
/// an upsert looked the row up twice, and this is once per run per group.
fn save_run(tx: &Connection, run: &mut Run, now: i64) -> rusqlite::Result<()> {
    let doc = serde_json::to_string(&run.doc).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
    let written = match &run.stored_status {
        None => tx
            .prepare_cached(
                "INSERT INTO runs (run_id, status, last_event_seq, updated_at, doc, applied_events)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![run.run_id, run.status, run.last_event_seq, now, doc, run.applied_events])?,
        Some(stored) if *stored == run.status => tx
            .prepare_cached(
                "UPDATE runs SET last_event_seq = ?2, updated_at = ?3, doc = ?4, applied_events = ?5 WHERE run_id = ?1",
            )?
            .execute(params![run.run_id, run.last_event_seq, now, doc, run.applied_events])?,
        Some(_) => tx
            .prepare_cached(
                "UPDATE runs SET status = ?2, last_event_seq = ?3, updated_at = ?4, doc = ?5, applied_events = ?6
                 WHERE run_id = ?1",
            )?
            .execute(params![run.run_id, run.status, run.last_event_seq, now, doc, run.applied_events])?,
    };
    // Rows are never deleted, so this cannot happen; if it did, failing
    // the group beats acknowledging events whose run change was lost.
    if written != 1 {
        return Err(rusqlite::Error::StatementChangedRows(written));
    }
    run.stored_status = Some(run.status.clone());
    Ok(())
}
