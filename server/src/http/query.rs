//! Read endpoints: runs, a run's events, the event-type registry, health.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald::EventCatalog;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

use super::App;
use super::problem::Problem;
use crate::catalog::Handlers;
use crate::store::{EventCursor, EventQuery, HistoryEntry, Item, Reads, RunPage, RunQuery, RunView, Store, StoredEvent};

/// Page size when `limit` is not given.
const DEFAULT_LIMIT: usize = 50;
/// Largest page a client may ask for.
const MAX_LIMIT: usize = 1000;

/// `?status=&limit=&cursor=`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsParams {
    /// Only runs in this lifecycle status.
    #[param(value_type = Option<StatusFilter>)]
    status: Option<String>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The schema of a `status` filter: one of the catalog's lifecycle
/// statuses (documentation only; the handler checks it with a problem
/// naming them). The document lists them (`openapi::document`): they come
/// from the served catalog, which this static schema cannot name.
pub struct StatusFilter;

impl utoipa::PartialSchema for StatusFilter {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("A run lifecycle status of the catalog."))
            .into()
    }
}

impl ToSchema for StatusFilter {}

/// `?after_seq=&cursor=&limit=`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsParams {
    /// Only events after this `seq` (events without `seq` included).
    after_seq: Option<i64>,
    /// `next_cursor` of the previous page (`{seq}.{key}`).
    #[param(pattern = r"^-?[0-9]{1,18}\.")]
    cursor: Option<String>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// A run: its document, and its latest history entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunDetail {
    /// The run.
    #[serde(flatten)]
    pub run: RunView,
    /// Notable things that happened to it, newest last.
    pub history: Vec<HistoryEntry>,
}

/// One page of a run's events.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunEvents {
    /// The run.
    pub run_id: String,
    /// Stored events in `seq` order, those without `seq` last.
    pub events: Vec<StoredEvent>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One page of a run's collection.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunItems {
    /// The run.
    pub run_id: String,
    /// The collection (`nodes`, `papers`, …).
    pub collection: String,
    /// Its items in key order.
    pub items: Vec<Item>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[allow(clippy::result_large_err)] // Problem is built once per bad request, off the hot path.
fn limit(asked: Option<usize>) -> Result<usize, Problem> {
    match asked {
        None => Ok(DEFAULT_LIMIT),
        Some(0) => Err(Problem::bad_query("`limit` must be at least 1")),
        Some(n) if n > MAX_LIMIT => Err(Problem::bad_query(format!("`limit` must be at most {MAX_LIMIT}; page with `cursor`"))),
        Some(n) => Ok(n),
    }
}

#[allow(clippy::result_large_err)]
fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, Problem> {
    q.map(|Query(t)| t).map_err(|e| Problem::bad_query(e.body_text()))
}

/// A run: its document, status, `last_event_seq` and the latest history
/// entries.
#[utoipa::path(get, path = "/api/runs/{run_id}", tag = "runs",
    params(("run_id" = String, Path, description = "The run's id.")),
    responses(
        (status = 200, description = "The run.", body = RunDetail),
        (status = 404, description = "No event of this run was received.", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn run<S: Store, H: Handlers>(State(app): State<Arc<App<S, H>>>, Path(run_id): Path<String>) -> Response {
    match app.store.reads().run(&run_id).await {
        // Through a `Value`, so a `history` the document holds gives way
        // to the history entries rather than appearing twice.
        Ok(Some((run, history))) => Json(serde_json::to_value(RunDetail { run, history }).unwrap_or_default()).into_response(),
        Ok(None) => Problem::not_found(format!("no run `{run_id}` has received events")).into_response(),
        Err(e) => Problem::store(&e).into_response(),
    }
}

/// Runs, in id order, a page at a time.
#[utoipa::path(get, path = "/api/runs", tag = "runs", params(RunsParams),
    responses(
        (status = 200, description = "One page of runs.", body = RunPage),
        (status = 400, description = "A query parameter is malformed or out of range.", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn runs<S: Store, H: Handlers>(State(app): State<Arc<App<S, H>>>, params: Result<Query<RunsParams>, QueryRejection>) -> Response {
    let result = async {
        let p = query(params)?;
        if let Some(status) = &p.status
            && !app.lifecycle.knows(status)
        {
            return Err(Problem::bad_query(format!("unknown status `{status}`; use one of {}", app.lifecycle.statuses.join(", "))));
        }
        let q = RunQuery { status: p.status, limit: limit(p.limit)?, cursor: p.cursor };
        app.store.reads().runs(q).await.map_err(|e| Problem::store(&e))
    };
    match result.await {
        Ok(page) => Json(page).into_response(),
        Err(p) => p.into_response(),
    }
}

/// A run's stored events.
///
/// Envelopes in `seq` order, those without `seq` last; pages end after
/// `limit` events or 512 KiB of envelopes, with `next_cursor` to go on.
#[utoipa::path(get, path = "/api/runs/{run_id}/events", tag = "runs",
    params(("run_id" = String, Path, description = "The run's id."), EventsParams),
    responses(
        (status = 200, description = "One page of the run's events (empty for a run never seen).", body = RunEvents),
        (status = 400, description = "A query parameter is malformed or out of range.", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn run_events<S: Store, H: Handlers>(
    State(app): State<Arc<App<S, H>>>,
    Path(run_id): Path<String>,
    params: Result<Query<EventsParams>, QueryRejection>,
) -> Response {
    let result = async {
        let p = query(params)?;
        let limit = limit(p.limit)?;
        let cursor = match p.cursor.as_deref() {
            None => None,
            Some(text) => Some(EventCursor::parse(text).ok_or_else(|| {
                Problem::bad_query(format!("`cursor` `{text}` is not one this server gave out; pass `next_cursor` from the previous page"))
            })?),
        };
        let q = EventQuery { after_seq: p.after_seq, cursor, limit };
        app.store.reads().run_events(&run_id, q).await.map_err(|e| Problem::store(&e))
    };
    match result.await {
        Ok(page) => Json(RunEvents { run_id, events: page.events, next_cursor: page.next_cursor }).into_response(),
        Err(p) => p.into_response(),
    }
}

/// `?cursor=&limit=`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemsParams {
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// One page of a run's collection.
///
/// A collection (`nodes`, `papers`, …) in key order, for runs too large
/// to show whole in `GET /api/runs/{run_id}`.
#[utoipa::path(get, path = "/api/runs/{run_id}/items/{collection}", tag = "runs",
    params(
        ("run_id" = String, Path, description = "The run's id."),
        ("collection" = String, Path, description = "A keyed collection of runs (`nodes`, `papers`, …)."),
        ItemsParams,
    ),
    responses(
        (status = 200, description = "One page of the collection (empty for a run never seen).", body = RunItems),
        (status = 400, description = "A query parameter is malformed or out of range.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Runs have no such collection.", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn run_items<S: Store, H: Handlers>(
    State(app): State<Arc<App<S, H>>>,
    Path((run_id, collection)): Path<(String, String)>,
    params: Result<Query<ItemsParams>, QueryRejection>,
) -> Response {
    let result = async {
        if !app.layout.is_collection(&collection) {
            let all = app.layout.collections().join(", ");
            return Err(Problem::not_found(format!("runs have no collection `{collection}`; use one of {all}")));
        }
        let p = query(params)?;
        let limit = limit(p.limit)?;
        app.store.reads().run_items(&run_id, &collection, p.cursor, limit).await.map_err(|e| Problem::store(&e))
    };
    match result.await {
        Ok(page) => Json(RunItems { run_id, collection, items: page.items, next_cursor: page.next_cursor }).into_response(),
        Err(p) => p.into_response(),
    }
}

/// One event type of the catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeInfo {
    /// Its CloudEvents `type`.
    #[serde(rename = "type")]
    pub type_name: &'static str,
    /// Its version in the catalog.
    pub version: u32,
    /// What it means.
    pub description: &'static str,
    /// Its `subject` template, if any.
    pub subject: Option<&'static str>,
    /// The `data` field that keys a run's stream.
    pub stream_key: Option<&'static str>,
    /// The handler method that applies it.
    pub handler: &'static str,
    /// The JSON Schema of its `data`.
    pub schema: Value,
}

impl EventTypeInfo {
    fn of<E>(info: &herald::EventTypeInfo<E>) -> Self {
        EventTypeInfo {
            type_name: info.type_name,
            version: info.version,
            description: info.description,
            subject: info.subject,
            stream_key: info.stream_key,
            handler: info.handler_method,
            schema: serde_json::from_str::<Value>(info.schema).unwrap_or_default(),
        }
    }
}

/// The catalog's event types.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypes {
    /// Every type, in the catalog's order.
    pub event_types: Vec<EventTypeInfo>,
}

/// The event types this server accepts, with the JSON Schemas of their
/// `data`.
#[utoipa::path(get, path = "/api/event-types", tag = "catalog",
    responses((status = 200, description = "The catalog.", body = EventTypes)))]
pub async fn event_types<H: Handlers>() -> Json<EventTypes> {
    Json(EventTypes { event_types: H::Catalog::TYPES.iter().map(EventTypeInfo::of).collect() })
}

/// One event type of the catalog.
#[utoipa::path(get, path = "/api/event-types/{type}", tag = "catalog",
    params(("type" = String, Path, description = "A CloudEvents `type` of the catalog.")),
    responses(
        (status = 200, description = "The event type.", body = EventTypeInfo),
        (status = 404, description = "Not in the catalog.", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn event_type<H: Handlers>(Path(type_name): Path<String>) -> Response {
    match H::Catalog::lookup(&type_name) {
        Some(info) => Json(EventTypeInfo::of(info)).into_response(),
        None => Problem::not_found(format!("`{type_name}` is not in the catalog; GET /api/event-types lists them")).into_response(),
    }
}

/// The answer of `/healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(value_type = String, example = "ok")]
    pub status: &'static str,
}

/// The answer of `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ok` when the store can take writes, else `unavailable`.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// Why the server is unavailable, in one short line (absent when `ok`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `ok`, or why the store cannot take writes (one short line).
    pub store: String,
    /// The Redis dedup fast path, when one is configured (detail only:
    /// it does not decide readiness).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedup: Option<Value>,
}

/// Longest reason `/readyz` gives: enough for "the disk is full" or
/// "MongoDB does not answer", never a driver's multi-line dump.
const MAX_REASON: usize = 200;

/// `text` as a short reason: its first line, cut at [`MAX_REASON`] bytes
/// (on a character boundary). Store and dedup errors are written for the
/// log; a probe or a person reading `/readyz` needs the gist.
fn short_reason(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    if line.len() <= MAX_REASON {
        return line.to_owned();
    }
    let mut end = MAX_REASON;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

/// Liveness: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Up.", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the store can take writes (and, as detail only, the state
/// of the Redis dedup fast path).
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready: `status` is `ok`.", body = Readiness),
        (status = 503, description = "The store cannot take writes now: `status` is `unavailable`, `reason` says why.", body = Readiness),
    ))]
pub async fn readyz<S: Store, H: Handlers>(State(app): State<Arc<App<S, H>>>) -> Response {
    let (status, mut body) = match app.store.ready().await {
        Ok(()) => (StatusCode::OK, Readiness { status: "ok", reason: None, store: "ok".into(), dedup: None }),
        Err(e) => {
            let why = short_reason(&e.to_string());
            let reason = Some(format!("the store cannot take writes: {why}"));
            (StatusCode::SERVICE_UNAVAILABLE, Readiness { status: "unavailable", reason, store: why, dedup: None })
        }
    };
    app.metrics.store_ready(status == StatusCode::OK);
    // A dedup fast path is detail only: the store alone decides readiness.
    if let Some(mut dedup) = app.store.dedup_status().await {
        app.metrics.dedup_up(dedup.get("status").and_then(Value::as_str) == Some("ok"));
        if let Some(error) = dedup.get_mut("error") {
            *error = Value::String(short_reason(error.as_str().unwrap_or_default()));
        }
        body.dedup = Some(dedup);
    }
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::short_reason;

    #[test]
    fn reasons_are_one_short_line() {
        assert_eq!(short_reason("the disk is full"), "the disk is full");
        assert_eq!(short_reason("MongoDB does not answer\nTopology { servers: [...] }"), "MongoDB does not answer");
        let long = "é".repeat(300);
        let short = short_reason(&long);
        assert!(short.len() <= super::MAX_REASON + "…".len() && short.ends_with('…'), "{short}");
        assert_eq!(short_reason(""), "");
    }
}
