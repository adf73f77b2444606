//! RFC 9457 problem details: every error response has the same JSON shape.
//!
//! `type` is a stable URN per problem (`urn:herald:problem:invalid-envelope`),
//! `code` the machine code of the specific rule (`missing_attribute`,
//! `unknown_type`, …), and `errors` the per-field details with JSON pointers
//! when the data failed its schema.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald::{DataError, EnvelopeError};
use serde::Serialize;
use serde_json::Value;

use crate::pipeline::Refusal;
use crate::store::{StoreError, StoreErrorKind};

/// The media type of problem responses.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error response body.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Problem type URN.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the problem type.
    pub title: &'static str,
    /// HTTP status code.
    pub status: u16,
    /// What exactly was wrong, and what to do about it.
    pub detail: String,
    /// Machine code of the specific rule.
    pub code: String,
    /// The attribute at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    /// Per-field errors (`pointer`, `rule`, `message`, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Value>,
    /// Seconds to wait before retrying (503 only; also sent as a header).
    #[serde(skip)]
    pub retry_after: Option<u32>,
}

impl Problem {
    fn new(status: StatusCode, slug: &str, title: &'static str, code: impl Into<String>, detail: impl Into<String>) -> Self {
        Problem {
            kind: format!("urn:herald:problem:{slug}"),
            title,
            status: status.as_u16(),
            detail: detail.into(),
            code: code.into(),
            attribute: None,
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// 400: the envelope breaks a CloudEvents rule.
    pub fn envelope(e: &EnvelopeError) -> Self {
        // Too many events is about size, like a body over the limit.
        let status = match e {
            EnvelopeError::BatchTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        let mut p = Problem::new(status, "invalid-envelope", "Invalid CloudEvents envelope", e.code(), e.to_string());
        p.attribute = e.attribute().map(str::to_owned);
        p
    }

    /// 422: unknown type, or data failing its schema.
    pub fn data(e: &DataError) -> Self {
        let (slug, title) = match e {
            DataError::UnknownType { .. } => ("unknown-type", "Unknown event type"),
            _ => ("invalid-data", "Event data does not match its schema"),
        };
        let body = serde_json::to_value(e).unwrap_or_default();
        let code = body.get("code").and_then(Value::as_str).unwrap_or("invalid_data").to_owned();
        let mut p = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, slug, title, code, e.to_string());
        p.errors = match e {
            DataError::Invalid { errors } => errors.iter().filter_map(|v| serde_json::to_value(v).ok()).collect(),
            DataError::Shape { .. } | DataError::Subject { .. } => vec![body],
            _ => Vec::new(),
        };
        if let DataError::Subject { .. } = e {
            p.attribute = Some("subject".to_owned());
        }
        if let DataError::Extension { name, .. } = e {
            p.attribute = Some(name.clone());
        }
        p
    }

    /// 422: the catalog refused the event's data, or its handler refused
    /// the event.
    pub fn refusal(r: &Refusal) -> Self {
        match r {
            Refusal::Data(e) => Problem::data(e),
            Refusal::Handler(message) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "refused",
                "Event refused by its handler",
                "handler_refused",
                message.clone(),
            ),
            Refusal::EmptyRunId { key, .. } => {
                let mut p = Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-data",
                    "Event data does not match its schema",
                    "empty_run_id",
                    r.to_string(),
                );
                let pointer = format!("/data/{}", key.replace('~', "~0").replace('/', "~1"));
                p.errors = vec![serde_json::json!({"pointer": pointer, "rule": "empty_run_id", "value": "", "message": r.to_string()})];
                p
            }
        }
    }

    /// 413: the body is over the configured limit.
    pub fn too_large(limit: usize) -> Self {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "Request body too large",
            "body_too_large",
            format!("the request body is over the {limit}-byte limit; send smaller batches or raise --body-limit"),
        )
    }

    /// 415: no mode matches the request's media type.
    pub fn unsupported_media(content_type: Option<&str>) -> Self {
        let detail = match content_type {
            Some(ct) => format!(
                "`Content-Type: {ct}` is not an event format; send application/cloudevents+json, \
                 application/cloudevents-batch+json, application/json, or binary mode with ce-* headers"
            ),
            None => "the request has no Content-Type; send application/cloudevents+json, \
                     application/cloudevents-batch+json, application/json, or binary mode with ce-* headers"
                .to_owned(),
        };
        Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "unsupported_media_type",
            detail,
        )
    }

    /// 400: the request body could not be read (client aborted, bad framing).
    pub fn unreadable(detail: impl std::fmt::Display) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, "unreadable-body", "Request body could not be read", "unreadable_body", detail.to_string())
    }

    /// 400: a query parameter is malformed.
    pub fn bad_query(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, "invalid-query", "Invalid query parameter", "invalid_query", detail)
    }

    /// 404.
    pub fn not_found(what: impl Into<String>) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", "not_found", what)
    }

    /// A store failure: 503 with `Retry-After` when the store cannot take
    /// the request now (nothing was acknowledged, so the sender must
    /// retry); 500 when stored data cannot be read or a bug was hit.
    pub fn store(e: &StoreError) -> Self {
        match e.kind {
            StoreErrorKind::Unavailable => {
                let mut p = Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store-unavailable",
                    "Event store unavailable",
                    "store_unavailable",
                    format!("{e}; the event was not stored, retry later"),
                );
                p.retry_after = Some(1);
                p
            }
            StoreErrorKind::Internal => Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store-internal",
                "Internal store error",
                "store_internal",
                format!("{e}; retrying will not help, the operator must look at the server's log"),
            ),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after;
        let mut resp = (status, axum::Json(&self)).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}
