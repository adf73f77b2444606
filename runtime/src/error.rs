//! Why an envelope was rejected.
//!
//! Every [`EnvelopeError`] has a stable machine code ([`EnvelopeError::code`])
//! and, where one attribute is at fault, its name
//! ([`EnvelopeError::attribute`]). It serialises to the body the server
//! returns: `{"code": "…", "message": "…", "attribute": "…"}`. Messages are
//! lower-case, name the attribute in backticks and say how to fix it.

use serde::ser::{Serialize, SerializeStruct, Serializer};

/// Longest excerpt of an offending value quoted back in a message: enough to
/// recognise it, short enough that a 100 KB value cannot bloat an error body.
const EXCERPT_CHARS: usize = 64;

/// Quote at most [`EXCERPT_CHARS`] characters of `s`, escaping control
/// characters (`{:?}`) so the message stays one clean line.
pub(crate) fn excerpt(s: &str) -> String {
    let mut chars = s.char_indices();
    match chars.nth(EXCERPT_CHARS) {
        None => format!("{s:?}"),
        Some((cut, _)) => format!("{:?}…", &s[..cut]),
    }
}

/// A CloudEvents envelope (structured, batch or binary mode) broke a rule of
/// the CloudEvents v1.0 spec, its JSON format or its HTTP binding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The body is not well-formed JSON (syntax error, truncation, trailing
    /// bytes, invalid UTF-8, unpaired surrogate escape).
    #[error("the body is not valid JSON: {detail}; {hint}")]
    InvalidJson {
        /// What the JSON parser reported, with line and column.
        detail: String,
        /// How to fix it.
        hint: &'static str,
    },
    /// Valid JSON, but not an object.
    #[error("a structured-mode CloudEvent must be a JSON object, found {found}; wrap the attributes in `{{…}}`")]
    NotAnObject {
        /// The JSON type found instead (`array`, `string`, …).
        found: &'static str,
    },
    /// The same member name appears twice.
    #[error("attribute `{attribute}` appears more than once; send each attribute exactly once")]
    DuplicateAttribute {
        /// The repeated name.
        attribute: String,
    },
    /// A required attribute is absent or `null`.
    #[error("required attribute `{attribute}` is missing; every CloudEvent needs a non-empty `{attribute}`")]
    MissingAttribute {
        /// The missing attribute.
        attribute: &'static str,
    },
    /// An optional attribute that the catalog requires (`envelope.required`)
    /// is absent or `null`.
    #[error(
        "attribute `{attribute}` is missing; this catalog requires it on every event (`envelope.required`), send a non-empty `{attribute}`"
    )]
    RequiredByCatalog {
        /// The missing attribute.
        attribute: &'static str,
    },
    /// `datacontenttype` is not the one media type the catalog allows
    /// (`envelope.datacontenttype`).
    #[error(
        "attribute `datacontenttype` is {found}, but this catalog's events carry `{expected}` (`envelope.datacontenttype`); send `{expected}`"
    )]
    UnexpectedDatacontenttype {
        /// Excerpt of the value sent.
        found: String,
        /// The media type the catalog pins.
        expected: &'static str,
    },
    /// An attribute that must be non-empty is `""`.
    #[error("attribute `{attribute}` is empty; it must be a non-empty string")]
    EmptyAttribute {
        /// The empty attribute.
        attribute: String,
    },
    /// A context attribute has the wrong JSON type.
    #[error("attribute `{attribute}` must be a {expected}, found {found}")]
    InvalidAttributeType {
        /// The attribute.
        attribute: String,
        /// What it must be.
        expected: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// `specversion` is not `"1.0"`.
    #[error("unsupported `specversion` {found}; Herald accepts CloudEvents v1.0 only, send `\"specversion\": \"1.0\"`")]
    UnsupportedSpecversion {
        /// Excerpt of the value sent.
        found: String,
    },
    /// `dataschema` is not an absolute URI.
    #[error(
        "attribute `dataschema` {value} is not an absolute URI (RFC 3986); use a full URI with a scheme, such as `https://example.com/schemas/started.json`"
    )]
    InvalidDataschema {
        /// Excerpt of the value sent.
        value: String,
    },
    /// `time` is not an RFC 3339 date-time.
    #[error(
        "attribute `time` {value} is not an RFC 3339 date-time ({reason}); use a form such as `2024-05-01T12:30:00Z` or `2024-05-01T12:30:00.5+02:00`"
    )]
    InvalidTime {
        /// Excerpt of the value sent.
        value: String,
        /// What part is wrong.
        reason: &'static str,
    },
    /// An extension name breaks the naming rules.
    #[error("invalid extension attribute name `{name}`: {reason}")]
    InvalidExtensionName {
        /// The offending name.
        name: String,
        /// Which rule it breaks, and the fix.
        reason: String,
    },
    /// An extension value is not a string, boolean or 32-bit integer (64-bit
    /// for the extensions a catalog declares so).
    #[error("extension attribute `{name}` has an invalid value: {reason}")]
    InvalidExtensionValue {
        /// The extension.
        name: String,
        /// What is wrong, and the fix.
        reason: String,
    },
    /// Both `data` and `data_base64` are present.
    #[error("`data` and `data_base64` are both present; send JSON data as `data` or binary data as `data_base64`, never both")]
    DataAndDataBase64,
    /// `data_base64` is not standard, padded base64.
    #[error(
        "attribute `data_base64` is not valid base64 ({detail}); encode binary data with the standard alphabet and `=` padding (RFC 4648 §4)"
    )]
    InvalidBase64 {
        /// What the decoder reported.
        detail: String,
    },
    /// A string contains a character CloudEvents forbids.
    #[error(
        "attribute `{attribute}` contains the forbidden character U+{code_point:04X}; CloudEvents strings must not contain control characters or Unicode noncharacters"
    )]
    InvalidString {
        /// The attribute or extension.
        attribute: String,
        /// The first forbidden code point.
        code_point: u32,
    },
    /// A batch body is valid JSON but not an array.
    #[error(
        "a CloudEvents batch must be a JSON array of event objects, found {found}; send `[…]`, or use `application/cloudevents+json` for a single event"
    )]
    NotABatch {
        /// The JSON type found instead.
        found: &'static str,
    },
    /// An attribute or extension string is longer than Herald stores.
    #[error(
        "attribute `{attribute}` is {len} bytes long; at most {max} are accepted — send an identifier or a reference, and put content in `data`"
    )]
    AttributeTooLong {
        /// The attribute or extension.
        attribute: String,
        /// Its length in bytes.
        len: usize,
        /// The most accepted.
        max: usize,
    },
    /// A batch carries more events than one request may.
    #[error("the batch has more than {max} events; send at most {max} per request (split it into several batches)")]
    BatchTooLarge {
        /// The most events one batch may carry.
        max: usize,
    },
    /// A batch element is not an event at all (not an object), or speaks
    /// another CloudEvents version: the whole batch is refused, since a
    /// sender that built it is not sending the events it thinks it is.
    #[error("batch element {index} {reason}; every element of a batch must be a CloudEvents v1.0 event object")]
    MalformedBatch {
        /// The element's index.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A binary-mode header value cannot be decoded.
    #[error("header `{header}` cannot be decoded: {reason}")]
    InvalidHeader {
        /// The attribute the header carries.
        attribute: String,
        /// The header name as sent.
        header: String,
        /// What is wrong, and the fix.
        reason: String,
    },
    /// A binary-mode request carries `ce-datacontenttype`.
    #[error("header `ce-datacontenttype` is not allowed in binary mode; send the data's media type in the `Content-Type` header instead")]
    DatacontenttypeHeader,
    /// A binary-mode body does not match its JSON content type.
    #[error(
        "the body is not valid JSON although the content type {content_type} says it is: {detail}; send a JSON body or the right `Content-Type`"
    )]
    InvalidBody {
        /// The content type (quoted), or `(none)` when absent.
        content_type: String,
        /// What the JSON parser reported.
        detail: String,
    },
}

impl EnvelopeError {
    /// The stable, snake_case machine code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            EnvelopeError::InvalidJson { .. } => "invalid_json",
            EnvelopeError::NotAnObject { .. } => "not_an_object",
            EnvelopeError::DuplicateAttribute { .. } => "duplicate_attribute",
            EnvelopeError::MissingAttribute { .. } | EnvelopeError::RequiredByCatalog { .. } => "missing_attribute",
            EnvelopeError::UnexpectedDatacontenttype { .. } => "invalid_datacontenttype",
            EnvelopeError::EmptyAttribute { .. } => "empty_attribute",
            EnvelopeError::InvalidAttributeType { .. } => "invalid_attribute_type",
            EnvelopeError::UnsupportedSpecversion { .. } => "unsupported_specversion",
            EnvelopeError::InvalidDataschema { .. } => "invalid_dataschema",
            EnvelopeError::InvalidTime { .. } => "invalid_time",
            EnvelopeError::InvalidExtensionName { .. } => "invalid_extension_name",
            EnvelopeError::InvalidExtensionValue { .. } => "invalid_extension_value",
            EnvelopeError::DataAndDataBase64 => "data_and_data_base64",
            EnvelopeError::InvalidBase64 { .. } => "invalid_base64",
            EnvelopeError::InvalidString { .. } => "invalid_string",
            EnvelopeError::NotABatch { .. } => "not_a_batch",
            EnvelopeError::BatchTooLarge { .. } => "batch_too_large",
            EnvelopeError::AttributeTooLong { .. } => "attribute_too_long",
            EnvelopeError::MalformedBatch { .. } => "malformed_batch",
            EnvelopeError::InvalidHeader { .. } => "invalid_header",
            EnvelopeError::DatacontenttypeHeader => "datacontenttype_header",
            EnvelopeError::InvalidBody { .. } => "invalid_body",
        }
    }

    /// The attribute (or extension) at fault, when there is one.
    pub fn attribute(&self) -> Option<&str> {
        match self {
            EnvelopeError::DuplicateAttribute { attribute }
            | EnvelopeError::EmptyAttribute { attribute }
            | EnvelopeError::InvalidAttributeType { attribute, .. }
            | EnvelopeError::InvalidString { attribute, .. }
            | EnvelopeError::InvalidHeader { attribute, .. }
            | EnvelopeError::AttributeTooLong { attribute, .. } => Some(attribute),
            EnvelopeError::MissingAttribute { attribute } | EnvelopeError::RequiredByCatalog { attribute } => Some(attribute),
            EnvelopeError::UnexpectedDatacontenttype { .. } => Some("datacontenttype"),
            EnvelopeError::InvalidExtensionName { name, .. } | EnvelopeError::InvalidExtensionValue { name, .. } => Some(name),
            EnvelopeError::UnsupportedSpecversion { .. } => Some("specversion"),
            EnvelopeError::InvalidDataschema { .. } => Some("dataschema"),
            EnvelopeError::InvalidTime { .. } => Some("time"),
            EnvelopeError::InvalidBase64 { .. } => Some("data_base64"),
            EnvelopeError::DatacontenttypeHeader => Some("datacontenttype"),
            EnvelopeError::InvalidBody { .. } => Some("data"),
            EnvelopeError::InvalidJson { .. }
            | EnvelopeError::NotAnObject { .. }
            | EnvelopeError::DataAndDataBase64
            | EnvelopeError::NotABatch { .. }
            | EnvelopeError::BatchTooLarge { .. }
            | EnvelopeError::MalformedBatch { .. } => None,
        }
    }

    /// Map a serde_json syntax error, with a hint fitting its kind.
    pub(crate) fn from_json(e: &serde_json::Error) -> Self {
        let detail = e.to_string();
        let hint = if e.is_eof() {
            "the body ends early; it looks truncated, send the complete document"
        } else if detail.contains("surrogate") || detail.contains("end of hex escape") {
            // serde_json's words for an unpaired UTF-16 surrogate escape.
            "JSON strings must not contain an unpaired surrogate escape such as `\\ud800`"
        } else if detail.contains("trailing characters") {
            "send exactly one JSON document with nothing after it"
        } else {
            "send well-formed UTF-8 JSON (RFC 8259)"
        };
        EnvelopeError::InvalidJson { detail, hint }
    }
}

/// The stable wire shape: `{"code", "message", "attribute"?}`.
impl Serialize for EnvelopeError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let attribute = self.attribute();
        let len = if attribute.is_some() { 3 } else { 2 };
        let mut s = serializer.serialize_struct("EnvelopeError", len)?;
        s.serialize_field("code", self.code())?;
        s.serialize_field("message", &self.to_string())?;
        match attribute {
            Some(a) => s.serialize_field("attribute", a)?,
            None => s.skip_field("attribute")?,
        }
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_to_the_stable_shape() {
        let e = EnvelopeError::MissingAttribute { attribute: "id" };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["code"], "missing_attribute");
        assert_eq!(v["attribute"], "id");
        assert_eq!(v["message"], "required attribute `id` is missing; every CloudEvent needs a non-empty `id`");
        let v = serde_json::to_value(EnvelopeError::DataAndDataBase64).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 2, "attribute omitted when none: {v}");
    }

    #[test]
    fn excerpts_are_bounded() {
        let long = "x".repeat(10_000);
        assert!(excerpt(&long).chars().count() < 70);
        assert_eq!(excerpt("a\u{1}b"), "\"a\\u{1}b\"");
    }
}
