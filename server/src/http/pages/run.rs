//! `GET /runs/{run_id}`: one run — its place in the lifecycle, current
//! feature, metrics, collections, event timeline and parked events.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, PreEscaped, html};
use serde_json::{Map, Value};
use std::sync::Arc;

use super::runs::{feature, progress_bar, status_badge};
use super::{error_page, html_page, layout, path_segment};
use crate::catalog::Handlers;
use crate::http::App;
use crate::http::problem::Problem;
use crate::store::{EventQuery, HistoryEntry, INLINE_ITEMS, Reads, RunView, Store, StoredEvent};

/// Events shown in the timeline; the rest are a link to the API.
const TIMELINE: usize = 200;

/// A JSON value in one line, strings bare.
fn short(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One run's page: status, progress, lifecycle, events, parked events.
#[utoipa::path(get, path = "/runs/{run_id}", tag = "pages", operation_id = "run_page",
    params(("run_id" = String, Path, description = "The run's id.")),
    responses(
        (status = 200, description = "HTML.", content_type = "text/html; charset=utf-8", body = String),
        (status = 404, description = "No event of this run was received (HTML).", content_type = "text/html; charset=utf-8", body = String),
        (status = 503, description = "The store cannot answer now (HTML), or the server is at `--max-connections`.", content((Problem = "application/problem+json"), (String = "text/html; charset=utf-8"))),
    ))]
pub async fn page<S: Store, H: Handlers>(State(app): State<Arc<App<S, H>>>, Path(run_id): Path<String>) -> Response {
    let (run, history) = match app.store.reads().run(&run_id).await {
        Ok(Some(found)) => found,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, &format!("no run `{run_id}` has received events")),
        Err(e) => return error_page(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    let events = match app.store.reads().run_events(&run_id, EventQuery { after_seq: None, cursor: None, limit: TIMELINE }).await {
        Ok(page) => page,
        Err(e) => return error_page(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    let id = path_segment(&run_id);
    let parked: Vec<&StoredEvent> = events.events.iter().filter(|e| e.state == "parked").collect();
    let body = html! {
        p.crumbs { a href="/runs" { "Runs" } " / " code { (run_id) } }
        h1 { "Run " code { (run_id) } }
        p { "Status " span #status data-status=(run.status) { (status_badge(&run.status)) }
            " · last event " span #updated-at { (run.updated_at) } }
        figure.diagram #lifecycle { (PreEscaped(H::site().lifecycle_svg(&run.status))) }
        div.cards {
            (feature_card(&run))
            (summary_card(&run))
        }
        (metrics(&run))
        (collections(&app, &run, &id))
        h2 { "Parked events" }
        (parked_table(&run, &parked, app.gap_timeout))
        h2 { "Timeline" }
        (timeline(&events.events))
        @if events.next_cursor.is_some() {
            p { "Showing the first " (TIMELINE) " events; the rest: "
                a href=(format!("/api/runs/{id}/events?cursor={}", events.next_cursor.as_deref().map(path_segment).unwrap_or_default())) { "events API" } "." }
        }
        @if !history.is_empty() { h2 { "History" } (history_table(&history)) }
        p.muted { "As JSON: " a href=(format!("/api/runs/{id}")) { "/api/runs/…" } "; live: " code { "GET /api/runs/{run_id}/stream" } "." }
    };
    html_page(StatusCode::OK, layout(&format!("Run {run_id}"), Some(&format!("/api/runs/{id}/stream")), body))
}

fn feature_card(run: &RunView) -> Markup {
    let f = run.doc.get("current_feature").and_then(Value::as_object);
    html! {
        div.card #feature {
            h3 { "Current feature" }
            @match (feature(run), f) {
                (Some((name, progress)), Some(f)) => {
                    p { strong #feature-name { (name) } " "
                        @if let Some(s) = f.get("status").and_then(Value::as_str) { (status_badge(s)) } }
                    p #feature-progress data-progress=[progress] {
                        @match progress { Some(p) => { (progress_bar(p)) } None => { "no progress reported" } }
                    }
                    @if let Some(step) = f.get("current_step").and_then(Value::as_str) { p { "Step: " (step) } }
                    @if let Some(at) = f.get("started_at") { p.muted { "started " (short(at)) } }
                    @if let Some(at) = f.get("completed_at") { p.muted { "completed " (short(at)) } }
                }
                _ => { p.muted { "No feature has started." } }
            }
        }
    }
}

fn summary_card(run: &RunView) -> Markup {
    let field = |k: &str| run.doc.get(k).map(short);
    html! {
        div.card #summary {
            h3 { "Run" }
            dl.meta {
                @if let Some(p) = run.doc.get("progress").and_then(Value::as_f64) { dt { "progress" } dd { (progress_bar(p)) } }
                @if let Some(step) = field("current_step") { dt { "step" } dd { (step) } }
                dt { "last seq" } dd #last-seq { @match run.last_event_seq { Some(s) => { (s) } None => { "—" } } }
                dt { "applied" } dd #applied { (run.applied_events) }
                dt { "parked" } dd #parked-count { (run.parked_events) }
                @for k in ["pipeline", "result", "started_at", "completed_at", "error_message"] {
                    @if let Some(v) = field(k) { dt { (k) } dd { (v) } }
                }
                @if let Some(e) = run.doc.get("last_error") {
                    dt { "last error" } dd { (e.get("error_type").map(short).unwrap_or_default()) ": " (e.get("error_message").map(short).unwrap_or_default()) }
                }
            }
        }
    }
}

fn metrics(run: &RunView) -> Markup {
    let Some(m) = run.doc.get("metrics").and_then(Value::as_object).filter(|m| !m.is_empty()) else { return html! {} };
    html! {
        h2 { "Metrics" }
        table.fields #metrics { tbody { @for (k, v) in m { tr { td { code { (k) } } td.num { (short(v)) } } } } }
    }
}

/// Stages, nodes, papers and artifacts as the run document holds them;
/// a collection too large to show inline is a count and a link to its pages.
fn collections<S, H>(app: &App<S, H>, run: &RunView, id: &str) -> Markup {
    let shown: Vec<&str> = app.layout.collections().iter().map(String::as_str).filter(|c| *c != "metrics").collect();
    html! {
        @for c in shown {
            @let count = run.item_counts.get(c).copied().unwrap_or(0);
            @if count > 0 {
                h2 { (c) " " span.muted { "(" (count) ")" } }
                @match run.doc.get(c).and_then(Value::as_object) {
                    Some(items) if count as usize <= INLINE_ITEMS => { (items_table(c, items)) }
                    _ => { p { a href=(format!("/api/runs/{id}/items/{c}")) { "Page through the " (count) " " (c) } } }
                }
            }
        }
    }
}

fn items_table(collection: &str, items: &Map<String, Value>) -> Markup {
    html! {
        table.fields data-collection=(collection) {
            tbody {
                @for (key, item) in items {
                    tr {
                        td { code { (key) } }
                        td {
                            @match item.as_object() {
                                Some(fields) => { @for (i, (k, v)) in fields.iter().enumerate() { @if i > 0 { " · " } span.muted { (k) } " " (short(v)) } }
                                None => { (short(item)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The envelope attributes the timeline shows, read in one parse of the
/// stored text (other members, `data` included, are skipped, not built).
#[derive(Default, serde::Deserialize)]
struct Shown<'a> {
    #[serde(rename = "type", borrow, default)]
    type_name: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    time: std::borrow::Cow<'a, str>,
}

impl<'a> Shown<'a> {
    /// Empty where the stored text is not an envelope (never a page error).
    fn of(e: &'a StoredEvent) -> Self {
        serde_json::from_str(e.event.get()).unwrap_or_default()
    }
}

fn timeline(events: &[StoredEvent]) -> Markup {
    html! {
        @if events.is_empty() { p { "No events." } } @else {
            table.timeline #timeline {
                thead { tr { th { "seq" } th { "type" } th { "time" } th { "received" } th { "outcome" } } }
                tbody {
                    @for e in events {
                        @let shown = Shown::of(e);
                        tr data-seq=[e.seq] data-state=(e.state) {
                            td.num { @if let Some(s) = e.seq { (s) } }
                            td { code { (shown.type_name) } }
                            td { (shown.time) }
                            td { (e.received_at) }
                            td { span class=(format!("outcome {}", e.state)) { (e.state.replace('_', " ")) } }
                        }
                    }
                }
            }
        }
    }
}

/// Parked events and the gap they wait on: `seq`s after the run's last
/// one up to the first parked one, given up on `gap_timeout` after the
/// first parked event arrived.
fn parked_table(run: &RunView, parked: &[&StoredEvent], gap_timeout: std::time::Duration) -> Markup {
    let first = parked.iter().filter_map(|e| e.seq).min();
    let next = run.last_event_seq.map_or(1, |s| s + 1);
    let gap = match first {
        Some(f) if f - 1 > next => format!("seq {next}–{}", f - 1),
        Some(_) => format!("seq {next}"),
        None => String::new(),
    };
    let times_out = parked
        .iter()
        .filter_map(|e| chrono::DateTime::parse_from_rfc3339(&e.received_at).ok())
        .min()
        .and_then(|t| chrono::Duration::from_std(gap_timeout).ok().map(|d| t + d))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    html! {
        @if parked.is_empty() {
            p #no-parked { "None: nothing waits for a " code { "seq" } " gap." }
        } @else {
            p #gap { "Waiting for " strong { (gap) } " (the run has applied up to "
                (run.last_event_seq.map_or_else(|| "none".to_owned(), |s| format!("seq {s}"))) ")"
                @if let Some(t) = times_out { "; the gap times out at " (t) " and they are applied anyway" } "." }
            table.timeline #parked {
                thead { tr { th { "seq" } th { "type" } th { "received" } th { "waits for" } } }
                tbody {
                    @for e in parked {
                        tr data-seq=[e.seq] {
                            td.num { @if let Some(s) = e.seq { (s) } }
                            td { code { (Shown::of(e).type_name) } }
                            td { (e.received_at) }
                            td { (gap) }
                        }
                    }
                }
            }
        }
    }
}

fn history_table(history: &[HistoryEntry]) -> Markup {
    html! {
        table.timeline #history {
            thead { tr { th { "at" } th { "what" } th { "detail" } } }
            tbody { @for h in history { tr { td { (h.at) } td { (h.kind.replace('_', " ")) } td { code { (short(&h.detail)) } } } } }
        }
    }
}
