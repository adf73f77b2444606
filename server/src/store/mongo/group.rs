//! One group of events (see [`super::coalesce`]) stored and applied with a
//! fixed number of round trips, whatever its size:
//!
//! 1. one `insert` of every event as `pending` (unordered: a duplicate
//!    `(source, id)` fails alone, with 11000);
//! 2. one read of every run concerned, one flush of the outboxes found
//!    there, one check that no event of the group was processed by someone
//!    else meanwhile, and (only when events carry `seq`) one read of the
//!    runs' parked events;
//! 3. every run planned in memory (the shared planner, after one read of
//!    the items its events merge into), then one `update`
//!    command replacing each run on its `version` (the compare-and-set of
//!    the one-event path, for all runs at once: with `upsert`, a run whose
//!    version moved fails alone, with 11000);
//! 4. one flush of the new outboxes (event states, items, history).
//!
//! Correctness rests on the same protocol as the one-event path (see the
//! module docs of [`super`]); a run that lost its compare-and-set race has
//! its events processed one by one on that path, and duplicates answer
//! through it too.

use std::collections::{HashMap, HashSet};

use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Bson, Document, doc};
use mongodb::error::{ErrorKind, InsertManyError};

use super::apply::{Incoming, Planning, Run, state};
use super::doc::{event_doc, run_from_doc, run_to_doc};
use super::outbox::{Flush, settled_events};
use super::{Core, DUPLICATE_KEY, run_of, unavailable};
use crate::clock::now_millis;
use crate::runstate::ItemKey;
use crate::store::{NewEvent, Outcome, StoreError};

/// How one run's group write ended.
enum RunWrite {
    /// Written: one outcome per event of the run in the group.
    Done(Vec<Outcome>),
    /// Someone else wrote the run since we read it.
    Conflict,
    /// MongoDB refused the write for another reason.
    Failed(StoreError),
}

impl Core {
    /// Dedup, store and apply `events` (several requests' worth, each
    /// request's events in order). One result per event.
    pub(super) async fn ingest_group(&self, events: &[&NewEvent]) -> Vec<Result<Outcome, StoreError>> {
        let mut results: Vec<Option<Result<Outcome, StoreError>>> = vec![None; events.len()];
        let oids: Vec<ObjectId> = events.iter().map(|_| ObjectId::new()).collect();

        // The runs are read while the events are inserted: the run writes
        // are compare-and-set on what was read, so reading early is safe
        // (a run that moved meanwhile is a conflict, retried), and it
        // saves a round trip of latency per group.
        let mut all_runs: Vec<&str> = events.iter().map(|e| run_of(e)).collect();
        all_runs.sort_unstable();
        all_runs.dedup();
        let (inserted, loaded) = tokio::join!(self.insert_pending(events, &oids, &mut results), self.load_runs(&all_runs));
        let (duplicates, loaded) = match (inserted, loaded) {
            (Ok(d), Ok(l)) => (d, l),
            (Err(e), _) | (_, Err(e)) => return fail_rest(results, &e),
        };
        self.failpoint("mongo:after_event_insert");

        let runs = by_run(events, |i| results[i].is_none() && !duplicates.contains(&i));

        if !runs.is_empty() {
            let incoming = |i: usize| Incoming {
                key: oids[i],
                source: &events[i].source,
                id: &events[i].id,
                seq: events[i].seq,
                change: &events[i].change,
            };
            match self.write_runs(&runs, loaded, &incoming).await {
                Err(e) => return fail_rest(results, &e),
                Ok(written) => {
                    for ((run_id, members), write) in runs.iter().zip(written) {
                        match write {
                            RunWrite::Done(outcomes) => {
                                for (&i, o) in members.iter().zip(outcomes) {
                                    results[i] = Some(Ok(o));
                                }
                            }
                            RunWrite::Failed(e) => {
                                for &i in members {
                                    results[i] = Some(Err(e.clone()));
                                }
                            }
                            // Lost the race: the one-event path, in order.
                            RunWrite::Conflict => {
                                for &i in members {
                                    let r = self.process(run_id, &incoming(i)).await;
                                    let r = r.map(|o| o.unwrap_or_else(|| Outcome::Duplicate { run_id: Some(run_id.to_string()) }));
                                    results[i] = Some(r);
                                }
                            }
                        }
                    }
                }
            }
        }

        // Last, so a duplicate of an event earlier in this same group
        // finds it settled.
        for i in duplicates {
            results[i] = Some(self.duplicate(&events[i].source, &events[i].id).await);
        }
        results.into_iter().map(|r| r.unwrap_or_else(|| Err(StoreError::internal("event left unprocessed")))).collect()
    }

    /// Step 1: insert the events as `pending`. Returns the indexes that
    /// were duplicates; events MongoDB refused otherwise get their error
    /// in `results`.
    async fn insert_pending(
        &self,
        events: &[&NewEvent],
        oids: &[ObjectId],
        results: &mut [Option<Result<Outcome, StoreError>>],
    ) -> Result<HashSet<usize>, StoreError> {
        let mut docs = Vec::with_capacity(events.len());
        let mut doc_event = Vec::with_capacity(events.len());
        for (i, ev) in events.iter().enumerate() {
            match event_doc(oids[i], ev) {
                Ok(d) => {
                    docs.push(d);
                    doc_event.push(i);
                }
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        let mut duplicates = HashSet::new();
        if docs.is_empty() {
            return Ok(duplicates);
        }
        let Err(e) = self.events.insert_many(docs).ordered(false).await else { return Ok(duplicates) };
        match &*e.kind {
            ErrorKind::InsertMany(InsertManyError { write_errors: Some(errors), write_concern_error: None, .. }) => {
                for w in errors {
                    let Some(&i) = doc_event.get(w.index) else { continue };
                    if w.code == DUPLICATE_KEY {
                        duplicates.insert(i);
                    } else {
                        results[i] = Some(Err(StoreError::unavailable(format!("MongoDB refused the event: {}", w.message))));
                    }
                }
                Ok(duplicates)
            }
            _ => Err(unavailable(e)),
        }
    }

    /// Steps 2–4 for the runs of the inserted events. One entry per run.
    async fn write_runs<'a>(
        &self,
        runs: &[(&str, Vec<usize>)],
        mut loaded: HashMap<String, Run>,
        incoming: &impl Fn(usize) -> Incoming<'a>,
    ) -> Result<Vec<RunWrite>, StoreError> {
        // Flush what the last writers produced before reading event states
        // (and before replacing their outboxes) — unless this process
        // flushed that very version already.
        let mut taken: HashSet<ObjectId> = settled_events(loaded.values().map(|r| &r.outbox));
        let unflushed: Vec<Flush<'_>> = loaded.values().filter(|r| self.unflushed(r)).map(Flush::stored).collect();

        // Events someone else processed since we inserted them (a retry
        // racing its original, the sweeper): in an outbox, or settled.
        // Reading states needs the runs read first (done), not the flush:
        // the flush only settles events of those outboxes, all `taken`.
        let oids: Vec<ObjectId> = runs.iter().flat_map(|(_, m)| m.iter().map(|&i| incoming(i).key)).collect();
        let (flushed, settled) = tokio::join!(self.flush(&unflushed), self.settled_among(&oids));
        flushed?;
        self.remember_flushed(unflushed.iter().map(|f| (f.run_id, f.version)));
        taken.extend(settled?);

        let mut plans: Vec<(Planning, Vec<Incoming<'a>>)> = runs
            .iter()
            .map(|(run_id, members)| {
                let run = loaded.remove(*run_id).unwrap_or_else(|| Run::new(run_id, &self.initial_status));
                let todo = members.iter().map(|&i| incoming(i)).filter(|e| !taken.contains(&e.key)).collect();
                (Planning::new(run), todo)
            })
            .collect();

        // What the planner will ask for, read for all runs at once: the
        // parked events of runs an event may release them in, the items
        // the events merge into.
        let want_parked: Vec<String> =
            plans.iter().filter(|(p, todo)| todo.iter().any(|e| p.wants_parked(e.seq))).map(|(p, _)| p.run_id().to_owned()).collect();
        let mut parked = if want_parked.is_empty() {
            HashMap::new()
        } else {
            self.parked_of(&want_parked.iter().map(String::as_str).collect::<Vec<_>>()).await?
        };
        let wanted: Vec<(String, Vec<ItemKey>)> = plans
            .iter_mut()
            .map(|(p, todo)| {
                if let Some(found) = parked.remove(p.run_id()) {
                    p.provide_parked(found);
                } else if want_parked.iter().any(|r| r == p.run_id()) {
                    p.provide_parked(Vec::new());
                }
                (p.run_id().to_owned(), p.items_needed(&self.layout, todo.iter().map(|e| e.change)))
            })
            .collect();
        let asked: Vec<(&str, &[ItemKey])> = wanted.iter().map(|(r, k)| (r.as_str(), k.as_slice())).collect();
        let mut found = self.load_items(&asked).await?;

        let now = now_millis();
        let mut planned: Vec<(Run, Vec<Option<Outcome>>)> = Vec::with_capacity(plans.len());
        for (((mut p, todo), (_, asked)), (_, members)) in plans.into_iter().zip(wanted).zip(runs) {
            p.provide_items(asked, &found.remove(p.run_id()).unwrap_or_default());
            let mut done = Vec::with_capacity(todo.len());
            for ev in &todo {
                done.push(self.plan_step(&mut p, |p| p.apply(&self.layout, ev, now)).await?);
            }
            // One entry per member: `None` for events someone else took.
            let mut done = done.into_iter();
            let per_member = members.iter().map(|&i| if taken.contains(&incoming(i).key) { None } else { done.next() }).collect();
            planned.push((p.finish(), per_member));
        }

        let verdicts = self.replace_runs(planned.iter().map(|(run, _)| run)).await?;
        self.failpoint("mongo:after_run_write");
        let written: Vec<&Run> = planned.iter().zip(&verdicts).filter(|(_, v)| v.is_none()).map(|((run, _), _)| run).collect();
        self.flush_written(&written).await?;

        Ok(planned
            .into_iter()
            .zip(verdicts)
            .map(|((run, outcomes), verdict)| match verdict {
                None => RunWrite::Done(
                    outcomes.into_iter().map(|o| o.unwrap_or_else(|| Outcome::Duplicate { run_id: Some(run.id().to_owned()) })).collect(),
                ),
                Some(Verdict::Conflict) => RunWrite::Conflict,
                Some(Verdict::Failed(e)) => RunWrite::Failed(e),
            })
            .collect())
    }

    /// The stored runs among `run_ids`.
    async fn load_runs(&self, run_ids: &[&str]) -> Result<HashMap<String, Run>, StoreError> {
        let mut cursor = self.runs.find(doc! {"_id": {"$in": run_ids}}).await.map_err(unavailable)?;
        let mut out = HashMap::with_capacity(run_ids.len());
        while cursor.advance().await.map_err(unavailable)? {
            let d: Document = cursor.deserialize_current().map_err(unavailable)?;
            let id = d.get_str("_id").unwrap_or_default().to_owned();
            out.insert(id.clone(), run_from_doc(&id, &d));
        }
        Ok(out)
    }

    /// Those of `oids` no longer `pending`.
    async fn settled_among(&self, oids: &[ObjectId]) -> Result<Vec<ObjectId>, StoreError> {
        let mut cursor = self
            .events
            .find(doc! {"_id": {"$in": oids}, "state": {"$ne": state::PENDING}})
            .projection(doc! {"_id": 1})
            .await
            .map_err(unavailable)?;
        let mut out = Vec::new();
        while cursor.advance().await.map_err(unavailable)? {
            let d: Document = cursor.deserialize_current().map_err(unavailable)?;
            out.extend(d.get_object_id("_id").ok());
        }
        Ok(out)
    }

    /// Replace each run if its `version` is still the one read (insert it
    /// if new), in one command. Per run: `None` written, or why not.
    async fn replace_runs<'r>(&self, runs: impl Iterator<Item = &'r Run>) -> Result<Vec<Option<Verdict>>, StoreError> {
        let mut command = run_updates(self.runs.name(), runs);
        let n = command.get_array("updates").map(Vec::len).unwrap_or_default();
        command.insert("writeConcern", self.write_concern.clone());
        self.bound_wait(&mut command);
        let reply = self.db.run_command(command).await.map_err(unavailable)?;
        verdicts(&reply, n)
    }
}

/// The `update` command replacing each of `runs` on condition that its
/// `version` is still the one read, or inserting it when new (the upsert
/// of a run whose version moved fails on `_id`, with 11000).
pub(super) fn run_updates<'r>(collection: &str, runs: impl Iterator<Item = &'r Run>) -> Document {
    let updates: Vec<Bson> = runs
        .map(|run| {
            let mut d = run_to_doc(run);
            d.insert("version", run.version + 1);
            Bson::Document(doc! {"q": {"_id": run.id(), "version": run.version}, "u": d, "upsert": true})
        })
        .collect();
    doc! {"update": collection, "updates": updates, "ordered": false}
}

/// Per statement (`n` of them) of a [`run_updates`] reply: `None`
/// written, or why not.
pub(super) fn verdicts(reply: &Document, n: usize) -> Result<Vec<Option<Verdict>>, StoreError> {
    if let Ok(wce) = reply.get_document("writeConcernError") {
        return Err(StoreError::unavailable(format!("MongoDB did not confirm the run writes: {wce}")));
    }
    let mut verdicts: Vec<Option<Verdict>> = (0..n).map(|_| None).collect();
    for e in reply.get_array("writeErrors").map(Vec::as_slice).unwrap_or_default() {
        let Some(e) = e.as_document() else { continue };
        let index = e.get("index").and_then(as_index);
        let Some(slot) = index.and_then(|i| verdicts.get_mut(i)) else {
            return Err(StoreError::internal(format!("MongoDB reported a run write error without a usable index: {e}")));
        };
        let code = e.get("code").and_then(as_index).unwrap_or_default();
        *slot = Some(if code == DUPLICATE_KEY as usize {
            Verdict::Conflict
        } else {
            Verdict::Failed(StoreError::unavailable(format!("MongoDB refused the run write: {}", e.get_str("errmsg").unwrap_or_default())))
        });
    }
    Ok(verdicts)
}

/// `events`' indexes for which `keep(index)`, by run, in order of first
/// appearance, each run's in arrival order.
pub(super) fn by_run<'e>(events: &[&'e NewEvent], keep: impl Fn(usize) -> bool) -> Vec<(&'e str, Vec<usize>)> {
    let mut runs: Vec<(&str, Vec<usize>)> = Vec::new();
    let mut run_at: HashMap<&str, usize> = HashMap::new();
    for (i, ev) in events.iter().enumerate() {
        if !keep(i) {
            continue;
        }
        let at = *run_at.entry(run_of(ev)).or_insert_with(|| {
            runs.push((run_of(ev), Vec::new()));
            runs.len() - 1
        });
        runs[at].1.push(i);
    }
    runs
}

/// Why one run of a group write was not written.
pub(super) enum Verdict {
    Conflict,
    Failed(StoreError),
}

fn as_index(b: &Bson) -> Option<usize> {
    match b {
        Bson::Int32(i) => usize::try_from(*i).ok(),
        Bson::Int64(i) => usize::try_from(*i).ok(),
        _ => None,
    }
}

/// Every event without a result gets `e`.
fn fail_rest(results: Vec<Option<Result<Outcome, StoreError>>>, e: &StoreError) -> Vec<Result<Outcome, StoreError>> {
    results.into_iter().map(|r| r.unwrap_or_else(|| Err(e.clone()))).collect()
}
