//! The group path inside one multi-document transaction, used where the
//! deployment offers transactions (replica sets, sharded clusters).
//!
//! Inside a transaction nothing is half-done for anyone to see, so the
//! protocol of the path without ([`super::group`]) collapses: events are
//! inserted directly in their final state, runs are written with an empty
//! outbox to wait in, and no `pending` state or "processed by someone
//! else?" read is needed. Per group: read the runs (and, for events that
//! may release them, their parked events), plan, insert the events,
//! replace the runs, write what the plans produced (the outbox, flushed in
//! the same transaction), commit.
//!
//! Anything the transaction cannot settle alone — a duplicate `(source,
//! id)` (the insert fails and aborts it), a run another writer changed
//! (its compare-and-set fails), a transient error — aborts it, and the
//! group goes through the path without transactions, which handles those
//! cases one by one. The run writes stay compare-and-set on `version`, so
//! transactional and non-transactional writers (other processes, the gap
//! sweeper) can share a database.

use std::collections::HashMap;

use mongodb::ClientSession;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Document, doc};
use mongodb::error::{TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT};

use super::apply::{Incoming, Outbox, Parked, Planning, Run, state};
use super::doc::{PARKED_FIELDS, event_doc, parked_from_doc, run_from_doc};
use super::group::{by_run, run_updates, verdicts};
use super::outbox::Flush;
use super::{Core, is_duplicate_key, unavailable};
use crate::clock::now_millis;
use crate::store::{NewEvent, Outcome, StoreError};

/// How often a commit whose result is unknown (e.g. a network error on
/// the reply) is retried; the commit is idempotent.
const COMMIT_TRIES: usize = 3;

/// Why a transaction did not store the group.
enum Abort {
    /// The path without transactions can still store it.
    FallBack,
    /// MongoDB cannot take it now.
    Unavailable(StoreError),
}

fn abort(e: mongodb::error::Error) -> Abort {
    if is_duplicate_key(&e) || e.contains_label(TRANSIENT_TRANSACTION_ERROR) { Abort::FallBack } else { Abort::Unavailable(unavailable(e)) }
}

impl Core {
    /// Store and apply `events` in one transaction. `None`: the group must
    /// take the path without transactions instead.
    pub(super) async fn ingest_group_txn(&self, events: &[&NewEvent]) -> Option<Vec<Result<Outcome, StoreError>>> {
        match self.in_transaction(events).await {
            Ok(outcomes) => Some(outcomes.into_iter().map(Ok).collect()),
            Err(Abort::FallBack) => None,
            Err(Abort::Unavailable(e)) => Some(events.iter().map(|_| Err(e.clone())).collect()),
        }
    }

    async fn in_transaction(&self, events: &[&NewEvent]) -> Result<Vec<Outcome>, Abort> {
        let mut session = self.client.start_session().await.map_err(abort)?;
        session.start_transaction().write_concern(self.write_concern_opts.clone()).await.map_err(abort)?;
        match self.transaction_body(&mut session, events).await {
            Ok((outcomes, written)) => {
                self.failpoint("mongo:after_run_write");
                let mut tries = 0;
                loop {
                    tries += 1;
                    match session.commit_transaction().await {
                        Ok(()) => {
                            self.remember_flushed(written.iter().map(|(r, v)| (r.as_str(), *v)));
                            return Ok(outcomes);
                        }
                        Err(e) if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) && tries < COMMIT_TRIES => continue,
                        // Committed or not, unknown: the sender's retry
                        // finds out (a duplicate, or a fresh insert).
                        Err(e) => return Err(abort(e)),
                    }
                }
            }
            Err(e) => {
                let _ = session.abort_transaction().await;
                Err(e)
            }
        }
    }

    /// The group's outcomes, and the run versions it wrote (their outboxes
    /// flushed), to remember once the transaction commits.
    async fn transaction_body(
        &self,
        session: &mut ClientSession,
        events: &[&NewEvent],
    ) -> Result<(Vec<Outcome>, Vec<(String, i64)>), Abort> {
        let oids: Vec<ObjectId> = events.iter().map(|_| ObjectId::new()).collect();
        let runs = by_run(events, |_| true);
        let run_ids: Vec<&str> = runs.iter().map(|(r, _)| *r).collect();

        let mut loaded: HashMap<String, Run> = HashMap::new();
        for d in find_all(session, &self.runs, doc! {"_id": {"$in": &run_ids}}, None).await? {
            let id = d.get_str("_id").unwrap_or_default().to_owned();
            loaded.insert(id.clone(), run_from_doc(&id, &d));
        }
        // Outboxes of writes made without a transaction, flushed in this
        // one before their runs are replaced.
        let old: Vec<Run> = loaded.values().filter(|r| self.unflushed(r)).cloned().collect();
        let mut plans: Vec<Planning> = run_ids
            .iter()
            .map(|run_id| Planning::new(loaded.remove(*run_id).unwrap_or_else(|| Run::new(run_id, &self.initial_status))))
            .collect();
        let incoming = |i: usize| Incoming {
            key: oids[i],
            source: &events[i].source,
            id: &events[i].id,
            seq: events[i].seq,
            change: &events[i].change,
        };

        let want_parked: Vec<String> = plans
            .iter()
            .zip(&runs)
            .filter(|(p, (_, members))| members.iter().any(|&i| p.wants_parked(events[i].seq)))
            .map(|(p, _)| p.run_id().to_owned())
            .collect();
        let mut parked: HashMap<String, Vec<Parked>> = HashMap::new();
        if !want_parked.is_empty() {
            let filter = doc! {"run_id": {"$in": &want_parked}, "state": state::PARKED};
            for d in find_all(session, &self.events, filter, Some(PARKED_FIELDS.clone())).await? {
                if let Some((run_id, p)) = parked_from_doc(&d) {
                    parked.entry(run_id).or_default().push(p);
                }
            }
        }
        for p in &mut plans {
            if want_parked.iter().any(|r| r == p.run_id()) {
                let found = parked.remove(p.run_id()).unwrap_or_default();
                p.provide_parked(found);
            }
        }

        // Items are read outside the transaction: the run writes below are
        // compare-and-set on the versions read in it, and an item newer
        // than its run's version read here cannot exist (items are written
        // after their run), so what is read is what the transaction sees.
        let now = now_millis();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; events.len()];
        let mut planned: Vec<Run> = Vec::with_capacity(runs.len());
        for (mut p, (_, members)) in plans.into_iter().zip(&runs) {
            for &i in members {
                let ev = incoming(i);
                outcomes[i] = Some(self.plan_step(&mut p, |p| p.apply(&self.layout, &ev, now)).await.map_err(Abort::Unavailable)?);
            }
            planned.push(p.finish());
        }

        // New events go in with their final state; the rest of each plan
        // is written in this transaction too, so the run documents keep
        // no outbox.
        let final_state: HashMap<ObjectId, &'static str> =
            planned.iter().flat_map(|r| r.outbox.settles.iter().map(|s| (s.event, s.state))).collect();
        let mut produced: Vec<Outbox> = planned.iter_mut().map(|r| std::mem::take(&mut r.outbox)).collect();
        let new: std::collections::HashSet<ObjectId> = oids.iter().copied().collect();
        for o in &mut produced {
            o.settles.retain(|s| !new.contains(&s.event));
        }
        let docs: Vec<Document> = events
            .iter()
            .zip(&oids)
            .map(|(ev, oid)| {
                let mut d = event_doc(*oid, ev)?;
                let st = final_state.get(oid).copied().unwrap_or(state::PENDING);
                d.insert("state", st);
                if st != state::PARKED {
                    d.remove("change");
                }
                Ok(d)
            })
            .collect::<Result<_, StoreError>>()
            .map_err(Abort::Unavailable)?;
        let flushes: Vec<Flush<'_>> = old.iter().map(Flush::stored).collect();
        self.flush_in(session, &flushes).await.map_err(abort)?;
        self.events.insert_many(docs).session(&mut *session).await.map_err(abort)?;
        self.failpoint("mongo:after_event_insert");

        let command = run_updates(self.runs.name(), planned.iter());
        let reply = self.db.run_command(command).session(&mut *session).await.map_err(abort)?;
        if verdicts(&reply, planned.len()).map_err(Abort::Unavailable)?.iter().any(Option::is_some) {
            return Err(Abort::FallBack);
        }
        let flushes: Vec<Flush<'_>> = planned
            .iter()
            .zip(&produced)
            .map(|(r, outbox)| Flush { run_id: r.id(), version: r.version + 1, outbox, cleared: &r.cleared })
            .collect();
        self.flush_in(session, &flushes).await.map_err(abort)?;

        // Every event belongs to a planned run, so each has its outcome.
        let outcomes = outcomes
            .into_iter()
            .map(|o| o.ok_or_else(|| Abort::Unavailable(StoreError::internal("an event of the group was not planned"))))
            .collect::<Result<Vec<_>, _>>()?;
        let written = planned.iter().map(|r| (r.id().to_owned(), r.version + 1)).collect();
        Ok((outcomes, written))
    }
}

/// Every document `filter` finds in `coll`, read in `session`.
async fn find_all(
    session: &mut ClientSession,
    coll: &mongodb::Collection<Document>,
    filter: Document,
    projection: Option<Document>,
) -> Result<Vec<Document>, Abort> {
    let mut find = coll.find(filter);
    if let Some(p) = projection {
        find = find.projection(p);
    }
    let mut cursor = find.session(&mut *session).await.map_err(abort)?;
    let mut out = Vec::new();
    while let Some(d) = cursor.next(&mut *session).await {
        out.push(d.map_err(abort)?);
    }
    Ok(out)
}
