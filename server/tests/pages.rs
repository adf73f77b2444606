//! The web pages over HTTP: status, content type, the security headers,
//! 404s, hostile run ids, and the change stream. (What a browser makes of
//! them is `browser.rs`.)

mod support;

use std::time::Duration;

use serde_json::json;
use support::{Server, event, run_id};

async fn get(server: &Server, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let resp = server.client.get(server.url(path)).send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.expect("body"))
}

fn assert_html_page(path: &str, headers: &reqwest::header::HeaderMap) {
    assert_eq!(headers["content-type"], "text/html; charset=utf-8", "{path}");
    let csp = headers["content-security-policy"].to_str().unwrap();
    for rule in ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"] {
        assert!(csp.contains(rule), "{path}: CSP lacks {rule}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn every_page_is_html_with_a_restrictive_csp() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let run = run_id();
    server.send(&event("p1", "ai.run.started", json!({"run_id": run}), Some(1))).await;
    for path in ["/", "/catalog", "/catalog/ai.run.progress", "/runs", "/runs?status=running", &format!("/runs/{run}")] {
        let (status, headers, body) = get(&server, path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_html_page(path, &headers);
        assert!(body.starts_with("<!DOCTYPE html>"), "{path}");
    }
    let (_, _, root) = get(&server, "/").await;
    assert!(root.contains("href=\"/catalog\"") && root.contains("href=\"/runs\""));
    let (_, _, catalog) = get(&server, "/catalog").await;
    assert!(catalog.contains("href=\"/catalog/ai.myfeature.started\"") && catalog.contains("<svg"));
    let (_, _, page) = get(&server, "/catalog/ai.run.progress").await;
    assert!(page.contains("0 ≤ progress ≤ 1"), "{page}");
    let (_, _, runs) = get(&server, "/runs").await;
    assert!(runs.contains(&format!("href=\"/runs/{run}\"")));
    let (_, _, one) = get(&server, &format!("/runs/{run}")).await;
    assert!(one.contains("class=\"node current\" data-status=\"running\""), "the diagram marks the run's status");
}

#[tokio::test]
async fn assets_are_served_with_their_types() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    for (path, ct) in [("/assets/herald.css", "text/css"), ("/assets/live.js", "text/javascript"), ("/assets/filter.js", "text/javascript")]
    {
        let (status, headers, body) = get(&server, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(headers["content-type"].to_str().unwrap().starts_with(ct), "{path}");
        assert!(!body.is_empty());
    }
    let (status, headers, _) = get(&server, "/assets/..%2FCargo.toml").await;
    assert_eq!(status, 404);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
}

#[tokio::test]
async fn a_trailing_slash_leads_to_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (path, to) in [("/catalog/", "/catalog"), ("/runs/", "/runs"), ("/runs/?status=running", "/runs?status=running")] {
        let resp = client.get(server.url(path)).send().await.expect("request");
        assert_eq!(resp.status().as_u16(), 308, "{path}");
        assert_eq!(resp.headers()["location"], to, "{path}");
    }
    // Followed, it is the page itself.
    let (status, headers, body) = get(&server, "/catalog/").await;
    assert_eq!(status, 200, "{body}");
    assert_html_page("/catalog/", &headers);
}

#[tokio::test]
async fn unknown_types_runs_and_statuses_are_html_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    for (path, want) in
        [("/catalog/ai.no.such", 404), ("/catalog/..%2F..%2Fetc%2Fpasswd", 404), ("/runs/no-such-run", 404), ("/runs?status=sleeping", 400)]
    {
        let (status, headers, body) = get(&server, path).await;
        assert_eq!(status, want, "{path}: {body}");
        assert_html_page(path, &headers);
    }
}

#[tokio::test]
async fn hostile_run_ids_are_escaped_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    // The run id is in the path: escaped in the page, percent-encoded in links.
    let hostile = "<script>alert(1)</script>\"'&";
    let encoded = "%3Cscript%3Ealert(1)%3C%2Fscript%3E%22'%26";
    let (status, headers, body) = get(&server, &format!("/runs/{encoded}")).await;
    assert_eq!(status, 404);
    assert_html_page("/runs/<script>", &headers);
    assert!(!body.contains(hostile) && !body.contains("<script>alert"), "{body}");
    assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;"), "{body}");
    // Event data is hostile too: a feature name with markup.
    let run = run_id();
    let name = "<img src=x onerror=alert(1)><script>alert(2)</script>";
    server.send(&event("h1", "ai.myfeature.started", json!({"run_id": run, "feature_name": name}), None)).await;
    for path in [format!("/runs/{run}"), "/runs".to_owned()] {
        let (status, _, body) = get(&server, &path).await;
        assert_eq!(status, 200);
        assert!(!body.contains("<img src=x") && !body.contains("<script>alert"), "{path}: {body}");
        assert!(body.contains("&lt;img src=x onerror=alert(1)&gt;"), "{path}");
    }
}

#[tokio::test]
async fn the_run_page_shows_parked_events_and_the_gap_they_wait_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--gap-timeout", "1h"]);
    let run = run_id();
    server.send(&event("g1", "ai.run.started", json!({"run_id": run}), Some(1))).await;
    let (status, _) = server.send(&support::progress(&run, "g4", 4, 0.5)).await;
    assert_eq!(status, 202);
    let (_, _, body) = get(&server, &format!("/runs/{run}")).await;
    assert!(body.contains("id=\"parked\""), "{body}");
    assert!(body.contains("seq 2–3"), "the gap is named: {body}");
    assert!(body.contains("times out at"), "{body}");
    assert!(body.contains("data-state=\"parked\""));
}

/// Read SSE events from `resp` until one named `want` arrives; its data.
async fn next_event(resp: &mut reqwest::Response, buf: &mut String, want: &str) -> serde_json::Value {
    loop {
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let name = block.lines().find_map(|l| l.strip_prefix("event:")).map(str::trim);
            let data = block.lines().find_map(|l| l.strip_prefix("data:")).map(str::trim);
            if name == Some(want) {
                return serde_json::from_str(data.unwrap_or("null")).unwrap();
            }
        }
        let chunk = resp.chunk().await.expect("stream").expect("stream ended");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn the_stream_sends_a_json_event_per_applied_change_of_its_run() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let (run, other) = (run_id(), run_id());
    let mut resp = server.client.get(server.url(&format!("/api/runs/{run}/stream"))).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut buf = String::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        next_event(&mut resp, &mut buf, "ready").await;
        server.send(&event("s0", "ai.run.started", json!({"run_id": other}), Some(1))).await;
        server.send(&event("s1", "ai.run.started", json!({"run_id": run}), Some(1))).await;
        let first = next_event(&mut resp, &mut buf, "change").await;
        assert_eq!(
            first,
            json!({"run_id": run, "type": "ai.run.started", "seq": 1, "outcome": "applied"}),
            "the other run's change is not sent"
        );
        server.send(&support::progress(&run, "s3", 3, 0.3)).await;
        let parked = next_event(&mut resp, &mut buf, "change").await;
        assert_eq!(parked["outcome"], "parked");
        server.send(&support::progress(&run, "s2", 2, 0.2)).await;
        let filled = next_event(&mut resp, &mut buf, "change").await;
        assert_eq!(filled["released"], json!([3]));
    })
    .await
    .expect("the stream answered in time");
}
