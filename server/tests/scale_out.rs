//! MongoDB + Redis fault tests on real servers: Redis dying mid-run, a
//! server process dying between pipeline steps (failpoints), and two
//! server processes sharing one database.
//!
//! Needs `MONGODB_URI` and `REDIS_URL` (and `redis-server` on PATH):
//! `bash scripts/test.sh` provides them.

#[macro_use]
mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::redis::RedisProcess;
use support::{Backend, Env, Server, event, progress, run_id};

async fn run_doc(s: &Server, run: &str) -> Value {
    let (status, doc) = s.get(&format!("/api/runs/{run}")).await;
    assert_eq!(status, 200, "run {run}: {doc}");
    doc
}

async fn events_of(s: &Server, run: &str) -> Vec<Value> {
    let (status, body) = s.get(&format!("/api/runs/{run}/events?limit=1000")).await;
    assert_eq!(status, 200, "{body}");
    body["events"].as_array().unwrap().clone()
}

#[tokio::test]
async fn redis_killed_mid_run_ingestion_continues_on_the_durable_guard() {
    let mut redis = RedisProcess::start();
    let mut env = Env::new(Backend::Mongo);
    env.redis_url = Some(redis.url.clone());
    let s = env.start(&[]);
    let run = run_id();

    for i in 1..=5 {
        let (status, resp) = s.send(&progress(&run, &format!("k{i}"), i, i as f64 / 10.0)).await;
        assert_eq!((status, resp["status"].as_str()), (200, Some("applied")), "{resp}");
    }
    let (status, ready) = s.get("/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(ready["dedup"]["status"], "ok", "{ready}");
    // A retry answered from the Redis marker.
    assert_eq!(s.send(&progress(&run, "k5", 5, 0.5)).await.1["status"], "duplicate");

    redis.kill();

    for i in 6..=10 {
        let (status, resp) = s.send(&progress(&run, &format!("k{i}"), i, i as f64 / 10.0)).await;
        assert_eq!((status, resp["status"].as_str()), (200, Some("applied")), "Redis down must not fail ingestion: {resp}");
    }
    // Duplicates are still caught, now by MongoDB's unique index alone.
    for id in ["k3", "k8"] {
        let (status, resp) = s.send(&progress(&run, id, 3, 0.3)).await;
        assert_eq!((status, resp["status"].as_str()), (200, Some("duplicate")), "{resp}");
    }
    let (status, ready) = s.get("/readyz").await;
    assert_eq!(status, 200, "Redis alone never makes the server unready: {ready}");
    assert_eq!(ready["store"], "ok");
    assert_eq!(ready["dedup"]["status"], "unavailable", "{ready}");

    let doc = run_doc(&s, &run).await;
    assert_eq!(doc["last_event_seq"], 10);
    assert_eq!(doc["progress"], 1.0);
    assert!(doc["history"].as_array().unwrap().is_empty(), "nothing stale, nothing re-applied: {doc}");
    assert_eq!(events_of(&s, &run).await.len(), 10);
}

/// A Redis that hangs (stopped, a partition) costs one request its
/// timeouts, not every request: the circuit opens, requests skip Redis,
/// and it closes again once Redis answers.
#[tokio::test]
async fn a_hanging_redis_is_skipped_until_it_answers_again() {
    let redis = RedisProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--redis-url", &redis.url]);
    let run = run_id();
    assert_eq!(s.send(&progress(&run, "h1", 1, 0.1)).await.1["status"], "applied");

    redis.signal("-STOP");
    let start = std::time::Instant::now();
    for i in 2..=21 {
        let (status, resp) = s.send(&progress(&run, &format!("h{i}"), i, 0.2)).await;
        assert_eq!((status, resp["status"].as_str()), (200, Some("applied")), "{resp}");
    }
    let took = start.elapsed();
    // Without the breaker: 20 requests x (250 ms MGET + 250 ms SET) = 10 s.
    assert!(took < Duration::from_secs(3), "20 events took {took:?} with Redis hanging");
    assert_eq!(s.send(&progress(&run, "h5", 5, 0.2)).await.1["status"], "duplicate", "the store's own guard");

    redis.signal("-CONT");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, ready) = s.get("/readyz").await;
        if ready["dedup"]["status"] == "ok" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the circuit never closed: {ready}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Markers are written again once it is back.
    assert_eq!(s.send(&progress(&run, "h22", 22, 0.3)).await.1["status"], "applied");
    assert_eq!(s.send(&progress(&run, "h22", 22, 0.3)).await.1["status"], "duplicate");
}

/// The events of one run used by the two-process test: seq'd progress,
/// a start and a completion, and seq-less metrics with distinct names
/// (so the final state does not depend on arrival order).
fn workload(run: &str, n: i64) -> Vec<Value> {
    let mut events = vec![event("start", "ai.run.started", json!({"run_id": run}), Some(1))];
    for i in 2..n {
        events.push(progress(run, &format!("p{i}"), i, i as f64 / n as f64));
        if i % 5 == 0 {
            let m = json!({"run_id": run, "metric_name": format!("m{i}"), "value": i});
            events.push(event(&format!("m{i}"), "ai.run.metric", m, None));
        }
    }
    events.push(event("done", "ai.run.completed", json!({"run_id": run, "result": "success"}), Some(n)));
    events
}

/// POST until the server answers 2xx (as a sender that retries does).
async fn send_until_acked(client: &reqwest::Client, base: &str, e: &Value) -> Value {
    for _ in 0..50 {
        let resp = client
            .post(format!("{base}/api/ingest/event"))
            .header("content-type", "application/cloudevents+json")
            .body(e.to_string())
            .send()
            .await;
        if let Ok(r) = resp
            && r.status().is_success()
        {
            return r.json().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("event {} never acknowledged", e["id"]);
}

/// What must match between one process and two: the run and its events.
fn comparable(doc: &Value, events: &[Value]) -> Value {
    let mut doc = doc.clone();
    doc.as_object_mut().unwrap().remove("updated_at");
    let mut states: Vec<(String, String)> =
        events.iter().map(|e| (e["event"]["id"].as_str().unwrap().to_owned(), e["state"].as_str().unwrap().to_owned())).collect();
    states.sort();
    json!({"run": doc, "events": states})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_mongodb_and_redis_reach_the_same_state_as_one() {
    const N: i64 = 40;
    let run = run_id();
    let events = workload(&run, N);

    // Reference: one process, events in order.
    let single_env = Env::new(Backend::MongoRedis);
    let single = single_env.start(&["--gap-timeout", "1h"]);
    for e in &events {
        send_until_acked(&single.client, &single.base, e).await;
    }
    let expected = comparable(&run_doc(&single, &run).await, &events_of(&single, &run).await);
    assert_eq!(expected["run"]["status"], "completed", "{expected}");
    assert_eq!(expected["run"]["last_event_seq"], N);

    // Two processes on one database and one Redis, events interleaved in a
    // scrambled order and sent concurrently, every event also retried
    // through the other process.
    let env = Env::new(Backend::MongoRedis);
    let (a, b) = (env.start(&["--gap-timeout", "1h"]), env.start(&["--gap-timeout", "1h"]));
    let mut order: Vec<usize> = (0..events.len()).collect();
    // A fixed scramble: reverse in blocks of 7, so many events arrive ahead of a gap.
    order.chunks_mut(7).for_each(|c| c.reverse());
    let mut tasks = Vec::new();
    for (k, i) in order.into_iter().enumerate() {
        let e = events[i].clone();
        let (first, second) = if k % 2 == 0 { (a.base.clone(), b.base.clone()) } else { (b.base.clone(), a.base.clone()) };
        let client = a.client.clone();
        tasks.push(tokio::spawn(async move {
            let r1 = send_until_acked(&client, &first, &e).await;
            let r2 = send_until_acked(&client, &second, &e).await;
            (r1, r2)
        }));
    }
    for t in tasks {
        let (r1, r2) = t.await.unwrap();
        assert_ne!(r1["status"], "duplicate", "first delivery is new: {r1}");
        assert_eq!(r2["status"], "duplicate", "the retry through the other process: {r2}");
    }
    let got_a = comparable(&run_doc(&a, &run).await, &events_of(&a, &run).await);
    let got_b = comparable(&run_doc(&b, &run).await, &events_of(&b, &run).await);
    assert_eq!(got_a, expected, "two processes, same final state as one");
    assert_eq!(got_b, got_a, "both processes read the same state");
}

/// A server aborted at `failpoint` while storing `e`, with
/// `--mongodb-transactions txn`; returns the env for the restart. The
/// request itself gets no response.
async fn crash_at(failpoint: &str, txn: &str, e: &Value) -> Env {
    let env = Env::new(Backend::Mongo);
    let s = env.start_with_env(&["--gap-timeout", "1h", "--mongodb-transactions", txn], &[("HERALD_FAILPOINT", failpoint)]);
    let resp =
        s.client.post(s.url("/api/ingest/event")).header("content-type", "application/cloudevents+json").body(e.to_string()).send().await;
    assert!(resp.is_err(), "the process died before answering: {resp:?}");
    let status = s.wait_exit(Duration::from_secs(10));
    assert!(!status.success(), "aborted at the failpoint: {status}");
    env
}

#[tokio::test]
async fn crash_after_storing_before_applying_then_the_retry_applies_once() {
    let run = run_id();
    let e1 = progress(&run, "c1", 1, 0.1);
    let env = crash_at("mongo:after_event_insert", "off", &e1).await;

    let s = env.start(&["--gap-timeout", "1h", "--mongodb-transactions", "off"]);
    let stored = events_of(&s, &run).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["state"], "pending", "stored, not yet applied");
    assert_eq!(s.get(&format!("/api/runs/{run}")).await.0, 404, "nothing applied before the crash");

    // The sender never got an answer and retries: the event is applied,
    // not dropped as a duplicate.
    let (status, resp) = s.send(&e1).await;
    assert_eq!((status, resp["status"].as_str()), (200, Some("duplicate")), "{resp}");
    let doc = run_doc(&s, &run).await;
    assert_eq!(doc["progress"], 0.1);
    assert_eq!(doc["last_event_seq"], 1);
    assert_eq!(events_of(&s, &run).await[0]["state"], "applied");

    // Applied once: seq 2 is next, and another retry changes nothing.
    assert_eq!(s.send(&progress(&run, "c2", 2, 0.2)).await.1["status"], "applied");
    assert_eq!(s.send(&e1).await.1["status"], "duplicate");
    let doc = run_doc(&s, &run).await;
    assert_eq!((doc["last_event_seq"].as_i64(), doc["progress"].as_f64()), (Some(2), Some(0.2)));
    assert!(doc["history"].as_array().unwrap().is_empty(), "{doc}");
}

#[tokio::test]
async fn an_event_left_pending_by_a_crash_is_finished_by_the_sweeper_without_a_retry() {
    let run = run_id();
    let env = crash_at("mongo:after_event_insert", "off", &progress(&run, "w1", 1, 0.1)).await;
    let s = env.start(&["--gap-timeout", "200ms", "--mongodb-transactions", "off"]);
    let mut doc = Value::Null;
    for _ in 0..100 {
        let (status, d) = s.get(&format!("/api/runs/{run}")).await;
        if status == 200 {
            doc = d;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(doc["last_event_seq"], 1, "{doc}");
    assert_eq!(events_of(&s, &run).await[0]["state"], "applied");
}

#[tokio::test]
async fn crash_after_applying_before_marking_then_the_retry_is_a_duplicate_applied_once() {
    let run = run_id();
    let e1 = progress(&run, "a1", 1, 0.1);
    let env = crash_at("mongo:after_run_write", "off", &e1).await;

    let s = env.start(&["--gap-timeout", "1h", "--mongodb-transactions", "off"]);
    // The run write landed (with its outbox); the event's own mark did not.
    // (Checked before reading the run: a read completes a dead writer's
    // outbox too.)
    assert_eq!(events_of(&s, &run).await[0]["state"], "pending");

    let (status, resp) = s.send(&e1).await;
    assert_eq!((status, resp["status"].as_str()), (200, Some("duplicate")), "{resp}");
    assert_eq!(events_of(&s, &run).await[0]["state"], "applied");
    let doc = run_doc(&s, &run).await;
    assert_eq!(doc["last_event_seq"], 1);
    assert!(doc["history"].as_array().unwrap().is_empty(), "not re-applied (no stale entry): {doc}");
    assert_eq!(s.send(&progress(&run, "a2", 2, 0.2)).await.1["status"], "applied");
}
