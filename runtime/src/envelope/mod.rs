//! The CloudEvents v1.0 envelope: a zero-copy parser that enforces the
//! spec, its JSON event format and its HTTP binding exactly.
//!
//! Three entry points, one rule set:
//!
//! - [`Envelope::parse`]: structured mode (`application/cloudevents+json`);
//! - [`parse_batch`]: batch mode (`application/cloudevents-batch+json`),
//!   one result per element;
//! - [`parse_binary`]: binary mode, attributes in `ce-*` headers.
//!
//! Each front end turns its input into a list of named members, and one
//! builder (`build`) applies the attribute rules, so a rule can never hold
//! in one mode and not another.
//!
//! Zero-copy: attribute strings without JSON escapes borrow the input
//! ([`Cow::Borrowed`]), and `data` is a [`RawJson`] slice of the input that
//! generated code deserialises straight into typed structs.
//!
//! A catalog can also read an event in one pass (`EventCatalog::parse_event`):
//! when `type` comes before `data`, `data` is decoded into the registered
//! type while the envelope is read, instead of being skipped and parsed again.

use std::borrow::Cow;

use base64::Engine as _;

use crate::error::{EnvelopeError, excerpt};
use names::Name;

mod batch;
mod binary;
mod extensions;
pub mod media;
mod names;
mod raw;
mod structured;
mod time;

pub use batch::{DEFAULT_MAX_BATCH_EVENTS, parse_batch, parse_batch_limited};
pub use binary::parse_binary;
pub use extensions::{ExtensionValue, Extensions};
pub use raw::RawJson;
pub use time::Timestamp;

pub(crate) use batch::{Element, parse_batch_with};
pub(crate) use structured::CowStr;
pub(crate) use structured::{DataHook, parse_with};

pub(crate) use time::{parse_date, parse_date_time, parse_time};

/// Catalog switches that change how envelopes are parsed, and the
/// catalog's own envelope rules (its `envelope:` and `extensions:` keys).
///
/// [`EnvelopeOptions::STANDARD`] (also the `Default`) is CloudEvents v1.0
/// exactly; every rule here only narrows what it accepts, except
/// `int64_extensions`, which widens the integer range of the extensions it
/// names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeOptions {
    /// Accept the pre-v1.0 habit of nesting extensions in a top-level
    /// `"extensions": {…}` object, and treat its members as top-level
    /// extensions (catalog option `envelope.legacy_extensions_object`).
    pub legacy_extensions_object: bool,
    /// Optional attributes the catalog requires (`envelope.required`): any
    /// of `subject`, `time`, `datacontenttype`, `dataschema`. An event
    /// without one (or with `null`) is refused with `missing_attribute`.
    pub required: &'static [&'static str],
    /// The one media type `data` may have (`envelope.datacontenttype`,
    /// e.g. `application/json`), compared as media types are
    /// (case-insensitive, parameters ignored). An event whose
    /// `datacontenttype` is another one is refused with
    /// `invalid_datacontenttype`; an absent one is allowed unless
    /// `required` names it.
    pub datacontenttype: Option<&'static str>,
    /// Extensions the catalog declares as 64-bit integers
    /// (`{type: integer, format: int64}`), sorted: their JSON integers may
    /// use the whole `i64` range instead of CloudEvents' 32 bits.
    pub int64_extensions: &'static [&'static str],
    /// Check that `subject` equals the type's `subject:` template filled
    /// from `data` (`envelope.subject_matches_template`). It needs the
    /// data, so [`crate::EventCatalog::decode`] applies it, not the parser.
    pub subject_matches_template: bool,
}

impl EnvelopeOptions {
    /// CloudEvents v1.0 as the spec says, and nothing more.
    pub const STANDARD: EnvelopeOptions = EnvelopeOptions {
        legacy_extensions_object: false,
        required: &[],
        datacontenttype: None,
        int64_extensions: &[],
        subject_matches_template: false,
    };

    /// Whether the catalog declares extension `name` as a 64-bit integer.
    pub fn is_int64_extension(&self, name: &str) -> bool {
        self.int64_extensions.contains(&name)
    }

    /// The catalog's rules on the attributes of a parsed envelope:
    /// `required` then `datacontenttype`.
    pub(crate) fn check(&self, env: &Envelope<'_>) -> Result<(), EnvelopeError> {
        for &attribute in self.required {
            let present = match attribute {
                "subject" => env.subject.is_some(),
                "time" => env.time.is_some(),
                "datacontenttype" => env.datacontenttype.is_some(),
                "dataschema" => env.dataschema.is_some(),
                _ => true,
            };
            if !present {
                return Err(EnvelopeError::RequiredByCatalog { attribute });
            }
        }
        if let (Some(pinned), Some(found)) = (self.datacontenttype, env.datacontenttype.as_deref())
            && !media::same_essence(found, pinned)
        {
            return Err(EnvelopeError::UnexpectedDatacontenttype { found: excerpt(found), expected: pinned });
        }
        Ok(())
    }
}

impl Default for EnvelopeOptions {
    fn default() -> Self {
        EnvelopeOptions::STANDARD
    }
}

/// The event payload.
#[derive(Debug, Clone)]
pub enum Data<'a> {
    /// JSON `data`, exactly as sent, borrowed from the input.
    Json(RawJson<'a>),
    /// Bytes: decoded `data_base64`, or a non-JSON binary-mode body.
    Binary(Cow<'a, [u8]>),
}

impl Data<'_> {
    /// The payload bytes: the JSON text, or the binary bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Data::Json(raw) => raw.get().as_bytes(),
            Data::Binary(bytes) => bytes,
        }
    }
}

/// JSON data compares by its text: that is what `to_json` reproduces.
impl PartialEq for Data<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Data::Json(a), Data::Json(b)) => a.get() == b.get(),
            (Data::Binary(a), Data::Binary(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Data<'_> {}

/// A validated CloudEvents v1.0 event. `specversion` is always `"1.0"` once
/// parsed, so it is not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// `id`: with `source`, identifies the event.
    pub id: Cow<'a, str>,
    /// `source`: the context in which the event happened.
    pub source: Cow<'a, str>,
    /// `type`: the event type, the key into the catalog.
    pub ty: Cow<'a, str>,
    /// `datacontenttype`: the media type of `data` (absent means JSON).
    pub datacontenttype: Option<Cow<'a, str>>,
    /// `dataschema`: an absolute URI of the schema `data` adheres to.
    pub dataschema: Option<Cow<'a, str>>,
    /// `subject`: the event's subject within `source`.
    pub subject: Option<Cow<'a, str>>,
    /// `time`: when the event happened, as sent.
    pub time: Option<Timestamp<'a>>,
    /// Extension attributes, sorted by name.
    pub extensions: Extensions<'a>,
    /// The payload, if any (`null` data is no data).
    pub data: Option<Data<'a>>,
}

impl<'a> Envelope<'a> {
    /// An envelope with the three required attributes and nothing else.
    /// Nothing is validated: use [`Envelope::parse`] for input.
    pub fn new(id: impl Into<Cow<'a, str>>, source: impl Into<Cow<'a, str>>, ty: impl Into<Cow<'a, str>>) -> Self {
        Envelope {
            id: id.into(),
            source: source.into(),
            ty: ty.into(),
            datacontenttype: None,
            dataschema: None,
            subject: None,
            time: None,
            extensions: Extensions::default(),
            data: None,
        }
    }

    /// Parse and validate one structured-mode event (a JSON object).
    pub fn parse(bytes: &'a [u8], opts: EnvelopeOptions) -> Result<Envelope<'a>, EnvelopeError> {
        structured::parse(bytes, opts)
    }

    /// Always `"1.0"`: the only version Herald accepts.
    pub fn specversion(&self) -> &'static str {
        "1.0"
    }

    /// An extension attribute by name.
    pub fn extension(&self, name: &str) -> Option<&ExtensionValue<'a>> {
        self.extensions.get(name)
    }

    /// Whether `data` is JSON: `datacontenttype` absent, `application/json`,
    /// `text/json` or any `+json` suffix (case-insensitive, parameters
    /// stripped).
    pub fn data_is_json(&self) -> bool {
        self.datacontenttype.as_deref().is_none_or(media::is_json)
    }

    /// The canonical structured-mode JSON: `specversion` first, then `id`,
    /// `source`, `type`, the optional attributes, extensions (top level,
    /// sorted), and `data` verbatim or `data_base64`.
    /// For any envelope that parsing produced (or that obeys the same
    /// rules), `Envelope::parse(to_json(e).as_bytes())` gives back `e`.
    pub fn to_json(&self) -> String {
        let data_len = self.data.as_ref().map_or(0, |d| d.as_bytes().len() * 4 / 3);
        let mut out = String::with_capacity(128 + data_len);
        out.push_str("{\"specversion\":\"1.0\"");
        let attrs = [
            ("id", Some(&self.id)),
            ("source", Some(&self.source)),
            ("type", Some(&self.ty)),
            ("datacontenttype", self.datacontenttype.as_ref()),
            ("dataschema", self.dataschema.as_ref()),
            ("subject", self.subject.as_ref()),
        ];
        for (name, value) in attrs {
            if let Some(value) = value {
                push_key(&mut out, name);
                push_json_str(&mut out, value);
            }
        }
        if let Some(time) = &self.time {
            push_key(&mut out, "time");
            push_json_str(&mut out, time.as_str());
        }
        for (name, value) in self.extensions.iter() {
            push_key(&mut out, name);
            match value {
                ExtensionValue::String(s) => push_json_str(&mut out, s),
                ExtensionValue::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
                ExtensionValue::Integer(i) => out.push_str(&i.to_string()),
            }
        }
        match &self.data {
            None => {}
            Some(Data::Json(raw)) => {
                push_key(&mut out, "data");
                out.push_str(raw.get());
            }
            Some(Data::Binary(bytes)) => {
                push_key(&mut out, "data_base64");
                out.push('"');
                base64::engine::general_purpose::STANDARD.encode_string(bytes, &mut out);
                out.push('"');
            }
        }
        out.push('}');
        out
    }
}

fn push_key(out: &mut String, name: &str) {
    out.push(',');
    push_json_str(out, name);
    out.push(':');
}

/// JSON string escaping (RFC 8259 §7), written by hand because it cannot
/// fail, unlike `serde_json::to_writer`.
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    // Copy runs of bytes that need no escape whole: attribute values are
    // almost always plain ASCII, and pushing them char by char was 8% of
    // the server's request threads under batch load (perf). Every byte
    // that needs an escape is ASCII, so the run boundaries are char
    // boundaries.
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            b if b < b' ' => {
                out.push_str(&s[start..i]);
                out.push_str(&format!("\\u{:04x}", b));
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.push_str(&s[start..i]);
        out.push_str(escape);
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// A member value as a front end saw it, before the attribute rules.
#[derive(Debug)]
pub(crate) enum Member<'a> {
    Null,
    Bool(bool),
    /// A JSON integer without fraction or exponent, in the `i64` range.
    Int(i64),
    /// A JSON integer above `i64::MAX` (up to `u64::MAX`; larger ones are
    /// floats to serde_json). Kept apart so a member stays small: members
    /// are moved around whole.
    BigInt(u64),
    /// A JSON number with a fraction or exponent (`1.5`, `1.0`, `1e3`).
    Float,
    Str(Cow<'a, str>),
    /// An object; its content is skipped (only a type error is possible).
    Object,
    /// An array; its content is skipped.
    Array,
    /// A value kept as raw JSON text (`data`, a legacy `extensions` object).
    Raw(RawJson<'a>),
}

impl Member<'_> {
    /// The JSON type, for messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Member::Null => "null",
            Member::Bool(_) => "a boolean",
            Member::Int(_) | Member::BigInt(_) | Member::Float => "a number",
            Member::Str(_) => "a string",
            Member::Object => "an object",
            Member::Array => "an array",
            Member::Raw(raw) => structured::json_kind(raw.get().as_bytes()),
        }
    }
}

/// Where a member came from; the rules differ slightly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A top-level member of a structured-mode object.
    Json,
    /// A member of the legacy `extensions` object.
    Legacy,
    /// A binary-mode header (every value is a string).
    Header,
}

/// The context attributes, which can never be extension names (the rules
/// recognise them with [`Name`]; this list is for tests).
#[cfg(test)]
const ATTRIBUTES: [&str; 8] = ["id", "source", "specversion", "type", "datacontenttype", "dataschema", "subject", "time"];

/// The first character CloudEvents forbids in a string: C0 and C1 controls
/// (U+0000–U+001F, U+007F–U+009F) and Unicode noncharacters (U+FDD0–U+FDEF,
/// and U+xFFFE/U+xFFFF in every plane).
pub(crate) fn forbidden_char(s: &str) -> Option<char> {
    // Fast path: printable ASCII is always allowed, and nearly every
    // attribute is nothing else; only other input is decoded into chars.
    // (`fold`, not `all`: without the early exit the loop vectorises.)
    if s.bytes().fold(true, |printable, b| printable & (b.wrapping_sub(0x20) < 0x5F)) {
        return None;
    }
    s.chars().find(|&c| {
        let u = u32::from(c);
        u <= 0x1F || (0x7F..=0x9F).contains(&u) || (0xFDD0..=0xFDEF).contains(&u) || u & 0xFFFE == 0xFFFE
    })
}

/// Longest string an attribute or extension may hold, in bytes. The spec
/// sets no limit, but asks intermediaries to forward events of up to
/// 64 KiB whole; identifiers and routing strings far below that are what
/// producers send, and a cap keeps a 900 KB `id` from being stored,
/// indexed and echoed back in every answer.
pub const MAX_ATTRIBUTE_LEN: usize = 4096;

/// The rules every attribute and extension string obeys: at most
/// [`MAX_ATTRIBUTE_LEN`] bytes, no character CloudEvents forbids.
pub(crate) fn check_chars(attribute: &str, s: &str) -> Result<(), EnvelopeError> {
    if s.len() > MAX_ATTRIBUTE_LEN {
        return Err(EnvelopeError::AttributeTooLong { attribute: attribute.to_owned(), len: s.len(), max: MAX_ATTRIBUTE_LEN });
    }
    match forbidden_char(s) {
        None => Ok(()),
        Some(c) => Err(EnvelopeError::InvalidString { attribute: attribute.to_owned(), code_point: u32::from(c) }),
    }
}

/// A context attribute: `null` is absent; otherwise a non-empty string
/// free of forbidden characters.
fn attribute_string<'a>(name: &str, member: Member<'a>) -> Result<Option<Cow<'a, str>>, EnvelopeError> {
    match member {
        Member::Null => Ok(None),
        Member::Str(s) if s.is_empty() => Err(EnvelopeError::EmptyAttribute { attribute: name.to_owned() }),
        Member::Str(s) => check_chars(name, &s).map(|()| Some(s)),
        other => Err(EnvelopeError::InvalidAttributeType { attribute: name.to_owned(), expected: "string", found: other.kind() }),
    }
}

/// One member as a front end found it.
#[derive(Debug)]
pub(crate) struct Field<'a> {
    /// Its name, unescaped.
    pub(crate) name: Cow<'a, str>,
    /// What [`Name::of`] says of `name`: classified once, where the member
    /// is read, since every rule below asks.
    pub(crate) known: Name,
    /// Its value.
    pub(crate) value: Member<'a>,
    /// Where it came from.
    pub(crate) origin: Origin,
}

impl<'a> Field<'a> {
    /// A member whose name the caller has classified as `known`.
    pub(crate) fn classified(name: Cow<'a, str>, known: Name, value: Member<'a>, origin: Origin) -> Self {
        debug_assert_eq!(known, Name::of(&name));
        Field { name, known, value, origin }
    }

    /// A member, its name classified here.
    pub(crate) fn new(name: Cow<'a, str>, value: Member<'a>, origin: Origin) -> Self {
        Field { known: Name::of(&name), name, value, origin }
    }
}

/// The members a front end found, in input order.
/// Events have a dozen or so, so they stay on the stack.
pub(crate) type Members<'a> = smallvec::SmallVec<[Field<'a>; 16]>;

/// The name CloudEvents sees twice first, when some name is: the smallest
/// such name in byte order, so the same input always names the same one.
fn first_duplicate<'m>(members: &'m Members<'_>) -> Option<&'m str> {
    // Pairwise for the usual handful of members (no allocation; names of
    // different lengths cost one comparison), sorted beyond that.
    const PAIRWISE_MAX: usize = 24;
    if members.len() <= PAIRWISE_MAX {
        let mut found: Option<&str> = None;
        for (i, a) in members.iter().enumerate() {
            for b in &members[i + 1..] {
                // Names known apart by their class need no byte compare; two
                // names of one known class are the same name.
                let same = a.known == b.known && (a.known != Name::Other || a.name == b.name);
                if same && found.is_none_or(|f| a.name.as_ref() < f) {
                    found = Some(&a.name);
                }
            }
        }
        return found;
    }
    let mut names: Vec<&str> = members.iter().map(|m| m.name.as_ref()).collect();
    names.sort_unstable();
    names.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
}

/// Apply the CloudEvents attribute rules to the members a front end found.
///
/// Errors are reported in a fixed order (duplicates, then `specversion`,
/// then members in input order, then missing attributes) so that the same
/// input always gets the same error.
pub(crate) fn build<'a>(members: Members<'a>, opts: EnvelopeOptions) -> Result<Envelope<'a>, EnvelopeError> {
    if let Some(name) = first_duplicate(&members) {
        return Err(EnvelopeError::DuplicateAttribute { attribute: name.to_owned() });
    }

    // `specversion` first: an event of another version would otherwise be
    // reported through whatever attribute its version spells differently.
    let mut has_specversion = false;
    for Field { known, value: member, origin, .. } in &members {
        if *origin != Origin::Legacy && *known == Name::Specversion {
            match member {
                Member::Null => {}
                Member::Str(s) if s == "1.0" => has_specversion = true,
                Member::Str(s) if s.is_empty() => {
                    return Err(EnvelopeError::EmptyAttribute { attribute: "specversion".into() });
                }
                Member::Str(s) => return Err(EnvelopeError::UnsupportedSpecversion { found: excerpt(s) }),
                other => {
                    return Err(EnvelopeError::InvalidAttributeType {
                        attribute: "specversion".into(),
                        expected: "string",
                        found: other.kind(),
                    });
                }
            }
        }
    }

    let mut id = None;
    let mut source = None;
    let mut ty = None;
    let mut env = Envelope::new("", "", "");
    let mut extensions = Extensions::new();
    let mut data_base64_present = false;
    for Field { name, known, value: member, origin } in members {
        let reserved = match origin {
            Origin::Json => false,
            Origin::Legacy => known.is_context_attribute() || matches!(known, Name::Data | Name::Extensions),
            Origin::Header => known == Name::Data || (opts.legacy_extensions_object && known == Name::Extensions),
        };
        if reserved {
            return Err(EnvelopeError::InvalidExtensionName {
                reason: format!(
                    "`{name}` is reserved for the CloudEvents attribute or payload of that name; \
                     rename the extension{}",
                    if origin == Origin::Legacy { " or move the attribute to the top level" } else { "" }
                ),
                name: name.into_owned(),
            });
        }
        match (known, origin) {
            (Name::Specversion, _) => {}
            (Name::Id, _) => id = attribute_string("id", member)?,
            (Name::Source, _) => source = attribute_string("source", member)?,
            (Name::Type, _) => ty = attribute_string("type", member)?,
            (Name::Datacontenttype, _) => env.datacontenttype = attribute_string("datacontenttype", member)?,
            (Name::Subject, _) => env.subject = attribute_string("subject", member)?,
            (Name::Dataschema, _) => {
                env.dataschema = attribute_string("dataschema", member)?;
                if let Some(uri) = &env.dataschema
                    && !crate::formats::is_uri(uri)
                {
                    return Err(EnvelopeError::InvalidDataschema { value: excerpt(uri) });
                }
            }
            (Name::Time, _) => {
                env.time = attribute_string("time", member)?.map(Timestamp::parse).transpose()?;
            }
            (Name::Data, Origin::Json) => {
                if let Member::Raw(raw) = member
                    && raw.get() != "null"
                {
                    if data_base64_present {
                        return Err(EnvelopeError::DataAndDataBase64);
                    }
                    env.data = Some(Data::Json(raw));
                }
            }
            (Name::DataBase64, Origin::Json) => {
                let Some(text) = data_base64(member)? else { continue };
                if env.data.is_some() {
                    return Err(EnvelopeError::DataAndDataBase64);
                }
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text.as_bytes())
                    .map_err(|e| EnvelopeError::InvalidBase64 { detail: e.to_string() })?;
                data_base64_present = true;
                env.data = Some(Data::Binary(Cow::Owned(bytes)));
            }
            _ => {
                extensions::check_name(&name)?;
                if let Some(value) = extensions::value(&name, member, opts.is_int64_extension(&name))? {
                    extensions.push_unique(name, value);
                }
            }
        }
    }

    let missing = |attribute| EnvelopeError::MissingAttribute { attribute };
    env.id = id.ok_or(missing("id"))?;
    env.source = source.ok_or(missing("source"))?;
    if !has_specversion {
        return Err(missing("specversion"));
    }
    env.ty = ty.ok_or(missing("type"))?;
    extensions.sort();
    env.extensions = extensions;
    opts.check(&env)?;
    Ok(env)
}

/// `data_base64`: `null` is absent, otherwise a string.
fn data_base64(member: Member<'_>) -> Result<Option<Cow<'_, str>>, EnvelopeError> {
    match member {
        Member::Null => Ok(None),
        Member::Str(s) => Ok(Some(s)),
        other => {
            Err(EnvelopeError::InvalidAttributeType { attribute: "data_base64".into(), expected: "base64 string", found: other.kind() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFF: EnvelopeOptions = EnvelopeOptions::STANDARD;
    const ON: EnvelopeOptions = EnvelopeOptions { legacy_extensions_object: true, ..EnvelopeOptions::STANDARD };

    /// A valid event with `extra` members spliced in after the required ones.
    /// Leaked so that envelopes borrowing it can outlive the statement.
    fn doc(extra: &str) -> &'static str {
        let sep = if extra.is_empty() { "" } else { "," };
        leak(format!(r#"{{"specversion":"1.0","id":"e1","source":"/orchestrator","type":"ai.run.started"{sep}{extra}}}"#))
    }

    fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }

    fn ok(json: &str) -> Envelope<'_> {
        Envelope::parse(json.as_bytes(), OFF).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    #[test]
    fn attribute_and_extension_strings_are_capped_in_length() {
        let at_cap = "x".repeat(MAX_ATTRIBUTE_LEN);
        let over = "x".repeat(MAX_ATTRIBUTE_LEN + 1);
        assert_eq!(ok(doc(&format!(r#""subject":"{at_cap}""#))).subject.as_deref().map(str::len), Some(MAX_ATTRIBUTE_LEN));
        for extra in [format!(r#""subject":"{over}""#), format!(r#""traceid":"{over}""#)] {
            let err = Envelope::parse(doc(&extra).as_bytes(), OFF).unwrap_err();
            assert_eq!(err.code(), "attribute_too_long", "{err}");
            assert!(!err.to_string().contains(&over[..64]), "the value is not echoed back");
        }
        let huge_id = format!(r#"{{"specversion":"1.0","id":"{}","source":"/s","type":"t"}}"#, "i".repeat(900_000));
        let err = Envelope::parse(huge_id.as_bytes(), OFF).unwrap_err();
        assert_eq!((err.code(), err.attribute()), ("attribute_too_long", Some("id")));
    }

    fn err_with(json: &str, opts: EnvelopeOptions) -> EnvelopeError {
        match Envelope::parse(json.as_bytes(), opts) {
            Ok(e) => panic!("{json}: accepted as {e:?}"),
            Err(e) => e,
        }
    }

    /// The error's code and attribute.
    fn err(json: &str) -> (&'static str, Option<String>) {
        let e = err_with(json, OFF);
        (e.code(), e.attribute().map(str::to_owned))
    }

    fn at(code: &'static str, attribute: &str) -> (&'static str, Option<String>) {
        (code, Some(attribute.to_owned()))
    }

    #[test]
    fn minimal_event() {
        let json = doc("");
        let e = ok(json);
        assert_eq!((e.id.as_ref(), e.source.as_ref(), e.ty.as_ref()), ("e1", "/orchestrator", "ai.run.started"));
        assert_eq!(e.specversion(), "1.0");
        assert!(e.datacontenttype.is_none() && e.dataschema.is_none() && e.subject.is_none());
        assert!(e.time.is_none() && e.extensions.is_empty() && e.data.is_none());
        assert!(e.data_is_json());
    }

    #[test]
    fn required_attributes() {
        for attr in ["id", "source", "type"] {
            let strip = |json: &str| json.replace(&format!(r#","{attr}":"#), r#","x":"#);
            // Missing (renamed away), null, empty, wrong type.
            let missing = strip(doc(""));
            assert_eq!(err(&missing).0, "missing_attribute", "{missing}");
            assert_eq!(err_with(&missing, OFF).attribute(), Some(attr));
            let value = |v: &str| {
                let base = doc("");
                let start = base.find(&format!(r#""{attr}":"#)).unwrap() + attr.len() + 3;
                let end = start + base[start + 1..].find('"').unwrap() + 2;
                format!("{}{v}{}", &base[..start], &base[end..])
            };
            assert_eq!(err(&value("null")), at("missing_attribute", attr));
            assert_eq!(err(&value(r#""""#)), at("empty_attribute", attr));
            for wrong in ["1", "true", "[]", "{}", "1.5"] {
                assert_eq!(err(&value(wrong)), at("invalid_attribute_type", attr), "{attr}={wrong}");
            }
        }
        assert_eq!(err(r#"{"id":"1","source":"s","type":"t"}"#), at("missing_attribute", "specversion"));
        assert_eq!(err(r#"{"specversion":null,"id":"1","source":"s","type":"t"}"#), at("missing_attribute", "specversion"));
        assert_eq!(err("{}"), at("missing_attribute", "id"));
        let msg = err_with(r#"{"specversion":"1.0","source":"s","type":"t"}"#, OFF).to_string();
        assert_eq!(msg, "required attribute `id` is missing; every CloudEvent needs a non-empty `id`");
    }

    #[test]
    fn specversion() {
        let with = |v: &str| format!(r#"{{"specversion":{v},"id":"1","source":"s","type":"t"}}"#);
        assert_eq!(err(&with(r#""0.3""#)), at("unsupported_specversion", "specversion"));
        assert_eq!(err(&with(r#""1.0.0""#)), at("unsupported_specversion", "specversion"));
        assert_eq!(err(&with(r#""""#)), at("empty_attribute", "specversion"));
        assert_eq!(err(&with("1.0")), at("invalid_attribute_type", "specversion"));
        assert_eq!(err(&with("1")), at("invalid_attribute_type", "specversion"));
        // The version is checked before anything else that might be wrong.
        let old = r#"{"specversion":"0.3","id":"1","source":"s","type":"t","schemaurl":"x","Bad":1}"#;
        assert_eq!(err(old).0, "unsupported_specversion");
        assert!(err_with(old, OFF).to_string().contains("\"0.3\""));
    }

    #[test]
    fn optional_attributes() {
        let e = ok(doc(
            r#""datacontenttype":"application/json","dataschema":"https://example.com/s.json","subject":"run/42","time":"2024-05-01T12:00:00Z""#,
        ));
        assert_eq!(e.datacontenttype.as_deref(), Some("application/json"));
        assert_eq!(e.dataschema.as_deref(), Some("https://example.com/s.json"));
        assert_eq!(e.subject.as_deref(), Some("run/42"));
        assert_eq!(e.time.as_ref().unwrap().as_str(), "2024-05-01T12:00:00Z");
        let nulls = ok(doc(r#""datacontenttype":null,"dataschema":null,"subject":null,"time":null"#));
        assert!(nulls.datacontenttype.is_none() && nulls.dataschema.is_none());
        assert!(nulls.subject.is_none() && nulls.time.is_none());
        for attr in ["datacontenttype", "dataschema", "subject", "time"] {
            assert_eq!(err(doc(&format!(r#""{attr}":"""#))), at("empty_attribute", attr));
            assert_eq!(err(doc(&format!(r#""{attr}":7"#))), at("invalid_attribute_type", attr));
            assert_eq!(err(doc(&format!(r#""{attr}":{{}}"#))), at("invalid_attribute_type", attr));
        }
    }

    #[test]
    fn dataschema_must_be_absolute() {
        for good in ["https://example.com/s.json#/defs/x", "urn:example:schema:1"] {
            ok(doc(&format!(r#""dataschema":"{good}""#)));
        }
        for bad in ["/schemas/s.json", "s.json", "https://exa mple.com", "1ttp://x", "http://x/%zz"] {
            assert_eq!(err(doc(&format!(r#""dataschema":"{bad}""#))), at("invalid_dataschema", "dataschema"), "{bad}");
        }
    }

    #[test]
    fn time_attribute() {
        for good in [
            "2024-05-01T12:00:00Z",
            "2024-05-01T12:00:00+05:30",
            "2024-05-01T12:00:00-00:00",
            "2024-05-01t12:00:00z",
            "2024-05-01T12:00:00.123456Z",
            "2024-02-29T00:00:00Z",
        ] {
            let json = doc(&format!(r#""time":"{good}""#));
            let e = ok(json);
            assert_eq!(e.time.as_ref().unwrap().as_str(), good, "original text kept");
        }
        let e = ok(doc(r#""time":"2024-05-01T12:00:00+05:30""#));
        assert_eq!(e.time.unwrap().to_datetime().offset().local_minus_utc(), 19800);
        for bad in [
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-04-01T25:00:00Z",
            "2024-04-01T12:00:00",
            "2024-04-01",
            "yesterday",
        ] {
            assert_eq!(err(doc(&format!(r#""time":"{bad}""#))), at("invalid_time", "time"), "{bad}");
        }
    }

    #[test]
    fn extension_names() {
        let e = ok(doc(r#""seq":1,"traceparent":"00-abc","x9":"y","42":true"#));
        assert_eq!(e.extensions.len(), 4);
        assert_eq!(e.extensions.iter().map(|(n, _)| n).collect::<Vec<_>>(), ["42", "seq", "traceparent", "x9"]);
        for bad in ["Seq", "trace_parent", "trace-parent", "", "ünï", "a.b"] {
            assert_eq!(err(doc(&format!(r#""{bad}":1"#))), at("invalid_extension_name", bad), "{bad}");
        }
        assert_eq!(err(doc(r#""Data":1"#)).0, "invalid_extension_name");
    }

    #[test]
    fn extension_values() {
        let e = ok(doc(r#""s":"text","b":true,"f":false,"max":2147483647,"min":-2147483648,"gone":null"#));
        assert_eq!(e.extension("s"), Some(&ExtensionValue::String("text".into())));
        assert_eq!(e.extension("b"), Some(&ExtensionValue::Boolean(true)));
        assert_eq!(e.extension("f").unwrap().as_bool(), Some(false));
        assert_eq!(e.extension("max").unwrap().as_i32(), Some(i32::MAX));
        assert_eq!(e.extension("min").unwrap().as_i32(), Some(i32::MIN));
        assert_eq!(e.extension("gone"), None, "null means absent");
        for bad in ["2147483648", "-2147483649", "18446744073709551616", "1.5", "1.0", "1e3", "-0.0", "{}", "[1]", r#"{"a":1}"#] {
            assert_eq!(err(doc(&format!(r#""ext":{bad}"#))), at("invalid_extension_value", "ext"), "{bad}");
        }
        assert!(err_with(doc(r#""ext":1.5"#), OFF).to_string().contains("fraction"));
        assert_eq!(err(doc(r#""ext":"a\u0000b""#)), at("invalid_string", "ext"));
    }

    #[test]
    fn legacy_extensions_object() {
        let json = doc(r#""extensions":{"seq":3,"traceparent":"00-abc","gone":null}"#);
        let e = Envelope::parse(json.as_bytes(), ON).unwrap();
        assert_eq!(e.extension("seq"), Some(&ExtensionValue::Integer(3)));
        assert_eq!(e.extension("traceparent").unwrap().as_str(), Some("00-abc"));
        assert_eq!(e.extensions.len(), 2);
        assert_eq!(e.extension("extensions"), None);
        // Normalised: the canonical form has them at the top level.
        assert_eq!(Envelope::parse(e.to_json().as_bytes(), OFF).unwrap(), e);
        assert!(Envelope::parse(doc(r#""extensions":null"#).as_bytes(), ON).unwrap().extensions.is_empty());
        assert!(Envelope::parse(doc(r#""extensions":{}"#).as_bytes(), ON).unwrap().extensions.is_empty());

        // Off: `extensions` is an ordinary name, and an object is refused
        // with a pointer to the option.
        let off = err_with(json, OFF);
        assert_eq!((off.code(), off.attribute()), ("invalid_extension_value", Some("extensions")));
        assert!(off.to_string().contains("envelope.legacy_extensions_object"), "{off}");
        assert_eq!(ok(doc(r#""extensions":"plain""#)).extension("extensions").unwrap().as_str(), Some("plain"));

        let on = |extra: &str| {
            let e = err_with(doc(extra), ON);
            (e.code(), e.attribute().map(str::to_owned))
        };
        assert_eq!(on(r#""extensions":"plain""#), at("invalid_extension_value", "extensions"));
        assert_eq!(on(r#""extensions":[1]"#), at("invalid_extension_value", "extensions"));
        assert_eq!(on(r#""seq":1,"extensions":{"seq":2}"#), at("duplicate_attribute", "seq"));
        assert_eq!(on(r#""extensions":{"seq":1,"seq":2}"#), at("duplicate_attribute", "seq"));
        assert_eq!(on(r#""extensions":{},"extensions":{}"#), at("duplicate_attribute", "extensions"));
        assert_eq!(on(r#""extensions":{"Seq":1}"#), at("invalid_extension_name", "Seq"));
        assert_eq!(on(r#""extensions":{"seq":1.5}"#), at("invalid_extension_value", "seq"));
        assert_eq!(on(r#""extensions":{"seq":{}}"#), at("invalid_extension_value", "seq"));
        assert_eq!(on(r#""extensions":{"subject":"x"}"#), at("invalid_extension_name", "subject"));
        assert_eq!(on(r#""extensions":{"data":"x"}"#), at("invalid_extension_name", "data"));
        assert_eq!(on(r#""extensions":{"id":"x"}"#), at("duplicate_attribute", "id"));
        assert_eq!(on(r#""extensions":{"x":"a\u0001"}"#), at("invalid_string", "x"));
        assert_eq!(on(r#""extensions":{"x":1"#).0, "invalid_json");
    }

    /// The catalog's envelope rules: required attributes, a pinned
    /// `datacontenttype`, 64-bit integer extensions.
    #[test]
    fn catalog_envelope_rules() {
        const SEED: EnvelopeOptions = EnvelopeOptions {
            required: &["datacontenttype", "subject", "time"],
            datacontenttype: Some("application/json"),
            int64_extensions: &["seq"],
            ..EnvelopeOptions::STANDARD
        };
        let full = r#""subject":"run/1","time":"2024-05-01T12:00:00Z","datacontenttype":"application/json""#;
        Envelope::parse(doc(full).as_bytes(), SEED).unwrap();
        for (attr, rest) in [
            ("subject", r#""time":"2024-05-01T12:00:00Z","datacontenttype":"application/json""#),
            ("time", r#""subject":"run/1","datacontenttype":"application/json""#),
            ("datacontenttype", r#""subject":"run/1","time":"2024-05-01T12:00:00Z""#),
        ] {
            for json in [doc(rest), doc(&format!(r#"{rest},"{attr}":null"#))] {
                let e = err_with(json, SEED);
                assert_eq!((e.code(), e.attribute()), ("missing_attribute", Some(attr)), "{json}");
                assert!(matches!(e, EnvelopeError::RequiredByCatalog { .. }), "{e}");
                assert!(e.to_string().contains("envelope.required"), "{e}");
            }
            // Without the rule, the same event is fine.
            Envelope::parse(doc(rest).as_bytes(), OFF).unwrap();
        }
        // The pinned media type, compared as media types are.
        for good in ["application/json", "Application/JSON", "application/json; charset=utf-8"] {
            Envelope::parse(doc(&full.replace("application/json", good)).as_bytes(), SEED).unwrap();
        }
        for bad in ["text/json", "application/cloudevents+json", "text/plain"] {
            let e = err_with(doc(&full.replace("application/json", bad)), SEED);
            assert_eq!((e.code(), e.attribute()), ("invalid_datacontenttype", Some("datacontenttype")), "{bad}");
            assert!(e.to_string().contains("`application/json`"), "{e}");
            ok(doc(&full.replace("application/json", bad)));
        }
        let pinned_only = EnvelopeOptions { datacontenttype: Some("application/json"), ..EnvelopeOptions::STANDARD };
        Envelope::parse(doc("").as_bytes(), pinned_only).expect("absent is allowed unless required");
        // `seq` is 64-bit; other extensions keep the CloudEvents 32 bits.
        let big = Envelope::parse(doc(&format!(r#"{full},"seq":9223372036854775807"#)).as_bytes(), SEED).unwrap();
        assert_eq!(big.extension("seq").unwrap().as_i64(), Some(i64::MAX));
        assert_eq!(big.extension("seq").unwrap().as_i32(), None);
        assert_eq!(Envelope::parse(big.to_json().as_bytes(), SEED).unwrap(), big, "round-trips");
        let min = Envelope::parse(doc(&format!(r#"{full},"seq":-9223372036854775808"#)).as_bytes(), SEED).unwrap();
        assert_eq!(min.extension("seq").unwrap().as_i64(), Some(i64::MIN));
        for bad in ["9223372036854775808", "18446744073709551615", "1.0", "1e3"] {
            let e = err_with(doc(&format!(r#"{full},"seq":{bad}"#)), SEED);
            assert_eq!((e.code(), e.attribute()), ("invalid_extension_value", Some("seq")), "{bad}");
        }
        assert!(err_with(doc(&format!(r#"{full},"seq":9223372036854775808"#)), SEED).to_string().contains("64-bit"));
        let e = err_with(doc(&format!(r#"{full},"other":2147483648"#)), SEED);
        assert_eq!((e.code(), e.attribute()), ("invalid_extension_value", Some("other")));
        assert_eq!(err(doc(r#""seq":2147483648"#)), at("invalid_extension_value", "seq"), "32 bits without the rule");
        // The legacy object follows the same rules.
        let legacy = EnvelopeOptions { legacy_extensions_object: true, ..SEED };
        let e = Envelope::parse(doc(&format!(r#"{full},"extensions":{{"seq":4294967296}}"#)).as_bytes(), legacy).unwrap();
        assert_eq!(e.extension("seq").unwrap().as_i64(), Some(4_294_967_296));
    }

    #[test]
    fn data_and_data_base64() {
        let e = ok(doc(r#""data":{"run_id":"r1","n":[1,2,{"x":null}]}"#));
        assert_eq!(e.data.as_ref().unwrap().as_bytes(), br#"{"run_id":"r1","n":[1,2,{"x":null}]}"#);
        assert!(ok(doc(r#""data":null"#)).data.is_none(), "null data is absent");
        assert!(matches!(ok(doc(r#""data":"text""#)).data, Some(Data::Json(raw)) if raw.get() == r#""text""#));
        assert!(matches!(ok(doc(r#""data":0"#)).data, Some(Data::Json(raw)) if raw.get() == "0"));

        let b64 = ok(doc(r#""data_base64":"aGVsbG8=""#));
        assert_eq!(b64.data, Some(Data::Binary(Cow::Borrowed(b"hello"))));
        assert_eq!(ok(doc(r#""data_base64":"""#)).data, Some(Data::Binary(Cow::Borrowed(b""))));
        assert!(ok(doc(r#""data_base64":null"#)).data.is_none());
        assert!(ok(doc(r#""data":null,"data_base64":"aGk=""#)).data.is_some());
        assert!(ok(doc(r#""data":{},"data_base64":null"#)).data.is_some());

        assert_eq!(err(doc(r#""data":{},"data_base64":"aGk=""#)).0, "data_and_data_base64");
        assert_eq!(err(doc(r#""data_base64":"aGk=","data":1"#)).0, "data_and_data_base64");
        for bad in [r#""aGVsbG8""#, r#""aGV sbG8=""#, r#""aGVsbG8=!""#, r#""aGVs_G8=""#, r#""a""#] {
            assert_eq!(err(doc(&format!(r#""data_base64":{bad}"#))), at("invalid_base64", "data_base64"), "{bad}");
        }
        assert_eq!(err(doc(r#""data_base64":5"#)), at("invalid_attribute_type", "data_base64"));
        assert_eq!(err(doc(r#""data":1,"data":2"#)), at("duplicate_attribute", "data"));
    }

    #[test]
    fn unicode_strings() {
        let e = ok(doc(r#""subject":"🚀 ワークフロー","ext":"naïve ✓""#));
        assert_eq!(e.subject.as_deref(), Some("🚀 ワークフロー"));
        let e = ok(doc(r#""subject":"\ud83d\ude80 escaped""#));
        assert_eq!(e.subject.as_deref(), Some("🚀 escaped"));
        for (raw, cp) in [
            (r"\u0000", 0),
            (r"\u001f", 0x1f),
            (r"\n", 0x0a),
            (r"\u007f", 0x7f),
            (r"\u0085", 0x85),
            (r"\u009f", 0x9f),
            (r"\ufdd0", 0xfdd0),
            (r"\ufffe", 0xfffe),
            (r"\uffff", 0xffff),
            (r"\ud83f\udffe", 0x1fffe),
        ] {
            for attr in ["id", "subject", "type", "ext"] {
                let json = if attr == "id" || attr == "type" {
                    doc("").replace(&format!(r#""{attr}":""#), &format!(r#""{attr}":"x{raw}"#))
                } else {
                    doc(&format!(r#""{attr}":"x{raw}""#)).to_owned()
                };
                let e = err_with(&json, OFF);
                assert_eq!((e.code(), e.attribute()), ("invalid_string", Some(attr)), "{json}");
                assert!(matches!(e, EnvelopeError::InvalidString { code_point, .. } if code_point == cp));
            }
        }
        // Raw control bytes are a JSON syntax error; lone surrogates too.
        assert_eq!(err(doc("\"subject\":\"a\u{1}b\"")).0, "invalid_json");
        let lone = err_with(doc(r#""subject":"\ud800""#), OFF);
        assert_eq!(lone.code(), "invalid_json");
        assert!(lone.to_string().contains("surrogate"), "{lone}");
        // Allowed neighbours of forbidden ranges.
        ok(doc(r#""subject":"\u00a0\ufdcf\ufdf0\ufffd\ud83f\udffd""#));
    }

    #[test]
    fn zero_copy() {
        let json = doc(r#""subject":"run/1","time":"2024-05-01T12:00:00Z","tp":"00-x","data":{"a":1}"#);
        let e = ok(json);
        for cow in [&e.id, &e.source, &e.ty, e.subject.as_ref().unwrap()] {
            assert!(matches!(cow, Cow::Borrowed(_)), "{cow:?} was copied");
        }
        assert!(matches!(e.extension("tp"), Some(ExtensionValue::String(Cow::Borrowed(_)))));
        let Some(Data::Json(raw)) = &e.data else { panic!() };
        let range = json.as_bytes().as_ptr_range();
        assert!(range.contains(&raw.get().as_ptr()), "data must point into the input");
        // An escape forces a copy, and only for that string.
        let escaped = doc(r#""subject":"a\/b""#);
        let e = ok(escaped);
        assert!(matches!(e.subject, Some(Cow::Owned(ref s)) if s == "a/b"));
        assert!(matches!(e.id, Cow::Borrowed(_)));
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for s in ["", "plain", "a\"b\\c", "\u{1}\u{1f}\n\r\t\u{8}\u{c}x", "é\"ü\u{2028}\u{10ffff}", "\"", "end\\"] {
            let mut out = String::new();
            push_json_str(&mut out, s);
            let back: String = serde_json::from_str(&out).unwrap();
            assert_eq!(back, s, "{out}");
            // serde_json writes \b and \f for those two; both are JSON.
            let ours = out.replace("\\u0008", "\\b").replace("\\u000c", "\\f");
            assert_eq!(ours, serde_json::to_string(s).unwrap());
        }
    }

    #[test]
    fn to_json_is_canonical() {
        let json = r#"  {"zz":true,"data":{"b" : 1},"type":"t","id":"i","subject":"a\"b\\c\u2028","source":"s",
            "time":"2024-05-01t12:00:00z","aa":-5,"specversion":"1.0","datacontenttype":"application/json"}"#;
        let e = ok(json);
        let out = e.to_json();
        assert_eq!(
            out,
            r#"{"specversion":"1.0","id":"i","source":"s","type":"t","datacontenttype":"application/json","subject":"a\"b\\c"#.to_owned()
                + "\u{2028}"
                + r#"","time":"2024-05-01t12:00:00z","aa":-5,"zz":true,"data":{"b" : 1}}"#
        );
        assert_eq!(Envelope::parse(out.as_bytes(), OFF).unwrap(), e);
        let mut built = Envelope::new("1", "s", "t");
        built.subject = Some("tab\there\u{0}".into());
        assert!(built.to_json().contains(r#""subject":"tab\there\u0000""#));
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        /// Strings CloudEvents accepts (non-empty, no forbidden characters).
        fn text() -> impl Strategy<Value = String> {
            proptest::string::string_regex("[^\\x00-\\x1f\\x7f-\\x9f\u{fdd0}-\u{fdef}\u{fffe}\u{ffff}]{1,12}")
                .expect("valid regex")
                .prop_filter("no noncharacters", |s| forbidden_char(s).is_none())
        }

        fn ext_value() -> impl Strategy<Value = ExtensionValue<'static>> {
            prop_oneof![
                text().prop_map(|s| ExtensionValue::String(s.into())),
                any::<bool>().prop_map(ExtensionValue::Boolean),
                any::<i32>().prop_map(|i| ExtensionValue::Integer(i.into())),
            ]
        }

        prop_compose! {
            fn envelope_json()(
                id in text(), source in text(), ty in text(),
                ct in proptest::option::of(prop_oneof![Just("application/json".to_owned()), Just("text/plain".to_owned()), text()]),
                schema in proptest::option::of("[a-z][a-z0-9+.-]{0,5}:[a-z0-9/._~-]{0,12}"),
                subject in proptest::option::of(text()),
                time in proptest::option::of(Just("2024-05-01T12:30:00.25+05:30".to_owned())),
                exts in proptest::collection::btree_map("[a-z0-9]{1,8}", ext_value(), 0..5),
                data in proptest::option::of(prop_oneof![
                    Just(r#"{"a":[1,2.5,"x"],"b":null}"#.to_owned()),
                    any::<i64>().prop_map(|n| n.to_string()),
                    text().prop_map(|s| serde_json::to_string(&s).unwrap()),
                ]),
                binary in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..32)),
            ) -> String {
                let mut e = Envelope::new(id, source, ty);
                e.datacontenttype = ct.map(Cow::Owned);
                e.dataschema = schema.map(Cow::Owned);
                e.subject = subject.map(Cow::Owned);
                e.time = time.map(|t| Timestamp::parse(t).unwrap());
                for (name, value) in exts {
                    if ATTRIBUTES.contains(&name.as_str()) || name == "data" {
                        continue;
                    }
                    e.extensions.insert(name, value).unwrap();
                }
                // `data` borrows, so binary data is the only kind an owned
                // envelope can carry; JSON data is spliced in as text.
                e.data = binary.map(|b| Data::Binary(Cow::Owned(b)));
                let json = e.to_json();
                match (data, &e.data) {
                    (Some(d), None) => format!("{},\"data\":{d}}}", &json[..json.len() - 1]),
                    _ => json,
                }
            }
        }

        proptest! {
            #[test]
            fn to_json_round_trips(json in envelope_json()) {
                let e = Envelope::parse(json.as_bytes(), OFF).map_err(|e| TestCaseError::fail(format!("{json}: {e}")))?;
                let again = e.to_json();
                let reparsed = Envelope::parse(again.as_bytes(), OFF).unwrap();
                prop_assert_eq!(&reparsed, &e);
                prop_assert_eq!(reparsed.to_json(), again);
            }
        }
    }
}
