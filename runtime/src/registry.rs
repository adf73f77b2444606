//! The registry: what a generated catalog tells the runtime about its
//! event types, and typed decoding of `data`.

use std::marker::PhantomData;

use serde::Serialize;

use crate::envelope::{self, Data, DataHook, Envelope, EnvelopeOptions, RawJson};
use crate::error::EnvelopeError;
use crate::validate::{Validate, ValidationError};

/// Forward `Deserializer` methods to `self.de`, the visitor as it is.
macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*))*) => {$(
        fn $method<V: serde::de::Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
            self.de.$method($($arg,)* visitor)
        }
    )*};
}

/// Every `Deserializer` method but `deserialize_map`, `deserialize_struct`
/// and `is_human_readable` forwarded to `self.de`: what a wrapper that only
/// cares about objects leaves alone.
macro_rules! forward_deserialize_but_maps {
    () => {
        forward_deserialize! {
            deserialize_any() deserialize_bool() deserialize_i8() deserialize_i16() deserialize_i32()
            deserialize_i64() deserialize_i128() deserialize_u8() deserialize_u16() deserialize_u32()
            deserialize_u64() deserialize_u128() deserialize_f32() deserialize_f64() deserialize_char()
            deserialize_str() deserialize_string() deserialize_bytes() deserialize_byte_buf()
            deserialize_option() deserialize_unit() deserialize_unit_struct(name: &'static str)
            deserialize_newtype_struct(name: &'static str) deserialize_seq() deserialize_tuple(len: usize)
            deserialize_tuple_struct(name: &'static str, len: usize)
            deserialize_enum(name: &'static str, variants: &'static [&'static str])
            deserialize_identifier() deserialize_ignored_any()
        }
    };
}

mod object_only;
mod subject;

use object_only::ObjectOnly;

/// Implemented by every generated (or `#[cloud_event]`) data struct.
pub trait EventData: Validate + serde::de::DeserializeOwned + Serialize + Send + 'static {
    /// The CloudEvents `type`.
    const TYPE: &'static str;
    /// Schema version of the data.
    const VERSION: u32;
    /// The JSON Schema of the data, as JSON text.
    const SCHEMA: &'static str;
}

/// One row of a catalog's registry table.
pub struct EventTypeInfo<E: 'static> {
    /// The CloudEvents `type`.
    pub type_name: &'static str,
    /// Schema version of the data.
    pub version: u32,
    /// What the event means.
    pub description: &'static str,
    /// JSON Schema of `data`, as JSON text.
    pub schema: &'static str,
    /// Name of the Rust data type.
    pub rust_name: &'static str,
    /// Name of the handler trait method.
    pub handler_method: &'static str,
    /// The data property (JSON name) that keys the per-run stream, or
    /// `None` for an event that belongs to no run (`stream_key: none`).
    ///
    /// An event without one is validated, deduplicated, stored and
    /// dispatched like any other, but it is not sequenced per run (its
    /// `seq`, if any, orders nothing) and moves no run's status.
    pub stream_key: Option<&'static str>,
    /// `subject` template, if the catalog gives one.
    pub subject: Option<&'static str>,
    /// Decode and validate JSON `data` bytes into the catalog's `Event`.
    pub decode: fn(&[u8]) -> Result<E, DataError>,
}

impl<E> std::fmt::Debug for EventTypeInfo<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventTypeInfo")
            .field("type_name", &self.type_name)
            .field("version", &self.version)
            .field("rust_name", &self.rust_name)
            .finish_non_exhaustive()
    }
}

/// Why an event's `data` could not be turned into a typed value.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DataError {
    /// The envelope's `type` is not in the catalog.
    #[error("unknown event type `{type_name}`; register it in the catalog (events.yaml) or check the sender")]
    UnknownType {
        /// The type that was sent.
        type_name: String,
    },
    /// The event carries no `data`, but its type requires an object.
    #[error("event of type `{type_name}` has no `data`; send the data object its schema describes")]
    MissingData {
        /// The event type.
        type_name: String,
    },
    /// `data` is not JSON (its `datacontenttype` says otherwise).
    #[error("`data` of `{type_name}` must be JSON, but `datacontenttype` is `{datacontenttype}`; send `application/json`")]
    NotJson {
        /// The event type.
        type_name: String,
        /// The declared content type.
        datacontenttype: String,
    },
    /// `data` does not have the shape of the type (missing field, wrong
    /// JSON type, unknown enum value, bad uuid…).
    #[error("{pointer}: {message}")]
    Shape {
        /// Where the problem is, e.g. `/data/run_id`.
        pointer: String,
        /// What serde reported.
        message: String,
    },
    /// `data` has the right shape but breaks schema rules.
    #[error("{}", display_all(.errors))]
    Invalid {
        /// Every rule broken.
        errors: Vec<ValidationError>,
    },
    /// `subject` is not the type's `subject:` template filled from `data`
    /// (catalog option `envelope.subject_matches_template`): a sender bug,
    /// such as a `run/{run_id}` subject over the data of another run.
    #[serde(rename = "subject_mismatch")]
    #[error(
        "{pointer}: `subject` is {found:?}, but the template `{template}` filled from `data` gives {expected:?}; send the subject the template gives"
    )]
    Subject {
        /// Always `/subject`.
        pointer: String,
        /// The type's template.
        template: String,
        /// The subject the template gives for this data.
        expected: String,
        /// The subject that was sent.
        found: String,
    },
    /// A declared extension attribute has the wrong type.
    #[error("extension `{name}` must be {expected}; fix the sender")]
    Extension {
        /// Extension name.
        name: String,
        /// What the catalog declares.
        expected: &'static str,
    },
}

fn display_all(errors: &[ValidationError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

impl DataError {
    /// The JSON pointers of every problem, for error bodies.
    pub fn pointers(&self) -> Vec<&str> {
        match self {
            DataError::Shape { pointer, .. } | DataError::Subject { pointer, .. } => vec![pointer.as_str()],
            DataError::Invalid { errors } => errors.iter().map(|e| e.pointer.as_str()).collect(),
            _ => Vec::new(),
        }
    }
}

/// Decode JSON bytes into `T` and run its generated validation; pointers
/// are rooted at `/data`.
///
/// The fast path is a plain `serde_json` decode. Only when it fails is the
/// input decoded again with path tracking, to say where: errors are rare
/// and tracking paths on every event would cost throughput.
pub fn decode_data<T: EventData>(bytes: &[u8]) -> Result<T, DataError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = match T::deserialize(ObjectOnly::new(&mut de)).and_then(|v| de.end().map(|()| v)) {
        Ok(v) => v,
        Err(first) => return Err(locate_shape_error::<T>(bytes, first)),
    };
    value.validate_at("/data").map_err(|errors| DataError::Invalid { errors })?;
    Ok(value)
}

/// Deserialize a `T` from `d` and run its generated validation: the step
/// both readers share. The outer error is serde's (the data does not have
/// the type's shape); the inner one is the schema rules `T` breaks.
/// Generated `EventCatalog::deserialize_data` calls it for each type.
pub fn deserialize_valid<'de, T: EventData, D: serde::Deserializer<'de>>(d: D) -> Result<Result<T, DataError>, D::Error> {
    let value = T::deserialize(ObjectOnly::new(d))?;
    Ok(match value.validate_at("/data") {
        Ok(()) => Ok(value),
        Err(errors) => Err(DataError::Invalid { errors }),
    })
}

#[cold]
fn locate_shape_error<T: serde::de::DeserializeOwned>(bytes: &[u8], first: serde_json::Error) -> DataError {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(ObjectOnly::new(&mut de)) {
        Err(e) => shape_error(e.path(), e.inner()),
        // Only trailing input can fail the first decode but not this one.
        Ok(_) => DataError::Shape { pointer: "/data".into(), message: first.to_string() },
    }
}

/// The RFC 6901 JSON pointer of a serde path, rooted at `/data`.
///
/// Built from the path's segments, never from its display text: a map key
/// may contain `.`, `[` or `]` (`{"tags": {"x[": 1}}`), which the display
/// form cannot tell apart from its own separators. Each segment is escaped
/// as RFC 6901 requires (`~` → `~0`, `/` → `~1`).
fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::from("/data");
    for segment in path {
        match segment {
            Segment::Seq { index } => {
                out.push('/');
                out.push_str(&index.to_string());
            }
            // An externally tagged enum's variant is a key in the JSON.
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out.push('/');
                out.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            // Where serde lost track (e.g. inside buffered content), stop:
            // pointing at the nearest known ancestor is right, while
            // guessing past it could name a location that does not exist.
            Segment::Unknown => break,
        }
    }
    out
}

/// An event read by [`EventCatalog::parse_event`]: its envelope, and its
/// typed data or why the catalog refused it.
#[derive(Debug)]
pub struct Parsed<'a, E> {
    /// The validated envelope (its `data` still there as raw JSON).
    pub envelope: Envelope<'a>,
    /// What [`EventCatalog::decode`] gives for the envelope.
    pub event: Result<E, DataError>,
}

/// A generated catalog: the registry table plus typed decoding.
pub trait EventCatalog: Sized + 'static {
    /// The generated `Event` enum.
    type Event: Send + 'static;

    /// Every event type, sorted by `type_name`.
    const TYPES: &'static [EventTypeInfo<Self::Event>];

    /// Envelope options the catalog turns on.
    const ENVELOPE: EnvelopeOptions;

    /// Check the declared extension attributes' types.
    fn check_extensions(envelope: &Envelope<'_>) -> Result<(), DataError>;

    /// The run `event` belongs to: the value of the field its type
    /// declares as `stream_key` (generated: `event.stream_key()`), or
    /// `None` for a type declared `stream_key: none`.
    ///
    /// Taken from the data by the catalog, never from a handler, so no
    /// handler can put an event in another run than the one it names.
    fn stream_key(event: &Self::Event) -> Option<&dyn std::fmt::Display>;

    /// Deserialize and validate the data of the type at `index` in
    /// [`EventCatalog::TYPES`] from `d` (generated: one arm per type, each
    /// calling [`deserialize_valid`]).
    fn deserialize_data<'de, D: serde::Deserializer<'de>>(index: usize, d: D) -> Result<Result<Self::Event, DataError>, D::Error>;

    /// Find a type's position in [`EventCatalog::TYPES`].
    fn lookup_index(type_name: &str) -> Option<usize> {
        Self::TYPES.binary_search_by(|info| info.type_name.cmp(type_name)).ok()
    }

    /// Find a type's registry entry.
    fn lookup(type_name: &str) -> Option<&'static EventTypeInfo<Self::Event>> {
        Self::lookup_index(type_name).map(|i| &Self::TYPES[i])
    }

    /// Look up the envelope's type, then decode and validate its data.
    fn decode(envelope: &Envelope<'_>) -> Result<Self::Event, DataError> {
        decode_with::<Self>(envelope, None)
    }

    /// Parse a structured-mode event and decode its data: what
    /// [`Envelope::parse`] with [`EventCatalog::ENVELOPE`] followed by
    /// [`EventCatalog::decode`] gives, with the same verdicts and error
    /// pointers, but in one pass over the input when `type` comes before
    /// `data` (`data` is decoded straight into its type instead of being
    /// skipped, then parsed again).
    fn parse_event(bytes: &[u8]) -> Result<Parsed<'_, Self::Event>, EnvelopeError> {
        let (envelope, decoded) = envelope::parse_with::<CatalogHook<Self>>(bytes, Self::ENVELOPE)?;
        let event = decode_with::<Self>(&envelope, decoded);
        Ok(Parsed { envelope, event })
    }

    /// [`EventCatalog::parse_event`] for an
    /// `application/cloudevents-batch+json` body of at most `max_events`
    /// events: what [`envelope::parse_batch_limited`] followed by
    /// [`EventCatalog::decode`] of each envelope gives, in one pass.
    #[allow(clippy::type_complexity)] // Outer: the body; inner: each event.
    fn parse_batch_events(bytes: &[u8], max_events: usize) -> Result<Vec<Result<Parsed<'_, Self::Event>, EnvelopeError>>, EnvelopeError> {
        let parsed = envelope::parse_batch_with::<CatalogHook<Self>>(bytes, Self::ENVELOPE, max_events)?;
        Ok(parsed
            .into_iter()
            .map(|element: envelope::Element<'_, CatalogHook<Self>>| {
                element.map(|(envelope, decoded)| {
                    let event = decode_with::<Self>(&envelope, decoded);
                    Parsed { envelope, event }
                })
            })
            .collect())
    }
}

/// A catalog lent to the envelope reader, which decodes `data` with it.
struct CatalogHook<C>(PhantomData<C>);

impl<C: EventCatalog> DataHook for CatalogHook<C> {
    type Out<'de> = Decoded<'de, C::Event>;

    fn index(ty: &str) -> Option<usize> {
        C::lookup_index(ty)
    }

    /// Decode `data`, keeping the raw text of the properties the type's
    /// `subject` template names when the catalog checks subjects, so
    /// [`decode_with`] need not read `data` again to find them.
    fn decode<'de, D: serde::Deserializer<'de>>(index: usize, d: D) -> Result<Self::Out<'de>, D::Error> {
        let template = C::TYPES[index].subject.filter(|_| C::ENVELOPE.subject_matches_template);
        let Some(names) = template.and_then(subject::placeholders) else {
            return C::deserialize_data(index, d).map(|event| Decoded { event, subject: None });
        };
        let mut values = subject::Values::new(names.len());
        let event = C::deserialize_data(index, subject::Recording::new(d, &names, &mut values))?;
        Ok(Decoded { event, subject: Some(values) })
    }

    fn refused(index: usize, text: &str) -> Self::Out<'_> {
        Decoded { event: decode_tracking::<C>(index, text), subject: None }
    }
}

/// `data` as the one pass decoded it.
struct Decoded<'a, E> {
    /// The typed data, or why its type refused it.
    event: Result<E, DataError>,
    /// What the decode saw of the properties the type's `subject` template
    /// names; `None` when it was not watched.
    subject: Option<subject::Values<'a>>,
}

/// [`EventCatalog::decode`], given what the envelope reader already made of
/// JSON `data` (`decoded`), if anything. The order of the checks is the
/// verdict's: unknown type, declared extensions, content type, then data.
fn decode_with<C: EventCatalog>(envelope: &Envelope<'_>, decoded: Option<Decoded<'_, C::Event>>) -> Result<C::Event, DataError> {
    let index = C::lookup_index(&envelope.ty).ok_or_else(|| DataError::UnknownType { type_name: envelope.ty.to_string() })?;
    let info = &C::TYPES[index];
    C::check_extensions(envelope)?;
    if !envelope.data_is_json() {
        return Err(DataError::NotJson {
            type_name: info.type_name.to_string(),
            datacontenttype: envelope.datacontenttype.as_deref().unwrap_or_default().to_string(),
        });
    }
    let (event, values) = match (&envelope.data, decoded) {
        (Some(Data::Json(_)), Some(decoded)) => (decoded.event, decoded.subject),
        (Some(Data::Json(raw)), None) => (decode_json::<C>(index, *raw), None),
        (Some(Data::Binary(bytes)), _) => ((info.decode)(bytes), None),
        (None, _) => (Err(DataError::MissingData { type_name: info.type_name.to_string() }), None),
    };
    let event = event?;
    if C::ENVELOPE.subject_matches_template
        && let (Some(template), Some(subject), Some(data)) = (info.subject, envelope.subject.as_deref(), &envelope.data)
        // A match on the values the one pass recorded is the verdict; any
        // other answer is the full check's, which reads `data` again (and
        // words the error).
        && !values.is_some_and(|values| values.settle(template, subject))
    {
        check_subject(template, subject, data.as_bytes())?;
    }
    Ok(event)
}

/// `subject` against `template` filled from the (valid) JSON `data`.
/// An absent subject is not checked here: `envelope.required` says whether
/// one must be sent.
fn check_subject(template: &str, subject: &str, data: &[u8]) -> Result<(), DataError> {
    if subject::matches(template, subject, data) {
        return Ok(());
    }
    Err(DataError::Subject {
        pointer: "/subject".to_owned(),
        template: template.to_owned(),
        expected: fill_subject(template, data).unwrap_or_default(),
        found: subject.to_owned(),
    })
}

/// `template` with each `{name}` replaced by the top-level property `name`
/// of the JSON object `data`: a string's text, any other value's JSON
/// text. `None` when a property is missing (the catalog's lints make every
/// placeholder a required property, so valid data has them all).
pub fn fill_subject(template: &str, data: &[u8]) -> Option<String> {
    use std::collections::BTreeMap;
    let object: BTreeMap<std::borrow::Cow<'_, str>, &serde_json::value::RawValue> = serde_json::from_slice(data).ok()?;
    let mut out = String::with_capacity(template.len() + 36);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = open + rest[open..].find('}')?;
        out.push_str(&rest[..open]);
        let raw = object.get(&rest[open + 1..close])?.get();
        match serde_json::from_str::<String>(raw) {
            Ok(text) => out.push_str(&text),
            Err(_) => out.push_str(raw),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Decode JSON `data` from its text, which is UTF-8 already (no second
/// check, unlike decoding its bytes). A shape error is found again with
/// path tracking, which says where.
fn decode_json<C: EventCatalog>(index: usize, raw: RawJson<'_>) -> Result<C::Event, DataError> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    match C::deserialize_data(index, &mut de).and_then(|decoded| de.end().map(|()| decoded)) {
        Ok(decoded) => decoded,
        Err(_) => decode_tracking::<C>(index, raw.get()),
    }
}

/// Decode the JSON text of `data` (one well-formed value) as the type at
/// `index`, tracking the path as it goes: what [`decode_data`] does once
/// its plain decode has failed, so a shape error gets the same pointer and
/// message. Called for data a plain decode refused, so it skips that.
#[cold]
fn decode_tracking<C: EventCatalog>(index: usize, text: &str) -> Result<C::Event, DataError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let mut track = serde_path_to_error::Track::new();
    let decoded = C::deserialize_data(index, serde_path_to_error::Deserializer::new(&mut de, &mut track));
    match decoded.and_then(|decoded| de.end().map(|()| decoded)) {
        Ok(decoded) => decoded,
        Err(e) => Err(shape_error(&track.path(), &e)),
    }
}

/// A shape error at `path` (rooted at `/data`), as serde reported it.
fn shape_error(path: &serde_path_to_error::Path, e: &serde_json::Error) -> DataError {
    DataError::Shape { pointer: json_pointer(path), message: e.to_string() }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::json_pointer;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Sample {
        run_id: Option<u32>,
        tags: Option<BTreeMap<String, String>>,
        grid: Option<Vec<Vec<u32>>>,
        nested: Option<BTreeMap<String, Vec<BTreeMap<String, u32>>>>,
    }

    /// The pointer serde_path_to_error's path gives for `json` as a `Sample`.
    fn pointer_of(json: &str) -> String {
        let mut de = serde_json::Deserializer::from_str(json);
        match serde_path_to_error::deserialize::<_, Sample>(&mut de) {
            Err(e) => json_pointer(e.path()),
            Ok(v) => panic!("{json} decoded: {v:?}"),
        }
    }

    #[test]
    fn subject_templates_are_filled_from_the_data() {
        use super::{DataError, check_subject, fill_subject};
        let data = br#"{"run_id":"r-1","n":3,"ok":true,"esc":"a\u002fb","node":{"x":1}}"#;
        assert_eq!(fill_subject("run/{run_id}", data).as_deref(), Some("run/r-1"));
        assert_eq!(fill_subject("run/{run_id}/n/{n}/{ok}", data).as_deref(), Some("run/r-1/n/3/true"));
        assert_eq!(fill_subject("{esc}", data).as_deref(), Some("a/b"), "escapes decoded");
        assert_eq!(fill_subject("fixed", data).as_deref(), Some("fixed"));
        assert_eq!(fill_subject("run/{missing}", data), None);
        assert_eq!(fill_subject("run/{run_id", data), None);
        assert_eq!(fill_subject("run/{run_id}", b"[1]"), None);
        check_subject("run/{run_id}", "run/r-1", data).unwrap();
        for (template, subject) in
            [("run/{run_id}/n/{n}/{ok}", "run/r-1/n/3/true"), ("{esc}", "a/b"), ("{run_id}{run_id}", "r-1r-1"), ("fixed", "fixed")]
        {
            check_subject(template, subject, data).unwrap_or_else(|e| panic!("{template}: {e}"));
        }
        for (template, subject) in [
            ("run/{run_id}", "run/r-1x"),
            ("run/{run_id}", "run/r-"),
            ("run/{run_id}", "job/r-1"),
            ("{esc}", "a\\u002fb"),
            ("run/{missing}", "run/"),
            ("run/{run_id", "run/r-1"),
            ("{node}", "{\"x\":1}x"),
            ("fixed", "fixed/"),
        ] {
            assert!(check_subject(template, subject, data).is_err(), "{template} accepted {subject}");
        }
        match check_subject("run/{run_id}", "run/r-2", data) {
            Err(DataError::Subject { pointer, expected, found, .. }) => {
                assert_eq!((pointer.as_str(), expected.as_str(), found.as_str()), ("/subject", "run/r-1", "run/r-2"));
            }
            other => panic!("{other:?}"),
        }
        let e = check_subject("run/{run_id}", "run/R-1", data).unwrap_err();
        assert_eq!(e.pointers(), ["/subject"]);
        assert!(e.to_string().contains("run/{run_id}") && e.to_string().contains("\"run/r-1\""), "{e}");
    }

    #[test]
    fn paths_become_pointers() {
        assert_eq!(pointer_of("1"), "/data");
        assert_eq!(pointer_of(r#"{"run_id": "x"}"#), "/data/run_id");
        assert_eq!(pointer_of(r#"{"tags": {"model": 1}}"#), "/data/tags/model");
        assert_eq!(pointer_of(r#"{"grid": [[1], [2, "x"]]}"#), "/data/grid/1/1");
        assert_eq!(pointer_of(r#"{"nested": {"k": [{"a": 1}, {"b": -1}]}}"#), "/data/nested/k/1/b");
    }

    /// Keys holding the display form's separators used to give wrong
    /// pointers (`a.b`) or panic (`x[`); `~` and `/` need RFC 6901 escapes.
    #[test]
    fn keys_with_separators_or_escapes_are_exact() {
        assert_eq!(pointer_of(r#"{"tags": {"x[": 1}}"#), "/data/tags/x[");
        assert_eq!(pointer_of(r#"{"tags": {"]": 1}}"#), "/data/tags/]");
        assert_eq!(pointer_of(r#"{"tags": {"[0]": 1}}"#), "/data/tags/[0]");
        assert_eq!(pointer_of(r#"{"tags": {"a.b": 1}}"#), "/data/tags/a.b");
        assert_eq!(pointer_of(r#"{"tags": {"a/b": 1}}"#), "/data/tags/a~1b");
        assert_eq!(pointer_of(r#"{"tags": {"~": 1}}"#), "/data/tags/~0");
        assert_eq!(pointer_of(r#"{"tags": {"~1/": 1}}"#), "/data/tags/~01~1");
        assert_eq!(pointer_of(r#"{"tags": {"": 1}}"#), "/data/tags/");
        assert_eq!(pointer_of(r#"{"nested": {"x[.]/~": [{"y[": -1}]}}"#), "/data/nested/x[.]~1~0/0/y[");
    }
}
