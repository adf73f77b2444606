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
//! (its compare-and-set fails), a transient error — aborts it. A group of
//! several runs is then split in two by run and each half tried again in
//! its own transaction, so that one run's trouble does not hold the
//! others; a single run's events go through the path without
//! transactions, which handles those cases one by one. The run writes
//! stay compare-and-set on `version`, so transactional and
//! non-transactional writers (other processes, the gap sweeper) can share
//! a database.
//!
//! A run whose documents another transaction holds (`WriteConflict`: most
//! likely a server that died inside its transaction, whose locks MongoDB
//! keeps until the transaction expires) must not be written outside a
//! transaction: such a write waits for the locks, and with it the
//! coalescing worker and every other run. Its events are refused with 503
//! for a while instead ([`super::locked`]), and every wait of the path
//! without transactions is bounded by `--mongodb-lock-wait`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use mongodb::ClientSession;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Document, doc};
use mongodb::error::{TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT};

use super::apply::{Incoming, Outbox, Parked, Planning, Run, state};
use super::doc::{PARKED_FIELDS, event_doc, parked_from_doc, run_from_doc};
use super::group::{by_run, run_updates, verdicts};
use super::locked::refusal;
use super::outbox::Flush;
use super::{Core, error_codes, is_duplicate_key, run_of, unavailable};
use crate::clock::now_millis;
use crate::runstate::ItemKey;
use crate::store::{NewEvent, Outcome, StoreError};

/// How often a commit whose result is unknown (e.g. a network error on
/// the reply) is retried; the commit is idempotent.
const COMMIT_TRIES: usize = 3;

/// Longest the commit (all its tries) may take. The driver has no timeout
/// of its own on an operation under way: a MongoDB that hangs or drops off
/// the network mid-commit (a stopped process, a partition) would hold the
/// commit — and the coalescing worker, and with it every later request —
/// until it came back or TCP gave up (minutes), with the session's fate
/// unknown. Past this bound the group's events get 503: committed or not,
/// the senders' retries find out (a duplicate, or a fresh insert), as
/// after any commit whose result is unknown. A journaled commit on a
/// healthy server takes milliseconds.
const COMMIT_WAIT: Duration = Duration::from_secs(5);

/// How often a one-run group whose run is locked by another transaction
/// tries again at once (a live writer's transaction ends within
/// milliseconds) before the run is refused for a while.
const LOCK_TRIES: u32 = 3;

/// MongoDB's codes for "another transaction holds a document this one
/// writes": `WriteConflict` (a transaction never waits for a document
/// lock), and `LockTimeout` (it waited `maxTransactionLockRequestTimeoutMillis`
/// for a collection or database lock).
const LOCK_CODES: [i32; 2] = [112, 24];

/// Why a transaction did not store the group.
#[derive(Debug)]
enum Abort {
    /// The path without transactions can still store it.
    FallBack,
    /// Another transaction holds some of the group's documents; writing
    /// them outside a transaction would wait for it.
    Locked,
    /// MongoDB cannot take it now.
    Unavailable(StoreError),
}

fn abort(e: mongodb::error::Error) -> Abort {
    // A lock conflict first: falling back would wait on that lock.
    if error_codes(&e).any(|c| LOCK_CODES.contains(&c)) {
        Abort::Locked
    } else if is_duplicate_key(&e) || e.contains_label(TRANSIENT_TRANSACTION_ERROR) {
        Abort::FallBack
    } else {
        Abort::Unavailable(unavailable(e))
    }
}

/// Some of a group's events (indexes into it), and how often they found
/// their (one) run locked in a row.
struct Part {
    members: Vec<usize>,
    locked_tries: u32,
}

impl Core {
    /// Store and apply `events` in transactions: the whole group in one
    /// when nothing gets in the way (see the module docs for what happens
    /// when something does). One result per event.
    pub(super) async fn ingest_group_txn(&self, events: &[&NewEvent]) -> Vec<Result<Outcome, StoreError>> {
        let now = Instant::now();
        let mut results: Vec<Option<Result<Outcome, StoreError>>> =
            events.iter().map(|e| self.locked.refused(run_of(e), now).map(|wait| Err(refusal(run_of(e), wait)))).collect();
        let mut todo = vec![Part { members: (0..events.len()).filter(|&i| results[i].is_none()).collect(), locked_tries: 0 }];
        while let Some(part) = todo.pop() {
            if part.members.is_empty() {
                continue;
            }
            let mine: Vec<&NewEvent> = part.members.iter().map(|&i| events[i]).collect();
            let runs = by_run(&mine, |_| true);
            let got: Vec<Result<Outcome, StoreError>> = match self.in_transaction(&mine).await {
                Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
                Err(Abort::Unavailable(e)) => mine.iter().map(|_| Err(e.clone())).collect(),
                // Several runs: find the one in the way, let the rest through.
                Err(_) if runs.len() > 1 => {
                    let half = runs.len() / 2;
                    for side in [&runs[..half], &runs[half..]] {
                        let members = side.iter().flat_map(|(_, m)| m.iter().map(|&j| part.members[j])).collect();
                        todo.push(Part { members, locked_tries: 0 });
                    }
                    continue;
                }
                Err(Abort::Locked) if part.locked_tries + 1 < LOCK_TRIES => {
                    tokio::time::sleep(Duration::from_millis(5) * 4_u32.pow(part.locked_tries)).await;
                    todo.push(Part { members: part.members, locked_tries: part.locked_tries + 1 });
                    continue;
                }
                Err(Abort::Locked) => self.refuse_run(&mine),
                Err(Abort::FallBack) => match tokio::time::timeout(self.lock_wait, self.ingest_group(&mine)).await {
                    Ok(got) => got,
                    // Waited on a lock: the abandoned writes may still land
                    // (or not) when it is freed, which the protocol
                    // without transactions tolerates as it does a crash.
                    Err(_) => self.refuse_run(&mine),
                },
            };
            for (&i, r) in part.members.iter().zip(got) {
                if r.is_ok() {
                    self.locked.clear(run_of(events[i]));
                }
                results[i] = Some(r);
            }
        }
        results.into_iter().map(|r| r.unwrap_or_else(|| Err(StoreError::internal("event left unprocessed")))).collect()
    }

    /// The events of one run found locked: refuse it for a while.
    fn refuse_run(&self, events: &[&NewEvent]) -> Vec<Result<Outcome, StoreError>> {
        let run_id = events.first().map(|e| run_of(e)).unwrap_or_default();
        let wait = self.locked.strike(run_id, Instant::now());
        if let Some(folded) = self.locked_log.pass() {
            tracing::warn!(
                run = run_id,
                retry_in_ms = wait.as_millis() as u64,
                folded,
                "run locked by another MongoDB transaction; its events get 503 (`folded`: such refusals since the last line)"
            );
        }
        events.iter().map(|_| Err(refusal(run_id, wait))).collect()
    }

    async fn in_transaction(&self, events: &[&NewEvent]) -> Result<Vec<Outcome>, Abort> {
        let mut session = self.client.start_session().await.map_err(abort)?;
        session.start_transaction().write_concern(self.write_concern_opts.clone()).await.map_err(abort)?;
        // Nothing inside a transaction waits for another's locks (it fails
        // with `WriteConflict` at once), so a body that does not finish is
        // not a lock: MongoDB hangs or is out of reach. The whole group gets
        // 503 at once. Taken for a lock, it was split run by run and each
        // part tried again, every try waiting out this bound and its abort:
        // a MongoDB that hung for 20 s held every request of the (single)
        // coalescing worker for all of it, then minutes more for longer hangs.
        let body = tokio::time::timeout(self.lock_wait, self.transaction_body(&mut session, events)).await.unwrap_or_else(|_| {
            Err(Abort::Unavailable(StoreError::unavailable(format!(
                "MongoDB did not answer within --mongodb-lock-wait ({}); it hangs or is out of reach",
                humantime::format_duration(self.lock_wait)
            ))))
        });
        match body {
            Ok((outcomes, written)) => {
                self.failpoint("mongo:after_run_write");
                let commit = async {
                    let mut tries = 0;
                    loop {
                        tries += 1;
                        match session.commit_transaction().await {
                            Ok(()) => return Ok(()),
                            Err(e) if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) && tries < COMMIT_TRIES => continue,
                            // Committed or not, unknown: the sender's retry
                            // finds out (a duplicate, or a fresh insert).
                            Err(e) => return Err(abort(e)),
                        }
                    }
                };
                match tokio::time::timeout(COMMIT_WAIT, commit).await {
                    Ok(Ok(())) => {
                        self.remember_flushed(written.iter().map(|(r, v)| (r.as_str(), *v)));
                        Ok(outcomes)
                    }
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(Abort::Unavailable(StoreError::unavailable(format!(
                        "MongoDB did not confirm the commit within {} (it hangs or is out of reach); \
                         a retry answers `duplicate` if it landed after all",
                        humantime::format_duration(COMMIT_WAIT)
                    )))),
                }
            }
            Err(e) => {
                // Bounded too: MongoDB expires what is left anyway.
                let _ = tokio::time::timeout(self.lock_wait, session.abort_transaction()).await;
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

        // The items the events merge into, for all runs in one read (the
        // planner would otherwise ask for them event by event: a round
        // trip each). Read outside the transaction: the run writes below
        // are compare-and-set on the versions read in it, and an item newer
        // than its run's version read here cannot exist (items are written
        // after their run), so what is read is what the transaction sees.
        let wanted: Vec<(String, Vec<ItemKey>)> = plans
            .iter()
            .zip(&runs)
            .map(|(p, (_, members))| (p.run_id().to_owned(), p.items_needed(&self.layout, members.iter().map(|&i| &events[i].change))))
            .collect();
        let asked: Vec<(&str, &[ItemKey])> = wanted.iter().map(|(r, k)| (r.as_str(), k.as_slice())).collect();
        let mut found = self.load_items(&asked).await.map_err(Abort::Unavailable)?;
        for (p, (_, keys)) in plans.iter_mut().zip(wanted) {
            let found = found.remove(p.run_id()).unwrap_or_default();
            p.provide_items(keys, &found);
        }
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
        self.flush_in(session, &flushes, false).await.map_err(abort)?;
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
        self.flush_in(session, &flushes, true).await.map_err(abort)?;

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
