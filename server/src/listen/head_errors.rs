//! Problem documents for requests hyper refuses before they reach a route.
//!
//! hyper answers some requests itself, while parsing their head, and never
//! calls our service for them: a malformed request line or header (400), a
//! request target over 65534 bytes (414, the `http` crate's fixed limit),
//! and a head over `--max-header-bytes` or with more than `--max-headers`
//! fields (431). It writes a bare head with an empty body (it has no hook
//! for a body), so a client that parses problem documents gets nothing to
//! parse.
//!
//! `ProblemHeads` sits between hyper and the connection and recognises
//! those answers as hyper writes them: no request is being served on the
//! connection (every request our service answers is marked busy until its
//! response is handed over), the bytes start a response head with an error
//! status, and the head holds nothing but the `content-length: 0`, `date`
//! and `connection` fields hyper puts there (every answer of ours carries
//! `x-request-id` and a content type, so none of ours can look like that).
//! The head is swapped for a complete problem document of the same
//! status, with a fresh request id, and counted in the metrics under the
//! route [`CONNECTION_ROUTE`]. hyper closes the connection after such an
//! answer; the replacement says `connection: close` too, and the close
//! lingers: what the client still sends is read and dropped for up to
//! `LINGER` (one second), since closing a socket with unread input sends a reset,
//! which can make the client lose the answer before reading it (a head
//! over the limit is exactly a request not read to its end). The linger
//! reads however much arrives in that time: a cap on bytes would bring the
//! reset back for a head longer than the cap, and the reset destroys not
//! only the problem document but every earlier answer on the connection
//! still in the send buffer (requests pipelined before the refused head).
//! Reading costs less than sending, and the time bounds it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use std::future::Future;
use std::time::Duration;

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::ConnState;
use crate::http::make_problem;
use crate::metrics::{CONNECTION_ROUTE, Metrics};

/// How long the close after a replaced answer keeps reading what the client
/// still sends, at most.
const LINGER: Duration = Duration::from_secs(1);

/// The limits hyper enforces on request heads, for the problem's detail.
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    /// `--max-header-bytes`.
    pub max_header_bytes: usize,
    /// `--max-headers`.
    pub max_headers: usize,
}

/// An I/O stream that replaces hyper's bodiless error answers with problem
/// documents (see the module docs). Reads pass straight through.
pub(super) struct ProblemHeads<IO> {
    inner: IO,
    state: Arc<ConnState>,
    metrics: Arc<Metrics>,
    limits: HeadLimits,
    /// The replacement being written, and how much of it is out.
    pending: Option<(Vec<u8>, usize)>,
    /// Set once an answer was replaced: the lingering close, when started.
    linger: Option<Linger>,
    replaced: bool,
}

/// A lingering close under way.
struct Linger {
    until: Pin<Box<Sleep>>,
    shut: bool,
}

impl<IO> ProblemHeads<IO> {
    pub(super) fn new(inner: IO, state: Arc<ConnState>, metrics: Arc<Metrics>, limits: HeadLimits) -> Self {
        ProblemHeads { inner, state, metrics, limits, pending: None, linger: None, replaced: false }
    }
}

impl<IO: AsyncWrite + Unpin> ProblemHeads<IO> {
    /// Write out the rest of a replacement, if one is under way.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.pending {
            if *written == bytes.len() {
                self.pending = None;
                break;
            }
            match Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// If `buf` is one of hyper's own error heads, queue its replacement
    /// and say so.
    fn replace(&mut self, buf: &[u8]) -> bool {
        if self.state.busy.load(Ordering::SeqCst) > 0 {
            return false;
        }
        let Some(status) = hyper_error_status(buf) else { return false };
        self.metrics.request(CONNECTION_ROUTE, status.as_u16());
        tracing::debug!(status = status.as_u16(), "request head refused while parsing; answered with a problem document");
        self.pending = Some((problem_answer(status, self.limits), 0));
        self.replaced = true;
        true
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> ProblemHeads<IO> {
    /// After a replaced answer: send our FIN, then read and drop what the
    /// client still sends until it closes or [`LINGER`] passes.
    fn poll_linger(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let linger = self.linger.get_or_insert_with(|| Linger { until: Box::pin(tokio::time::sleep(LINGER)), shut: false });
        if !linger.shut {
            std::task::ready!(Pin::new(&mut self.inner).poll_shutdown(cx))?;
            linger.shut = true;
        }
        let mut scratch = [0u8; 16384];
        loop {
            // A client that never stops sending is cut at the deadline too.
            if linger.until.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ok(()));
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.inner).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// The status of `buf` when it is exactly a head hyper wrote by itself: an
/// error status line, then only `content-length: 0`, `date` and
/// `connection` fields, then the blank line, and nothing after it.
fn hyper_error_status(buf: &[u8]) -> Option<StatusCode> {
    let rest = buf.strip_prefix(b"HTTP/1.1 ").or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let head = rest.strip_suffix(b"\r\n\r\n")?;
    let status = StatusCode::from_bytes(head.get(..3)?).ok()?;
    if !(status.is_client_error() || status.is_server_error()) {
        return None;
    }
    let mut lines = head.split(|b| *b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    lines.next()?; // the status line
    let only_hyper_fields = lines.all(|line| {
        let Some(colon) = line.iter().position(|b| *b == b':') else { return false };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        (name.eq_ignore_ascii_case(b"content-length") && value == b"0")
            || name.eq_ignore_ascii_case(b"date")
            || name.eq_ignore_ascii_case(b"connection")
    });
    only_hyper_fields.then_some(status)
}

/// The complete answer replacing hyper's head for `status`.
fn problem_answer(status: StatusCode, limits: HeadLimits) -> Vec<u8> {
    let (slug, title, code, detail) = match status {
        StatusCode::URI_TOO_LONG => (
            "uri-too-long",
            "Request target too long",
            "uri_too_long",
            "the request target (path and query) is longer than the 65534 bytes HTTP parsing allows; \
             put large data in the request body instead"
                .to_owned(),
        ),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
            "headers-too-large",
            "Request headers too large",
            "headers_too_large",
            format!(
                "the request head is over {} bytes or has more than {} header fields; send fewer or smaller headers \
                 (the operator sets the limits with --max-header-bytes and --max-headers)",
                limits.max_header_bytes, limits.max_headers
            ),
        ),
        StatusCode::BAD_REQUEST => (
            "malformed-request",
            "Malformed HTTP request",
            "malformed_request",
            "the request line or a header is not valid HTTP/1.1 (a method, path or header with characters HTTP \
             does not allow, such as raw non-ASCII bytes in the path: percent-encode them); nothing was processed"
                .to_owned(),
        ),
        _ => ("bad-request", "Request refused", "bad_request", format!("the request was refused while its head was read ({status})")),
    };
    let body = serde_json::to_vec(&make_problem(status, slug, title, code, detail)).unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {}\r\n{}: {}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        status.as_str(),
        status.canonical_reason().unwrap_or(""),
        crate::http::problem::PROBLEM_JSON,
        crate::http::trace::X_REQUEST_ID,
        crate::http::trace::new_request_id().to_str().unwrap_or("-"),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

impl<IO: AsyncRead + Unpin> AsyncRead for ProblemHeads<IO> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for ProblemHeads<IO> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        if this.replace(buf) {
            // hyper's bytes are taken; the replacement goes out now or on
            // the flush hyper makes next.
            let _ = this.drain(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        // hyper queues a head as one slice of its own.
        if let Some(first) = bufs.iter().find(|b| !b.is_empty())
            && this.replace(first)
        {
            let _ = this.drain(cx)?;
            return Poll::Ready(Ok(first.len()));
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        if this.replaced {
            return this.poll_linger(cx);
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_bare_error_heads_are_recognised() {
        let hyper_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 17:00:00 GMT\r\n\r\n";
        assert_eq!(hyper_error_status(hyper_431), Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
        assert_eq!(
            hyper_error_status(b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"),
            Some(StatusCode::URI_TOO_LONG)
        );
        // Ours: a request id and a content type, or a body; or not an error.
        for ours in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\nx-request-id: a\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
            b"{\"HTTP/1.1 400\"}",
            b"",
        ] {
            assert_eq!(hyper_error_status(ours), None, "{:?}", String::from_utf8_lossy(ours));
        }
    }

    #[test]
    fn the_replacement_is_a_complete_problem_answer() {
        let limits = HeadLimits { max_header_bytes: 65536, max_headers: 100 };
        let answer = String::from_utf8(problem_answer(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, limits)).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "{head}");
        assert!(head.contains("content-type: application/problem+json") && head.contains("x-request-id: "), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
        let doc: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!((doc["status"].as_u64(), doc["code"].as_str()), (Some(431), Some("headers_too_large")));
        assert!(doc["detail"].as_str().unwrap().contains("65536"), "{doc}");
    }
}
