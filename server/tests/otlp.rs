//! `--otlp-endpoint`: request spans reach an OpenTelemetry collector over
//! OTLP/HTTP (protobuf) as children of the caller's `traceparent`, and a
//! collector that is down or hangs costs requests nothing. The collector
//! is an axum route in this process decoding `ExportTraceServiceRequest`;
//! the server is the real binary (logging at `warn`, which must not stop
//! spans from being exported). Every wait is bounded.

mod support;

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use support::Server;
use tokio::sync::mpsc;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

/// A collector on 127.0.0.1: its base URL, and the spans it receives.
async fn collector() -> (String, mpsc::UnboundedReceiver<Span>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new()
        .route(
            "/v1/traces",
            post(|State(tx): State<mpsc::UnboundedSender<Span>>, body: Bytes| async move {
                let request = ExportTraceServiceRequest::decode(body).expect("an OTLP/HTTP protobuf export request");
                for span in request.resource_spans.into_iter().flat_map(|r| r.scope_spans).flat_map(|s| s.spans) {
                    let _ = tx.send(span);
                }
                ([("content-type", "application/x-protobuf")], Vec::<u8>::new())
            }),
        )
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), rx)
}

fn start(endpoint: &str) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--otlp-endpoint", endpoint]);
    (dir, s)
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    span.attributes.iter().find(|kv| kv.key == key).and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
        Value::StringValue(s) => Some(s.as_str()),
        _ => None,
    })
}

#[tokio::test]
async fn a_request_span_is_exported_as_a_child_of_the_callers_span() {
    let (endpoint, mut spans) = collector().await;
    let (_d, s) = start(&endpoint);
    let resp = s
        .client
        .get(s.url("/api/event-types"))
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01"))
        .header("x-request-id", "otlp-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // A request without a traceparent starts a trace of its own.
    assert_eq!(s.client.get(s.url("/healthz")).header("x-request-id", "otlp-2").send().await.unwrap().status(), 200);

    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut child, mut root) = (None, None);
    while child.is_none() || root.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let span = tokio::time::timeout(left, spans.recv()).await.expect("the request spans never reached the collector").unwrap();
        match attribute(&span, "request_id") {
            Some("otlp-1") => child = Some(span),
            Some("otlp-2") => root = Some(span),
            _ => {}
        }
    }
    let child = child.unwrap();
    assert_eq!(child.name, "request");
    assert_eq!(hex(&child.trace_id), TRACE_ID, "the caller's trace");
    assert_eq!(hex(&child.parent_span_id), PARENT_ID, "the caller's span is the parent");
    assert_ne!(hex(&child.span_id), PARENT_ID, "a span of its own");
    assert_eq!(attribute(&child, "path"), Some("/api/event-types"));
    let root = root.unwrap();
    assert_ne!(hex(&root.trace_id), TRACE_ID);
    assert!(root.parent_span_id.is_empty(), "no traceparent, no parent: {:?}", hex(&root.parent_span_id));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Send `n` requests with a traceparent one after another; each must be
/// answered 200 within `each`.
async fn requests_are_unaffected(s: &Server, n: usize, each: Duration) {
    for i in 0..n {
        let started = Instant::now();
        let resp = tokio::time::timeout(
            Duration::from_secs(10),
            s.client.get(s.url("/healthz")).header("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01")).send(),
        )
        .await
        .unwrap_or_else(|_| panic!("request {i} hung"))
        .unwrap();
        assert_eq!(resp.status(), 200, "request {i}");
        let took = started.elapsed();
        assert!(took < each, "request {i} took {took:?} with the collector unreachable");
    }
}

#[tokio::test]
async fn a_collector_that_is_down_or_hangs_costs_requests_nothing() {
    // Down: nothing listens on the port.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (_d, s) = start(&format!("http://127.0.0.1:{port}"));
    let started = Instant::now();
    requests_are_unaffected(&s, 300, Duration::from_secs(1)).await;
    assert!(started.elapsed() < Duration::from_secs(20), "300 requests took {:?}", started.elapsed());

    // Hangs: accepts connections, never answers (each export waits out
    // its timeout on the exporter's thread while spans keep coming; the
    // queue is bounded, so the surplus is dropped).
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = hang.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((c, _)) = hang.accept().await {
            open.push(c);
        }
    });
    let (_d2, s2) = start(&format!("http://{addr}"));
    let started = Instant::now();
    requests_are_unaffected(&s2, 3000, Duration::from_secs(1)).await;
    assert!(started.elapsed() < Duration::from_secs(60), "3000 requests took {:?}", started.elapsed());
    // Spans it could not send do not hold up a graceful exit for long.
    let stopping = Instant::now();
    s2.terminate();
    assert!(stopping.elapsed() < Duration::from_secs(20), "exit took {:?}", stopping.elapsed());
    held.abort();
}
