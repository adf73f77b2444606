//! What the production layers cost a request in allocations: a counting
//! global allocator (this test binary's own) counts what one thread
//! allocates while a request goes through [`herald_server::http::layers`]
//! to a handler that allocates nothing.
//!
//! The layers are composed into one tower stack and applied once. Applied
//! as one `Router::layer` call each, every layer wrapped each route in a
//! boxed service of its own, cloned and boxed again per request: 91
//! allocations per request instead of 24. The bound below fails if that
//! comes back.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use herald_server::metrics::Metrics;
use tower::ServiceExt;

struct Counting;

thread_local! {
    /// Allocations made by this thread while counting is on (`None`: off).
    static COUNT: Cell<Option<usize>> = const { Cell::new(None) };
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counter is a const-initialised thread local, which never allocates.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get().map(|n| n + 1)));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get().map(|n| n + 1)));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations one `GET /ping` makes on this (the only) thread, from the
/// request's creation to its answer's end; `layered`: the answer must show
/// that the layers ran.
fn allocations_per_request(app: &Router, layered: bool) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let send = || {
        rt.block_on(async {
            let request = Request::get("/ping").body(Body::empty()).unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers().contains_key("x-request-id"), layered, "the layers ran, or did not");
        })
    };
    // The first request fills lazily built state (metric handles, spans).
    send();
    COUNT.with(|c| c.set(Some(0)));
    send();
    COUNT.with(|c| c.replace(None)).unwrap_or_default()
}

fn routes() -> Router {
    Router::new().route("/ping", get(|| async { "pong" }))
}

#[test]
fn the_layers_cost_a_request_a_bounded_number_of_allocations() {
    let metrics = Arc::new(Metrics::new(std::iter::empty()));
    let bare = allocations_per_request(&routes(), false);
    let layered = allocations_per_request(&herald_server::http::layers(metrics, std::time::Duration::from_secs(60), routes()), true);
    // Measured when written: 12 for the route alone, 24 more with the
    // layers (the request id and its header, the span, the boxed futures
    // and services of the axum middleware). As nine separate
    // `Router::layer` calls the same layers cost 91 more.
    assert!(layered <= bare + 32, "the layers cost {} allocations per request (the bare route {bare})", layered - bare);
}
