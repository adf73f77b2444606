//! The HTTP surface: routes, shared state, problem responses, the web
//! pages and the live change streams.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald::EventCatalog;
use tower_http::catch_panic::CatchPanicLayer;

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
    /// This server's Prometheus metrics (`GET /metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
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
            metrics: Arc::new(crate::metrics::Metrics::new(H::Catalog::TYPES.iter().map(|t| t.type_name))),
        }
    }
}

/// All routes, with [`layers`] around them (and no API-key guard).
pub fn router<S: Store, H: Handlers>(app: App<S, H>) -> Router {
    let metrics = app.metrics.clone();
    counted(metrics, layers(routes(app, false)))
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

/// Count requests into `metrics` around `router`. Outside every other
/// layer, so a request is counted with the status its client got (a caught
/// panic's 500 and the key guard's 401/403/429 included).
pub fn counted(metrics: Arc<crate::metrics::Metrics>, router: Router) -> Router {
    router.layer(axum::middleware::from_fn_with_state(metrics, metrics::count))
}

/// The layers every route (and the fallback) runs inside.
///
/// A panicking handler is a bug, but it must cost one request, not the
/// connection and whatever else was pipelined on it: the panic becomes a
/// 500 problem document and the connection stays usable. Outside that, the
/// request id and the request's tracing span ([`trace::around`]), so the
/// panic's log line and its 500 carry the request id too.
///
/// Outermost of these (inside the request id), a request whose body missed
/// `--body-timeout` is answered 408 ([`crate::listen::answer_body_timeouts`]).
pub fn layers(routes: Router) -> Router {
    let routes = routes
        .layer(axum::middleware::map_response(as_problem))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn(crate::listen::answer_body_timeouts));
    trace::around(routes)
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
        let app = super::layers(axum::Router::new().route("/boom", get(boom)).route("/fine", get(|| async { "ok" })));
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
}
