//! `POST /api/ingest/event`: structured, binary and batch mode.
//!
//! The handler only picks the mode, reads the body within the limit and
//! maps results to HTTP; the work is the catalog's one-pass parse (validate
//! and decode), `pipeline::prepare` (handle) and `Store::ingest` (dedup,
//! store, apply). The response is sent only after the store has committed.

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald::envelope::{media, parse_binary};
use herald::{EnvelopeError, EventCatalog, Parsed};
use http_body_util::BodyExt;
use serde::Serialize;
use std::sync::Arc;
use tracing::Instrument;
use utoipa::ToSchema;

use super::App;
use super::problem::Problem;
use crate::auth::{self, Access};
use crate::catalog::{EventOf, Handlers};
use crate::metrics::EventOutcome;
use crate::pipeline;
use crate::store::{NewEvent, Outcome, Store};

/// How the request carries its event(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Structured,
    Binary,
    Batch,
}

/// Pick the mode from `Content-Type` and headers, as the CloudEvents HTTP
/// binding says: the two CloudEvents media types name their mode; any
/// other request carrying a `ce-*` header is binary — even when its body
/// is JSON that looks like an envelope, since the sender said where the
/// attributes are (and a binary request missing `ce-specversion` is told
/// so, instead of having its headers silently ignored); plain JSON without
/// `ce-*` headers is a structured envelope (what the seed's curl sends).
fn mode(content_type: Option<&str>, headers: &HeaderMap) -> Option<Mode> {
    let binary = || headers.keys().any(|name| name.as_str().starts_with("ce-"));
    match content_type {
        Some(ct) if media::is_cloudevents_batch(ct) => Some(Mode::Batch),
        Some(ct) if media::is_cloudevents(ct) => Some(Mode::Structured),
        _ if binary() => Some(Mode::Binary),
        Some(ct) if media::essence(ct) == "application/json" => Some(Mode::Structured),
        _ => None,
    }
}

/// Send events: one (structured or binary mode) or a batch.
///
/// The mode comes from `Content-Type`: `application/cloudevents+json` is
/// one event in structured mode, `application/cloudevents-batch+json` a
/// batch; any other request with a `ce-*` header is binary mode (the
/// attributes in `ce-*` headers, the body is `data`), and plain
/// `application/json` without `ce-*` headers is a structured event. Each
/// event is validated against its type in the catalog, deduplicated on
/// `(source, id)`, and stored durably before the answer. A stored event
/// is answered 200 (applied, duplicate, stale, illegal transition) or 202
/// (parked behind a `seq` gap); a batch is answered 200 with a result per
/// element once the batch itself is well formed.
///
/// `access` is the caller's API key when keys are configured (see
/// [`crate::auth`]): each event must be inside its grant.
#[utoipa::path(post, path = "/api/ingest/event", tag = "ingest",
    params(
        ("ce-specversion" = Option<String>, Header, description = "Binary mode: `1.0`. Any `ce-*` header on a request that is not `application/cloudevents…` selects binary mode."),
        ("ce-id" = Option<String>, Header, description = "Binary mode: the event's `id`."),
        ("ce-source" = Option<String>, Header, description = "Binary mode: the event's `source`."),
        ("ce-type" = Option<String>, Header, description = "Binary mode: the event's `type`."),
    ),
    request_body(description = "One event of the catalog (structured mode), a batch of them, or in binary mode the event's `data`.",
        content(
            (ref("#/components/schemas/CloudEvent") = "application/cloudevents+json"),
            (ref("#/components/schemas/CloudEventBatch") = "application/cloudevents-batch+json"),
            (ref("#/components/schemas/CloudEvent") = "application/json"),
        )),
    responses(
        (status = 200, description = "Stored (applied, duplicate, stale or illegal transition); for a batch, a result per element.",
            body = Ingested),
        (status = 202, description = "Stored and parked: applied once the `seq` gap before it fills or times out.", body = Acknowledged),
        (status = 400, description = "The envelope breaks a CloudEvents rule, or the batch is malformed.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over `--body-limit`, or the batch over `--max-batch-events`.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "No mode matches the `Content-Type`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown event type, or `data` fails its schema (`errors` has a JSON pointer per failure).", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn ingest<S: Store, H: Handlers>(
    State(app): State<Arc<App<S, H>>>,
    access: Option<Extension<Access>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let access = access.map(|Extension(a)| a);
    let access = access.as_ref();
    let content_type = match headers.get(header::CONTENT_TYPE).map(|v| v.to_str()) {
        None => None,
        Some(Ok(ct)) => Some(ct),
        Some(Err(_)) => return Problem::unsupported_media(Some("<not ASCII>")).into_response(),
    };
    let Some(mode) = mode(content_type, &headers) else {
        return Problem::unsupported_media(content_type).into_response();
    };
    let bytes = match read_body(&headers, body, app.body_limit).await {
        Ok(b) => b,
        Err(p) => return p.into_response(),
    };
    let span = tracing::info_span!("ingest", ?mode, traceparent = tracing::field::Empty);
    async move {
        match mode {
            // One pass: the envelope is read and `data` decoded into its
            // type together (same verdicts as parse + decode).
            Mode::Structured => single(&app, access, H::Catalog::parse_event(&bytes)).await,
            Mode::Binary => {
                let pairs = headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes()));
                let parsed = parse_binary(pairs, &bytes, H::Catalog::ENVELOPE).map(|envelope| {
                    let event = H::Catalog::decode(&envelope);
                    Parsed { envelope, event }
                });
                single(&app, access, parsed).await
            }
            Mode::Batch => batch(&app, access, &bytes).await,
        }
    }
    .instrument(span)
    .await
}

/// A body over the limit is still read (and dropped) up to this many bytes
/// past the limit before the 413 goes out. A client that writes its whole
/// body before reading the response would otherwise see a reset
/// connection instead of the problem document; beyond this, the
/// connection is simply closed. Counted from the limit, not from zero: a
/// fixed total (8 MiB) once refused bodies under a larger `--body-limit`
/// (413 with a `Content-Length`, a body cut short and a 400 when chunked).
const DRAIN_PAST_LIMIT: u64 = 8 * 1024 * 1024;

/// Read the whole body, refusing it (413) when it passes `limit`.
async fn read_body(headers: &HeaderMap, mut body: Body, limit: usize) -> Result<Vec<u8>, Problem> {
    let limit_bytes = limit as u64;
    let drain_max = limit_bytes.saturating_add(DRAIN_PAST_LIMIT);
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > drain_max) {
        // Not worth reading at all.
        return Err(Problem::too_large(limit));
    }
    let mut buf = Vec::with_capacity(declared.map_or(8 * 1024, |n| n.min(limit_bytes) as usize));
    let mut seen: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(Problem::unreadable)?;
        let Ok(data) = frame.into_data() else { continue };
        seen += data.len() as u64;
        if seen > drain_max {
            break;
        }
        if seen <= limit_bytes {
            buf.extend_from_slice(&data);
        }
    }
    if seen > limit_bytes {
        return Err(Problem::too_large(limit));
    }
    Ok(buf)
}

async fn single<S: Store, H: Handlers>(
    app: &App<S, H>,
    access: Option<&Access>,
    parsed: Result<Parsed<'_, EventOf<H>>, EnvelopeError>,
) -> Response {
    let Parsed { envelope, event } = match parsed {
        Ok(p) => p,
        Err(e) => {
            app.metrics.unreadable_event();
            return Problem::envelope(&e).into_response();
        }
    };
    if let Err(p) = auth::admit_ingest(access, [(0, &*envelope.source, &*envelope.ty)], 1) {
        return (*p).into_response();
    }
    if let Some(tp) = envelope.extension("traceparent").and_then(|v| v.as_str()) {
        tracing::Span::current().record("traceparent", tp);
    }
    let event = match pipeline::prepare(&app.handlers, &envelope, event).await {
        Ok(ev) => ev,
        Err(refusal) => {
            app.metrics.event(&envelope.ty, EventOutcome::Rejected);
            return Problem::refusal(&refusal).into_response();
        }
    };
    let (id, source, type_name) = (event.id.clone(), event.source.clone(), event.type_name.clone());
    match app.store.ingest(vec![event]).await {
        Ok(mut outcomes) => match outcomes.pop() {
            Some(outcome) => {
                app.metrics.event(&type_name, EventOutcome::of(&outcome));
                publish(app, &type_name, &outcome);
                tracing::debug!(%id, %source, ?outcome, "ingested");
                let status = status_of(&outcome);
                (status, axum::Json(Ingested::Event(Acknowledged { outcome, id, source }))).into_response()
            }
            None => Problem::store(&crate::store::StoreError::internal("the store returned no outcome")).into_response(),
        },
        Err(e) => {
            app.metrics.event(&type_name, EventOutcome::Failed);
            if let Some(folded) = app.unavailable_log.pass() {
                tracing::warn!(error = %e, %id, %source, folded, "store unavailable; event not acknowledged (`folded`: refusals since the last such line)");
            }
            Problem::store(&e).into_response()
        }
    }
}

async fn batch<S: Store, H: Handlers>(app: &App<S, H>, access: Option<&Access>, bytes: &[u8]) -> Response {
    let parsed = match H::Catalog::parse_batch_events(bytes, app.max_batch_events) {
        Ok(p) => p,
        Err(e) => return Problem::envelope(&e).into_response(),
    };
    // All or nothing: one event outside the key's grant refuses the whole
    // batch (403). Elements whose envelope is invalid have no trusted
    // source or type; they are answered per element as before, but are
    // still charged to the rate limit like the rest.
    let identities = parsed.iter().enumerate().filter_map(|(i, p)| p.as_ref().ok().map(|p| (i, &*p.envelope.source, &*p.envelope.ty)));
    if let Err(p) = auth::admit_ingest(access, identities, parsed.len() as u64) {
        return (*p).into_response();
    }
    let mut results: Vec<Option<BatchItem>> = (0..parsed.len()).map(|_| None).collect();
    let mut accepted: Vec<(usize, NewEvent)> = Vec::with_capacity(parsed.len());
    for (index, item) in parsed.into_iter().enumerate() {
        let problem = match item {
            Err(e) => {
                app.metrics.unreadable_event();
                Problem::envelope(&e)
            }
            Ok(Parsed { envelope, event }) => match pipeline::prepare(&app.handlers, &envelope, event).await {
                Ok(ev) => {
                    accepted.push((index, ev));
                    continue;
                }
                Err(refusal) => {
                    app.metrics.event(&envelope.ty, EventOutcome::Rejected);
                    Problem::refusal(&refusal)
                }
            },
        };
        results[index] = Some(BatchItem::Invalid { index, status: Invalid::Invalid, problem });
    }
    let rejected = results.len() - accepted.len();
    let (indices, events): (Vec<usize>, Vec<NewEvent>) = accepted.into_iter().unzip();
    let identities: Vec<(String, String, String)> = events.iter().map(|e| (e.id.clone(), e.source.clone(), e.type_name.clone())).collect();
    let outcomes = match app.store.ingest(events).await {
        Ok(o) => o,
        Err(e) => {
            for (_, _, type_name) in &identities {
                app.metrics.event(type_name, EventOutcome::Failed);
            }
            if let Some(folded) = app.unavailable_log.pass() {
                tracing::warn!(error = %e, folded, "store unavailable; batch not acknowledged (`folded`: refusals since the last such line)");
            }
            return Problem::store(&e).into_response();
        }
    };
    for ((index, outcome), (id, source, type_name)) in indices.into_iter().zip(outcomes).zip(identities) {
        app.metrics.event(&type_name, EventOutcome::of(&outcome));
        publish(app, &type_name, &outcome);
        results[index] = Some(BatchItem::Stored { index, ack: Acknowledged { outcome, id, source } });
    }
    let results: Vec<BatchItem> = results.into_iter().flatten().collect();
    let body = Ingested::Batch(BatchAnswer { accepted: results.len() - rejected, rejected, results });
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// Tell the live streams what a stored event did (after the commit, so a
/// page that refetches on the notice sees it).
fn publish<S, H>(app: &App<S, H>, type_name: &str, outcome: &Outcome) {
    if !app.feed.is_watched() {
        return;
    }
    if let Some(notice) = crate::feed::Notice::of(type_name, outcome) {
        app.feed.publish(notice);
    }
}

/// 202 for a parked event (stored, not yet applied); 200 for everything
/// else that was stored — including duplicates, so senders stop retrying.
fn status_of(outcome: &Outcome) -> StatusCode {
    match outcome {
        Outcome::Parked { .. } => StatusCode::ACCEPTED,
        _ => StatusCode::OK,
    }
}

/// A successful answer of the ingest route.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Ingested {
    /// To one event (structured or binary mode).
    Event(Acknowledged),
    /// To a batch.
    Batch(BatchAnswer),
}

/// The answer for one stored event: what happened to it, and which event
/// it was.
#[derive(Debug, Serialize, ToSchema)]
pub struct Acknowledged {
    /// What happened (`status`), and the run's details.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The event's `id`.
    pub id: String,
    /// The event's `source`.
    pub source: String,
}

/// The answer to a well-formed batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchAnswer {
    /// Elements stored (whatever their outcome).
    pub accepted: usize,
    /// Elements refused (see their `problem`).
    pub rejected: usize,
    /// One result per element, in the batch's order.
    pub results: Vec<BatchItem>,
}

/// The result of one batch element.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum BatchItem {
    /// Stored: what happened to it.
    Stored {
        /// Its place in the batch, from 0.
        index: usize,
        /// Its outcome and identity.
        #[serde(flatten)]
        ack: Acknowledged,
    },
    /// Refused, nothing stored: why.
    Invalid {
        /// Its place in the batch, from 0.
        index: usize,
        /// Always `invalid`.
        status: Invalid,
        /// What was wrong, as the answer to it alone would say.
        problem: Problem,
    },
}

/// The `status` of a refused batch element.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Invalid {
    /// Refused.
    Invalid,
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn media_types_pick_the_mode_case_insensitively_with_parameters() {
        let none = HeaderMap::new();
        assert_eq!(mode(Some("Application/CloudEvents+JSON; charset=utf-8"), &none), Some(Mode::Structured));
        assert_eq!(mode(Some("application/cloudevents-batch+json"), &none), Some(Mode::Batch));
        assert_eq!(mode(Some("APPLICATION/JSON;charset=UTF-8"), &none), Some(Mode::Structured));
        assert_eq!(mode(Some("text/plain"), &none), None);
        assert_eq!(mode(None, &none), None);
    }

    #[test]
    fn ce_headers_make_binary_mode_except_under_a_cloudevents_media_type() {
        let ce = headers(&[("ce-specversion", "1.0")]);
        assert_eq!(mode(Some("application/json"), &ce), Some(Mode::Binary));
        assert_eq!(mode(Some("application/octet-stream"), &ce), Some(Mode::Binary));
        assert_eq!(mode(None, &ce), Some(Mode::Binary));
        assert_eq!(mode(Some("application/cloudevents+json"), &ce), Some(Mode::Structured));
    }
}
