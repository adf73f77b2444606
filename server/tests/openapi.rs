//! `GET /openapi.json`: the document describes the server that serves it,
//! and a property-based test (schemathesis) holds the server to it.
//!
//! The schemathesis tests need `HERALD_SCHEMATHESIS` (a schemathesis
//! executable; `scripts/toolchains.sh` installs the pinned one into
//! `.venv-schemathesis/` and sets it). They run against real servers on
//! 127.0.0.1 — one with API keys, one as started by default (no keys) —
//! for [`FUZZ_TIME`] each, and fail on any 5xx or any answer the document
//! does not allow.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use herald_server::auth::keys::hash_key;
use serde_json::Value;
use support::{Backend, Env, Server};

/// How long schemathesis generates requests against one server (its
/// `--max-time`); the two servers are fuzzed in parallel.
const FUZZ_TIME: Duration = Duration::from_secs(45);
/// Most the whole schemathesis run may take before the test gives up.
const RUN_LIMIT: Duration = Duration::from_secs(240);

const KEY: &str = "hrld_openapi_0123456789abcdef";

async fn document(s: &Server) -> Value {
    let (status, doc) = s.get("/openapi.json").await;
    assert_eq!(status, 200, "{doc}");
    doc
}

/// Every operation of the document is a route of the server (never the
/// fallback's 404 or a 405), and the document is OpenAPI 3.1 with the
/// catalog's event types and the key scheme.
#[tokio::test]
async fn the_document_describes_every_route_and_the_catalog() {
    let env = Env::new(Backend::Memory);
    let s = env.start(&[]);
    let doc = document(&s).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    for expected in [
        "/api/ingest/event",
        "/api/runs",
        "/api/runs/{run_id}",
        "/api/runs/{run_id}/events",
        "/healthz",
        "/readyz",
        "/metrics",
        "/runs",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(expected), "{expected} is not documented");
    }
    for (path, item) in paths {
        let concrete = path
            .replace("{run_id}", "r1")
            .replace("{collection}", "nodes")
            .replace("{type}", "ai.run.started")
            .replace("{file}", "herald.css");
        for method in item.as_object().unwrap().keys() {
            let url = s.url(&concrete);
            let req = match method.as_str() {
                "get" if path.contains("stream") => continue, // answers forever; its route is checked below
                "get" => s.client.get(url),
                "post" => s.client.post(url).header("content-type", "application/cloudevents+json").body("{}"),
                other => panic!("{path}: method {other} is documented but not checked here"),
            };
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap();
            assert_ne!(status, 405, "{method} {path}: documented but the route answers 405");
            assert!(!body.contains("no route for"), "{method} {path}: documented but no route serves it");
        }
    }
    let mut ids: Vec<&str> =
        paths.values().flat_map(|item| item.as_object().unwrap().values()).filter_map(|op| op["operationId"].as_str()).collect();
    let all = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all, "operationIds must be unique: {ids:?}");
    let streaming = s.client.get(s.url("/api/stream")).send().await.unwrap();
    assert_eq!(streaming.headers()["content-type"], "text/event-stream");

    let schemas = &doc["components"]["schemas"];
    use herald::EventCatalog;
    for info in herald_server::events::Catalog::TYPES {
        assert!(schemas[info.type_name].is_object(), "no data schema for {}", info.type_name);
        assert!(schemas[format!("{}.event", info.type_name)].is_object(), "no event schema for {}", info.type_name);
    }
    let ingest = &doc["paths"]["/api/ingest/event"]["post"];
    assert_eq!(ingest["requestBody"]["content"]["application/cloudevents+json"]["schema"]["$ref"], "#/components/schemas/CloudEvent");
    assert_eq!(ingest["requestBody"]["required"], true);
    // This server has no keys: the document asks for none.
    assert!(ingest["security"].is_null() && ingest["responses"]["401"].is_null(), "no keys, no key asked: {ingest}");
}

/// With keys configured, the document asks for a key on every route but
/// the open ones, and is itself served without one (tools read it first).
#[tokio::test]
async fn with_keys_the_document_asks_for_one_and_needs_none() {
    let (_dir, s) = keyed_server();
    let doc = document(&s).await;
    assert_eq!(doc["components"]["securitySchemes"]["api_key"]["scheme"], "bearer");
    let ingest = &doc["paths"]["/api/ingest/event"]["post"];
    assert_eq!(ingest["security"][0]["api_key"], serde_json::json!([]), "{ingest}");
    for status in ["401", "403", "429"] {
        assert!(ingest["responses"][status].is_object(), "ingest may answer {status}: {ingest}");
    }
    for open in ["/healthz", "/readyz", "/openapi.json"] {
        assert!(doc["paths"][open]["get"]["security"].is_null(), "{open} is open");
    }
    let (status, _) = s.get("/api/runs").await;
    assert_eq!(status, 401);
}

/// A server on SQLite whose keys file holds [`KEY`], allowed to read and
/// to ingest anything.
fn keyed_server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.toml");
    let toml = format!(
        "[[key]]\nname = \"openapi\"\nhash = \"{}\"\nread = true\n[key.ingest]\nsources = [\"*\"]\ntypes = [\"*\"]\n",
        hash_key(KEY)
    );
    std::fs::write(&keys, toml).unwrap();
    let s = Server::start(&dir.path().join("data"), &["--keys-file", keys.to_str().unwrap()]);
    (dir, s)
}

fn schemathesis() -> PathBuf {
    match std::env::var_os("HERALD_SCHEMATHESIS") {
        Some(v) if Path::new(&v).exists() => PathBuf::from(v),
        Some(v) => panic!("HERALD_SCHEMATHESIS={} does not exist; run `bash scripts/test.sh`, which installs it", v.to_string_lossy()),
        None => panic!(
            "HERALD_SCHEMATHESIS is not set: this test runs schemathesis against the server; run it through \
             `bash scripts/test.sh` (it installs the pinned version, see scripts/toolchains.sh), or \
             `. scripts/toolchains.sh && toolchains_install` before `cargo test`"
        ),
    }
}

/// Property-based, on a server with keys (the requests carry one).
#[test]
fn schemathesis_with_keys_finds_no_server_error_and_no_answer_off_the_document() {
    let (dir, s) = keyed_server();
    fuzz(&s, dir.path(), &["--header", &format!("Authorization: Bearer {KEY}")]);
}

/// Property-based, on a server as started by default (no keys, loopback).
#[test]
fn schemathesis_by_default_finds_no_server_error_and_no_answer_off_the_document() {
    let env = Env::new(Backend::Sqlite);
    let s = env.start(&[]);
    fuzz(&s, env.dir.path(), &[]);
}

/// Schemathesis generates requests from `s`'s document (examples, edge
/// cases, random valid and invalid ones, then sequences following its
/// links) for [`FUZZ_TIME`]; no answer may be a 5xx, and every answer's
/// status, content type, headers and body must be what the document says.
/// The two event streams are left out: they stay open by design.
fn fuzz(s: &Server, scratch: &Path, extra: &[&str]) {
    let tool = schemathesis();
    let work = scratch.join("schemathesis");
    std::fs::create_dir_all(&work).unwrap();
    // To a file, not a pipe: a long report must not block it while we wait.
    let log = work.join("report.txt");
    let out = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(tool)
        .current_dir(&work)
        .args(["run", &s.url("/openapi.json")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance",
        ])
        .args(["--exclude-path-regex", "stream$"])
        // Not the `coverage` phase: generating its boundary cases from the
        // event envelope schemas crashed Hypothesis itself once in CI
        // ("SystemError: AST constructor recursion depth mismatch", a
        // CPython 3.11 fault), a runtime error of the tool that says
        // nothing about the server. `fuzzing` still sends valid and
        // invalid bodies of every operation.
        .args(["--phases", "examples,fuzzing,stateful"])
        .args(extra)
        .args(["--max-time", &FUZZ_TIME.as_secs().to_string()])
        .args(["--max-examples", "50", "--request-timeout", "10", "--workers", "2"])
        .args(["--generation-database", "none", "--no-color", "--output-truncate", "false"])
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("run schemathesis");
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            panic!("schemathesis ran past {RUN_LIMIT:?} (its --max-time is {FUZZ_TIME:?})");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let report = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "schemathesis found answers off the document (or 5xx):\n{report}");
    // It really tested: the summary names the cases it generated.
    assert!(report.contains("generated"), "schemathesis ran no test case:\n{report}");
    eprintln!("{}", report.lines().rev().take(12).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n"));
}
