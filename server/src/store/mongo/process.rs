//! The one-event path (steps 2–3 of the protocol in [`super`]) and what
//! uses it: duplicates of `pending` events, the sweeper of abandoned
//! events, and gap skips.

use std::time::Duration;

use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Bson, Document, doc};

use super::apply::{Incoming, Planning, Run, state};
use super::doc::{run_from_doc, run_to_doc};
use super::outbox::Flush;
use super::{Core, MAX_ATTEMPTS, SWEEP_PENDING, is_duplicate_key, unavailable};
use crate::change::RunChange;
use crate::clock::now_millis;
use crate::store::{Outcome, StoreError};

/// How one attempt at writing a run ended.
pub(super) enum Cas {
    Done,
    Conflict,
}

impl Core {
    /// `(source, id)` is stored already. If it is still `pending` (its
    /// first attempt died or is still running), finish processing it
    /// before answering: a retry must never turn into a lost event.
    pub(super) async fn duplicate(&self, source: &str, id: &str) -> Result<Outcome, StoreError> {
        let stored = self
            .events
            .find_one(doc! {"source": source, "id": id})
            .projection(doc! {"envelope": 0})
            .await
            .map_err(unavailable)?
            .ok_or_else(|| StoreError::internal(format!("event ({source}, {id}) reported as duplicate but not found")))?;
        // `null` for an event of no run.
        let run_id = stored.get_str("run_id").ok().map(str::to_owned);
        if stored.get_str("state").ok() == Some(state::PENDING) {
            self.finish_pending(&stored).await?;
        }
        Ok(Outcome::Duplicate { run_id })
    }

    /// Process a stored `pending` event from its document.
    async fn finish_pending(&self, stored: &Document) -> Result<(), StoreError> {
        let bad = |what: &str| StoreError::internal(format!("stored event has no valid `{what}`"));
        let oid = stored.get_object_id("_id").map_err(|_| bad("_id"))?;
        let change: RunChange = serde_json::from_str(stored.get_str("change").map_err(|_| bad("change"))?).map_err(|_| bad("change"))?;
        let run_id = stored.get_str("run_id").map_err(|_| bad("run_id"))?;
        let incoming = Incoming {
            key: oid,
            source: stored.get_str("source").unwrap_or_default(),
            id: stored.get_str("id").unwrap_or_default(),
            seq: stored.get_i64("seq").ok(),
            change: &change,
        };
        self.process(run_id, &incoming).await.map(drop)
    }

    /// Steps 2–3 for one stored event. `None`: someone else processed it.
    pub(super) async fn process(&self, run_id: &str, ev: &Incoming<'_>) -> Result<Option<Outcome>, StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            let run = self.load_run(run_id).await?;
            // Flush what the last writer produced before reading event
            // states (and before replacing its outbox).
            self.flush_run(&run).await?;
            if run.outbox.settles.iter().any(|s| s.event == ev.key) || !self.is_pending(ev.key).await? {
                return Ok(None);
            }
            let mut planning = Planning::new(run);
            let now = now_millis();
            let outcome = self.plan_step(&mut planning, |p| p.apply(&self.layout, ev, now)).await?;
            let run = planning.finish();
            match self.write_run(&run).await? {
                Cas::Done => {
                    self.failpoint("mongo:after_run_write");
                    self.flush_written(&[&run]).await?;
                    return Ok(Some(outcome));
                }
                Cas::Conflict => backoff(attempt).await,
            }
        }
        Err(StoreError::unavailable(format!("run {run_id} is too contended: gave up after {MAX_ATTEMPTS} attempts; retry")))
    }

    async fn is_pending(&self, oid: ObjectId) -> Result<bool, StoreError> {
        let found = self.events.find_one(doc! {"_id": oid}).projection(doc! {"state": 1}).await.map_err(unavailable)?;
        Ok(found.is_some_and(|d| d.get_str("state").ok() == Some(state::PENDING)))
    }

    /// Flush the outbox `run` was read with, unless this process did.
    pub(super) async fn flush_run(&self, run: &Run) -> Result<(), StoreError> {
        if !self.unflushed(run) {
            return Ok(());
        }
        self.flush(&[Flush::stored(run)]).await?;
        self.remember_flushed(std::iter::once((run.id(), run.version)));
        Ok(())
    }

    /// Flush the outboxes of runs just written (planned from their
    /// `version`, now stored as `version + 1`).
    pub(super) async fn flush_written(&self, runs: &[&Run]) -> Result<(), StoreError> {
        let flushes: Vec<Flush<'_>> = runs.iter().map(|r| Flush::written(r)).collect();
        self.flush(&flushes).await?;
        self.remember_flushed(runs.iter().map(|r| (r.id(), r.version + 1)));
        Ok(())
    }

    pub(super) async fn load_run(&self, run_id: &str) -> Result<Run, StoreError> {
        let found = self.runs.find_one(doc! {"_id": run_id}).await.map_err(unavailable)?;
        Ok(match found {
            Some(d) => run_from_doc(run_id, &d),
            None => Run::new(run_id, &self.initial_status),
        })
    }

    /// Insert a new run, or replace the stored one if its `version` is
    /// still the one we read.
    pub(super) async fn write_run(&self, run: &Run) -> Result<Cas, StoreError> {
        let mut d = run_to_doc(run);
        d.insert("version", run.version + 1);
        if run.version == 0 {
            match self.runs.insert_one(d).await {
                Ok(_) => Ok(Cas::Done),
                Err(e) if is_duplicate_key(&e) => Ok(Cas::Conflict),
                Err(e) => Err(unavailable(e)),
            }
        } else {
            let r = self.runs.replace_one(doc! {"_id": run.id(), "version": run.version}, d).await.map_err(unavailable)?;
            Ok(if r.matched_count == 1 { Cas::Done } else { Cas::Conflict })
        }
    }

    /// Skip the gap of one run whose parked events waited too long.
    async fn skip_gap(&self, run_id: &str) -> Result<usize, StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            let run = self.load_run(run_id).await?;
            self.flush_run(&run).await?;
            let mut planning = Planning::new(run);
            let now = now_millis();
            let Some(applied) = self.plan_step(&mut planning, |p| p.skip_gap(&self.layout, now)).await? else { return Ok(0) };
            let run = planning.finish();
            match self.write_run(&run).await? {
                Cas::Done => {
                    self.flush_written(&[&run]).await?;
                    return Ok(applied);
                }
                Cas::Conflict => backoff(attempt).await,
            }
        }
        Err(StoreError::unavailable(format!("run {run_id} is too contended to release its gap; will retry")))
    }

    /// The gap sweeper: finish events whose processing died half-way and
    /// that no retry finished, then skip the gaps older than `timeout`.
    pub(super) async fn release_gaps(&self, timeout: Duration) -> Result<usize, StoreError> {
        let cutoff = now_millis() - i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        let mut cursor = self
            .events
            .find(doc! {"state": state::PENDING, "received_at": {"$lte": cutoff}})
            .projection(doc! {"envelope": 0})
            .limit(SWEEP_PENDING)
            .await
            .map_err(unavailable)?;
        let mut pending = Vec::new();
        while cursor.advance().await.map_err(unavailable)? {
            pending.push(cursor.deserialize_current().map_err(unavailable)?);
        }
        for d in &pending {
            tracing::warn!(event = ?d.get("_id"), "finishing an event left pending (a server died mid-ingest?)");
            self.finish_pending(d).await?;
        }

        let runs =
            self.events.distinct("run_id", doc! {"state": state::PARKED, "received_at": {"$lte": cutoff}}).await.map_err(unavailable)?;
        let mut applied = 0;
        for run_id in runs.iter().filter_map(Bson::as_str) {
            applied += self.skip_gap(run_id).await?;
        }
        Ok(applied)
    }
}

pub(super) async fn backoff(attempt: usize) {
    // Small and jittered: contention is between a few writers of one run.
    let micros = 100 * (attempt.min(20) as u64 + 1) + u64::from(ObjectId::new().bytes()[11]);
    tokio::time::sleep(Duration::from_micros(micros)).await;
}
