//! What operators see: `GET /metrics` (exact counts of what was sent),
//! `x-request-id` on every response, and `traceparent` on the request's
//! log lines — against real servers on 127.0.0.1.

#[macro_use]
mod support;

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use support::{Backend, Env, Server, event, progress, run_id};

/// Every test ends within this, whatever the server does.
const LIMIT: Duration = Duration::from_secs(90);

async fn bounded(test: impl Future<Output = ()>) {
    tokio::time::timeout(LIMIT, test).await.expect("the test took too long");
}

/// One sample of a scrape: `name{labels} value`.
type Samples = BTreeMap<(String, BTreeMap<String, String>), f64>;

/// Parse the text exposition format (no escapes in our label values).
fn parse(text: &str) -> Samples {
    let mut out = Samples::new();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {line:?}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels: {line:?}"));
                let labels = body
                    .split("\",")
                    .filter(|kv| !kv.is_empty())
                    .map(|kv| {
                        let (k, v) = kv.split_once("=\"").unwrap_or_else(|| panic!("bad label {kv:?} in {line:?}"));
                        (k.to_owned(), v.trim_end_matches('"').to_owned())
                    })
                    .collect();
                (name.to_owned(), labels)
            }
        };
        assert!(out.insert((name, labels), value).is_none(), "duplicate sample {line:?}");
    }
    out
}

/// The value of `name` with exactly `labels`, or `None` when absent.
fn sample(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    samples.get(&(name.to_owned(), labels)).copied()
}

/// `GET /metrics`, checked for its content type, parsed.
async fn scrape(s: &Server) -> (Samples, String) {
    let resp = s.client.get(s.url("/metrics")).send().await.expect("scrape");
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = resp.text().await.unwrap();
    (parse(&text), text)
}

fn events_total(samples: &Samples, ty: &str, outcome: &str) -> f64 {
    sample(samples, "herald_events_total", &[("type", ty), ("outcome", outcome)])
        .unwrap_or_else(|| panic!("no herald_events_total for {ty}/{outcome}"))
}

fn requests(samples: &Samples, route: &str, status: &str) -> Option<f64> {
    sample(samples, "herald_http_requests_total", &[("route", route), ("status", status)])
}

#[tokio::test]
async fn metrics_count_each_outcome_exactly_and_requests_by_route_template() {
    bounded(async {
        let env = Env::new(Backend::Sqlite);
        let s = env.start(&[]);
        let run = run_id();
        let started = |id: &str| event(id, "ai.run.started", json!({"run_id": run}), None);
        let expect = |got: (u16, serde_json::Value), status: u16, outcome: &str| {
            assert_eq!(got.0, status, "{}", got.1);
            assert_eq!(got.1["status"], outcome, "{}", got.1);
        };

        // Before anything: every fixed series is there, at zero.
        let (before, _) = scrape(&s).await;
        assert_eq!(events_total(&before, "ai.run.started", "applied"), 0.0);
        assert_eq!(events_total(&before, "unknown", "rejected"), 0.0);
        assert_eq!(sample(&before, "herald_store_ready", &[]), Some(1.0));
        assert_eq!(sample(&before, "herald_dedup_up", &[]), None, "no Redis, no dedup series");

        expect(s.send(&started("m-1")).await, 200, "applied");
        expect(s.send(&started("m-1")).await, 200, "duplicate");
        expect(s.send(&started("m-2")).await, 200, "illegal_transition"); // running → running
        expect(s.send(&progress(&run, "p-1", 1, 0.1)).await, 200, "applied");
        expect(s.send(&progress(&run, "p-3", 3, 0.3)).await, 202, "parked"); // waits for 2
        expect(s.send(&progress(&run, "p-1b", 1, 0.1)).await, 200, "stale");
        // Invalid data of a catalog type, a type outside it, and no envelope at all.
        let (status, _) = s.send(&progress(&run, "p-bad", 4, 7.0)).await;
        assert_eq!(status, 422);
        let (status, _) = s.send(&event("x-1", "ai.not.in_catalog", json!({"run_id": run}), None)).await;
        assert_eq!(status, 422);
        let (status, _) = s.post("application/cloudevents+json", "{not json").await;
        assert_eq!(status, 400);
        // A batch: one applied, one invalid (counted per element).
        let batch = json!([
            event("f-1", "ai.myfeature.started", json!({"run_id": run, "feature_name": "f"}), None),
            event("f-2", "ai.myfeature.started", json!({"run_id": run}), None),
        ]);
        let (status, body) = s.post("application/cloudevents-batch+json", batch.to_string()).await;
        assert_eq!((status, body["accepted"].as_u64(), body["rejected"].as_u64()), (200, Some(1), Some(1)), "{body}");
        // Reads: a route with a parameter, and a path no route matches.
        assert_eq!(s.get(&format!("/api/runs/{run}")).await.0, 200);
        assert_eq!(s.get(&format!("/api/runs/{}", run_id())).await.0, 404);
        assert_eq!(s.get("/no/such/page").await.0, 404);

        let (m, text) = scrape(&s).await;
        let counts = [
            ("ai.run.started", "applied", 1.0),
            ("ai.run.started", "duplicate", 1.0),
            ("ai.run.started", "illegal_transition", 1.0),
            ("ai.run.started", "rejected", 0.0),
            ("ai.run.progress", "applied", 1.0),
            ("ai.run.progress", "parked", 1.0),
            ("ai.run.progress", "stale", 1.0),
            ("ai.run.progress", "rejected", 1.0),
            ("ai.myfeature.started", "applied", 1.0),
            ("ai.myfeature.started", "rejected", 1.0),
            ("unknown", "rejected", 2.0), // the type outside the catalog, the unreadable body
            ("unknown", "applied", 0.0),
            ("ai.run.completed", "applied", 0.0),
        ];
        for (ty, outcome, n) in counts {
            assert_eq!(events_total(&m, ty, outcome), n, "{ty}/{outcome} in\n{text}");
        }
        assert!(!text.contains("ai.not.in_catalog"), "client-chosen types never become labels:\n{text}");

        // Requests: by route template and status, raw paths never.
        let ingest = "/api/ingest/event";
        assert_eq!(requests(&m, ingest, "200"), Some(6.0), "{text}"); // 5 singles + the batch
        assert_eq!(requests(&m, ingest, "202"), Some(1.0), "{text}");
        assert_eq!(requests(&m, ingest, "422"), Some(2.0), "{text}");
        assert_eq!(requests(&m, ingest, "400"), Some(1.0), "{text}");
        assert_eq!(requests(&m, "/api/runs/{run_id}", "200"), Some(1.0), "{text}");
        assert_eq!(requests(&m, "/api/runs/{run_id}", "404"), Some(1.0), "{text}");
        assert_eq!(requests(&m, "unmatched", "404"), Some(1.0), "{text}");
        assert_eq!(requests(&m, "/metrics", "200"), Some(1.0), "the first scrape, counted once answered:\n{text}");
        assert!(!text.contains(&run), "run ids never become labels:\n{text}");

        // Every event that reached the store was committed, in groups.
        let stored = 7.0; // 1+1+1 started, 3 progress, 1 feature (duplicates reach the store's guard)
        assert_eq!(sample(&m, "herald_store_commit_events_sum", &[]), Some(stored), "{text}");
        let commits = sample(&m, "herald_store_commit_events_count", &[]).expect("commit count");
        assert!((1.0..=stored).contains(&commits), "{commits} commits:\n{text}");
        assert_eq!(sample(&m, "herald_store_commit_seconds_count", &[]), Some(commits), "{text}");
        assert_eq!(sample(&m, "herald_store_commit_events_bucket", &[("le", "+Inf")]), Some(commits), "{text}");
        assert_eq!(sample(&m, "herald_parked_events", &[]), Some(1.0), "{text}");
        assert_eq!(sample(&m, "herald_store_ready", &[]), Some(1.0), "{text}");

        // Filling the gap releases the parked event: the gauge follows.
        expect(s.send(&progress(&run, "p-2", 2, 0.2)).await, 200, "applied");
        let (m, text) = scrape(&s).await;
        assert_eq!(sample(&m, "herald_parked_events", &[]), Some(0.0), "{text}");
        assert_eq!(events_total(&m, "ai.run.progress", "applied"), 2.0, "{text}");
        assert_eq!(requests(&m, "/metrics", "200"), Some(2.0), "{text}");
    })
    .await;
}

/// Every backend reports its commits and health: SQLite's writer and
/// MongoDB's coalescer time their groups; Redis shows as `herald_dedup_up`.
async fn each_backend_reports_commits_and_health(b: Backend) {
    bounded(async {
        let env = Env::new(b);
        let s = env.start(&[]);
        let run = run_id();
        let batch = json!([progress(&run, "c-1", 1, 0.1), progress(&run, "c-2", 2, 0.2)]);
        let (status, body) = s.post("application/cloudevents-batch+json", batch.to_string()).await;
        assert_eq!((status, body["accepted"].as_u64()), (200, Some(2)), "{body}");
        let (status, body) = s.send(&progress(&run, "c-4", 4, 0.4)).await;
        assert_eq!((status, body["status"].as_str()), (202, Some("parked")), "{body}");

        let (m, text) = scrape(&s).await;
        assert_eq!(events_total(&m, "ai.run.progress", "applied"), 2.0, "{text}");
        assert_eq!(events_total(&m, "ai.run.progress", "parked"), 1.0, "{text}");
        assert_eq!(sample(&m, "herald_store_ready", &[]), Some(1.0), "{text}");
        let (commits, parked, dedup) = match b {
            // The in-memory reference store has no commits to time nor an
            // index to count on: the series stay at zero.
            Backend::Memory => (Some(0.0), 0.0, None),
            Backend::Sqlite | Backend::Mongo => (Some(3.0), 1.0, None),
            Backend::MongoRedis => (Some(3.0), 1.0, Some(1.0)),
        };
        assert_eq!(sample(&m, "herald_store_commit_events_sum", &[]), commits, "{text}");
        if commits > Some(0.0) {
            let n = sample(&m, "herald_store_commit_seconds_count", &[]).expect("commit latency");
            assert!((1.0..=2.0).contains(&n), "two requests, one or two commits: {n}\n{text}");
        }
        assert_eq!(sample(&m, "herald_parked_events", &[]), Some(parked), "{text}");
        assert_eq!(sample(&m, "herald_dedup_up", &[]), dedup, "{text}");
    })
    .await;
}

conformance!(each_backend_reports_commits_and_health);

#[tokio::test]
async fn servers_in_one_process_keep_their_own_counts() {
    bounded(async {
        // Two in-process servers: one recorder each, nothing global.
        let (env_a, env_b) = (Env::new(Backend::Memory), Env::new(Backend::Memory));
        let (a, b) = (env_a.start(&[]), env_b.start(&[]));
        let run = run_id();
        assert_eq!(a.send(&event("a-1", "ai.run.started", json!({"run_id": run}), None)).await.0, 200);
        for i in 0..3 {
            let (status, _) = b.send(&event(&format!("b-{i}"), "ai.run.progress", json!({"run_id": run, "progress": 0.5}), None)).await;
            assert_eq!(status, 200);
        }
        let (ma, _) = scrape(&a).await;
        let (mb, _) = scrape(&b).await;
        assert_eq!(events_total(&ma, "ai.run.started", "applied"), 1.0);
        assert_eq!(events_total(&ma, "ai.run.progress", "applied"), 0.0);
        assert_eq!(events_total(&mb, "ai.run.started", "applied"), 0.0);
        assert_eq!(events_total(&mb, "ai.run.progress", "applied"), 3.0);
        assert_eq!(requests(&ma, "/api/ingest/event", "200"), Some(1.0));
        assert_eq!(requests(&mb, "/api/ingest/event", "200"), Some(3.0));
    })
    .await;
}

fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && b[14] == b'4'
        && b.iter().enumerate().all(|(i, c)| [8, 13, 18, 23].contains(&i) || c.is_ascii_hexdigit())
}

#[tokio::test]
async fn every_response_carries_a_request_id_the_clients_when_sane() {
    bounded(async {
        let env = Env::new(Backend::Sqlite);
        let s = env.start(&[]);
        let id_of = |resp: &reqwest::Response| resp.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_owned());

        // A sane client id comes back as sent, on success and on errors.
        for (method, path) in [("GET", "/healthz"), ("GET", "/nope"), ("POST", "/healthz"), ("GET", "/api/runs?limit=0")] {
            let req = s.client.request(method.parse().unwrap(), s.url(path)).header("x-request-id", "client-id_42:a/b+c=");
            let resp = req.send().await.unwrap();
            assert_eq!(id_of(&resp).as_deref(), Some("client-id_42:a/b+c="), "{method} {path} → {}", resp.status());
        }
        let resp = s
            .client
            .post(s.url("/api/ingest/event"))
            .header("content-type", "application/cloudevents+json")
            .header("x-request-id", "ingest-1")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        assert_eq!(id_of(&resp).as_deref(), Some("ingest-1"));

        // None sent: one is generated, a different one per request.
        let first = id_of(&s.client.get(s.url("/healthz")).send().await.unwrap()).expect("generated id");
        let second = id_of(&s.client.get(s.url("/healthz")).send().await.unwrap()).expect("generated id");
        assert!(is_uuid_v4(&first), "{first}");
        assert!(is_uuid_v4(&second), "{second}");
        assert_ne!(first, second);

        // Not sane: replaced, not echoed.
        let long = "x".repeat(129);
        for bad in ["has spaces in it", "quote\"d", "", long.as_str()] {
            let resp = s.client.get(s.url("/healthz")).header("x-request-id", bad).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            let got = id_of(&resp).expect("an id");
            assert!(is_uuid_v4(&got), "{bad:?} was answered with {got:?}");
        }
        // Sent twice: ambiguous, replaced.
        let resp = s.client.get(s.url("/healthz")).header("x-request-id", "one").header("x-request-id", "two").send().await.unwrap();
        assert!(is_uuid_v4(&id_of(&resp).unwrap()));
    })
    .await;
}

/// The log without terminal colour codes (`ESC [ … m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test]
async fn traceparent_and_request_id_reach_the_log_lines_and_malformed_ones_are_ignored() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).unwrap();
        // The binary, logging this crate's debug lines (the ingest
        // handler's "ingested" line) to a file.
        let mut child = Command::new(env!("CARGO_BIN_EXE_herald-server"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .env("RUST_LOG", "herald_server=debug")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn herald-server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base = line.trim().strip_prefix("herald-server listening on ").expect("listen line").to_owned();
        let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
        let run = run_id();
        let send = |id: &str, request_id: &str, traceparent: &str| {
            client
                .post(format!("{base}/api/ingest/event"))
                .header("content-type", "application/cloudevents+json")
                .header("x-request-id", request_id)
                .header("traceparent", traceparent)
                .body(event(id, "ai.run.progress", json!({"run_id": run, "progress": 0.5}), None).to_string())
                .send()
        };
        let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let resp = send("t-1", "req-valid", valid).await.unwrap();
        assert_eq!(resp.status(), 200);
        for (i, bad) in ["garbage", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\u{0}"]
            .iter()
            .enumerate()
        {
            // reqwest refuses a NUL in a header value; send what it accepts.
            let Ok(value) = reqwest::header::HeaderValue::from_str(bad) else { continue };
            let resp = client
                .post(format!("{base}/api/ingest/event"))
                .header("content-type", "application/cloudevents+json")
                .header("x-request-id", format!("req-bad-{i}"))
                .header("traceparent", value)
                .body(event(&format!("t-bad-{i}"), "ai.run.progress", json!({"run_id": run, "progress": 0.5}), None).to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "a malformed traceparent ({bad:?}) changes nothing for the request");
        }
        // Non-UTF-8 bytes in the header, straight on the socket.
        let raw = {
            use std::io::{Read, Write};
            let addr = base.strip_prefix("http://").unwrap();
            let mut sock = std::net::TcpStream::connect(addr).unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let body = event("t-raw", "ai.run.progress", json!({"run_id": run, "progress": 0.5}), None).to_string();
            let mut req = format!(
                "POST /api/ingest/event HTTP/1.1\r\nHost: x\r\nContent-Type: application/cloudevents+json\r\nx-request-id: req-raw\r\nConnection: close\r\nContent-Length: {}\r\ntraceparent: 00-",
                body.len()
            )
            .into_bytes();
            req.extend_from_slice(b"\xe9\xff-00f067aa0ba902b7-01\r\n\r\n");
            req.extend_from_slice(body.as_bytes());
            sock.write_all(&req).unwrap();
            let mut out = Vec::new();
            let _ = sock.read_to_end(&mut out);
            String::from_utf8_lossy(&out).into_owned()
        };
        assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");

        let _ = child.kill();
        let _ = child.wait();
        let log = strip_ansi(&std::fs::read_to_string(&log_path).unwrap());
        let line_of = |request_id: &str| -> String {
            log.lines()
                .find(|l| l.contains(&format!("request_id={request_id}")) && l.contains("ingested"))
                .unwrap_or_else(|| panic!("no `ingested` line with request_id={request_id} in the log:\n{log}"))
                .to_owned()
        };
        let line = line_of("req-valid");
        assert!(line.contains("trace_id=4bf92f3577b34da6a3ce929d0e0e4736"), "{line}");
        assert!(line.contains("parent_span_id=00f067aa0ba902b7"), "{line}");
        for id in ["req-bad-0", "req-bad-1", "req-bad-2", "req-raw"] {
            let line = line_of(id);
            assert!(!line.contains("trace_id="), "a malformed traceparent leaves no trace id: {line}");
        }
        assert!(!log.contains("panicked"), "{log}");
    })
    .await;
}
