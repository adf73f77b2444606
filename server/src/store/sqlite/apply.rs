//! Dedup, store and apply — the per-event work inside one transaction.
//!
//! What an event does to its run is decided by the shared planner
//! ([`crate::runstate::RunState`]); this module only inserts the event
//! (the dedup guard), feeds the planner what it asks for, and writes its
//! plan: the run row, the changed items, event states, history.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

use super::run_index::Key;
use crate::change::RunChange;
use crate::runstate::{EventState, Incoming, ItemKey, Layout, Need, Parked, RunHead, RunState};
use crate::store::{NewEvent, Outcome};

/// A run's head as the writer holds it between transactions.
pub(super) struct Run {
    head: RunHead,
    /// The status in the `runs` row; `None` while there is no row.
    stored_status: Option<String>,
}

/// How many run heads [`RunCache`] keeps.
const CACHED_RUNS: usize = 4096;

/// Run heads the writer has committed, kept so later groups need not read
/// and parse them again. Only the writer writes runs, so a cached head is
/// the stored one. A run a transaction uses is taken out and comes back
/// only once that transaction commits, so a rollback cannot leave a
/// changed head here. Heads only: items are read by key when needed.
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
            self.runs.insert(run.head.run_id.clone(), run);
        }
    }
}

/// A run being planned in this transaction.
struct Planned {
    state: RunState<i64>,
    stored_status: Option<String>,
}

/// The runs one transaction has touched, each read once and written back
/// once by [`Runs::flush`], however many of its events it received: a
/// batch of 100 events for one run costs one run-row write, not 100.
pub(super) struct Runs<'c> {
    planned: HashMap<String, Planned>,
    cache: &'c mut RunCache,
    layout: &'c Layout,
    initial_status: &'c str,
}

impl<'c> Runs<'c> {
    /// Runs for a new transaction, starting from those in `cache`.
    pub(super) fn new(cache: &'c mut RunCache, layout: &'c Layout, initial_status: &'c str) -> Self {
        Runs { planned: HashMap::new(), cache, layout, initial_status }
    }

    /// The run, from this transaction, the cache or the database (or a
    /// new one).
    fn get(&mut self, tx: &Connection, run_id: &str) -> rusqlite::Result<&mut Planned> {
        if !self.planned.contains_key(run_id) {
            let run = match self.cache.runs.remove(run_id) {
                Some(run) => run,
                None => load_run(tx, run_id, self.initial_status)?,
            };
            let planned = Planned { state: RunState::new(run.head), stored_status: run.stored_status };
            self.planned.insert(run_id.to_owned(), planned);
        }
        self.planned.get_mut(run_id).ok_or(rusqlite::Error::QueryReturnedNoRows)
    }

    /// Write every touched run's plan; call before the transaction
    /// commits, and give the runs to [`RunCache::keep`] once it has.
    pub(super) fn flush(self, tx: &Connection, now: i64) -> rusqlite::Result<Vec<Run>> {
        let mut out = Vec::with_capacity(self.planned.len());
        for (_, mut p) in self.planned {
            let writes = p.state.take_writes();
            let run_id = &p.state.head().run_id;
            for collection in &writes.cleared {
                tx.prepare_cached("DELETE FROM run_items WHERE run_id = ?1 AND coll = ?2")?.execute(params![run_id, collection])?;
            }
            for (item, value) in &writes.items {
                match value {
                    Some(v) => tx
                        .prepare_cached(
                            "INSERT INTO run_items (run_id, coll, key, value) VALUES (?1, ?2, ?3, ?4)
                             ON CONFLICT (run_id, coll, key) DO UPDATE SET value = excluded.value",
                        )?
                        .execute(params![run_id, item.collection, item.key, json_text(v)?])?,
                    None => tx
                        .prepare_cached("DELETE FROM run_items WHERE run_id = ?1 AND coll = ?2 AND key = ?3")?
                        .execute(params![run_id, item.collection, item.key])?,
                };
            }
            for s in &writes.settles {
                // A new event is inserted as `applied` already, which
                // saves an UPDATE per event on the hot path.
                if s.arrived && s.state == EventState::Applied {
                    continue;
                }
                let change = s.change.as_ref().map(json_text).transpose()?;
                tx.prepare_cached("UPDATE events SET state = ?2, change = ?3 WHERE pk = ?1")?
                    .execute(params![s.key, s.state.as_str(), change])?;
            }
            for h in &writes.history {
                tx.prepare_cached("INSERT INTO run_history (run_id, at, kind, detail) VALUES (?1, ?2, ?3, ?4)")?
                    .execute(params![run_id, h.at, h.kind.as_str(), h.detail.to_string()])?;
            }
            let mut run = Run { head: p.state.into_head(), stored_status: p.stored_status };
            save_run(tx, &mut run, now)?;
            out.push(run);
        }
        Ok(out)
    }
}

/// Process one new event in the open transaction `tx`; a stored event's
/// run-index entry goes to `keys`.
pub(super) fn ingest_one(tx: &Connection, runs: &mut Runs<'_>, keys: &mut Vec<Key>, ev: &NewEvent, now: i64) -> rusqlite::Result<Outcome> {
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
    let layout = runs.layout;
    let run = runs.get(tx, &ev.run_id)?;
    let incoming = Incoming { key: pk, source: &ev.source, id: &ev.id, seq: ev.seq, change: &ev.change };
    plan_with(tx, &mut run.state, |state| state.apply(layout, &incoming, now))
}

/// Stop waiting for the missing `seq`s of runs whose oldest parked event
/// arrived at or before `cutoff`: record the skipped range, then apply
/// from the lowest parked `seq` on. Returns how many events were applied.
pub(super) fn release_gaps(tx: &Connection, runs: &mut Runs<'_>, cutoff: i64, now: i64) -> rusqlite::Result<usize> {
    let waiting: Vec<String> = tx
        .prepare_cached(
            "SELECT run_id FROM events WHERE state = 'parked'
             GROUP BY run_id HAVING MIN(received_at) <= ?1",
        )?
        .query_map([cutoff], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let layout = runs.layout;
    let mut applied = 0;
    for run_id in waiting {
        let run = runs.get(tx, &run_id)?;
        applied += plan_with(tx, &mut run.state, |state| state.skip_gap(layout, now))?.unwrap_or(0);
    }
    Ok(applied)
}

/// Run one planner step, loading what it asks for until it can answer.
fn plan_with<T>(
    tx: &Connection,
    state: &mut RunState<i64>,
    step: impl FnMut(&mut RunState<i64>) -> Result<T, Need>,
) -> rusqlite::Result<T> {
    state.decide(
        step,
        |state, need| {
            let run_id = state.head().run_id.clone();
            match need {
                Need::Parked => state.provide_parked(load_parked(tx, &run_id)?),
                Need::Items(items) => {
                    for item in items {
                        let value = load_item(tx, &run_id, &item)?;
                        state.provide_item(item, value);
                    }
                }
            }
            Ok(())
        },
        || rusqlite::Error::ToSqlConversionFailure("the run-state planner kept asking for data it was given".into()),
    )
}

fn load_parked(tx: &Connection, run_id: &str) -> rusqlite::Result<Vec<Parked<i64>>> {
    tx.prepare_cached("SELECT pk, id, seq, change FROM events WHERE run_id = ?1 AND state = 'parked' ORDER BY seq, pk")?
        .query_map([run_id], |r| {
            let change: Option<String> = r.get(3)?;
            let change: RunChange = serde_json::from_str(change.as_deref().unwrap_or_default())
                .map_err(|e| rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, e.into()))?;
            Ok(Parked { key: r.get(0)?, id: r.get(1)?, seq: r.get(2)?, change })
        })?
        .collect()
}

fn load_item(tx: &Connection, run_id: &str, item: &ItemKey) -> rusqlite::Result<Option<Value>> {
    let text: Option<String> = tx
        .prepare_cached("SELECT value FROM run_items WHERE run_id = ?1 AND coll = ?2 AND key = ?3")?
        .query_row(params![run_id, item.collection, item.key], |r| r.get(0))
        .optional()?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())))
        .transpose()
}

fn json_text(v: &impl serde::Serialize) -> rusqlite::Result<String> {
    serde_json::to_string(v).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
}

fn load_run(tx: &Connection, run_id: &str, initial_status: &str) -> rusqlite::Result<Run> {
    let row: Option<(String, Option<i64>, i64, i64, i64, String)> = tx
        .prepare_cached("SELECT status, last_event_seq, applied_events, parked_events, updated_at, doc FROM runs WHERE run_id = ?1")?
        .query_row([run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .optional()?;
    Ok(match row {
        Some((status, last_event_seq, applied_events, parked_events, updated_at, doc)) => {
            // An unreadable document fails the group loudly: replacing it
            // with `{}` would silently drop the run's fields.
            let fields: Map<String, Value> = serde_json::from_str(&doc)
                .map_err(|e| rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, e.into()))?;
            Run {
                stored_status: Some(status.clone()),
                head: RunHead {
                    run_id: run_id.to_owned(),
                    status,
                    last_event_seq,
                    applied_events,
                    parked_events,
                    updated_at,
                    fields,
                },
            }
        }
        // The first event of a run creates it, whatever its type: workers
        // may report progress before (or without) `ai.run.started`.
        None => Run { head: RunHead::new(run_id, initial_status), stored_status: None },
    })
}

/// Write `run`'s row. A plain `UPDATE` when the row exists, leaving
/// `status` (and so the `runs_by_status` index) alone unless it changed:
/// an upsert looked the row up twice, and this is once per run per group.
fn save_run(tx: &Connection, run: &mut Run, now: i64) -> rusqlite::Result<()> {
    let h = &run.head;
    let doc = json_text(&h.fields)?;
    let written = match &run.stored_status {
        None => tx
            .prepare_cached(
                "INSERT INTO runs (run_id, status, last_event_seq, updated_at, doc, applied_events, parked_events)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![h.run_id, h.status, h.last_event_seq, now, doc, h.applied_events, h.parked_events])?,
        Some(stored) if *stored == h.status => tx
            .prepare_cached(
                "UPDATE runs SET last_event_seq = ?2, updated_at = ?3, doc = ?4, applied_events = ?5, parked_events = ?6
                 WHERE run_id = ?1",
            )?
            .execute(params![h.run_id, h.last_event_seq, now, doc, h.applied_events, h.parked_events])?,
        Some(_) => tx
            .prepare_cached(
                "UPDATE runs SET status = ?2, last_event_seq = ?3, updated_at = ?4, doc = ?5, applied_events = ?6,
                 parked_events = ?7 WHERE run_id = ?1",
            )?
            .execute(params![h.run_id, h.status, h.last_event_seq, now, doc, h.applied_events, h.parked_events])?,
    };
    // Rows are never deleted, so this cannot happen; if it did, failing
    // the group beats acknowledging events whose run change was lost.
    if written != 1 {
        return Err(rusqlite::Error::StatementChangedRows(written));
    }
    run.stored_status = Some(run.head.status.clone());
    Ok(())
}
