//! Dedup, store and apply — the per-event work inside one transaction.
//!
//! What an event does to its run is decided by the shared planner
//! ([`crate::runstate::RunState`]); this module only inserts the event
//! (the dedup guard) with the change its handler made, feeds the planner
//! what it asks for, and writes what the log must hold at once (event
//! states, history). Run rows and items are written behind (`runs.rs`);
//! [`recover`] replays what they miss.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::{Map, Value};

use super::dedup_index::DedupIndex;
use super::run_index::Key;
use super::runs::{Dirty, Materialize, Pending, Run, RunCache, WRITE_THROUGH, json_text};
use crate::change::RunChange;
use crate::runstate::{EventState, Incoming, ItemKey, Layout, Need, Parked, RunHead, RunState};
use crate::store::{NewEvent, Outcome};

/// The `run_id` column of an event that belongs to no run
/// ([`NewEvent::run_id`] `None`). The column is `NOT NULL` (making it
/// nullable would rebuild the table); no run has the empty id, since the
/// pipeline refuses one. Such an event is in the run index under this key
/// too, where no run's events are looked up.
pub(super) const NO_RUN: &str = "";

/// A run being planned in this transaction.
struct Planned {
    state: RunState<i64>,
    stored_status: Option<String>,
    through_pk: i64,
    pending: Pending,
    dirty: Option<Dirty>,
    /// The first event of this transaction for the run.
    first_pk: Option<i64>,
    write_now: bool,
}

/// Whether a flush writes the plans' event states and history, or only
/// folds their run changes in (replay: the log has the rest already).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Record {
    Yes,
    No,
}

/// The runs one transaction has touched, each read once however many of
/// its events it received, and handed back by [`Runs::flush`].
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
            let run = match self.cache.take(run_id) {
                Some(run) => run,
                None => load_run(tx, run_id, self.initial_status)?,
            };
            let planned = Planned {
                state: RunState::new(run.head),
                stored_status: run.stored_status,
                through_pk: run.through_pk,
                pending: run.pending,
                dirty: run.dirty,
                first_pk: None,
                write_now: run.write_now,
            };
            self.planned.insert(run_id.to_owned(), planned);
        }
        self.planned.get_mut(run_id).ok_or(rusqlite::Error::QueryReturnedNoRows)
    }

    /// End the plans: write the event states and history they decided
    /// (with [`Record::Yes`]) and fold their run changes into the runs,
    /// which go back to the cache once the transaction commits. A run
    /// whose plan parked or released an event must be written in this
    /// commit (see `runs.rs`): it comes back `write_now`.
    pub(super) fn flush(self, tx: &Connection, record: Record) -> rusqlite::Result<Vec<Run>> {
        let mut out = Vec::with_capacity(self.planned.len());
        for (_, mut p) in self.planned {
            let writes = p.state.take_writes();
            let run_id = &p.state.head().run_id;
            for s in &writes.settles {
                p.write_now |= s.state == EventState::Parked || !s.arrived;
                // A new event is inserted as `applied` already, which
                // saves an UPDATE per event on the hot path.
                if record == Record::No || (s.arrived && s.state == EventState::Applied) {
                    continue;
                }
                // The recorded change stays: replay needs it.
                let change = s.change.as_ref().map(json_text).transpose()?;
                tx.prepare_cached("UPDATE events SET state = ?2, change = COALESCE(?3, change) WHERE pk = ?1")?.execute(params![
                    s.key,
                    s.state.as_str(),
                    change
                ])?;
            }
            if record == Record::Yes {
                for h in &writes.history {
                    tx.prepare_cached("INSERT INTO run_history (run_id, at, kind, detail) VALUES (?1, ?2, ?3, ?4)")?.execute(params![
                        run_id,
                        h.at,
                        h.kind.as_str(),
                        h.detail.to_string()
                    ])?;
                }
            }
            p.pending.record(writes.cleared, writes.items);
            // A run touched only to release its gap has no new event: it is
            // `write_now`, so its first pk does not matter.
            let dirty = p.dirty.unwrap_or(Dirty { since: Instant::now(), first_pk: p.first_pk.unwrap_or(i64::MAX) });
            out.push(Run {
                head: p.state.into_head(),
                stored_status: p.stored_status,
                through_pk: p.through_pk,
                pending: p.pending,
                dirty: Some(dirty),
                write_now: p.write_now,
            });
        }
        Ok(out)
    }
}

/// An event as the writer receives it: with its handler's change already
/// in the text the log records (serialized on the request's thread rather
/// than on the one writer thread every commit waits for), or `None` when
/// its run is written in the event's own commit, which makes the change
/// needless for replay.
pub(super) struct Arrival {
    pub(super) event: NewEvent,
    pub(super) change: Option<String>,
}

impl Arrival {
    /// The events of one request, their changes recorded but for the runs
    /// that have [`WRITE_THROUGH`] or more of them here.
    pub(super) fn all(events: Vec<NewEvent>) -> rusqlite::Result<Vec<Arrival>> {
        let mut per_run: HashMap<&str, usize> = HashMap::new();
        for e in &events {
            if let Some(run_id) = &e.run_id {
                *per_run.entry(run_id.as_str()).or_default() += 1;
            }
        }
        let through: HashSet<String> = per_run.into_iter().filter(|(_, n)| *n >= WRITE_THROUGH).map(|(r, _)| r.to_owned()).collect();
        events
            .into_iter()
            .map(|event| {
                // An event of no run has nothing to replay: no change kept.
                let change = match &event.run_id {
                    Some(run_id) if !through.contains(run_id) => Some(json_text(&event.change)?),
                    _ => None,
                };
                Ok(Arrival { event, change })
            })
            .collect()
    }
}

/// Process one new event in the open transaction `tx`: a duplicate if
/// `ids` knows its identity, else stored, claimed in `ids`, its run-index
/// entry added to `keys` and applied.
pub(super) fn ingest_one(
    tx: &Connection,
    runs: &mut Runs<'_>,
    ids: &mut DedupIndex,
    keys: &mut Vec<Key>,
    arrival: &Arrival,
    now: i64,
) -> rusqlite::Result<Outcome> {
    let ev = &arrival.event;
    let hash = ids.hash(&ev.source, &ev.id);
    if let Some(run_id) = ids.find(tx, hash, &ev.source, &ev.id)? {
        return Ok(Outcome::Duplicate { run_id: Some(run_id).filter(|r| r != NO_RUN) });
    }
    let run_column = ev.run_id.as_deref().unwrap_or(NO_RUN);
    tx.prepare_cached(
        "INSERT INTO events (source, id, type, run_id, seq, received_at, state, change, envelope)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'applied', ?7, ?8)",
    )?
    .execute(params![ev.source, ev.id, ev.type_name, run_column, ev.seq, now, arrival.change, ev.envelope])?;
    let pk = tx.last_insert_rowid();
    ids.claim(hash, pk);
    keys.push(Key::new(run_column, ev.seq, pk));
    let Some(run_id) = &ev.run_id else {
        // Stored (and deduplicated) above; applied to no run.
        return Ok(Outcome::Stored { seq: ev.seq });
    };
    let layout = runs.layout;
    let run = runs.get(tx, run_id)?;
    run.first_pk.get_or_insert(pk);
    run.write_now |= arrival.change.is_none();
    let incoming = Incoming { key: pk, source: &ev.source, id: &ev.id, seq: ev.seq, change: &ev.change };
    plan_with(tx, run, |state| state.apply(layout, &incoming, now))
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
        applied += plan_with(tx, run, |state| state.skip_gap(layout, now))?.unwrap_or(0);
    }
    Ok(applied)
}

/// An event of the log as replay reads it: `pk, source, id, run_id, seq,
/// received_at, change`.
type LoggedEvent = (i64, String, String, String, Option<i64>, i64, Option<String>);

/// A stored run row: `status, last_event_seq, applied_events,
/// parked_events, updated_at, doc, through_pk`.
type RunRow = (String, Option<i64>, i64, i64, i64, String, i64);

/// Bring run state in line with the event log, on open or after a commit
/// failed: replay every event past the materialized watermark through the
/// planner, in the order it was stored, write the result, and return the
/// writer's cache with every run in it clean. The events' states and the
/// runs' history are in the log already, so replay writes only runs and
/// items.
pub(super) fn recover(conn: &mut Connection, layout: &Layout, initial_status: &str) -> rusqlite::Result<RunCache> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let through: i64 = tx.query_row("SELECT through_pk FROM run_materialized WHERE id = 0", [], |r| r.get(0))?;
    // Bounded: a watermark is written at least every MATERIALIZE_EVERY
    // and whenever the runs held reach their bounds.
    let events: Vec<LoggedEvent> = tx
        .prepare("SELECT pk, source, id, run_id, seq, received_at, change FROM events WHERE pk > ?1 ORDER BY pk")?
        .query_map([through], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut cache = RunCache::default();
    let mut runs = Runs::new(&mut cache, layout, initial_status);
    for (pk, source, id, run_id, seq, received_at, change) in &events {
        if run_id == NO_RUN {
            // Applied to no run: nothing to replay.
            continue;
        }
        let run = runs.get(&tx, run_id)?;
        if *pk <= run.through_pk {
            // Its run's row holds it already.
            continue;
        }
        run.first_pk.get_or_insert(*pk);
        let change: RunChange = serde_json::from_str(change.as_deref().unwrap_or_default()).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                6,
                rusqlite::types::Type::Text,
                format!("event {pk} has no readable recorded change to replay: {e}").into(),
            )
        })?;
        let incoming = Incoming { key: *pk, source, id, seq: *seq, change: &change };
        plan_with(&tx, run, |state| state.apply(layout, &incoming, *received_at))?;
    }
    let replayed = runs.flush(&tx, Record::No)?;
    if !events.is_empty() {
        tracing::info!(events = events.len(), runs = replayed.len(), "run state caught up with the event log");
    }
    let written = cache.materialize(&tx, &replayed, Materialize::All)?;
    tx.commit()?;
    cache.keep(replayed, written);
    Ok(cache)
}

/// Run one planner step, loading what it asks for until it can answer.
fn plan_with<T>(tx: &Connection, run: &mut Planned, step: impl FnMut(&mut RunState<i64>) -> Result<T, Need>) -> rusqlite::Result<T> {
    let Planned { state, pending, .. } = run;
    state.decide(
        step,
        |state, need| {
            let run_id = state.head().run_id.clone();
            match need {
                Need::Parked => state.provide_parked(load_parked(tx, &run_id)?),
                Need::Items(items) => {
                    for item in items {
                        let value = match pending.lookup(&item) {
                            Some(value) => value,
                            None => load_item(tx, &run_id, &item)?,
                        };
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

fn load_run(tx: &Connection, run_id: &str, initial_status: &str) -> rusqlite::Result<Run> {
    let row: Option<RunRow> = tx
        .prepare_cached(
            "SELECT status, last_event_seq, applied_events, parked_events, updated_at, doc, through_pk FROM runs WHERE run_id = ?1",
        )?
        .query_row([run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))
        .optional()?;
    Ok(match row {
        Some((status, last_event_seq, applied_events, parked_events, updated_at, doc, through_pk)) => {
            // An unreadable document fails the group loudly: replacing it
            // with `{}` would silently drop the run's fields.
            let fields: Map<String, Value> = serde_json::from_str(&doc)
                .map_err(|e| rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, e.into()))?;
            let stored_status = Some(status.clone());
            let head = RunHead { run_id: run_id.to_owned(), status, last_event_seq, applied_events, parked_events, updated_at, fields };
            Run::stored(head, stored_status, through_pk)
        }
        // The first event of a run creates it, whatever its type: workers
        // may report progress before (or without) `ai.run.started`.
        None => Run::stored(RunHead::new(run_id, initial_status), None, 0),
    })
}
