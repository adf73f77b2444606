//! Read endpoints: runs, a run's events, the event-type registry, health.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald::EventCatalog;
use serde::Deserialize;
use serde_json::{Value, json};

use super::App;
use super::problem::Problem;
use crate::events::{Catalog, Event};
use crate::store::{EventCursor, EventQuery, RunQuery, Store};

/// Page size when `limit` is not given.
const DEFAULT_LIMIT: usize = 50;
/// Largest page a client may ask for.
const MAX_LIMIT: usize = 1000;

/// `?status=&limit=&cursor=`
#[derive(Debug, Deserialize)]
pub struct RunsParams {
    status: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// `?after_seq=&cursor=&limit=`
#[derive(Debug, Deserialize)]
pub struct EventsParams {
    after_seq: Option<i64>,
    cursor: Option<String>,
    limit: Option<usize>,
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

/// `GET /api/runs/{run_id}`: the run document, status, `last_event_seq`
/// and the latest history entries.
pub async fn run<S: Store>(State(app): State<Arc<App<S>>>, Path(run_id): Path<String>) -> Response {
    match app.store.run(&run_id).await {
        Ok(Some((view, history))) => {
            let mut body = serde_json::to_value(view).unwrap_or_default();
            body["history"] = json!(history);
            Json(body).into_response()
        }
        Ok(None) => Problem::not_found(format!("no run `{run_id}` has received events")).into_response(),
        Err(e) => Problem::store(&e).into_response(),
    }
}

/// `GET /api/runs?status=&limit=&cursor=`
pub async fn runs<S: Store>(State(app): State<Arc<App<S>>>, params: Result<Query<RunsParams>, QueryRejection>) -> Response {
    let result = async {
        let p = query(params)?;
        if let Some(status) = &p.status {
            if status.parse::<crate::events::RunStatus>().is_err() {
                let all: Vec<&str> = crate::events::RunStatus::ALL.iter().map(|s| s.as_str()).collect();
                return Err(Problem::bad_query(format!("unknown status `{status}`; use one of {}", all.join(", "))));
            }
        }
        let q = RunQuery { status: p.status, limit: limit(p.limit)?, cursor: p.cursor };
        app.store.runs(q).await.map_err(|e| Problem::store(&e))
    };
    match result.await {
        Ok(page) => Json(page).into_response(),
        Err(p) => p.into_response(),
    }
}

/// `GET /api/runs/{run_id}/events?after_seq=&cursor=&limit=`: stored
/// envelopes in `seq` order, those without `seq` last; pages end after
/// `limit` events or 4 MiB of envelopes, with `next_cursor` to go on.
pub async fn run_events<S: Store>(
    State(app): State<Arc<App<S>>>,
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
        app.store.run_events(&run_id, q).await.map_err(|e| Problem::store(&e))
    };
    match result.await {
        Ok(page) => {
            let mut body = json!({"run_id": run_id, "events": page.events});
            if let Some(next) = page.next_cursor {
                body["next_cursor"] = json!(next);
            }
            Json(body).into_response()
        }
        Err(p) => p.into_response(),
    }
}

/// `?cursor=&limit=`
#[derive(Debug, Deserialize)]
pub struct ItemsParams {
    cursor: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/runs/{run_id}/items/{collection}?cursor=&limit=`: one page of
/// a run's collection (`nodes`, `papers`, …) in key order, for runs too
/// large to show whole in `GET /api/runs/{run_id}`.
pub async fn run_items<S: Store>(
    State(app): State<Arc<App<S>>>,
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
        app.store.run_items(&run_id, &collection, p.cursor, limit).await.map_err(|e| Problem::store(&e))
    };
    match result.await {
        Ok(page) => {
            let mut body = json!({"run_id": run_id, "collection": collection});
            if let (Value::Object(body), Ok(Value::Object(page))) = (&mut body, serde_json::to_value(page)) {
                body.extend(page);
            }
            Json(body).into_response()
        }
        Err(p) => p.into_response(),
    }
}

fn type_json(info: &herald::EventTypeInfo<Event>) -> Value {
    json!({
        "type": info.type_name,
        "version": info.version,
        "description": info.description,
        "subject": info.subject,
        "stream_key": info.stream_key,
        "handler": info.handler_method,
        "schema": serde_json::from_str::<Value>(info.schema).unwrap_or_default(),
    })
}

/// `GET /api/event-types`: the registry, with JSON Schemas.
pub async fn event_types() -> Json<Value> {
    Json(json!({"event_types": Catalog::TYPES.iter().map(type_json).collect::<Vec<_>>()}))
}

/// `GET /api/event-types/{type}`
pub async fn event_type(Path(type_name): Path<String>) -> Response {
    match Catalog::lookup(&type_name) {
        Some(info) => Json(type_json(info)).into_response(),
        None => Problem::not_found(format!("`{type_name}` is not in the catalog; GET /api/event-types lists them")).into_response(),
    }
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: the store can take writes (and, as detail only, the
/// state of the Redis dedup fast path).
pub async fn readyz<S: Store>(State(app): State<Arc<App<S>>>) -> Response {
    let (status, mut body) = match app.store.ready().await {
        Ok(()) => (StatusCode::OK, json!({"status": "ready", "store": "ok"})),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, json!({"status": "unavailable", "store": e.to_string()})),
    };
    app.metrics.store_ready(status == StatusCode::OK);
    // A dedup fast path is detail only: the store alone decides readiness.
    if let Some(dedup) = app.store.dedup_status().await {
        app.metrics.dedup_up(dedup.get("status").and_then(Value::as_str) == Some("ok"));
        body["dedup"] = dedup;
    }
    (status, Json(body)).into_response()
}
