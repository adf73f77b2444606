//! Clients that are slow, silent, too many, or send input that once
//! panicked a handler, against a real `herald-server` process (SQLite: the
//! transport is the same for every backend). Raw TCP on 127.0.0.1 where a
//! well-behaved HTTP client could not misbehave enough. Every wait is
//! bounded, so a missing timeout fails the test instead of hanging it.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Server, event, run_id};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

/// Slack over a configured timeout for the server to act and the close to
/// reach us (timers are coarse on a loaded two-core machine).
const SLACK: Duration = Duration::from_millis(1500);
const SHORT: Duration = Duration::from_millis(300);

/// A server with `args`; its data dir lives as long as the returned guard.
fn start(args: &[&str]) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), args);
    (dir, s)
}

async fn connect(s: &Server) -> TcpStream {
    let addr = s.base.strip_prefix("http://").expect("http base");
    TcpStream::connect(addr).await.expect("connect")
}

/// Read until the server closes the connection (EOF or reset), at most
/// `limit`; returns what was received and how long it took. Panics when
/// the connection is still open after `limit`.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let start = Instant::now();
    let mut got = Vec::new();
    let read_all = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    if timeout(limit, read_all).await.is_err() {
        panic!("the server kept the connection open for {limit:?}; received so far: {:?}", String::from_utf8_lossy(&got));
    }
    (String::from_utf8_lossy(&got).into_owned(), start.elapsed())
}

/// Read one response with a `content-length` body from a kept-alive
/// connection (at most 5 s).
async fn one_response(stream: &mut TcpStream) -> String {
    let read = async {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.expect("read response");
            assert!(n > 0, "connection closed mid-response: {:?}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let len = text[..end]
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap()))
                    .unwrap_or(0);
                if got.len() >= end + 4 + len {
                    return text;
                }
            }
        }
    };
    timeout(Duration::from_secs(5), read).await.expect("no response within 5s")
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n";

fn started(run: &str) -> Value {
    event(&format!("started-{run}"), "ai.run.started", json!({"run_id": run}), None)
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_timeout() {
    let (_d, s) = start(&["--header-timeout", "300ms"]);
    let mut c = connect(&s).await;
    let (got, took) = until_closed(&mut c, SHORT + SLACK).await;
    assert!(took >= SHORT - Duration::from_millis(50), "closed after {took:?}, before the timeout: {got:?}");
}

#[tokio::test]
async fn headers_that_stall_midway_are_cut_off() {
    let (_d, s) = start(&["--header-timeout", "300ms"]);
    let mut c = connect(&s).await;
    c.write_all(b"POST /api/ingest/event HTTP/1.1\r\nhost: t\r\ncontent-type: applic").await.unwrap();
    let (got, took) = until_closed(&mut c, SHORT + SLACK).await;
    assert!(took >= SHORT - Duration::from_millis(50), "closed after {took:?}: {got:?}");
    assert!(!got.contains(" 200 ") && !got.contains(" 201 "), "{got}");
}

/// Dribbling header bytes faster than any per-read timeout does not help:
/// the whole head must arrive within the header timeout.
#[tokio::test]
async fn headers_dribbled_a_byte_at_a_time_are_cut_off() {
    let (_d, s) = start(&["--header-timeout", "300ms"]);
    let mut c = connect(&s).await;
    let start = Instant::now();
    let head = b"GET /healthz HTTP/1.1\r\nhost: t\r\nx-padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut cut = false;
    for b in head {
        if c.write_all(&[*b]).await.is_err() {
            cut = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        if start.elapsed() > SHORT + SLACK {
            break;
        }
    }
    let (got, _) = until_closed(&mut c, SLACK).await;
    assert!(cut || !got.starts_with("HTTP/1.1 200"), "a head dribbled over {:?} was served: {got}", start.elapsed());
    assert!(start.elapsed() < SHORT + 2 * SLACK);
}

#[tokio::test]
async fn a_body_that_stalls_gets_408_and_the_connection_is_closed() {
    let (_d, s) = start(&["--body-timeout", "300ms"]);
    let mut c = connect(&s).await;
    c.write_all(b"POST /api/ingest/event HTTP/1.1\r\nhost: t\r\nx-request-id: stall-1\r\ncontent-type: application/cloudevents+json\r\ncontent-length: 1000\r\n\r\n{\"specversion\":").await.unwrap();
    let (got, took) = until_closed(&mut c, SHORT + SLACK).await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(got.to_ascii_lowercase().contains("x-request-id: stall-1"), "the 408 keeps the request id: {got}");
    assert!(got.to_ascii_lowercase().contains("content-type: application/problem+json"), "{got}");
    assert!(got.contains("\"code\":\"body_timeout\""), "{got}");
    assert!(took >= SHORT - Duration::from_millis(50), "answered after {took:?}");
    // Counted as what the client got: a 408, not the 400 its handler gave.
    let metrics = scrape(&s).await;
    assert!(metrics.lines().any(|l| l == r#"herald_http_requests_total{route="/api/ingest/event",status="408"} 1"#), "{metrics}");
    assert!(!metrics.contains(r#"status="400""#), "{metrics}");
}

async fn scrape(s: &Server) -> String {
    s.client.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap()
}

/// The head and the JSON body of a raw answer; checks that it is a whole
/// problem document with a request id.
fn problem_of(raw: &str, status: u16) -> Value {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no complete head: {raw:?}"));
    assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("\r\ncontent-type: application/problem+json"), "{head}");
    let id = lower.lines().find_map(|l| l.strip_prefix("x-request-id: ")).unwrap_or_else(|| panic!("no request id: {head}"));
    assert!(!id.trim().is_empty(), "{head}");
    let doc: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"));
    assert_eq!(doc["status"], status, "{doc}");
    for field in ["type", "title", "detail"] {
        assert!(doc[field].as_str().is_some_and(|v| !v.is_empty()), "no `{field}`: {doc}");
    }
    doc
}

/// Send `request` on a fresh connection and read until the server closes it.
async fn raw_exchange(s: &Server, request: &[u8]) -> String {
    let mut c = connect(s).await;
    // The server may answer (and close) before it read everything.
    let _ = c.write_all(request).await;
    until_closed(&mut c, Duration::from_secs(5)).await.0
}

/// Requests refused before they reach a route — by hyper while it parses
/// the head (414, 431, 400) or by the framework (405, an undecodable path)
/// — are answered with problem documents like every other error, with a
/// request id, and counted in the metrics.
#[tokio::test]
async fn requests_refused_while_parsing_get_problem_documents() {
    let (_d, s) = start(&["--max-header-bytes", "32768", "--max-headers", "20"]);
    // A 70 KB path: over what HTTP parsing takes. (Over --max-header-bytes
    // too, so give the head room: the limits are separate.)
    let (_d2, roomy) = start(&[]);
    let long_path = format!("GET /{} HTTP/1.1\r\nhost: t\r\n\r\n", "a".repeat(70_000));
    let doc = problem_of(&raw_exchange(&roomy, long_path.as_bytes()).await, 414);
    assert_eq!(doc["code"], "uri_too_long", "{doc}");

    // A 40 KB header, over --max-header-bytes.
    let big = format!("GET /healthz HTTP/1.1\r\nhost: t\r\nx-big: {}\r\n\r\n", "b".repeat(40_000));
    let doc = problem_of(&raw_exchange(&s, big.as_bytes()).await, 431);
    assert_eq!(doc["code"], "headers_too_large", "{doc}");
    assert!(doc["detail"].as_str().unwrap().contains("32768"), "{doc}");
    // 30 header fields, over --max-headers.
    let many: String = (0..30).map(|i| format!("x-h{i}: v\r\n")).collect();
    let doc = problem_of(&raw_exchange(&s, format!("GET /healthz HTTP/1.1\r\nhost: t\r\n{many}\r\n").as_bytes()).await, 431);
    assert_eq!(doc["code"], "headers_too_large", "{doc}");

    // Raw bytes that are not UTF-8 (nor ASCII) in the path; a request line
    // that is not HTTP.
    let doc = problem_of(&raw_exchange(&s, b"GET /caf\xc3\x28\xff HTTP/1.1\r\nhost: t\r\n\r\n").await, 400);
    assert_eq!(doc["code"], "malformed_request", "{doc}");
    let doc = problem_of(&raw_exchange(&s, b"NOT HTTP AT ALL\r\n\r\n").await, 400);
    assert_eq!(doc["code"], "malformed_request", "{doc}");
    // Percent-encoded bytes that are not UTF-8, where a route wants text;
    // a method the route does not answer.
    let doc = problem_of(&raw_exchange(&s, b"GET /api/runs/%FF%FE HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n").await, 400);
    assert_eq!(doc["code"], "bad_request", "{doc}");
    let raw = raw_exchange(&s, b"DELETE /healthz HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n").await;
    let doc = problem_of(&raw, 405);
    assert_eq!(doc["code"], "method_not_allowed", "{doc}");
    assert!(raw.to_ascii_lowercase().contains("\r\nallow: get"), "{raw}");

    // The server is fine, and counted each refusal.
    let metrics = scrape(&s).await;
    for line in [
        r#"herald_http_requests_total{route="connection",status="431"} 2"#,
        r#"herald_http_requests_total{route="connection",status="400"} 2"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "no `{line}` in\n{metrics}");
    }
    let metrics = scrape(&roomy).await;
    let line = r#"herald_http_requests_total{route="connection",status="414"} 1"#;
    assert!(metrics.lines().any(|l| l == line), "no `{line}` in\n{metrics}");
}

/// A body that keeps trickling (a byte every 50 ms) is still bounded by
/// the total body timeout, not reset by each byte.
#[tokio::test]
async fn a_trickling_body_is_cut_off_at_the_body_timeout() {
    let (_d, s) = start(&["--body-timeout", "300ms"]);
    let mut c = connect(&s).await;
    c.write_all(
        b"POST /api/ingest/event HTTP/1.1\r\nhost: t\r\ncontent-type: application/cloudevents+json\r\ncontent-length: 1000\r\n\r\n",
    )
    .await
    .unwrap();
    let (mut rd, mut wr) = c.split();
    let trickle = async {
        for _ in 0..100 {
            if wr.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let read = async {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = rd.read(&mut buf).await {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&got).into_owned()
    };
    let got = tokio::select! {
        got = timeout(SHORT + SLACK, read) => got.expect("a trickling body held the connection past the body timeout"),
        () = trickle => panic!("the whole trickle was accepted"),
    };
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let (_d, s) = start(&["--idle-timeout", "300ms", "--header-timeout", "10s"]);
    let mut c = connect(&s).await;
    c.write_all(HEALTHZ).await.unwrap();
    let resp = one_response(&mut c).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let (got, took) = until_closed(&mut c, SHORT + SLACK).await;
    assert!(got.is_empty(), "{got}");
    assert!(took >= SHORT - Duration::from_millis(50), "closed after {took:?}");
}

/// The idle timeout is its own: a connection may idle longer than the
/// header timeout (hyper's own header timer alone would cut it at 300 ms)
/// and then be reused.
#[tokio::test]
async fn idle_time_is_not_counted_against_the_header_timeout() {
    let (_d, s) = start(&["--idle-timeout", "5s", "--header-timeout", "300ms"]);
    let mut c = connect(&s).await;
    c.write_all(HEALTHZ).await.unwrap();
    assert!(one_response(&mut c).await.starts_with("HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    c.write_all(HEALTHZ).await.unwrap();
    let again = one_response(&mut c).await;
    assert!(again.starts_with("HTTP/1.1 200"), "the kept-alive connection was not reusable: {again}");
}

#[tokio::test]
async fn normal_clients_are_served_while_slow_clients_hold_connections() {
    let (_d, s) = start(&["--header-timeout", "20s", "--body-timeout", "20s"]);
    let mut slow = Vec::new();
    for i in 0..40 {
        let mut c = connect(&s).await;
        if i % 2 == 0 {
            c.write_all(b"POST /api/ingest/event HTTP/1.1\r\nhost: t\r\n").await.unwrap();
        } else {
            c.write_all(b"POST /api/ingest/event HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{")
                .await
                .unwrap();
        }
        slow.push(c);
    }
    let run = run_id();
    let (status, body) = timeout(Duration::from_secs(5), s.send(&started(&run))).await.expect("a normal client waited behind slow ones");
    assert_eq!(status, 200, "{body}");
    let (status, _) = timeout(Duration::from_secs(5), s.get(&format!("/api/runs/{run}"))).await.expect("query");
    assert_eq!(status, 200);
    // The slow clients are still connected: they were not simply dropped.
    let mut buf = [0u8; 1];
    for c in &mut slow {
        assert!(timeout(Duration::from_millis(10), c.read(&mut buf)).await.is_err(), "a slow client was cut early");
    }
}

#[tokio::test]
async fn connections_over_the_cap_get_503_at_once_and_the_cap_frees_up() {
    let (_d, s) = start(&["--max-connections", "3", "--header-timeout", "20s"]);
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut c = connect(&s).await;
        c.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        held.push(c);
    }
    // Let the server accept all three before the fourth arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut over = connect(&s).await;
    let _ = over.write_all(HEALTHZ).await;
    let (got, took) = until_closed(&mut over, Duration::from_secs(3)).await;
    assert!(got.starts_with("HTTP/1.1 503"), "{got}");
    assert!(got.to_ascii_lowercase().contains("retry-after: 1"), "{got}");
    assert!(got.contains("\"code\":\"too_many_connections\""), "{got}");
    assert!(took < Duration::from_secs(2), "the over-cap connection waited {took:?}");
    problem_of(&got, 503);

    // One held connection goes away: its slot serves a new client.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut c = connect(&s).await;
        let _ = c.write_all(HEALTHZ).await;
        let (got, _) = until_closed_or_response(&mut c).await;
        if got.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "a freed slot was never reused: {got}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The refusal is counted (the retries above may have been refused too).
    // The server sees the dropped connections close a moment later: until
    // then the scrape itself may be refused over the cap, so it retries.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    let metrics = loop {
        let answer = s.client.get(s.url("/metrics")).send().await.unwrap();
        if answer.status() != 503 {
            break answer.text().await.unwrap();
        }
        assert!(Instant::now() < deadline, "the cap never freed up for a scrape");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let refused = metrics
        .lines()
        .find_map(|l| l.strip_prefix(r#"herald_http_requests_total{route="connection",status="503"} "#))
        .unwrap_or_else(|| panic!("the 503 was not counted:\n{metrics}"));
    assert!(refused.parse::<f64>().unwrap() >= 1.0, "{metrics}");
}

/// The first response on a connection (or what came before it closed).
async fn until_closed_or_response(c: &mut TcpStream) -> (String, ()) {
    let mut buf = [0u8; 4096];
    match timeout(Duration::from_secs(3), c.read(&mut buf)).await {
        Ok(Ok(n)) => (String::from_utf8_lossy(&buf[..n]).into_owned(), ()),
        Ok(Err(e)) => (e.to_string(), ()),
        Err(_) => ("no answer within 3s".to_owned(), ()),
    }
}

fn metric(run: &str, id: &str, tags: Value) -> Value {
    event(id, "ai.run.metric", json!({"run_id": run, "metric_name": "m", "value": 1.0, "tags": tags}), None)
}

/// `tags` is a map of strings; a number under a key holding the display
/// path's separators used to panic the handler (`x[`) or give a wrong
/// pointer (`a.b`). Now: 422 with the exact RFC 6901 pointer, and the
/// server keeps serving.
#[tokio::test]
async fn a_bad_value_under_an_odd_map_key_gets_its_exact_pointer() {
    let (_d, s) = start(&[]);
    let run = run_id();
    for (i, (key, pointer)) in
        [("x[", "/data/tags/x["), ("a.b", "/data/tags/a.b"), ("a/b", "/data/tags/a~1b"), ("~]", "/data/tags/~0]")].into_iter().enumerate()
    {
        let (status, body) = s.send(&metric(&run, &format!("m-{i}"), json!({ key: 5 }))).await;
        assert_eq!(status, 422, "{key}: {body}");
        assert_eq!(body["code"], "shape", "{key}: {body}");
        assert_eq!(body["errors"][0]["pointer"], pointer, "{key}: {body}");
    }
    let (status, body) = s.send(&metric(&run, "m-ok", json!({"x[": "fine"}))).await;
    assert_eq!(status, 200, "{body}");
}

/// Every answer in `raw`, in order: each a head and its `content-length`
/// body. Panics on a head without its blank line or a body cut short, so
/// a garbled or truncated stream fails loudly.
fn answers(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        let end = rest.find("\r\n\r\n").unwrap_or_else(|| panic!("an incomplete head after {} answers: {rest:?}", out.len()));
        let len = rest[..end]
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap()))
            .unwrap_or_else(|| panic!("an answer without content-length: {rest:?}"));
        assert!(rest.len() >= end + 4 + len, "a body cut short: {rest:?}");
        out.push(rest[..end + 4 + len].to_owned());
        rest = &rest[end + 4 + len..];
    }
    out
}

/// Send `request` on a fresh connection while reading nothing for `wait`
/// (so the server's answers back up), then read until the server closes
/// it. The write goes on in its own task, since the server may answer
/// before it has read everything.
async fn slow_reader_exchange(s: &Server, request: &[u8], wait: Duration) -> String {
    let (mut rd, mut wr) = connect(s).await.into_split();
    let request = request.to_vec();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&request).await;
        wr
    });
    tokio::time::sleep(wait).await;
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    let read = async {
        loop {
            match rd.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => panic!("the connection was reset ({e}) after {} bytes: {:.300}", got.len(), String::from_utf8_lossy(&got)),
            }
        }
    };
    timeout(Duration::from_secs(5), read).await.expect("the server kept the connection open for 5s");
    writer.abort();
    String::from_utf8_lossy(&got).into_owned()
}

/// A good request followed, on the same kept-alive connection and in the
/// same write (pipelined), by a head hyper refuses while parsing: the
/// client gets the good answer whole, then the problem document, then the
/// close. Also when the bad head follows a few good ones, and when the
/// good answer is large (written in several pieces).
#[tokio::test]
async fn a_refused_head_pipelined_after_good_requests_gets_its_problem_document() {
    let (_d, s) = start(&["--max-header-bytes", "8192", "--max-headers", "20"]);
    let big = format!("GET /healthz HTTP/1.1\r\nhost: t\r\nx-big: {}\r\n\r\n", "b".repeat(10_000));
    let many: String = (0..30).map(|i| format!("x-h{i}: v\r\n")).collect();
    let many = format!("GET /healthz HTTP/1.1\r\nhost: t\r\n{many}\r\n");
    // Over hyper's read buffer too: hyper answers before it has read it
    // all, and the client is still sending as the connection closes.
    let huge = format!("GET /healthz HTTP/1.1\r\nhost: t\r\nx-big: {}\r\n\r\n", "b".repeat(2_000_000));
    let cases: [(&str, &[u8], u16, &str); 4] = [
        ("a head over --max-header-bytes", big.as_bytes(), 431, "headers_too_large"),
        ("a 2 MB head", huge.as_bytes(), 431, "headers_too_large"),
        ("too many header fields", many.as_bytes(), 431, "headers_too_large"),
        ("a malformed request line", b"NOT HTTP AT ALL\r\n\r\n", 400, "malformed_request"),
    ];
    for (what, bad, status, code) in cases {
        for good in [HEALTHZ, b"GET /openapi.json HTTP/1.1\r\nhost: t\r\n\r\n"] {
            for (before, wait) in [(1, Duration::ZERO), (3, Duration::ZERO), (20, Duration::from_millis(300))] {
                let mut request = good.repeat(before);
                request.extend_from_slice(bad);
                let raw = slow_reader_exchange(&s, &request, wait).await;
                let got = answers(&raw);
                assert_eq!(got.len(), before + 1, "{what}, after {before}: {} answers in {raw:.2000}", got.len());
                for ok in &got[..before] {
                    assert!(ok.starts_with("HTTP/1.1 200 "), "{what}: {ok:.500}");
                }
                let doc = problem_of(&got[before], status);
                assert_eq!(doc["code"], code, "{what}: {doc}");
            }
        }
    }
    // The server is fine afterwards.
    let (status, _) = s.get("/healthz").await;
    assert_eq!(status, 200);
}

/// POST `body` as one structured event, chunked (no length), on a fresh
/// connection; what came back before the server closed it.
async fn chunked_exchange(s: &Server, body: &str) -> String {
    let mut c = connect(s).await;
    let head = "POST /api/ingest/event HTTP/1.1\r\nhost: t\r\ncontent-type: application/cloudevents+json\r\n\
                transfer-encoding: chunked\r\nconnection: close\r\n\r\n";
    let mut request = head.as_bytes().to_vec();
    for chunk in body.as_bytes().chunks(64 * 1024) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let (mut rd, mut wr) = c.split();
    // The server may answer (413) before it has read everything.
    let (_, got) = tokio::join!(wr.write_all(&request), async {
        let mut got = Vec::new();
        let _ = timeout(Duration::from_secs(20), rd.read_to_end(&mut got)).await;
        String::from_utf8_lossy(&got).into_owned()
    });
    got
}

/// `--body-limit` above 8 MiB is honoured, with a `Content-Length` and
/// chunked: a 10 MB event is read whole (it once got a wrong 413 with a
/// length, and was cut short into a 400 when chunked), and one over the
/// limit still gets 413.
#[tokio::test]
async fn a_body_limit_above_8_mib_is_honoured_with_and_without_a_length() {
    let limit = 12 * 1024 * 1024;
    let (_d, s) = start(&["--body-limit", &limit.to_string()]);
    let run = run_id();
    let big = |id: &str, len: usize| {
        let mut e = event(id, "ai.run.error", json!({"run_id": run, "error_type": "x", "error_message": "m"}), None);
        e["data"]["traceback"] = json!("x".repeat(len));
        e.to_string()
    };
    let (status, body) = s.post("application/cloudevents+json", big("big-length", 10_000_000)).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("applied")), "{body:.300}");

    // Chunked, raw: nothing sets a length.
    let got = chunked_exchange(&s, &big("big-chunked", 10_000_000)).await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got:.500}");
    assert!(got.contains("\"status\":\"applied\""), "{got:.500}");
    let got = chunked_exchange(&s, &big("too-big-chunked", limit + 1000)).await;
    assert!(got.starts_with("HTTP/1.1 413"), "{got:.500}");
    let (status, body) = s.post("application/cloudevents+json", big("too-big-length", limit + 1000)).await;
    assert_eq!((status, body["code"].as_str()), (413, Some("body_too_large")), "{body:.300}");
}

/// The server raises its open-file soft limit to the hard limit at start
/// (each connection is a file descriptor; the common soft limit of 1024
/// would refuse connections long before `--max-connections`). Started
/// with a soft limit of 256 under a hard one of 4096, it runs with 4096.
#[test]
fn the_open_file_soft_limit_is_raised_to_the_hard_limit() {
    if std::process::Command::new("prlimit").arg("--version").output().is_err() {
        panic!("`prlimit` (util-linux) is needed to start the server with a low open-file limit");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("prlimit")
        .args(["--nofile=256:4096", "--"])
        .arg(env!("CARGO_BIN_EXE_herald-server"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn herald-server under prlimit");
    // It has raised the limit once it prints where it listens.
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    assert!(line.starts_with("herald-server listening on "), "{line}");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let open_files = limits.lines().find(|l| l.starts_with("Max open files")).unwrap_or_else(|| panic!("{limits}"));
    let fields: Vec<&str> = open_files.split_whitespace().collect();
    assert_eq!(fields[3..5], ["4096", "4096"], "soft and hard limit: {open_files}");
}
