//! The Redis dedup decorator's marker rules, over a scripted store:
//! a marker is written only after the store committed, so a failed
//! request never turns its retry into a lost event; a marker hit skips the
//! store; an unreachable Redis changes nothing but the `/readyz` detail.
//!
//! Needs `REDIS_URL` (`bash scripts/test.sh` sets it), and `redis-server`
//! on PATH for the outage case.

#[macro_use]
mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use herald_server::change::RunChange;
use herald_server::store::dedup::Deduped;
use herald_server::store::{
    EventPage, EventQuery, HistoryEntry, ItemPage, NewEvent, Outcome, Reads, RunPage, RunQuery, RunView, Store, StoreError,
};

/// A store that fails its next ingest when told to, and counts events.
#[derive(Default)]
struct Scripted {
    fail_next: AtomicBool,
    events: AtomicUsize,
}

impl Store for Scripted {
    type Reads = Self;
    fn reads(&self) -> &Self {
        self
    }
    async fn ingest(&self, events: Vec<NewEvent>) -> Result<Vec<Outcome>, StoreError> {
        if self.fail_next.swap(false, Ordering::SeqCst) {
            return Err(StoreError::unavailable("scripted outage"));
        }
        self.events.fetch_add(events.len(), Ordering::SeqCst);
        Ok(events
            .into_iter()
            .map(|e| match e.run_id {
                Some(run_id) => Outcome::Applied { run_id, seq: e.seq, released: Vec::new() },
                None => Outcome::Stored { seq: e.seq },
            })
            .collect())
    }
    async fn release_gaps(&self, _: Duration) -> Result<usize, StoreError> {
        Ok(0)
    }
    async fn ready(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Nothing to read: these tests only ingest.
impl Reads for Scripted {
    async fn run(&self, _: &str) -> Result<Option<(RunView, Vec<HistoryEntry>)>, StoreError> {
        Ok(None)
    }
    async fn runs(&self, _: RunQuery) -> Result<RunPage, StoreError> {
        Ok(RunPage { runs: Vec::new(), next_cursor: None })
    }
    async fn run_events(&self, _: &str, _: EventQuery) -> Result<EventPage, StoreError> {
        Ok(EventPage::from_overfetch(Vec::new(), 1))
    }
    async fn run_items(&self, _: &str, _: &str, _: Option<String>, _: usize) -> Result<ItemPage, StoreError> {
        Ok(ItemPage::from_overfetch(Vec::new(), 1))
    }
}

fn ev(id: &str) -> NewEvent {
    NewEvent {
        source: "/dedup-test".into(),
        id: id.into(),
        type_name: "ai.run.progress".into(),
        run_id: Some("r".into()),
        seq: None,
        envelope: "{}".into(),
        change: RunChange::new(),
    }
}

fn statuses(outcomes: &[Outcome]) -> Vec<&'static str> {
    outcomes
        .iter()
        .map(|o| match o {
            Outcome::Applied { .. } => "applied",
            Outcome::Duplicate { .. } => "duplicate",
            Outcome::Stored { .. } => "stored",
            _ => "other",
        })
        .collect()
}

#[tokio::test]
async fn a_marker_is_set_only_after_the_commit_and_then_skips_the_store() {
    let ns = format!("herald:test:{}", support::unique_db());
    let store = Deduped::new(Scripted::default(), &support::redis_url(), ns, Duration::from_secs(60)).await.unwrap();

    store.inner().fail_next.store(true, Ordering::SeqCst);
    assert!(store.ingest(vec![ev("a")]).await.is_err(), "the store failed: no ack");
    // The retry reaches the store: the failed attempt left no marker.
    let out = store.ingest(vec![ev("a")]).await.unwrap();
    assert_eq!(statuses(&out), vec!["applied"]);
    assert_eq!(store.inner().events.load(Ordering::SeqCst), 1);

    // Now marked: answered from Redis, the store is not asked again; a new
    // event in the same batch still goes through.
    let out = store.ingest(vec![ev("a"), ev("b")]).await.unwrap();
    assert_eq!(statuses(&out), vec!["duplicate", "applied"]);
    assert_eq!(out[0], Outcome::Duplicate { run_id: Some("r".into()) });
    assert_eq!(store.inner().events.load(Ordering::SeqCst), 2, "only `b` reached the store");
    assert_eq!(store.dedup_status().await.unwrap()["status"], "ok");
}

/// An event of no run is marked too, and its duplicate answered from Redis
/// names no run (not a run with the empty id).
#[tokio::test]
async fn an_event_of_no_run_is_marked_and_its_duplicate_names_no_run() {
    let ns = format!("herald:test:{}", support::unique_db());
    let store = Deduped::new(Scripted::default(), &support::redis_url(), ns, Duration::from_secs(60)).await.unwrap();
    let runless = || NewEvent { run_id: None, ..ev("u") };
    assert_eq!(store.ingest(vec![runless()]).await.unwrap(), vec![Outcome::Stored { seq: None }]);
    assert_eq!(store.ingest(vec![runless()]).await.unwrap(), vec![Outcome::Duplicate { run_id: None }]);
    assert_eq!(store.inner().events.load(Ordering::SeqCst), 1, "the duplicate was answered from Redis");
}

#[tokio::test]
async fn an_unreachable_redis_changes_nothing_but_the_readiness_detail() {
    // Port 1: nothing listens there.
    let store = Deduped::new(Scripted::default(), "redis://127.0.0.1:1", "herald:test:down".into(), Duration::from_secs(60))
        .await
        .expect("starting with Redis down is not an error");
    let out = store.ingest(vec![ev("x"), ev("y")]).await.unwrap();
    assert_eq!(statuses(&out), vec!["applied", "applied"]);
    assert!(store.ready().await.is_ok());
    let detail = store.dedup_status().await.unwrap();
    assert_eq!(detail["status"], "unavailable", "{detail}");
}

/// The `dedup` detail of `/readyz` on `s`, checked to say `unavailable`
/// with a short reason of ours that names Redis and holds no secret.
async fn redis_down_detail(s: &support::Server, secret: &str) {
    let (status, ready) = s.get("/readyz").await;
    assert_eq!(status, 200, "Redis alone never makes the server unready: {ready}");
    assert_eq!(ready["dedup"]["status"], "unavailable", "{ready}");
    assert!(!ready.to_string().contains(secret), "the password in /readyz: {ready}");
    let error = ready["dedup"]["error"].as_str().unwrap_or_else(|| panic!("no reason: {ready}")).to_owned();
    // Ours, not the driver's ("broken pipe", "Connection refused (os
    // error 111)", "not connected").
    assert!(error.contains("Redis") && error.len() < 60 && !error.contains("os error"), "not a short reason of ours: {error:?}");
}

/// `/readyz` says why the Redis fast path is off in a few words of its
/// own, without the driver's text or the password: for a Redis that was
/// never reachable (a closed port), and for one that was up and died.
#[tokio::test]
async fn readyz_names_a_redis_outage_briefly_and_without_its_password() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let s = support::Server::start(dir.path(), &["--redis-url", &format!("redis://:hunter2@127.0.0.1:{closed}")]);
    redis_down_detail(&s, "hunter2").await;

    let mut redis = support::redis::RedisProcess::start_with_password(Some("hunter2"));
    let dir = tempfile::tempdir().unwrap();
    let s = support::Server::start(dir.path(), &["--redis-url", &redis.url]);
    let (_, ready) = s.get("/readyz").await;
    assert_eq!(ready["dedup"]["status"], "ok", "{ready}");
    redis.kill();
    // At once ("broken pipe", from the driver), and on later probes
    // (timeouts while it reconnects).
    redis_down_detail(&s, "hunter2").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    redis_down_detail(&s, "hunter2").await;
}
