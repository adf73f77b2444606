//! The HTTP surface: routes, shared state, problem responses, the web
//! pages and the live change streams.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald::EventCatalog;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use crate::catalog::{Handlers, Lifecycle};
use crate::feed::Feed;
use crate::runstate::Layout;
use crate::store::Store;

pub mod ingest;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod problem;
pub mod query;
pub mod stream;
pub mod trace;

/// What every handler shares. The router holds it in one `Arc`: axum
/// clones a route's state on every request, and one reference count is
/// cheaper than one per field (it showed in the `/healthz` profile).
///
/// Generic over the store `S` and the handler set `H` (and through it the
/// catalog), so each route is compiled for them: no virtual call per event.
pub struct App<S, H> {
    /// The storage backend.
    pub store: Arc<S>,
    /// What each event does to its run.
    pub handlers: H,
    /// The catalog's run lifecycle ([`Lifecycle::of`], built once).
    pub lifecycle: Lifecycle,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Most events one batch request may carry.
    pub max_batch_events: usize,
    /// Which run fields are keyed collections (paged by
    /// `GET /api/runs/{run_id}/items/{collection}`).
    pub layout: Arc<Layout>,
    /// Where ingest announces what it applied, for the live streams.
    pub feed: Feed,
    /// How long a `seq` gap is waited for (`--gap-timeout`), which the run
    /// page shows next to parked events.
    pub gap_timeout: Duration,
    /// How long a request may take to be answered (`--request-timeout`).
    pub request_timeout: Duration,
    /// This server's Prometheus metrics (`GET /metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Folds the warning logged per request refused 503 because the store
    /// is unavailable: an outage under load, or a client retrying in a
    /// tight loop, would otherwise log a line per request.
    pub(crate) unavailable_log: crate::throttle::SharedThrottle,
}

impl<S, H: Handlers> App<S, H> {
    /// The state for serving `handlers` over `store`, with the limits of
    /// `config` and fresh metrics and feed.
    pub fn new(store: Arc<S>, handlers: H, config: &crate::config::Config) -> Self {
        App {
            store,
            handlers,
            lifecycle: Lifecycle::of::<H::Catalog>(),
            body_limit: config.body_limit,
            max_batch_events: config.max_batch_events,
            layout: Arc::new(H::layout()),
            feed: Feed::new(),
            gap_timeout: config.gap_timeout,
            request_timeout: config.request_timeout,
            metrics: Arc::new(crate::metrics::Metrics::new(H::Catalog::TYPES.iter().map(|t| t.type_name))),
            unavailable_log: Default::default(),
        }
    }
}

/// All routes, with [`layers`] around them (and no API-key guard).
pub fn router<S: Store, H: Handlers>(app: App<S, H>) -> Router {
    let (metrics, request_timeout) = (app.metrics.clone(), app.request_timeout);
    layers(metrics, request_timeout, routes(app, false))
}

/// All routes, without the layers (so a caller can add its own inside
/// them, as the API-key guard is). Each is registered from its handler's
/// `#[utoipa::path]`, which also documents it in `/openapi.json`;
/// `keys_required` says whether the caller puts the key guard around them
/// (the document then asks for a key, and lists 401/403/429).
pub fn routes<S: Store, H: Handlers>(app: App<S, H>, keys_required: bool) -> Router {
    let components = openapi::catalog_components::<H::Catalog>(&H::site());
    let statuses = app.lifecycle.statuses.clone();
    openapi::Routes::new()
        .route(ingest::__path_ingest, ingest::ingest::<S, H>)
        .route(query::__path_runs, query::runs::<S, H>)
        .route(query::__path_run, query::run::<S, H>)
        .route(query::__path_run_events, query::run_events::<S, H>)
        .route(query::__path_run_items, query::run_items::<S, H>)
        .route(stream::__path_run_stream, stream::run_stream::<S, H>)
        .route(stream::__path_all_runs, stream::all_runs::<S, H>)
        .route(query::__path_event_types, query::event_types::<H>)
        .route(query::__path_event_type, query::event_type::<H>)
        .route(query::__path_healthz, query::healthz)
        .route(query::__path_readyz, query::readyz::<S, H>)
        .route(metrics::__path_metrics, metrics::metrics::<S, H>)
        .route(pages::__path_home, pages::home)
        .route(pages::__path_catalog_index, pages::catalog_index::<H>)
        .route(pages::__path_catalog_slash, pages::catalog_slash)
        .route(pages::__path_runs_slash, pages::runs_slash)
        .route(pages::__path_catalog_type, pages::catalog_type::<H>)
        .route(pages::__path_asset, pages::asset::<H>)
        .route(pages::runs::__path_page, pages::runs::page::<S, H>)
        .route(pages::run::__path_page, pages::run::page::<S, H>)
        .finish(keys_required, components, &statuses)
        .fallback(|uri: axum::http::Uri| async move { problem::Problem::not_found(format!("no route for {uri}; see README for the API")) })
        .with_state(Arc::new(app))
}

/// The layers every route (and the fallback) runs inside, outermost first:
///
/// - requests are counted into `metrics` outside every other layer, so a
///   request is counted with the status its client got (a caught panic's
///   500 and the key guard's 401/403/429 included);
/// - the request id and the request's tracing span (`trace.rs`), so every
///   log line and answer below carries the request id;
/// - a request not answered within `request_timeout` is answered 503
///   ([`answer_in_time`]);
/// - a request whose body missed `--body-timeout` is answered 408
///   ([`crate::listen::answer_body_timeouts`]);
/// - a panicking handler is a bug, but it must cost one request, not the
///   connection and whatever else was pipelined on it: the panic becomes a
///   500 problem document and the connection stays usable;
/// - framework answers become problem documents (`as_problem`).
///
/// They are composed into one stack and applied once: every
/// `Router::layer` call wraps each route in a boxed service of its own,
/// cloned and boxed again on every request. As nine calls these layers
/// made 91 allocations per request, now 24 (`tests/layer_allocations.rs`),
/// of the ~140 a single-event ingest request made in all (heaptrack).
pub fn layers(metrics: Arc<crate::metrics::Metrics>, request_timeout: Duration, routes: Router) -> Router {
    routes.layer(
        ServiceBuilder::new()
            .layer(axum::middleware::from_fn_with_state(metrics, metrics::count))
            .layer(axum::middleware::map_request(trace::drop_insane_request_id))
            .layer(SetRequestIdLayer::new(trace::X_REQUEST_ID, MakeRequestUuid))
            .layer(trace::trace_layer())
            .layer(PropagateRequestIdLayer::new(trace::X_REQUEST_ID))
            .layer(axum::middleware::from_fn_with_state(request_timeout, answer_in_time))
            .layer(axum::middleware::from_fn(crate::listen::answer_body_timeouts))
            .layer(CatchPanicLayer::custom(panic_response))
            .layer(axum::middleware::map_response(as_problem)),
    )
}

/// Answer 503 (`request_timeout`, `Retry-After: 1`) when the rest of the
/// stack has not answered within `limit` — a store that hangs must not
/// hold a client, and its connection slot, without bound. The work is
/// dropped, not undone: an event the store commits later is stored, and
/// the client's retry is answered as a duplicate.
pub async fn answer_in_time(
    axum::extract::State(limit): axum::extract::State<Duration>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            let mut p = make_problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "request-timeout",
                "Request timed out",
                "request_timeout",
                format!(
                    "the server did not answer within {} (--request-timeout); an event this request carried may or may not \
                     be stored: send it again (a duplicate is stored once)",
                    humantime::format_duration(limit)
                ),
            );
            p.retry_after = Some(1);
            p.into_response()
        }
    }
}

/// Client errors the framework answers by itself — 405 with an empty body,
/// a path or query it cannot decode as plain text — become problem
/// documents like every other error, so clients parse one format. Error
/// pages (HTML, for people) stay as they are.
async fn as_problem(resp: Response) -> Response {
    let status = resp.status();
    let is_problem =
        resp.headers().get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
            ct.starts_with("application/problem+json") || ct.starts_with("application/json") || ct.starts_with("text/html")
        });
    if !status.is_client_error() || is_problem {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    // Framework rejections are a line of text; anything longer is not one.
    let text = match http_body_util::BodyExt::collect(http_body_util::Limited::new(body, 4096)).await {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).trim().to_owned(),
        Err(_) => String::new(),
    };
    let (slug, title, code, detail) = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allow = parts.headers.get(axum::http::header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            (
                "method-not-allowed",
                "Method not allowed",
                "method_not_allowed",
                format!("this route answers {allow}; see README for the API"),
            )
        }
        _ if text.is_empty() => ("bad-request", "Bad request", "bad_request", format!("{status}")),
        _ => ("bad-request", "Bad request", "bad_request", text),
    };
    let mut out = make_problem(status, slug, title, code, detail).into_response();
    if let Some(allow) = parts.headers.get(axum::http::header::ALLOW) {
        out.headers_mut().insert(axum::http::header::ALLOW, allow.clone());
    }
    out
}

/// The 500 answer to a handler panic. The panic message goes to the log,
/// never to the client: it may quote internal state.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "<non-string panic payload>".to_owned());
    tracing::error!(panic = %message, "a request handler panicked; answered 500");
    make_problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal-error",
        "Internal server error",
        "internal_error",
        "the server failed while handling this request, so nothing it carried was acknowledged; \
         retrying is safe (duplicates are stored once), and please report this as a bug"
            .to_owned(),
    )
    .into_response()
}

/// A problem document of the same shape as the ones [`problem::Problem`]'s
/// constructors build, for answers given outside the handlers (panics,
/// timeouts, overload).
pub(crate) fn make_problem(status: StatusCode, slug: &str, title: &'static str, code: &str, detail: String) -> problem::Problem {
    problem::Problem {
        kind: format!("urn:herald:problem:{slug}"),
        title,
        status: status.as_u16(),
        detail,
        code: code.to_owned(),
        attribute: None,
        errors: Vec::new(),
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use axum::routing::get;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn boom() -> &'static str {
        panic!("handler bug with secret state")
    }

    /// A panicking handler behind the production layers answers a 500
    /// problem document instead of dropping the connection.
    #[tokio::test]
    async fn a_handler_panic_is_a_500_problem() {
        let metrics = std::sync::Arc::new(crate::metrics::Metrics::new(std::iter::empty()));
        let app = super::layers(
            metrics,
            std::time::Duration::from_secs(60),
            axum::Router::new().route("/boom", get(boom)).route("/fine", get(|| async { "ok" })),
        );
        let resp = app.clone().oneshot(Request::get("/boom").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], super::problem::PROBLEM_JSON);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["status"], 500);
        assert_eq!(body["code"], "internal_error");
        assert_eq!(body["type"], "urn:herald:problem:internal-error");
        assert!(!body.to_string().contains("secret state"), "the panic message must not leak: {body}");
        // The service is still usable afterwards.
        let resp = app.oneshot(Request::get("/fine").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }

    /// A handler that never answers (a store that hangs) is answered 503
    /// with `Retry-After` once the request timeout passes; a quick one is
    /// not touched.
    #[tokio::test]
    async fn a_request_not_answered_in_time_is_a_503_problem() {
        let metrics = std::sync::Arc::new(crate::metrics::Metrics::new(std::iter::empty()));
        let hang = || async {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            "never"
        };
        let limit = std::time::Duration::from_millis(200);
        let app = super::layers(metrics, limit, axum::Router::new().route("/hang", get(hang)).route("/fine", get(|| async { "ok" })));
        let started = std::time::Instant::now();
        let resp = app.clone().oneshot(Request::get("/hang").body(Body::empty()).unwrap()).await.unwrap();
        let took = started.elapsed();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(took >= limit && took < std::time::Duration::from_secs(5), "answered after {took:?}");
        assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
        assert!(resp.headers().contains_key("x-request-id"), "the answer carries the request id");
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/problem+json");
        let body: serde_json::Value = serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert_eq!(body["code"], "request_timeout");
        assert!(body["detail"].as_str().unwrap_or_default().contains("200ms"), "{body}");
        let resp = app.oneshot(Request::get("/fine").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
}
