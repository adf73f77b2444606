//! `GET /runs`: every run as a table, filtered by status, paged like
//! `GET /api/runs`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

use super::{error_page, html_page, layout, path_segment};
use crate::catalog::Handlers;
use crate::http::App;
use crate::http::problem::Problem;
use crate::store::{Reads, RunQuery, RunView, Store};

/// Runs per page.
const PAGE: usize = 50;

/// `?status=&cursor=`
#[derive(Debug, Deserialize)]
pub struct RunsPageParams {
    status: Option<String>,
    cursor: Option<String>,
}

/// The run's current feature, if it has one: `(name, progress)`.
pub fn feature(run: &RunView) -> Option<(&str, Option<f64>)> {
    let f = run.doc.get("current_feature")?;
    let name = f.get("name").and_then(Value::as_str).unwrap_or("");
    Some((name, f.get("progress").and_then(Value::as_f64)))
}

/// The run's progress: its current feature's, else the run's own.
pub fn progress(run: &RunView) -> Option<f64> {
    feature(run).and_then(|(_, p)| p).or_else(|| run.doc.get("progress").and_then(Value::as_f64))
}

/// A status as a badge (its class colours it).
pub fn status_badge(status: &str) -> Markup {
    html! { span class=(format!("status {status}")) { (status) } }
}

/// A `<progress>` bar and its percentage.
pub fn progress_bar(value: f64) -> Markup {
    let value = value.clamp(0.0, 1.0);
    html! { progress max="1" value=(value) { (format!("{:.0}%", value * 100.0)) } " " span.pct { (format!("{:.0}%", value * 100.0)) } }
}

/// Every run, a page at a time, optionally of one status.
#[utoipa::path(get, path = "/runs", tag = "pages", operation_id = "runs_page",
    params(
        ("status" = Option<String>, Query, description = "Only runs in this lifecycle status."),
        ("cursor" = Option<String>, Query, description = "Where the previous page ended."),
    ),
    responses(
        (status = 200, description = "HTML.", content_type = "text/html; charset=utf-8", body = String),
        (status = 400, description = "An unknown status or a malformed query (HTML), or a query that cannot be decoded.", content((Problem = "application/problem+json"), (String = "text/html; charset=utf-8"))),
        (status = 503, description = "The store cannot answer now (HTML), or the server is at `--max-connections`.", content((Problem = "application/problem+json"), (String = "text/html; charset=utf-8"))),
    ))]
pub async fn page<S: Store, H: Handlers>(
    State(app): State<Arc<App<S, H>>>,
    params: Result<Query<RunsPageParams>, QueryRejection>,
) -> Response {
    let Ok(Query(p)) = params else {
        return error_page(StatusCode::BAD_REQUEST, "this page takes `status` and `cursor`");
    };
    let status = p.status.filter(|s| !s.is_empty());
    if let Some(s) = status.as_ref().filter(|s| !app.lifecycle.knows(s)) {
        return error_page(StatusCode::BAD_REQUEST, &format!("unknown status `{s}`; pick one from the list on /runs"));
    }
    let query = RunQuery { status: status.clone(), limit: PAGE, cursor: p.cursor.clone() };
    let page = match app.store.reads().runs(query).await {
        Ok(page) => page,
        Err(e) => return error_page(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    let next = page.next_cursor.as_ref().map(|c| {
        let mut href = format!("/runs?cursor={}", path_segment(c));
        if let Some(s) = &status {
            href.push_str(&format!("&status={}", path_segment(s)));
        }
        href
    });
    let body = html! {
        h1 { "Runs" }
        form.filter method="get" action="/runs" {
            label { "Status " select name="status" {
                option value="" selected[status.is_none()] { "any" }
                @for s in &app.lifecycle.statuses {
                    option value=(s) selected[status.as_deref() == Some(*s)] { (s) }
                }
            } }
            " " button type="submit" { "Show" }
        }
        @if page.runs.is_empty() {
            p #no-runs { "No runs" @if let Some(s) = &status { " in status " (s) } " yet. Post an event to " code { "/api/ingest/event" } "." }
        } @else {
            table.runs #runs {
                thead { tr { th { "run" } th { "status" } th { "current feature" } th { "progress" } th { "last event" } th { "parked" } } }
                tbody {
                    @for run in &page.runs {
                        tr data-run=(run.run_id) {
                            td { a href=(format!("/runs/{}", path_segment(&run.run_id))) { code { (run.run_id) } } }
                            td { (status_badge(&run.status)) }
                            td { @if let Some((name, _)) = feature(run) { (name) } }
                            td { @if let Some(p) = progress(run) { (progress_bar(p)) } }
                            td { (run.updated_at) }
                            td.num { (run.parked_events) }
                        }
                    }
                }
            }
        }
        @if let Some(href) = next { p.pager { a rel="next" href=(href) { "Next page →" } } }
    };
    html_page(StatusCode::OK, layout("Runs", Some("/api/stream"), body))
}
