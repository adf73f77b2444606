//! Request ids and the W3C `traceparent`: every request gets a tracing
//! span carrying its id (and the caller's trace, when it sent one), so
//! every log line written while serving it names the request, and every
//! response carries `x-request-id`.
//!
//! tower-http does the work: [`SetRequestIdLayer`](tower_http::request_id::SetRequestIdLayer) keeps a client's
//! `x-request-id` or generates a UUID v4, [`TraceLayer`] opens the span,
//! [`PropagateRequestIdLayer`](tower_http::request_id::PropagateRequestIdLayer) copies the id onto the response. This module
//! adds what they leave to the application: refusing request ids that
//! would make log lines ambiguous, and reading `traceparent`.

use axum::body::Body;
use axum::extract::Request;
use axum::http::HeaderName;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::request_id::{MakeRequestUuid, RequestId};
use tower_http::trace::{DefaultOnBodyChunk, DefaultOnEos, DefaultOnRequest, DefaultOnResponse, TraceLayer};

/// The request id header, on requests and responses.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client request id kept; a longer one is replaced.
pub const MAX_REQUEST_ID: usize = 128;

/// The [`TraceLayer`] every request passes: its span from
/// `request_span` (method, path, request id, `traceparent`), and no log
/// line of its own for a 5xx.
pub type RequestTrace = TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    MakeSpan,
    DefaultOnRequest,
    DefaultOnResponse,
    DefaultOnBodyChunk,
    DefaultOnEos,
    (),
>;

/// How [`RequestTrace`] makes a request's span.
type MakeSpan = fn(&axum::http::Request<Body>) -> tracing::Span;

/// The request span layer (see [`RequestTrace`]).
pub fn trace_layer() -> RequestTrace {
    TraceLayer::new_for_http()
        .make_span_with(request_span as MakeSpan)
        // 5xx are logged where they happen, with their cause (a store
        // outage logs once per request already); the default would add an
        // ERROR line per 503 during an outage.
        .on_failure(())
}

/// A fresh request id (UUID v4, as generated for requests that bring none),
/// for answers given before a request reached the router.
pub fn new_request_id() -> axum::http::HeaderValue {
    use tower_http::request_id::MakeRequestId;
    MakeRequestUuid
        .make_request_id(&axum::http::Request::new(()))
        .map(|id| id.header_value().clone())
        .unwrap_or_else(|| axum::http::HeaderValue::from_static("-"))
}

/// Whether a client's request id is kept: 1 to [`MAX_REQUEST_ID`] bytes of
/// letters, digits and `-_.:/+=@` (UUIDs, ULIDs, hex and base64 ids all
/// fit). Anything else — spaces, quotes, control or non-ASCII bytes —
/// could forge or garble fields in text logs, so it is replaced.
pub fn is_sane_request_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID).contains(&id.len()) && id.iter().all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(b))
}

/// Remove an `x-request-id` the server will not keep (see
/// [`is_sane_request_id`]; also when sent more than once), so
/// [`SetRequestIdLayer`](tower_http::request_id::SetRequestIdLayer) generates one.
pub(super) async fn drop_insane_request_id(mut req: Request) -> Request {
    let mut sent = req.headers().get_all(&X_REQUEST_ID).iter();
    let keep = match (sent.next(), sent.next()) {
        (None, _) => return req,
        (Some(one), None) => is_sane_request_id(one.as_bytes()),
        (Some(_), Some(_)) => false,
    };
    if !keep {
        req.headers_mut().remove(&X_REQUEST_ID);
    }
    req
}

/// The span a request is served in: method, path, request id, and the
/// caller's trace and span ids from a valid `traceparent` (left empty
/// when it is absent or malformed).
fn request_span(req: &axum::http::Request<Body>) -> tracing::Span {
    let id = req.extensions().get::<RequestId>().and_then(|id| id.header_value().to_str().ok()).unwrap_or("");
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = %id,
        trace_id = tracing::field::Empty,
        parent_span_id = tracing::field::Empty,
    );
    // A span the log filter turned off records nothing: skip the parse.
    if span.is_disabled() {
        return span;
    }
    if let Some(tp) = req.headers().get("traceparent").and_then(|v| TraceParent::parse(v.as_bytes())) {
        // Display, not Debug: bare hex in the log, as a trace UI shows it.
        span.record("trace_id", tracing::field::display(tp.trace_id));
        span.record("parent_span_id", tracing::field::display(tp.parent_id));
        // For span export: the caller's span becomes this span's parent.
        crate::telemetry::set_remote_parent(&span, &tp);
    }
    span
}

/// A valid W3C Trace Context `traceparent` header
/// (`{version}-{trace-id}-{parent-id}-{flags}`, lower-case hex), borrowed
/// from the header bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent<'a> {
    /// 32 hex digits, not all zero.
    pub trace_id: &'a str,
    /// 16 hex digits, not all zero: the caller's span.
    pub parent_id: &'a str,
    /// The trace flags (bit 0: sampled).
    pub flags: u8,
}

impl<'a> TraceParent<'a> {
    /// Parse as the W3C Trace Context spec says: version `00` is exactly
    /// 55 bytes; a later version may append `-…` fields, which are
    /// ignored; version `ff`, upper-case hex, and all-zero ids are
    /// invalid. `None` for anything invalid: a bad header is ignored,
    /// never an error for the request.
    pub fn parse(header: &'a [u8]) -> Option<Self> {
        let text = std::str::from_utf8(header).ok()?.trim_matches(|c| c == ' ' || c == '\t');
        let b = text.as_bytes();
        if b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return None;
        }
        // Checked on bytes before any slicing: once the first 55 bytes are
        // ASCII, every slice below falls on a character boundary.
        let hex = |r: std::ops::Range<usize>| b[r].iter().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c));
        if !(hex(0..2) && hex(3..35) && hex(36..52) && hex(53..55)) {
            return None;
        }
        let (version, trace_id, parent_id, flags) = (&text[0..2], &text[3..35], &text[36..52], &text[53..55]);
        // Version ff is forbidden; 00 has nothing after the flags; later
        // versions may, after a dash.
        if version == "ff" || (version == "00" && b.len() != 55) || (b.len() > 55 && b[55] != b'-') {
            return None;
        }
        let zero = |s: &str| s.bytes().all(|c| c == b'0');
        if zero(trace_id) || zero(parent_id) {
            return None;
        }
        Some(TraceParent { trace_id, parent_id, flags: u8::from_str_radix(flags, 16).ok()? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_gives_its_ids() {
        let tp = TraceParent::parse(VALID.as_bytes()).unwrap();
        assert_eq!(tp.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(tp.parent_id, "00f067aa0ba902b7");
        assert_eq!(tp.flags, 1);
        // A later version may carry more fields.
        let future = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra";
        assert_eq!(TraceParent::parse(future.as_bytes()).unwrap().flags, 0);
    }

    #[test]
    fn malformed_traceparents_are_ignored() {
        let bad: &[&[u8]] = &[
            b"",
            b"00",
            b"garbage",
            b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // upper case
            b"00-00000000000000000000000000000000-00f067aa0ba902b7-01", // zero trace id
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // zero parent id
            b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // forbidden version
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", // 00 with extra
            b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", // no dash before extra
            b"00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            b"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            b"00-\xc3\xa9bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01", // multi-byte char across a field edge
            b"\xff\xfe",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\u{e9}".as_bytes(), // non-ASCII where extra fields start
        ];
        for b in bad {
            assert_eq!(TraceParent::parse(b), None, "{:?}", String::from_utf8_lossy(b));
        }
    }

    #[test]
    fn request_ids_are_kept_only_when_sane() {
        assert!(is_sane_request_id(b"3f2c1a9e-7b6d-4c5e-8f9a-0b1c2d3e4f50"));
        assert!(is_sane_request_id(b"01HZX3J8Q9ZP7W2M4N6R8T0V2X"));
        assert!(is_sane_request_id(b"req:abc/def+ghi=="));
        assert!(!is_sane_request_id(b""));
        assert!(!is_sane_request_id(b"has space"));
        assert!(!is_sane_request_id(b"quote\"d"));
        assert!(!is_sane_request_id("caf\u{e9}".as_bytes()));
        assert!(!is_sane_request_id(&[b'a'; MAX_REQUEST_ID + 1]));
        assert!(is_sane_request_id(&[b'a'; MAX_REQUEST_ID]));
    }
}
