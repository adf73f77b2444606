//! API keys against a real `herald-server` process on 127.0.0.1 (SQLite:
//! auth sits in front of the store and is the same for every backend):
//! 401 vs 403, per-event ingest grants, reloading the keys file, rate
//! limits, malformed `Authorization` headers, the exposure check and
//! `hash-key`. Every wait is bounded.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clap::Parser;
use herald_server::auth::keys::hash_key;
use herald_server::config::Config;
use serde_json::{Value, json};
use support::{Server, event, run_id};

const READER: &str = "hrld_reader_0123456789abcdef";
const WORKER: &str = "hrld_worker_0123456789abcdef";
const ADMIN: &str = "hrld_admin_0123456789abcdef";
const ROTATED: &str = "hrld_rotated_0123456789abcdef";

/// A keys file: `reader` (read only), `worker` (ingest of `ai.myfeature.*`
/// from `/tests/*`, no read), `admin` (read, and ingest of anything).
fn keys_toml() -> String {
    format!(
        r#"
[[key]]
name = "reader"
hash = "{}"
read = true

[[key]]
name = "worker"
hash = "{}"
[key.ingest]
sources = ["/tests/*"]
types = ["ai.myfeature.*"]

[[key]]
name = "admin"
hash = "{}"
read = true
[key.ingest]
sources = ["*"]
types = ["*"]
"#,
        hash_key(READER),
        hash_key(WORKER),
        hash_key(ADMIN)
    )
}

/// A server whose keys file holds `keys`; the file is `dir/keys.toml`.
fn start(keys: &str, extra: &[&str]) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.toml");
    std::fs::write(&file, keys).unwrap();
    let data = dir.path().join("data");
    let mut args = vec!["--keys-file", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let s = Server::start(&data, &args);
    (dir, s)
}

/// Status, headers and JSON body of `req`.
async fn send(req: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let resp = tokio::time::timeout(Duration::from_secs(10), req.send()).await.expect("answer within 10s").expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    (status, headers, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn get(s: &Server, path: &str, key: Option<&str>) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = s.client.get(s.url(path));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    send(req).await
}

async fn ingest(s: &Server, content_type: &str, body: String, key: Option<&str>) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = s.client.post(s.url("/api/ingest/event")).header("content-type", content_type).body(body);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    send(req).await
}

async fn post_event(s: &Server, e: &Value, key: Option<&str>) -> (u16, Value) {
    let (status, _, body) = ingest(s, "application/cloudevents+json", e.to_string(), key).await;
    (status, body)
}

fn started(id: &str, run: &str) -> Value {
    event(id, "ai.myfeature.started", json!({"run_id": run, "feature_name": "f"}), None)
}

fn metric(id: &str, run: &str) -> Value {
    event(id, "ai.run.metric", json!({"run_id": run, "metric_name": "m", "value": 1.0}), None)
}

/// The ids of the events stored for `run`, read with the admin key.
async fn stored_ids(s: &Server, run: &str) -> Vec<String> {
    let (status, _, body) = get(s, &format!("/api/runs/{run}/events"), Some(ADMIN)).await;
    if status == 404 {
        return Vec::new();
    }
    assert_eq!(status, 200, "{body}");
    let events = body["events"].as_array().unwrap_or_else(|| panic!("no `events` list: {body}"));
    events.iter().map(|e| e["event"]["id"].as_str().unwrap_or_else(|| panic!("no event id: {e}")).to_owned()).collect()
}

fn assert_problem(status: u16, headers: &reqwest::header::HeaderMap, body: &Value, want: u16) {
    assert_eq!(status, want, "{body}");
    assert_eq!(headers["content-type"], "application/problem+json", "{body}");
    assert_eq!(body["status"], want, "{body}");
    if want == 401 {
        let challenges = challenges(headers);
        assert!(challenges.iter().any(|c| c == "Bearer realm=\"herald\""), "a 401 carries the Bearer challenge: {challenges:?}");
    }
}

/// Every `WWW-Authenticate` value of an answer.
fn challenges(headers: &reqwest::header::HeaderMap) -> Vec<String> {
    headers.get_all("www-authenticate").iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

/// Browsers send HTTP Basic credentials by themselves once asked: the
/// routes a browser opens (pages, their assets, the event streams they
/// follow) ask with a Basic challenge, API routes only with Bearer, and
/// every route takes the key as the Basic password, whatever the user.
#[tokio::test]
async fn browsers_are_asked_for_the_key_with_basic_auth() {
    let (_d, s) = start(&keys_toml(), &[]);
    let basic = "Basic realm=\"herald\", charset=\"UTF-8\"";
    for path in
        ["/", "/runs", "/runs/r1", "/catalog", "/catalog/ai.run.started", "/assets/herald.css", "/api/stream", "/api/runs/r1/stream"]
    {
        let (status, headers, body) = get(&s, path, None).await;
        assert_problem(status, &headers, &body, 401);
        assert!(challenges(&headers).iter().any(|c| c == basic), "{path}: {:?}", challenges(&headers));
    }
    for path in ["/api/runs", "/api/event-types", "/metrics", "/api/ingest/event"] {
        let (status, headers, body) = get(&s, path, None).await;
        assert_problem(status, &headers, &body, 401);
        assert_eq!(challenges(&headers), vec!["Bearer realm=\"herald\"".to_owned()], "{path}");
    }
    // The key as the password, with any user name (none included).
    for user in ["", "me", "anyone at all"] {
        let resp = s.client.get(s.url("/runs")).basic_auth(user, Some(READER)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "user {user:?}");
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    }
    let (status, _, body) = send(s.client.get(s.url("/api/runs")).basic_auth("x", Some(READER))).await;
    assert_eq!(status, 200, "{body}");
    // The same key check as for bearer keys: unknown keys, keys without
    // `read`, and the key in the user name instead of the password fail.
    let (status, headers, body) = send(s.client.get(s.url("/runs")).basic_auth("x", Some("hrld_not_a_key"))).await;
    assert_problem(status, &headers, &body, 401);
    let (status, headers, body) = send(s.client.get(s.url("/runs")).basic_auth(READER, None::<&str>)).await;
    assert_problem(status, &headers, &body, 401);
    let (status, headers, body) = send(s.client.get(s.url("/runs")).basic_auth("x", Some(WORKER))).await;
    assert_problem(status, &headers, &body, 403);
    // Ingest with Basic credentials works as with a bearer key.
    let run = run_id();
    let req = s
        .client
        .post(s.url("/api/ingest/event"))
        .header("content-type", "application/cloudevents+json")
        .basic_auth("worker", Some(WORKER))
        .body(started("basic-1", &run).to_string());
    let (status, _, body) = send(req).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(stored_ids(&s, &run).await, vec!["basic-1"]);
}

#[tokio::test]
async fn no_key_or_a_wrong_key_is_401_and_health_checks_stay_open() {
    let (_d, s) = start(&keys_toml(), &[]);
    let run = run_id();
    for path in ["/api/runs", "/api/event-types", "/", "/runs", "/no-such-route"] {
        let (status, headers, body) = get(&s, path, None).await;
        assert_problem(status, &headers, &body, 401);
        assert!(body["detail"].as_str().unwrap().contains("Authorization"), "{body}");
        let (status, headers, body) = get(&s, path, Some("hrld_not_a_key")).await;
        assert_problem(status, &headers, &body, 401);
    }
    let (status, headers, body) = ingest(&s, "application/cloudevents+json", started("n-1", &run).to_string(), None).await;
    assert_problem(status, &headers, &body, 401);
    let (status, headers, body) = ingest(&s, "application/cloudevents+json", started("n-2", &run).to_string(), Some("wrong")).await;
    assert_problem(status, &headers, &body, 401);
    // A key's hash is not the key.
    let (status, ..) = get(&s, "/api/runs", Some(&hash_key(READER))).await;
    assert_eq!(status, 401);
    assert!(stored_ids(&s, &run).await.is_empty());
    for path in ["/healthz", "/readyz"] {
        let (status, _, body) = get(&s, path, None).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (status, _, body) = get(&s, "/api/runs", Some(READER)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn grants_decide_what_a_key_may_do() {
    let (_d, s) = start(&keys_toml(), &[]);
    let run = run_id();

    // read-only key → 403 on ingest, before the body is looked at.
    let (status, headers, body) = ingest(&s, "application/cloudevents+json", started("g-1", &run).to_string(), Some(READER)).await;
    assert_problem(status, &headers, &body, 403);
    assert!(body["detail"].as_str().unwrap().contains("`reader` may not ingest"), "{body}");

    // ingest key for ai.myfeature.* posting ai.run.metric → 403, not stored.
    let (status, headers, body) = ingest(&s, "application/cloudevents+json", metric("g-2", &run).to_string(), Some(WORKER)).await;
    assert_problem(status, &headers, &body, 403);
    assert_eq!(body["code"], "ingest_not_granted", "{body}");
    assert!(body["detail"].as_str().unwrap().contains("ai.run.metric"), "{body}");

    // Wrong source, right type → 403.
    let mut foreign = started("g-3", &run);
    foreign["source"] = json!("/elsewhere/worker");
    assert_eq!(post_event(&s, &foreign, Some(WORKER)).await.0, 403);
    assert!(stored_ids(&s, &run).await.is_empty(), "nothing refused may be stored");

    // Allowed → 200 and stored.
    let (status, body) = post_event(&s, &started("g-4", &run), Some(WORKER)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "applied", "{body}");
    assert_eq!(stored_ids(&s, &run).await, vec!["g-4".to_owned()]);

    // Binary mode goes through the same check.
    let (status, headers, body) = send(
        s.client
            .post(s.url("/api/ingest/event"))
            .bearer_auth(WORKER)
            .header("content-type", "application/json")
            .header("ce-specversion", "1.0")
            .header("ce-id", "g-5")
            .header("ce-source", "/tests/worker")
            .header("ce-type", "ai.run.metric")
            .header("ce-subject", format!("run/{run}"))
            .header("ce-time", "2024-05-01T12:00:00Z")
            .body(json!({"run_id": run, "metric_name": "m", "value": 2.0}).to_string()),
    )
    .await;
    assert_problem(status, &headers, &body, 403);

    // A batch with one element outside the grant is refused whole.
    let batch = json!([started("g-6", &run), metric("g-7", &run), started("g-8", &run)]).to_string();
    let (status, headers, body) = ingest(&s, "application/cloudevents-batch+json", batch.clone(), Some(WORKER)).await;
    assert_problem(status, &headers, &body, 403);
    assert!(body["detail"].as_str().unwrap().starts_with("event 1 "), "{body}");
    assert_eq!(stored_ids(&s, &run).await, vec!["g-4".to_owned()], "a refused batch stores nothing");
    // The same batch with a key that covers it is stored.
    let (status, _, body) = ingest(&s, "application/cloudevents-batch+json", batch, Some(ADMIN)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 3, "{body}");

    // An ingest-only key may not read.
    let (status, headers, body) = get(&s, &format!("/api/runs/{run}"), Some(WORKER)).await;
    assert_problem(status, &headers, &body, 403);
    let (status, _, body) = get(&s, &format!("/api/runs/{run}"), Some(READER)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn malformed_authorization_headers_are_401_never_a_crash() {
    let (_d, s) = start(&keys_toml(), &[]);
    let huge = format!("Bearer {}", "k".repeat(16 * 1024));
    let values: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"Bearer".to_vec(),
        b"Bearer ".to_vec(),
        b"Bearer    ".to_vec(),
        format!("Basic {READER}").into_bytes(),
        format!("Token {READER}").into_bytes(),
        format!("Bearer{READER}").into_bytes(),
        huge.into_bytes(),
        b"Bearer \xff\xfe\x80key".to_vec(),
        b"\xc3\x28 \xa0\xa1".to_vec(),
    ];
    for v in &values {
        let value = reqwest::header::HeaderValue::from_bytes(v).expect("a header value reqwest will send");
        for path in ["/api/runs", "/api/ingest/event"] {
            let req =
                s.client.post(s.url(path)).header("authorization", value.clone()).header("content-type", "application/json").body("{}");
            let req = if path == "/api/runs" { s.client.get(s.url(path)).header("authorization", value.clone()) } else { req };
            let (status, headers, body) = send(req).await;
            assert_problem(status, &headers, &body, 401);
            assert!(!body.to_string().contains("kkkkkkkk"), "the header must not be echoed");
        }
    }
    // Two Authorization headers, even both valid, are refused.
    let (status, ..) = send(
        s.client
            .get(s.url("/api/runs"))
            .header("authorization", format!("Bearer {READER}"))
            .header("authorization", format!("Bearer {READER}")),
    )
    .await;
    assert_eq!(status, 401);
    // The scheme is case-insensitive (RFC 7235); the server is still up.
    let (status, _, body) = send(s.client.get(s.url("/api/runs")).header("authorization", format!("bEaReR {READER}"))).await;
    assert_eq!(status, 200, "{body}");
}

/// Poll `check` every 50 ms for up to 10 s.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not within 10s: {what}");
}

/// The keys file with `reader` replaced by `rotated`.
fn rotated_toml() -> String {
    keys_toml().replace(&hash_key(READER), &hash_key(ROTATED))
}

#[tokio::test]
async fn rewriting_the_keys_file_switches_keys_and_a_broken_one_keeps_them() {
    let (dir, s) = start(&keys_toml(), &["--keys-poll", "100ms"]);
    let file = dir.path().join("keys.toml");
    assert_eq!(get(&s, "/api/runs", Some(READER)).await.0, 200);
    assert_eq!(get(&s, "/api/runs", Some(ROTATED)).await.0, 401);

    std::fs::write(&file, rotated_toml()).unwrap();
    eventually("the rotated key works", async || get(&s, "/api/runs", Some(ROTATED)).await.0 == 200).await;
    assert_eq!(get(&s, "/api/runs", Some(READER)).await.0, 401, "the old key is gone");

    // A broken file, and an empty one: the keys in force stay.
    for broken in ["[[key]]\nname = \"x\"\nhash = \"not a hash\"\nread = true\n", "", "this is not toml"] {
        std::fs::write(&file, broken).unwrap();
        // Several polls; nothing may change.
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(get(&s, "/api/runs", Some(ROTATED)).await.0, 200, "after writing {broken:?}");
        assert_eq!(get(&s, "/api/runs", Some(READER)).await.0, 401);
    }
    // Fixed again: picked up.
    std::fs::write(&file, keys_toml()).unwrap();
    eventually("the original key is back", async || get(&s, "/api/runs", Some(READER)).await.0 == 200).await;
}

/// A server process of our own (for its pid), reading `keys_file` with
/// polling effectively off, so only SIGHUP can reload it.
fn spawn_without_polling(data: &Path, keys_file: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald-server"))
        .args(["--listen", "127.0.0.1:0", "--keys-poll", "1h", "--data-dir"])
        .arg(data)
        .arg("--keys-file")
        .arg(keys_file)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn herald-server");
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let base = line.trim().strip_prefix("herald-server listening on ").unwrap_or_else(|| panic!("{line:?}")).to_owned();
    (child, base)
}

#[tokio::test]
async fn sighup_reloads_the_keys_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.toml");
    std::fs::write(&file, keys_toml()).unwrap();
    let (mut child, base) = spawn_without_polling(&dir.path().join("data"), &file);
    let client = reqwest::Client::new();
    let status = async |key: &str| send(client.get(format!("{base}/api/runs")).bearer_auth(key)).await.0;
    assert_eq!(status(READER).await, 200);

    std::fs::write(&file, rotated_toml()).unwrap();
    // No polling: the change is not seen on its own.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(status(ROTATED).await, 401, "reloaded without a signal (is --keys-poll ignored?)");

    let hup = Command::new("kill").args(["-HUP", &child.id().to_string()]).status().unwrap();
    assert!(hup.success());
    eventually("SIGHUP reloads", async || status(ROTATED).await == 200).await;
    assert_eq!(status(READER).await, 401);
    assert!(child.try_wait().unwrap().is_none(), "SIGHUP must not stop the server");
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn over_its_rate_a_key_gets_429_with_retry_after() {
    let keys = format!(
        r#"
[[key]]
name = "slow-reader"
hash = "{}"
read = true
rate = 0.2
burst = 3

[[key]]
name = "slow-worker"
hash = "{}"
rate = 0.2
burst = 4
[key.ingest]
sources = ["*"]
types = ["*"]

[[key]]
name = "admin"
hash = "{}"
read = true
"#,
        hash_key(READER),
        hash_key(WORKER),
        hash_key(ADMIN)
    );
    let (_d, s) = start(&keys, &[]);
    for _ in 0..3 {
        assert_eq!(get(&s, "/api/runs", Some(READER)).await.0, 200);
    }
    let (status, headers, body) = get(&s, "/api/runs", Some(READER)).await;
    assert_problem(status, &headers, &body, 429);
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=5).contains(&retry), "retry-after {retry}");
    // Other keys have their own buckets.
    assert_eq!(get(&s, "/api/runs", Some(ADMIN)).await.0, 200);

    // Ingest pays per event: a batch of 3, then one more event, fill the
    // burst of 4; the next event is refused and not stored.
    let run = run_id();
    let batch = json!([started("r-1", &run), started("r-2", &run), started("r-3", &run)]).to_string();
    let (status, _, body) = ingest(&s, "application/cloudevents-batch+json", batch, Some(WORKER)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(post_event(&s, &started("r-4", &run), Some(WORKER)).await.0, 200);
    let (status, headers, body) = ingest(&s, "application/cloudevents+json", started("r-5", &run).to_string(), Some(WORKER)).await;
    assert_problem(status, &headers, &body, 429);
    assert!(headers.contains_key("retry-after"));
    let mut ids = stored_ids(&s, &run).await;
    ids.sort();
    assert_eq!(ids, ["r-1", "r-2", "r-3", "r-4"]);
    // A batch bigger than the burst can never pass: it is told so.
    let big = json!((10..15).map(|i| started(&format!("r-{i}"), &run)).collect::<Vec<_>>()).to_string();
    let (status, headers, body) = ingest(&s, "application/cloudevents-batch+json", big, Some(WORKER)).await;
    assert_problem(status, &headers, &body, 429);
    assert!(body["detail"].as_str().unwrap().contains("smaller batches"), "{body}");
}

#[test]
fn a_non_loopback_address_without_keys_is_refused_at_start() {
    use herald_server::auth::Guard;
    let config = |args: &[&str]| Config::try_parse_from([&["herald-server"], args].concat()).unwrap();
    // The README's command: loopback, no keys, no configuration.
    assert!(matches!(Guard::from_config(&config(&[])), Ok(None)));
    for addr in ["0.0.0.0:8080", "[::]:8080", "192.0.2.10:8080"] {
        let err = Guard::from_config(&config(&["--listen", addr])).unwrap_err().to_string();
        assert!(err.contains(&format!("refusing to listen on {addr}")), "{err}");
        assert!(err.contains("--keys-file") && err.contains("--insecure-no-auth"), "{err}");
        assert!(matches!(Guard::from_config(&config(&["--listen", addr, "--insecure-no-auth"])), Ok(None)));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.toml");
    std::fs::write(&file, keys_toml()).unwrap();
    let guarded = Guard::from_config(&config(&["--listen", "0.0.0.0:8080", "--keys-file", file.to_str().unwrap()])).unwrap();
    assert_eq!(guarded.expect("keys configured").keyring().len(), 3);
    // Keys through the environment's format work the same.
    assert!(Guard::from_config(&config(&["--listen", "0.0.0.0:8080", "--keys", &keys_toml()])).unwrap().is_some());
    // A broken or empty keys file stops the start, saying why.
    std::fs::write(&file, "").unwrap();
    let err = Guard::from_config(&config(&["--keys-file", file.to_str().unwrap()])).unwrap_err().to_string();
    assert!(err.contains("no [[key]] is configured"), "{err}");
    let missing = dir.path().join("nope.toml");
    let err = Guard::from_config(&config(&["--keys-file", missing.to_str().unwrap()])).unwrap_err().to_string();
    assert!(err.contains("cannot read the keys file"), "{err}");
}

#[test]
fn the_binary_refuses_a_broken_keys_file_and_hashes_keys() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.toml");
    std::fs::write(&file, "[[key]]\nname = \"a\"\nhash = \"sk-plain-secret\"\nread = true\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_herald-server"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--keys-file")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`hash` must be `sha256:`"), "{stderr}");
    assert!(!stderr.contains("sk-plain-secret"), "a key in the wrong place must not be printed: {stderr}");

    let mut child =
        Command::new(env!("CARGO_BIN_EXE_herald-server")).arg("hash-key").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"password\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8");

    let out = Command::new(env!("CARGO_BIN_EXE_herald-server")).args(["hash-key", "--new"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let key = text.lines().find_map(|l| l.strip_prefix("key:")).unwrap().trim();
    let hash = text.lines().find_map(|l| l.strip_prefix("hash:")).unwrap().trim();
    assert!(key.len() >= 40, "{key}");
    assert_eq!(hash, hash_key(key));
}

/// The test certificates: a CA (`ca.pem`) and a leaf for 127.0.0.1 and
/// localhost signed by it (`server.pem`, `server.key`), valid until 2126.
fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls").join(name)
}

/// One HTTP/1.1 request over TLS to `base` (`https://127.0.0.1:PORT`),
/// trusting only the test CA; returns the raw response.
async fn https(base: &str, request: &str) -> String {
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
    use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto};

    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(fixture("ca.pem")).unwrap()).unwrap();
    let config = ClientConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let addr = base.strip_prefix("https://").unwrap_or_else(|| panic!("not an https address: {base}"));
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let mut tls = connector.connect(ServerName::try_from("127.0.0.1").unwrap(), tcp).await.expect("TLS handshake");
        tls.write_all(request.as_bytes()).await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        // Until the server closes (with or without close_notify).
        while let Ok(n) = tls.read(&mut buf).await {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&got).into_owned()
    };
    tokio::time::timeout(Duration::from_secs(10), exchange).await.expect("an answer over TLS within 10s")
}

#[tokio::test]
async fn tls_serves_https_with_keys() {
    let (cert, key) = (fixture("server.pem"), fixture("server.key"));
    let (_d, s) = start(&keys_toml(), &["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
    assert!(s.base.starts_with("https://"), "{}", s.base);
    let health = https(&s.base, "GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let anon = https(&s.base, "GET /api/runs HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n").await;
    assert!(anon.starts_with("HTTP/1.1 401"), "{anon}");
    let read = https(
        &s.base,
        &format!("GET /api/runs HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {READER}\r\nconnection: close\r\n\r\n"),
    )
    .await;
    assert!(read.starts_with("HTTP/1.1 200"), "{read}");
    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = tokio::time::timeout(Duration::from_secs(10), s.client.get(s.base.replace("https://", "http://") + "/healthz").send())
        .await
        .expect("plain HTTP is answered or refused within 10s");
    assert!(plain.is_err() || !plain.unwrap().status().is_success(), "plain HTTP must not be served on the TLS port");
}

#[test]
fn tls_needs_both_files_and_says_what_is_wrong() {
    let config = |args: &[&str]| Config::try_parse_from([&["herald-server"], args].concat());
    let cert = fixture("server.pem");
    let key = fixture("server.key");
    let cert = cert.to_str().unwrap();
    let key = key.to_str().unwrap();
    assert!(config(&["--tls-cert", cert]).is_err(), "--tls-cert alone");
    assert!(config(&["--tls-key", key]).is_err(), "--tls-key alone");
    assert!(herald_server::tls::acceptor(&config(&["--tls-cert", cert, "--tls-key", key]).unwrap()).unwrap().is_some());
    // Swapped files: neither parses as what it should be.
    let err = herald_server::tls::acceptor(&config(&["--tls-cert", key, "--tls-key", cert]).unwrap()).err().expect("refused").to_string();
    assert!(err.contains("--tls-cert"), "{err}");
    // A key that is not the certificate's.
    let ca = fixture("ca.pem");
    let err = herald_server::tls::acceptor(&config(&["--tls-cert", ca.to_str().unwrap(), "--tls-key", key]).unwrap())
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("usable pair"), "{err}");
}
