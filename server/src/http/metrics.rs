//! `GET /metrics` and the request counting around every route.
//!
//! The series and what they mean are in [`crate::metrics`]; this module
//! only connects them to HTTP.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::App;
use crate::catalog::Handlers;
use crate::metrics::{Metrics, UNMATCHED_ROUTE};
use crate::store::Store;

/// The exposition format's media type (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Longest a scrape waits on the store's health checks: a scrape must
/// answer even while the store hangs (it then reports not ready).
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// Prometheus metrics.
///
/// Every series in the Prometheus text format (see README "Metrics").
/// Health gauges (store ready, dedup up, parked events) are refreshed
/// first, so a scrape reports the state at the time of the scrape.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "The exposition (text format 0.0.4).", content_type = "text/plain; version=0.0.4; charset=utf-8", body = String)))]
pub async fn metrics<S: Store, H: Handlers>(State(app): State<Arc<App<S, H>>>) -> Response {
    let m = &app.metrics;
    let ready = matches!(tokio::time::timeout(HEALTH_TIMEOUT, app.store.ready()).await, Ok(Ok(())));
    m.store_ready(ready);
    if let Ok(Some(dedup)) = tokio::time::timeout(HEALTH_TIMEOUT, app.store.dedup_status()).await {
        m.dedup_up(dedup.get("status").and_then(|s| s.as_str()) == Some("ok"));
    }
    if let Ok(Ok(Some(n))) = tokio::time::timeout(HEALTH_TIMEOUT, app.store.parked_events()).await {
        m.parked_events(n);
    }
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], m.render()).into_response()
}

/// Middleware: count each answered request by its matched route template
/// (`/api/runs/{run_id}`, so run ids never become labels) and status.
/// Runs outside every other layer, so panics (500) and framework answers
/// (405, 400) are counted with the status the client got.
pub async fn count(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let resp = next.run(req).await;
    let route = route.as_ref().map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
    metrics.request(route, resp.status().as_u16());
    resp
}
