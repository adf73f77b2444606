//! Structured mode: one JSON object in, one [`Envelope`] out.
//!
//! The object is read with a hand-written serde [`Visitor`] straight from the
//! input, never through a `serde_json::Value` tree: member names and string
//! values borrow the input when they hold no escapes, and nested values of
//! anything else are only skipped. The visitor does syntax only; the
//! attribute rules live in [`super::build`], shared with binary mode. Syntax
//! errors therefore always win over rule violations: a truncated body is
//! reported as truncated.
//!
//! Two readers share that visitor:
//!
//! - the **fast** one checks UTF-8 once for the whole input and reads the
//!   text as `&str`, so no string is validated again; and when a
//!   [`DataHook`] knows the event's `type` by the time `data` comes (as
//!   every producer orders them), `data` is decoded straight into the
//!   registered type instead of being skipped and parsed a second time;
//! - the **exact** one is the reader as it always was (bytes, `data` kept
//!   raw). Whatever the fast reader refuses — invalid UTF-8, a syntax
//!   error — is read again by it, so every error is the one the exact
//!   reader gives.
//!
//! `data` its type cannot decode is the one refusal the fast reader handles
//! itself: it reads the object once more with `data` kept raw, and the hook
//! decodes that text again with path tracking, to say where it goes wrong
//! (the same pointer and message the two-pass decode gives).
//!
//! A legacy `extensions` object (catalog option
//! `envelope.legacy_extensions_object`) is lifted by both readers as they
//! go: its members join the object's own in its place.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserializer as _;
use serde::de::{self, Deserialize, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::names::Name;
use super::{Data, Envelope, EnvelopeOptions, Field, Member, Members, Origin, RawJson, build, extensions};
use crate::error::EnvelopeError;

/// Decodes `data` during the envelope pass: what a catalog lends the
/// reader for one-pass parsing.
pub(crate) trait DataHook {
    /// The decoded data, or why its type refused it after decoding; it may
    /// borrow the input (`'de`).
    type Out<'de>;

    /// Which of the hook's types decodes `data` of event type `ty`, if any.
    fn index(ty: &str) -> Option<usize>;

    /// Decode `data` of the type `index` names from `d`.
    fn decode<'de, D: de::Deserializer<'de>>(index: usize, d: D) -> Result<Self::Out<'de>, D::Error>;

    /// Decode the JSON text of `data` that [`DataHook::decode`] refused as
    /// the type `index` names, finding out where it goes wrong (it is read
    /// again on its own, so its text is known to be JSON).
    fn refused(index: usize, text: &str) -> Self::Out<'_>;
}

/// No decoding: `data` stays raw (the two-pass API).
pub(crate) enum NoHook {}

impl DataHook for NoHook {
    type Out<'de> = ();

    fn index(_: &str) -> Option<usize> {
        None
    }

    fn decode<'de, D: de::Deserializer<'de>>(_: usize, _: D) -> Result<Self::Out<'de>, D::Error> {
        Err(de::Error::custom("no data hook"))
    }

    fn refused(_: usize, _: &str) -> Self::Out<'_> {}
}

/// Parse one structured-mode event, keeping `data` raw.
pub(crate) fn parse(bytes: &[u8], opts: EnvelopeOptions) -> Result<Envelope<'_>, EnvelopeError> {
    parse_with::<NoHook>(bytes, opts).map(|(envelope, _)| envelope)
}

/// Parse one structured-mode event, decoding `data` with `H` when `type`
/// comes first. The second value is `H`'s output when it decoded `data`;
/// `None` leaves `data` (absent, or kept raw) to the caller.
pub(crate) fn parse_with<H: DataHook>(bytes: &[u8], opts: EnvelopeOptions) -> Result<(Envelope<'_>, Option<H::Out<'_>>), EnvelopeError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_str_with::<H>(text, opts),
        Err(_) => parse_exact(bytes, opts).map(|envelope| (envelope, None)),
    }
}

/// [`parse_with`] for input already known to be UTF-8.
fn parse_str_with<H: DataHook>(text: &str, opts: EnvelopeOptions) -> Result<(Envelope<'_>, Option<H::Out<'_>>), EnvelopeError> {
    match read_fast::<H>(text, opts.legacy_extensions_object, true) {
        Ok(object) => object.finish(opts),
        Err(Refusal::Data) => parse_refused::<H>(text, opts),
        Err(Refusal::Other) => parse_exact(text.as_bytes(), opts).map(|envelope| (envelope, None)),
    }
}

/// Parse an object (UTF-8) whose `data` the hook refused to decode in the
/// fast reader: the fast reader again, with `data` kept raw, so that the
/// hook's [`DataHook::refused`] reads it once more on its own, straight to
/// saying where it goes wrong. If the fast reader refuses the object
/// anyway, the exact reader has the last word, as always.
pub(crate) fn parse_refused<H: DataHook>(text: &str, opts: EnvelopeOptions) -> Result<(Envelope<'_>, Option<H::Out<'_>>), EnvelopeError> {
    match read_fast::<H>(text, opts.legacy_extensions_object, false) {
        Ok(object) => object.finish(opts),
        Err(_) => parse_exact(text.as_bytes(), opts).map(|envelope| (envelope, None)),
    }
}

/// The exact reader: every error as it has always been reported.
pub(crate) fn parse_exact(bytes: &[u8], opts: EnvelopeOptions) -> Result<Envelope<'_>, EnvelopeError> {
    let object = members(bytes, opts.legacy_extensions_object)?;
    finish(object.members, object.legacy, opts)
}

/// Apply the attribute rules to the members the visitor read, after the
/// legacy `extensions` object's own fault, if it had one: that object is
/// gone once its members are lifted, so its faults are reported first, as
/// they were when it was lifted before the rules ran.
pub(crate) fn finish<'a>(
    members: Members<'a>,
    legacy: Option<EnvelopeError>,
    opts: EnvelopeOptions,
) -> Result<Envelope<'a>, EnvelopeError> {
    match legacy {
        Some(fault) => Err(fault),
        None => build(members, opts),
    }
}

/// One object as the fast reader saw it.
pub(crate) struct FastObject<'a, H: DataHook> {
    /// Its members, in input order (a legacy object's lifted in its place).
    members: Members<'a>,
    /// The first fault of a legacy `extensions` object, if any.
    legacy: Option<EnvelopeError>,
    /// What the hook made of `data`, when it decoded it.
    data: Option<H::Out<'a>>,
    /// The type index of `data` the hook would have decoded, had the reader
    /// not been told to keep it raw (after the hook refused it).
    refused: Option<usize>,
}

impl<'a, H: DataHook> FastObject<'a, H> {
    /// Apply the attribute rules; then, for a valid envelope whose `data`
    /// the hook refused, let the hook say why.
    pub(crate) fn finish(self, opts: EnvelopeOptions) -> Result<(Envelope<'a>, Option<H::Out<'a>>), EnvelopeError> {
        let envelope = finish(self.members, self.legacy, opts)?;
        let data = match (self.data, self.refused, &envelope.data) {
            (Some(out), _, _) => Some(out),
            (None, Some(index), Some(Data::Json(raw))) => Some(H::refused(index, raw.get())),
            _ => None,
        };
        Ok((envelope, data))
    }
}

/// Why the fast reader gave up on an object.
pub(crate) enum Refusal {
    /// The hook could not decode `data` as its type (serde's data errors
    /// come from nowhere else: every other member is read as any value).
    Data,
    /// Anything else: a syntax error, a recursion limit, `data` whose raw
    /// text could not be placed.
    Other,
}

impl Refusal {
    /// What a serde_json error from the fast reader means.
    pub(crate) fn of(e: &serde_json::Error) -> Refusal {
        match e.classify() {
            serde_json::error::Category::Data => Refusal::Data,
            _ => Refusal::Other,
        }
    }
}

/// The fast reader over a whole document. With `decode` off, `data` stays
/// raw even where the hook would decode it.
fn read_fast<H: DataHook>(text: &str, lift_extensions: bool, decode: bool) -> Result<FastObject<'_, H>, Refusal> {
    if first_non_ws(text.as_bytes()) != Some(b'{') {
        return Err(Refusal::Other);
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let mut object = (&mut de).deserialize_map(ObjectVisitor::<H>::new(lift_extensions, decode)).map_err(|e| Refusal::of(&e))?;
    de.end().map_err(|_| Refusal::Other)?;
    let close = text.trim_end_matches([' ', '\t', '\n', '\r']).len() - 1;
    object.place_data(text, close).ok_or(Refusal::Other)?;
    Ok(object.into_fast())
}

/// The members of a JSON object, in input order, duplicates included.
/// `data` is always kept raw; a legacy `extensions` object is lifted when
/// `lift_extensions`.
pub(crate) fn members(bytes: &[u8], lift_extensions: bool) -> Result<ObjectRead<'_, NoHook>, EnvelopeError> {
    match first_non_ws(bytes) {
        Some(b'{') => {}
        first => return Err(not_expected(bytes, first, |found| EnvelopeError::NotAnObject { found })),
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let object =
        (&mut de).deserialize_map(ObjectVisitor::<NoHook>::new(lift_extensions, false)).map_err(|e| EnvelopeError::from_json(&e))?;
    // Without this, `{…} garbage` would be accepted.
    de.end().map_err(|e| EnvelopeError::from_json(&e))?;
    Ok(object)
}

/// The error for a body whose first byte is not the expected bracket:
/// `invalid_json` if it is not JSON at all, else `wrong(kind)`.
pub(crate) fn not_expected(bytes: &[u8], first: Option<u8>, wrong: impl FnOnce(&'static str) -> EnvelopeError) -> EnvelopeError {
    if first.is_none() {
        return EnvelopeError::InvalidJson { detail: "the body is empty".into(), hint: "send a JSON document" };
    }
    match serde_json::from_slice::<IgnoredAny>(bytes) {
        Ok(_) => wrong(json_kind(bytes)),
        Err(e) => EnvelopeError::from_json(&e),
    }
}

/// The first byte after JSON whitespace (RFC 8259 `ws`).
pub(crate) fn first_non_ws(bytes: &[u8]) -> Option<u8> {
    bytes.iter().copied().find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The JSON type of a well-formed document, from its first byte.
pub(crate) fn json_kind(bytes: &[u8]) -> &'static str {
    match first_non_ws(bytes) {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        Some(_) => "a number",
        None => "nothing",
    }
}

/// A JSON string, borrowed from the input when it holds no escapes.
pub(crate) struct CowStr<'a>(pub(crate) Cow<'a, str>);

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A value kept as raw JSON text.
struct Raw<'a>(RawJson<'a>);

impl<'de> Deserialize<'de> for Raw<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'de RawValue>::deserialize(d).map(|raw| Raw(RawJson::new(raw.get())))
    }
}

/// Any member value, classified; objects and arrays are skipped, not built.
impl<'de> Deserialize<'de> for Member<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MemberVisitor)
    }
}

struct MemberVisitor;

impl<'de> Visitor<'de> for MemberVisitor {
    type Value = Member<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Member::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Member::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Member::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(v).map_or(Member::BigInt(v), Member::Int))
    }
    // serde_json reports every number with a fraction or exponent (and
    // integers beyond u64) as f64: exactly the ones extensions reject.
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Member::Float)
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Member::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Member::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Member::Str(Cow::Owned(v)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Member::Object)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Member::Array)
    }
}

/// `data` decoded by `H` as the type at `index`; `None` for `null`.
struct TypedData<H>(usize, PhantomData<H>);

impl<'de, H: DataHook> DeserializeSeed<'de> for TypedData<H> {
    type Value = Option<H::Out<'de>>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, H: DataHook> Visitor<'de> for TypedData<H> {
    type Value = Option<H::Out<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("event data")
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        H::decode(self.0, d).map(Some)
    }
}

/// A legacy `extensions` object: its members are pushed onto `.0` with
/// [`Origin::Legacy`]; the value is `Ok` for an object or `null` (none),
/// else the JSON type found, for the error.
struct Lift<'m, 'de>(&'m mut Members<'de>);

impl<'de> DeserializeSeed<'de> for Lift<'_, 'de> {
    type Value = Result<(), &'static str>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Lift<'_, 'de> {
    type Value = Result<(), &'static str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of extension attributes")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Ok(()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while let Some(CowStr(key)) = map.next_key()? {
            let value: Member<'de> = map.next_value()?;
            self.0.push(Field::new(key, value, Origin::Legacy));
        }
        Ok(Ok(()))
    }
    // Anything else is the wrong type; its kind is all the error needs.
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err("a boolean"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Err("a number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Err("a number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err("a number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Err("a string"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Err("an array"))
    }
}

/// An object's members, as the visitor read them.
pub(crate) struct ObjectRead<'a, H: DataHook> {
    members: Members<'a>,
    /// The first fault of a legacy `extensions` object (not an object, or
    /// a second one), if any.
    legacy: Option<EnvelopeError>,
    /// `data` decoded by the hook, whose raw text is still to be placed.
    data: Option<Hooked<'a, H::Out<'a>>>,
    /// The type index of `data` kept raw where the hook would have decoded it.
    refused: Option<usize>,
}

/// `data` as the hook decoded it.
struct Hooked<'a, O> {
    /// Its member's index.
    at: usize,
    /// What follows it: where its raw text ends.
    next: Next<'a>,
    /// The hook's output.
    out: O,
}

/// What follows `data` in its object.
enum Next<'a> {
    /// The object's closing brace.
    Close,
    /// The next member's key, borrowed from the input.
    Key(&'a str),
    /// A next key with escapes (a copy, which says nothing about where it
    /// lies in the input).
    EscapedKey,
}

impl<'a, H: DataHook> ObjectRead<'a, H> {
    /// Give the hook-decoded `data` member its raw text. The reader never
    /// saw that text whole (it decoded it instead of skipping it), but
    /// knows where it lies: after the borrowed `"data"` key and its colon,
    /// up to the comma before the next key, or up to the object's closing
    /// brace at `close` (a byte index of `whole`, the text every borrowed
    /// key points into).
    pub(crate) fn place_data(&mut self, whole: &'a str, close: usize) -> Option<()> {
        let Some(Hooked { at: i, next, .. }) = &self.data else { return Some(()) };
        let i = *i;
        let b = whole.as_bytes();
        let offset = |s: &str| s.as_ptr() as usize - whole.as_ptr() as usize;
        // The visitor decodes `data` only after a borrowed key.
        let key: &'a str = match &self.members[i].name {
            Cow::Borrowed(key) => key,
            Cow::Owned(_) => return None,
        };
        let mut start = offset(key) + key.len() + 1;
        while is_ws(b[start]) || b[start] == b':' {
            start += 1;
        }
        let end = match next {
            Next::Close => Some(close),
            // The next key's opening quote, then back over `ws , ws`.
            Next::Key(next) => Some(offset(next) - 1),
            // An escaped next key is a copy: find the end by skipping the
            // value instead (rare: senders do not escape member names).
            Next::EscapedKey => None,
        };
        let end = match end {
            Some(mut end) => {
                while is_ws(b[end - 1]) || b[end - 1] == b',' {
                    end -= 1;
                }
                end
            }
            None => {
                let mut de = serde_json::Deserializer::from_str(&whole[start..]);
                start + <&RawValue>::deserialize(&mut de).ok()?.get().len()
            }
        };
        self.members[i].value = Member::Raw(RawJson::new(&whole[start..end]));
        Some(())
    }

    /// The members, the legacy object's fault and the hook's output.
    pub(crate) fn into_fast(self) -> FastObject<'a, H> {
        FastObject { members: self.members, legacy: self.legacy, data: self.data.map(|hooked| hooked.out), refused: self.refused }
    }
}

/// Reads one event object's members. `data` is kept raw, or decoded by `H`
/// when the object's `type` (read before it) is one of `H`'s; a legacy
/// `extensions` object's members are lifted in its place when
/// `lift_extensions`, in the same pass.
pub(crate) struct ObjectVisitor<H> {
    lift_extensions: bool,
    /// Whether the hook decodes `data` (off once it has refused it).
    decode: bool,
    hook: PhantomData<H>,
}

impl<H> ObjectVisitor<H> {
    /// A top-level event object.
    pub(crate) fn new(lift_extensions: bool, decode: bool) -> Self {
        ObjectVisitor { lift_extensions, decode, hook: PhantomData }
    }
}

impl<'de, H: DataHook> Visitor<'de> for ObjectVisitor<H> {
    type Value = ObjectRead<'de, H>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Members::new();
        let mut type_index = None;
        let mut data: Option<Hooked<'de, H::Out<'de>>> = None;
        let mut refused = None;
        let mut awaiting_next = false;
        let mut legacy = extensions::Legacy::default();
        while let Some(CowStr(key)) = map.next_key()? {
            // The first key after decoded `data` says where its text ends.
            if std::mem::take(&mut awaiting_next)
                && let Some(hooked) = &mut data
            {
                hooked.next = match key {
                    Cow::Borrowed(key) => Next::Key(key),
                    Cow::Owned(_) => Next::EscapedKey,
                };
            }
            // Keys compare after unescaping, so `"d\u0061ta"` is `data`.
            let name = Name::of(&key);
            let value = match name {
                // Decoding needs a borrowed key: its position is where the
                // raw text of `data` begins.
                Name::Data if data.is_none() && refused.is_none() && matches!(key, Cow::Borrowed(_)) && type_index.is_some() => {
                    let index = type_index.unwrap_or_default();
                    if !self.decode {
                        refused = Some(index);
                        let raw = map.next_value::<Raw<'de>>()?.0;
                        members.push(Field::classified(key, name, Member::Raw(raw), Origin::Json));
                        continue;
                    }
                    match map.next_value_seed(TypedData::<H>(index, PhantomData))? {
                        Some(out) => {
                            data = Some(Hooked { at: members.len(), next: Next::Close, out });
                            awaiting_next = true;
                            Member::Raw(RawJson::new(""))
                        }
                        None => Member::Raw(RawJson::new("null")),
                    }
                }
                Name::Data => Member::Raw(map.next_value::<Raw<'de>>()?.0),
                Name::Extensions if self.lift_extensions => {
                    // Its members join the others here, in its place; the
                    // object itself is not a member.
                    let shape = map.next_value_seed(Lift(&mut members))?;
                    legacy.saw(shape);
                    continue;
                }
                _ => map.next_value()?,
            };
            if name == Name::Type {
                type_index = match &value {
                    Member::Str(ty) => H::index(ty),
                    _ => None,
                };
            }
            members.push(Field::classified(key, name, value, Origin::Json));
        }
        Ok(ObjectRead { members, legacy: legacy.fault(), data, refused })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Data, parse_batch, parse_batch_with, parse_binary};

    const OPTS: EnvelopeOptions = EnvelopeOptions::STANDARD;
    const VALID: &str = r#"{"specversion":"1.0","id":"e1","source":"/s","type":"t","seq":3,"data":{"a":[1,"x"]}}"#;

    fn code(bytes: &[u8]) -> &'static str {
        match Envelope::parse(bytes, OPTS) {
            Ok(e) => panic!("{:?}: accepted as {e:?}", String::from_utf8_lossy(bytes)),
            Err(e) => e.code(),
        }
    }

    #[test]
    fn whitespace_around_the_object_is_fine() {
        let padded = format!(" \r\n\t{VALID}\n ");
        assert_eq!(Envelope::parse(padded.as_bytes(), OPTS).unwrap().id, "e1");
    }

    #[test]
    fn truncated_json_is_invalid_json_at_every_cut() {
        for cut in 0..VALID.len() {
            let e = Envelope::parse(&VALID.as_bytes()[..cut], OPTS).unwrap_err();
            assert_eq!(e.code(), "invalid_json", "cut at {cut}: {e}");
            if cut > 0 {
                assert!(e.to_string().contains("truncated"), "cut at {cut}: {e}");
            }
        }
    }

    #[test]
    fn trailing_garbage() {
        for tail in ["x", "{}", ",", "]", "\"\"", "\0"] {
            let e = Envelope::parse(format!("{VALID}{tail}").as_bytes(), OPTS).unwrap_err();
            assert_eq!(e.code(), "invalid_json", "{tail:?}");
        }
        let e = Envelope::parse(format!("{VALID} {VALID}").as_bytes(), OPTS).unwrap_err();
        assert!(e.to_string().contains("nothing after it"), "{e}");
    }

    #[test]
    fn top_level_must_be_an_object() {
        for (body, found) in [
            ("[]", "an array"),
            (&format!("[{VALID}]"), "an array"),
            ("\"event\"", "a string"),
            ("42", "a number"),
            ("-1.5e3", "a number"),
            ("true", "a boolean"),
            ("null", "null"),
        ] {
            match Envelope::parse(body.as_bytes(), OPTS) {
                Err(EnvelopeError::NotAnObject { found: f }) => assert_eq!(f, found, "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
        for body in ["", "   ", "[1,", "nul", "\u{feff}{}", "{'a':1}", "{\"a\" 1}", "{\"a\":1,}", "\"\\x\""] {
            assert_eq!(code(body.as_bytes()), "invalid_json", "{body:?}");
        }
        assert_eq!(code(b"{\"id\":\"\xff\"}"), "invalid_json", "invalid UTF-8");
    }

    #[test]
    fn duplicate_members() {
        let dup = |extra: &str| VALID.replacen('{', &format!("{{{extra},"), 1);
        for extra in [r#""id":"e2""#, r#""i\u0064":"e1""#, r#""specversion":"1.0""#, r#""seq":3"#, r#""se\u0071":null"#, r#""data":null"#] {
            let json = dup(extra);
            let e = Envelope::parse(json.as_bytes(), OPTS).unwrap_err();
            assert_eq!(e.code(), "duplicate_attribute", "{json}");
        }
        let e = Envelope::parse(dup(r#""i\u0064":"e1""#).as_bytes(), OPTS).unwrap_err();
        assert_eq!(e.attribute(), Some("id"));
        // Escaped keys are the same names: `"d\u0061ta"` is `data`.
        let escaped = r#"{"specversion":"1.0","id":"e1","source":"/s","type":"t","d\u0061ta":{"x":1}}"#;
        let e = Envelope::parse(escaped.as_bytes(), OPTS).unwrap();
        assert!(matches!(e.data, Some(Data::Json(raw)) if raw.get() == r#"{"x":1}"#));
    }

    #[test]
    fn large_and_deep_data() {
        let big = "x".repeat(100 * 1024);
        let json = format!(r#"{{"specversion":"1.0","id":"1","source":"s","type":"t","data":{{"blob":"{big}"}}}}"#);
        let e = Envelope::parse(json.as_bytes(), OPTS).unwrap();
        assert_eq!(e.data.unwrap().as_bytes().len(), big.len() + 11);

        let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        let json = format!(r#"{{"specversion":"1.0","id":"1","source":"s","type":"t","data":{deep},"ext":null}}"#);
        let e = Envelope::parse(json.as_bytes(), OPTS).unwrap();
        assert_eq!(e.data.unwrap().as_bytes(), deep.as_bytes());
        // Deep nesting in an extension is skipped, then rejected by type.
        let json = format!(r#"{{"specversion":"1.0","id":"1","source":"s","type":"t","ext":{deep}}}"#);
        assert_eq!(code(json.as_bytes()), "invalid_extension_value");
        // serde_json skips raw values iteratively, so even absurd nesting
        // cannot overflow the stack here; typed decoding of `data` later
        // applies serde_json's recursion limit (128).
        let abyss = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let json = format!(r#"{{"specversion":"1.0","id":"1","source":"s","type":"t","data":{abyss},"x":{abyss}}}"#);
        let e = Envelope::parse(json.as_bytes(), OPTS).unwrap_err();
        assert_eq!((e.code(), e.attribute()), ("invalid_extension_value", Some("x")));
        let json = format!(r#"{{"specversion":"1.0","id":"1","source":"s","type":"t","data":{abyss}}}"#);
        let e = Envelope::parse(json.as_bytes(), OPTS).unwrap();
        assert_eq!(e.data.map(|d| d.as_bytes().len()), Some(abyss.len()));
    }

    /// Decodes `data` of type `n` as a `u32`, counting its calls.
    struct Counting;

    thread_local! {
        /// Calls of `decode` and of `refused` on this thread.
        static CALLS: std::cell::Cell<(usize, usize)> = const { std::cell::Cell::new((0, 0)) };
    }

    impl DataHook for Counting {
        type Out<'de> = Result<u32, String>;

        fn index(ty: &str) -> Option<usize> {
            (ty == "n").then_some(0)
        }

        fn decode<'de, D: de::Deserializer<'de>>(_: usize, d: D) -> Result<Self::Out<'de>, D::Error> {
            CALLS.with(|c| c.set((c.get().0 + 1, c.get().1)));
            u32::deserialize(d).map(Ok)
        }

        fn refused(_: usize, text: &str) -> Self::Out<'_> {
            CALLS.with(|c| c.set((c.get().0, c.get().1 + 1)));
            Err(format!("refused {text}"))
        }
    }

    /// `data` its type refuses goes from the fast reader straight to the
    /// hook's `refused` (which says where it is wrong), once the envelope
    /// is known to be valid; single events and batch elements alike.
    #[test]
    fn data_the_hook_refuses_goes_straight_to_refused() {
        let event = |data: &str, extra: &str| format!(r#"{{"specversion":"1.0","id":"1","source":"s","type":"n","data":{data}{extra}}}"#);
        let parse = |json: &str| {
            CALLS.with(|c| c.set((0, 0)));
            let result =
                parse_with::<Counting>(json.as_bytes(), OPTS).map(|(envelope, out)| (envelope.data.map(|d| d.as_bytes().to_vec()), out));
            (result, CALLS.with(std::cell::Cell::get))
        };
        let (result, calls) = parse(&event("7", ""));
        assert_eq!(result.unwrap(), (Some(b"7".to_vec()), Some(Ok(7))));
        assert_eq!(calls, (1, 0));
        let (result, calls) = parse(&event(" \"x\" ", r#","seq":1"#));
        assert_eq!(result.unwrap(), (Some(br#""x""#.to_vec()), Some(Err(r#"refused "x""#.to_owned()))));
        assert_eq!(calls, (1, 1), "decoded once, then refused once");
        // An invalid envelope is the verdict: its data is not looked at again.
        let (result, calls) = parse(&event("\"x\"", r#","id":"2""#));
        assert_eq!(result.unwrap_err().code(), "duplicate_attribute");
        assert_eq!(calls, (1, 0));
        // A syntax error after refused data is still the syntax error.
        let (result, _) = parse(&event("\"x\"", r#","seq":"#));
        assert_eq!(result.unwrap_err().code(), "invalid_json");

        let body = format!("[{},{}]", event("\"x\"", ""), event("8", ""));
        let batch = parse_batch_with::<Counting>(body.as_bytes(), OPTS, 10).unwrap();
        let outs: Vec<_> = batch.into_iter().map(|r| r.unwrap().1).collect();
        assert_eq!(outs, [Some(Err(r#"refused "x""#.to_owned())), Some(Ok(8))]);
    }

    #[test]
    fn syntax_errors_win_over_rule_violations() {
        // A bad attribute early on, then a truncation: the truncation is the
        // problem to report.
        let json = r#"{"specversion":"0.3","Bad_Name":1.5,"id":"#;
        assert_eq!(code(json.as_bytes()), "invalid_json");
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn parsers_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
                let _ = Envelope::parse(&bytes, OPTS);
                let _ = Envelope::parse(&bytes, EnvelopeOptions { legacy_extensions_object: true, ..EnvelopeOptions::STANDARD });
                let _ = parse_batch(&bytes, OPTS);
                let headers = [("ce-id", &bytes[..]), ("ce-x", &bytes[..]), ("content-type", &bytes[..])];
                let _ = parse_binary(headers, &bytes, OPTS);
            }

            #[test]
            fn parsers_never_panic_on_near_valid_json(cut in 0..VALID.len(), byte in any::<u8>(), at in 0..VALID.len()) {
                let mut bytes = VALID.as_bytes().to_vec();
                bytes[at] = byte;
                bytes.truncate(cut.max(at + 1));
                let _ = Envelope::parse(&bytes, OPTS);
                let _ = parse_batch(&[b"[", &bytes[..], b"]"].concat(), OPTS);
            }
        }
    }
}
