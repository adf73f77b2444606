//! The accept loop: HTTP/1.1 connections with timeouts, a connection cap
//! and graceful shutdown.
//!
//! `axum::serve` has no timeouts, so a client that opens connections and
//! sends nothing, or sends its headers or body a byte at a time, could hold
//! connections (and file descriptors) forever. Here every connection is
//! bounded:
//!
//! - **headers** must arrive within `--header-timeout`, counted from the
//!   connection's start or from the first byte of a later request;
//! - **bodies** must arrive within `--body-timeout` of their headers, or
//!   the request is answered 408 and the connection closed;
//! - **idle** kept-alive connections are closed after `--idle-timeout`;
//! - at most `--max-connections` are open; one more is answered 503 at once
//!   and closed (with a request id, and counted in the metrics);
//! - request heads are bounded by `--max-header-bytes` and `--max-headers`
//!   (hyper enforces them while parsing; [`head_errors`] turns its bare
//!   answers into problem documents).
//!
//! Why not hyper's own `header_read_timeout` alone: in hyper 1.x (1.12
//! here) its timer starts when a kept-alive connection goes idle and runs until the
//! next request's headers are complete, so it bounds idle time *plus*
//! header time with one number and cannot keep a connection idle longer
//! than a slow header is tolerated. `Deadlines` tracks the phases itself;
//! hyper's timer stays on, set to the sum of both, as a backstop only.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

use crate::config::Config;
use crate::http::make_problem;
use crate::metrics::{CONNECTION_ROUTE, Metrics};
use crate::throttle::Throttle;

pub mod head_errors;

use head_errors::{HeadLimits, ProblemHeads};

/// The connection bounds, from [`Config`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time allowed for a request's headers (`--header-timeout`).
    pub header_timeout: Duration,
    /// Time allowed for a request's body after its headers (`--body-timeout`).
    pub body_timeout: Duration,
    /// Time a kept-alive connection may wait for its next request (`--idle-timeout`).
    pub idle_timeout: Duration,
    /// Most connections open at once (`--max-connections`).
    pub max_connections: usize,
    /// Largest request head, request line included (`--max-header-bytes`).
    pub max_header_bytes: usize,
    /// Most header fields in one request (`--max-headers`).
    pub max_headers: usize,
}

impl Limits {
    fn head(&self) -> HeadLimits {
        HeadLimits { max_header_bytes: self.max_header_bytes, max_headers: self.max_headers }
    }
}

impl From<&Config> for Limits {
    fn from(c: &Config) -> Self {
        Limits {
            header_timeout: c.header_timeout,
            body_timeout: c.body_timeout,
            idle_timeout: c.idle_timeout,
            max_connections: c.max_connections,
            max_header_bytes: c.max_header_bytes,
            max_headers: c.max_headers,
        }
    }
}

/// hyper's own header-count limit, the `--max-headers` default.
pub const HYPER_MAX_HEADERS: usize = 100;

/// File descriptors kept free of client connections: the listener, the
/// store's files, MongoDB and Redis sockets, logs.
const RESERVED_FDS: u64 = 64;

/// Raise this process's open-file soft limit to its hard limit, log the
/// result, and warn when it is too low for `max_connections`. Returns the
/// limit now in force, if it could be read.
///
/// Each connection is a file descriptor; the common default soft limit
/// (1024) would make `accept` fail long before `--max-connections`.
pub fn raise_nofile_limit(max_connections: usize) -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            tracing::info!(limit, "open-file limit");
            let wanted = max_connections as u64 + RESERVED_FDS;
            if limit < wanted {
                tracing::warn!(
                    limit,
                    max_connections,
                    "the open-file limit is below --max-connections plus {RESERVED_FDS} for the store and logs; \
                     raise the hard limit (ulimit -Hn, LimitNOFILE=) or lower --max-connections, \
                     or new connections may fail with `too many open files`"
                );
            }
            Some(limit)
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not raise the open-file limit; keeping the current one");
            None
        }
    }
}

/// Rejections being written at once; past this, connections over the cap
/// are closed without a word, so a flood of them cannot hold descriptors.
const MAX_REJECTING: usize = 64;
/// How long a rejection may take to write and drain.
const REJECT_LINGER: Duration = Duration::from_secs(1);

/// Serve `router` on `listener` until `shutdown` completes, then stop
/// accepting and wait for in-flight requests to finish (idle connections
/// close at once).
///
/// Accept errors (a connection reset before it was accepted, or the
/// open-file limit reached) are logged and never end the loop. Answers
/// given before a request reaches `router` (over the connection cap, an
/// unreadable request head) are counted in `metrics`.
pub async fn serve(listener: TcpListener, router: Router, limits: Limits, metrics: Arc<Metrics>, shutdown: impl Future<Output = ()>) {
    serve_maybe_tls(listener, router, limits, metrics, None, shutdown).await;
}

/// [`serve`], over TLS when `tls` is given. The TLS handshake counts
/// against the header timeout (it is what the client sends before its
/// headers); a connection over the cap is closed without an answer, since
/// the plain-text 503 would mean nothing to a TLS client.
pub async fn serve_maybe_tls(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let rejecting = Arc::new(Semaphore::new(MAX_REJECTING));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        // hyper refuses a larger head itself (431) once it is complete; an
        // incomplete one is bounded by hyper's read buffer (~400 KiB).
        .max_header_size(limits.max_header_bytes)
        // Backstop only: `Deadlines` enforces the header and idle timeouts
        // separately and always first (see the module docs).
        .header_read_timeout(limits.idle_timeout.saturating_add(limits.header_timeout));
    // hyper parses with 100 header slots on the stack; any explicit count
    // (even 100) moves them to the heap for every request, so only a
    // non-default one is set.
    if limits.max_headers != HYPER_MAX_HEADERS {
        builder.max_headers(limits.max_headers);
    }
    let mut over_cap = Throttle::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    if !is_per_connection(&e) {
                        // EMFILE and friends: pause instead of spinning.
                        tracing::warn!(error = %e, "accept failed; retrying in 100ms");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    continue;
                }
            },
        };
        let Ok(slot) = open.clone().try_acquire_owned() else {
            if let Some(folded) = over_cap.pass() {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    folded,
                    "connection limit reached; answering new connections 503 (raise --max-connections if this is load, \
                     not abuse; `folded`: refusals since the last such line)"
                );
            }
            if tls.is_none() {
                reject(stream, &rejecting, limits.max_connections, &metrics);
            }
            continue;
        };
        let state = Arc::new(ConnState::default());
        if let Some(acceptor) = &tls {
            let (acceptor, builder, watcher) = (acceptor.clone(), builder.clone(), graceful.watcher());
            let service = ConnService { router: router.clone(), state: state.clone(), body_timeout: limits.body_timeout };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let raw = Deadlines::new(stream, state.clone(), limits);
                match tokio::time::timeout(limits.header_timeout, acceptor.accept(raw)).await {
                    Ok(Ok(stream)) => {
                        // Above TLS: hyper's answers are plain text here.
                        let io = TokioIo::new(ProblemHeads::new(stream, state, metrics, limits.head()));
                        if let Err(e) = watcher.watch(builder.serve_connection(io, service)).await {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                    }
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake not done within --header-timeout"),
                }
                drop(slot);
            });
            continue;
        }
        let io = Deadlines::new(stream, state.clone(), limits);
        let io = TokioIo::new(ProblemHeads::new(io, state.clone(), metrics.clone(), limits.head()));
        let service = ConnService { router: router.clone(), state, body_timeout: limits.body_timeout };
        let conn = graceful.watch(builder.serve_connection(io, service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                // Timeouts and clients going away land here: routine.
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Errors about one connection that never reached us: nothing to wait for.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset)
}

/// The bytes of the 503 given to a connection over the cap, with a request
/// id of its own (no request was read, so none was sent to keep).
fn overloaded_response(max: usize) -> Vec<u8> {
    let mut problem = make_problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "too-many-connections",
        "Too many connections",
        "too_many_connections",
        format!("the server has its maximum of {max} connections open; retry shortly on a new connection"),
    );
    problem.retry_after = Some(1);
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: {}\r\nretry-after: 1\r\n{}: {}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        crate::http::problem::PROBLEM_JSON,
        crate::http::trace::X_REQUEST_ID,
        crate::http::trace::new_request_id().to_str().unwrap_or("-"),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

/// Answer a connection over the cap (of `max`) with a 503 and close it,
/// within [`REJECT_LINGER`]; or, when too many rejections are under way,
/// close it at once.
fn reject(stream: TcpStream, rejecting: &Arc<Semaphore>, max: usize, metrics: &Metrics) {
    let Ok(permit) = rejecting.clone().try_acquire_owned() else {
        drop(stream);
        return;
    };
    metrics.request(CONNECTION_ROUTE, StatusCode::SERVICE_UNAVAILABLE.as_u16());
    let response = overloaded_response(max);
    tokio::spawn(async move {
        let _ = tokio::time::timeout(REJECT_LINGER, write_and_drain(stream, &response)).await;
        drop(permit);
    });
}

async fn write_and_drain(mut stream: TcpStream, response: &[u8]) -> io::Result<()> {
    stream.write_all(response).await?;
    stream.shutdown().await?;
    // Closing a socket with unread input sends a reset, which can make the
    // client drop our 503 unread; read what it sent until it closes (or
    // REJECT_LINGER passes).
    let mut sink = [0u8; 4096];
    while stream.read(&mut sink).await? > 0 {}
    Ok(())
}

/// What one connection's service tells its [`Deadlines`]: whether a
/// request is being handled, and when the last one finished.
#[derive(Default)]
struct ConnState {
    /// Requests whose response has not been fully handed to hyper yet.
    busy: AtomicUsize,
    /// Responses finished so far.
    done: AtomicU64,
    /// The connection task, to wake when a response finishes so the idle
    /// timer starts even if hyper would not read again by itself.
    reader: Mutex<Option<Waker>>,
}

/// Marks a connection busy from the moment a request's headers are parsed
/// until its response body has been handed over (or dropped).
struct BusyGuard(Arc<ConnState>);

impl BusyGuard {
    fn new(state: Arc<ConnState>) -> Self {
        state.busy.fetch_add(1, Ordering::SeqCst);
        BusyGuard(state)
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.done.fetch_add(1, Ordering::SeqCst);
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
        let waker = self.0.reader.lock().map(|mut w| w.take()).unwrap_or_default();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Where a connection is, as far as read timeouts go.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Receiving a request head, since this instant.
    Head(Instant),
    /// Waiting for the next request, since this instant.
    Idle(Instant),
    /// A request is being handled: its body has its own deadline, and a
    /// slow handler is not the client's fault.
    Busy,
}

/// A TCP stream whose reads fail with `TimedOut` when the client is too
/// slow for its phase: headers (`header_timeout` from the first byte, or
/// from the connection's start) or idle (`idle_timeout` since the last
/// response). hyper treats the error as the end of the connection.
struct Deadlines {
    inner: TcpStream,
    state: Arc<ConnState>,
    header_timeout: Duration,
    idle_timeout: Duration,
    phase: Phase,
    /// `state.done` when `phase` was last brought up to date.
    seen_done: u64,
    sleep: Pin<Box<Sleep>>,
    armed: Option<Instant>,
}

impl Deadlines {
    fn new(inner: TcpStream, state: Arc<ConnState>, limits: Limits) -> Self {
        let now = Instant::now();
        Deadlines {
            inner,
            state,
            header_timeout: limits.header_timeout,
            idle_timeout: limits.idle_timeout,
            // A new connection owes us a request head: a client that
            // connects and says nothing gets the header timeout, as in hyper.
            phase: Phase::Head(now),
            seen_done: 0,
            sleep: Box::pin(tokio::time::sleep_until(now + limits.header_timeout)),
            armed: None,
        }
    }

    /// Bring `phase` up to date with the service's view.
    fn refresh(&mut self) {
        if self.state.busy.load(Ordering::SeqCst) > 0 {
            self.phase = Phase::Busy;
            return;
        }
        let done = self.state.done.load(Ordering::SeqCst);
        if done != self.seen_done {
            self.seen_done = done;
            self.phase = Phase::Idle(Instant::now());
        }
    }

    /// The read would block: fail it if the phase's deadline has passed,
    /// else make sure we are woken at the deadline.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Register before looking at `busy`, so a response finishing in
        // between still wakes us (BusyGuard lowers `busy`, then wakes).
        if let Ok(mut reader) = self.state.reader.lock() {
            match reader.as_ref() {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *reader = Some(cx.waker().clone()),
            }
        }
        self.refresh();
        let (deadline, what) = match self.phase {
            Phase::Busy => return Poll::Pending,
            Phase::Head(since) => (since + self.header_timeout, "request headers did not arrive within --header-timeout"),
            Phase::Idle(since) => (since + self.idle_timeout, "connection idle for --idle-timeout"),
        };
        if self.armed != Some(deadline) {
            self.sleep.as_mut().reset(deadline);
            self.armed = Some(deadline);
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Deadlines {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.refresh();
                    if let Phase::Idle(_) = this.phase {
                        // The first byte of the next request.
                        this.phase = Phase::Head(Instant::now());
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.poll_deadline(cx),
        }
    }
}

impl AsyncWrite for Deadlines {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// One connection's service: the router, with the body deadline on each
/// request and the busy mark for [`Deadlines`].
#[derive(Clone)]
struct ConnService {
    router: Router,
    state: Arc<ConnState>,
    body_timeout: Duration,
}

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<Tracked>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let busy = BusyGuard::new(self.state.clone());
        let expired = Arc::new(AtomicBool::new(false));
        let deadline = Instant::now() + self.body_timeout;
        let mut req = req.map(|body| DeadlineBody { inner: body, deadline, sleep: None, expired: expired.clone(), failed: false });
        req.extensions_mut().insert(BodyDeadline { expired, timeout: self.body_timeout });
        let router = self.router.clone();
        Box::pin(async move {
            let resp = match router.oneshot(req).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            Ok(resp.map(|inner| Tracked { inner, _busy: busy }))
        })
    }
}

/// A request's body deadline, as a request extension: whether it passed
/// (set by the body), and the configured `--body-timeout`. Read by
/// [`answer_body_timeouts`].
#[derive(Debug, Clone)]
pub struct BodyDeadline {
    expired: Arc<AtomicBool>,
    timeout: Duration,
}

/// Middleware: a request whose body missed its deadline is answered 408,
/// whatever its handler made of the read error (400, typically): the
/// cause was the client's pace. A layer of the router, not a step after
/// it, so the 408 gets the request id and is counted as a 408 in the
/// metrics like any other answer. Requests without a [`BodyDeadline`]
/// (served by something else than [`serve`]) pass untouched.
pub async fn answer_body_timeouts(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let deadline = req.extensions().get::<BodyDeadline>().cloned();
    let resp = next.run(req).await;
    match deadline {
        Some(d) if d.expired.load(Ordering::SeqCst) => body_timeout_response(d.timeout),
        _ => resp,
    }
}

/// 408 for a body slower than `--body-timeout`; `Connection: close`,
/// because the rest of that body may still be on its way.
fn body_timeout_response(timeout: Duration) -> axum::response::Response {
    let mut resp = make_problem(
        StatusCode::REQUEST_TIMEOUT,
        "body-timeout",
        "Request body too slow",
        "body_timeout",
        format!(
            "the request body did not arrive within {} of its headers; send it without pauses, \
             or ask the operator to raise --body-timeout. Nothing was stored",
            humantime::format_duration(timeout)
        ),
    )
    .into_response();
    resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// Why a request body stopped.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within --body-timeout")]
struct BodyTimeout;

/// A request body that fails once its deadline passes. The timer is only
/// created when a read would block, so bodies that arrive with their
/// headers (most) cost no timer.
struct DeadlineBody {
    inner: Incoming,
    deadline: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
    expired: Arc<AtomicBool>,
    failed: bool,
}

impl Body for DeadlineBody {
    type Data = hyper::body::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => {
                let deadline = this.deadline;
                let sleep = this.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.failed = true;
                        this.expired.store(true, Ordering::SeqCst);
                        Poll::Ready(Some(Err(BodyTimeout.into())))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its connection marked busy until hyper has
/// taken all of it (or dropped it).
struct Tracked {
    inner: axum::body::Body,
    _busy: BusyGuard,
}

impl Body for Tracked {
    type Data = hyper::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
