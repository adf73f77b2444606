//! Structured mode: one JSON object in, one [`Envelope`] out.
//!
//! The object is read with a hand-written serde [`Visitor`] straight from the
//! input slice, never through a `serde_json::Value` tree: member names and
//! string values borrow the input when they hold no escapes, `data` is kept
//! as a borrowed [`RawValue`], and nested values of anything else are only
//! skipped. The visitor does syntax only; the attribute rules live in
//! [`super::build`], shared with binary mode. Syntax errors therefore always
//! win over rule violations: a truncated body is reported as truncated.

use std::borrow::Cow;
use std::fmt;

use serde::Deserializer as _;
use serde::de::{self, Deserialize, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{Envelope, EnvelopeOptions, Member, Origin, build, extensions};
use crate::error::EnvelopeError;

/// Parse one structured-mode event.
pub(crate) fn parse(bytes: &[u8], opts: EnvelopeOptions) -> Result<Envelope<'_>, EnvelopeError> {
    let top = members(bytes, opts.legacy_extensions_object)?;
    let mut all = Vec::with_capacity(top.len());
    let mut legacy_seen = false;
    for (name, member) in top {
        match member {
            Member::Raw(raw) if opts.legacy_extensions_object && name == "extensions" => {
                // The object's own name vanishes once its members are lifted,
                // so a repeated `extensions` must be caught here.
                if legacy_seen {
                    return Err(EnvelopeError::DuplicateAttribute { attribute: "extensions".into() });
                }
                legacy_seen = true;
                let lifted = extensions::legacy_members(raw)?;
                all.extend(lifted.into_iter().map(|(n, m)| (n, m, Origin::Legacy)));
            }
            member => all.push((name, member, Origin::Json)),
        }
    }
    build(all, opts)
}

/// The members of a JSON object, in input order, duplicates included.
/// `data` is always kept raw; `extensions` too when `raw_extensions`.
pub(crate) fn members(
    bytes: &[u8],
    raw_extensions: bool,
) -> Result<Vec<(Cow<'_, str>, Member<'_>)>, EnvelopeError> {
    match first_non_ws(bytes) {
        Some(b'{') => {}
        first => return Err(not_expected(bytes, first, |found| EnvelopeError::NotAnObject { found })),
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let members = (&mut de)
        .deserialize_map(MembersVisitor { raw_extensions })
        .map_err(|e| EnvelopeError::from_json(&e))?;
    // Without this, `{…} garbage` would be accepted.
    de.end().map_err(|e| EnvelopeError::from_json(&e))?;
    Ok(members)
}

/// The error for a body whose first byte is not the expected bracket:
/// `invalid_json` if it is not JSON at all, else `wrong(kind)`.
pub(crate) fn not_expected(
    bytes: &[u8],
    first: Option<u8>,
    wrong: impl FnOnce(&'static str) -> EnvelopeError,
) -> EnvelopeError {
    if first.is_none() {
        return EnvelopeError::InvalidJson {
            detail: "the body is empty".into(),
            hint: "send a JSON document",
        };
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
struct CowStr<'a>(Cow<'a, str>);

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
        Ok(Member::Int(i128::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Member::Int(i128::from(v)))
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

struct MembersVisitor {
    raw_extensions: bool,
}

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = Vec<(Cow<'de, str>, Member<'de>)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(12));
        while let Some(CowStr(key)) = map.next_key()? {
            // Keys compare after unescaping, so `"d\u0061ta"` is `data`.
            let raw = key == "data" || (self.raw_extensions && key == "extensions");
            let value = if raw { Member::Raw(map.next_value::<&'de RawValue>()?) } else { map.next_value()? };
            out.push((key, value));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Data, parse_batch, parse_binary};

    const OPTS: EnvelopeOptions = EnvelopeOptions { legacy_extensions_object: false };
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
        for extra in [
            r#""id":"e2""#,
            r#""i\u0064":"e1""#,
            r#""specversion":"1.0""#,
            r#""seq":3"#,
            r#""se\u0071":null"#,
            r#""data":null"#,
        ] {
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
                let _ = Envelope::parse(&bytes, EnvelopeOptions { legacy_extensions_object: true });
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
