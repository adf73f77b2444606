//! Concurrent requests share MongoDB round trips.
//!
//! Storing one event takes several round trips (insert it, read its run,
//! write the run, commit or settle). Paying them per event caps a server
//! at a fraction of what MongoDB can take, so requests queue here and a
//! few workers each take everything queued (up to [`MAX_GROUP`] events)
//! and store it as one group ([`Core::store_group`]): the round trips are
//! paid per group, and the busier the server, the bigger the groups. An
//! idle server's request goes out alone, at once. Several server
//! processes each coalesce their own requests; their groups race only
//! when they touch the same run.

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::Core;
use crate::metrics::CommitProbe;
use crate::store::{NewEvent, Outcome, StoreError};

/// Most events one group carries: bounds the size of the commands sent
/// and the work one failure turns into retries.
const MAX_GROUP: usize = 512;

/// Groups in flight at once. One: a second worker would pipeline round
/// trips, but it halves the groups and, worse, two groups in flight share
/// runs (each run write is a compare-and-set, so one of them loses and
/// retries — with transactions, the whole group falls back to the slower
/// path). Measured with `bench/mongo.sh` on 2 cores: 1 worker vs 2, single
/// events 5.4k/s vs 4.9k/s, batches of 100 7.5k events/s vs 4.6k/s.
const WORKERS: usize = 1;

/// Requests waiting for a worker; beyond this, `submit` waits (back
/// pressure instead of unbounded memory).
const QUEUE: usize = 4096;

struct Job {
    events: Vec<NewEvent>,
    reply: oneshot::Sender<Result<Vec<Outcome>, StoreError>>,
}

/// The request queue and its workers.
pub(super) struct Coalescer {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Coalescer {
    /// Start the workers on the current Tokio runtime.
    /// Each stored group is reported to `commits`.
    pub(super) fn start(core: Arc<Core>, commits: CommitProbe) -> Coalescer {
        let (tx, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let workers = (0..WORKERS).map(|_| tokio::spawn(work(core.clone(), rx.clone(), commits.clone()))).collect();
        Coalescer { jobs: Mutex::new(Some(tx)), workers: Mutex::new(workers) }
    }

    /// Store `events` (one request's, in order) with whatever else is
    /// queued; one outcome per event, or the first error among them.
    pub(super) async fn submit(&self, events: Vec<NewEvent>) -> Result<Vec<Outcome>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let closed = || StoreError::unavailable("the MongoDB store is shutting down");
        let tx = self.jobs.lock().map_err(|_| closed())?.clone().ok_or_else(closed)?;
        let (reply, answer) = oneshot::channel();
        tx.send(Job { events, reply }).await.map_err(|_| closed())?;
        // A dropped reply means the worker died mid-group: nothing was
        // acknowledged, and the sender's retry finds whatever was stored.
        answer.await.map_err(|_| StoreError::unavailable("a MongoDB ingest worker stopped; retry"))?
    }

    /// Stop taking requests, let the workers finish what is queued.
    pub(super) async fn close(&self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        let workers = self.workers.lock().map(|mut w| std::mem::take(&mut *w)).unwrap_or_default();
        for w in workers {
            let _ = w.await;
        }
    }
}

async fn work(core: Arc<Core>, rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>, commits: CommitProbe) {
    loop {
        let jobs = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut size = first.events.len();
            let mut jobs = vec![first];
            while size < MAX_GROUP {
                let Ok(job) = rx.try_recv() else { break };
                size += job.events.len();
                jobs.push(job);
            }
            jobs
        };
        // In a task of its own, so that a panic (a bug) costs this group's
        // requests a 503 — their senders retry — and not the worker.
        if let Err(e) = tokio::spawn(store_and_reply(core.clone(), jobs, commits.clone())).await {
            tracing::error!(error = %e, "a MongoDB ingest group failed; its requests got 503");
        }
    }
}

async fn store_and_reply(core: Arc<Core>, jobs: Vec<Job>, commits: CommitProbe) {
    let events: Vec<&NewEvent> = jobs.iter().flat_map(|j| &j.events).collect();
    let started = std::time::Instant::now();
    let results = core.store_group(&events).await;
    // A group that stored nothing (MongoDB down) is not a commit.
    if results.iter().any(Result::is_ok) {
        commits.record(events.len(), started.elapsed());
    }
    let sizes: Vec<usize> = jobs.iter().map(|j| j.events.len()).collect();
    for (job, result) in jobs.into_iter().zip(per_job(results, &sizes)) {
        // The requester may have gone (client disconnected): the events
        // are stored all the same; its retry is a duplicate.
        let _ = job.reply.send(result);
    }
}

/// Split a group's results (one per event) back into its jobs (`sizes`
/// events each, in order): a job gets its outcomes, or the first error
/// among its events.
fn per_job(results: Vec<Result<Outcome, StoreError>>, sizes: &[usize]) -> Vec<Result<Vec<Outcome>, StoreError>> {
    let mut results = results.into_iter();
    sizes
        .iter()
        .map(|&n| {
            // Take the whole share first: collecting into a `Result` stops
            // at the first error and would leave the rest to the next job.
            let mine: Vec<_> = results.by_ref().take(n).collect();
            mine.into_iter().collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(run: &str) -> Result<Outcome, StoreError> {
        Ok(Outcome::Applied { run_id: run.into(), seq: None, released: Vec::new() })
    }

    #[test]
    fn an_error_stays_with_its_job() {
        let results = vec![applied("a1"), Err(StoreError::internal("boom")), applied("a3"), applied("b1"), applied("b2")];
        let jobs = per_job(results, &[3, 2]);
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].as_ref().unwrap_err().message, "boom");
        let b: Vec<&str> = jobs[1].as_ref().unwrap().iter().filter_map(Outcome::run_id).collect();
        assert_eq!(b, vec!["b1", "b2"], "the second job gets its own outcomes, not the first job's leftovers");
    }
}
