//! Binary mode (HTTP binding v1.0 §3.1): attributes in `ce-*` headers, the
//! data's media type in `Content-Type`, the body is the data itself.
//!
//! Each `ce-*` value is decoded exactly as the binding says, in this order:
//! an RFC 7230 quoted-string is unescaped, then exactly one round of
//! percent-decoding runs, then the bytes must be UTF-8. The result then
//! goes through the same attribute rules as structured mode.
//!
//! Header values are not borrowed: the envelope's lifetime is the body's,
//! and headers usually live in a different buffer.

use std::borrow::Cow;

use serde_json::value::RawValue;

use super::{Data, Envelope, EnvelopeOptions, Field, Member, Members, Origin, RawJson, build};
use crate::error::EnvelopeError;

/// Parse a binary-mode event from all the request's header `(name, value)`
/// pairs (names case-insensitive; headers other than `ce-*` and
/// `Content-Type` are ignored) and its body.
///
/// An empty body is no data. A body whose `Content-Type` is JSON, or absent
/// (CloudEvents treats absent as JSON), must be one JSON value and becomes
/// [`Data::Json`] borrowing the body; any other body is [`Data::Binary`].
pub fn parse_binary<'a, 'h>(
    headers: impl IntoIterator<Item = (&'h str, &'h [u8])>,
    body: &'a [u8],
    opts: EnvelopeOptions,
) -> Result<Envelope<'a>, EnvelopeError> {
    let mut members = Members::new();
    for (name, value) in headers {
        let invalid = |attribute: &str, reason: String| EnvelopeError::InvalidHeader {
            attribute: attribute.to_owned(),
            header: name.to_owned(),
            reason,
        };
        if name.eq_ignore_ascii_case("content-type") {
            // A plain HTTP header: no quoted-string or percent rules apply.
            let text = std::str::from_utf8(trim_ows(value))
                .map_err(|_| invalid("datacontenttype", "the value is not valid UTF-8; send an ASCII media type".into()))?;
            members.push(Field::new("datacontenttype".into(), Member::Str(Cow::Owned(text.to_owned())), Origin::Header));
            continue;
        }
        let Some(attribute) = strip_ce_prefix(name) else { continue };
        let attribute = attribute.to_ascii_lowercase();
        if attribute == "datacontenttype" {
            return Err(EnvelopeError::DatacontenttypeHeader);
        }
        let text = decode_value(value).map_err(|reason| invalid(&attribute, reason))?;
        members.push(Field::new(Cow::Owned(attribute), Member::Str(Cow::Owned(text)), Origin::Header));
    }
    let mut env = build(members, opts)?;
    if !body.is_empty() {
        env.data = Some(if env.data_is_json() {
            let raw: &'a RawValue = serde_json::from_slice(body).map_err(|e| EnvelopeError::InvalidBody {
                content_type: env.datacontenttype.as_deref().map_or_else(|| "(none)".into(), |ct| format!("`{ct}`")),
                detail: e.to_string(),
            })?;
            Data::Json(RawJson::new(raw.get()))
        } else {
            Data::Binary(Cow::Borrowed(body))
        });
    }
    Ok(env)
}

/// `ce-foo` → `foo`, matching the prefix case-insensitively.
fn strip_ce_prefix(name: &str) -> Option<&str> {
    let prefix = name.as_bytes().get(..3)?;
    // The prefix is ASCII, so byte 3 is a char boundary when it matches.
    prefix.eq_ignore_ascii_case(b"ce-").then(|| &name[3..])
}

/// HTTP optional whitespace around a field value is not part of it.
fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| !matches!(b, b' ' | b'\t')).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(start, |i| i + 1);
    &v[start..end]
}

/// Quoted-string unescape, one percent-decoding pass, UTF-8 check.
fn decode_value(raw: &[u8]) -> Result<String, String> {
    let raw = trim_ows(raw);
    let unquoted = if raw.first() == Some(&b'"') { Cow::Owned(unquote(raw)?) } else { Cow::Borrowed(raw) };
    let decoded = percent_decode(&unquoted)?;
    String::from_utf8(decoded).map_err(|e| {
        format!(
            "the value is not valid UTF-8 after percent-decoding (at byte {}); \
             percent-encode the UTF-8 bytes of the text, e.g. `%E2%82%AC` for `€`",
            e.utf8_error().valid_up_to()
        )
    })
}

/// RFC 7230 §3.2.6 `quoted-string`: `"`, then text where `\x` stands for
/// `x`, then the closing `"` ending the value.
fn unquote(raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter().copied().enumerate().skip(1);
    while let Some((i, b)) = bytes.next() {
        match b {
            b'\\' => match bytes.next() {
                Some((_, escaped)) => out.push(escaped),
                None => break,
            },
            b'"' if i + 1 == raw.len() => return Ok(out),
            b'"' => {
                return Err("characters follow the closing `\"` of a quoted string; \
                            quote the whole value or escape the inner `\"` as `\\\"`"
                    .into());
            }
            b => out.push(b),
        }
    }
    Err("the quoted string has no closing `\"`; end the value with `\"`".into())
}

/// One round of percent-decoding: `%XX` becomes byte `XX`; a `%` without
/// two hex digits is an error, never passed through, so that what a sender
/// meant is never guessed.
fn percent_decode(v: &[u8]) -> Result<Vec<u8>, String> {
    let hex = |b: u8| char::from(b).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'%' {
            let pair = v.get(i + 1).copied().and_then(hex).zip(v.get(i + 2).copied().and_then(hex));
            let Some((hi, lo)) = pair else {
                let found = String::from_utf8_lossy(&v[i..v.len().min(i + 3)]).into_owned();
                return Err(format!(
                    "`{found}` is not a percent-encoded byte; `%` must be followed by two hex digits \
                     (send a literal `%` as `%25`)"
                ));
            };
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(v[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::ExtensionValue;

    const OPTS: EnvelopeOptions = EnvelopeOptions::STANDARD;

    fn headers(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static [u8])> {
        let mut h: Vec<(&str, &[u8])> =
            vec![("ce-specversion", b"1.0"), ("ce-id", b"abc"), ("ce-source", b"/orchestrator"), ("ce-type", b"ai.run.started")];
        h.extend(extra.iter().map(|(n, v)| (*n, v.as_bytes())));
        h
    }

    fn parse(extra: &[(&'static str, &'static str)], body: &'static [u8]) -> Result<Envelope<'static>, EnvelopeError> {
        parse_binary(headers(extra), body, OPTS)
    }

    fn code(extra: &[(&'static str, &'static str)]) -> &'static str {
        parse(extra, b"").unwrap_err().code()
    }

    #[test]
    fn minimal_and_ignored_headers() {
        let e = parse(&[("host", "x"), ("accept", "*/*")], b"").unwrap();
        assert_eq!((e.id.as_ref(), e.source.as_ref(), e.ty.as_ref()), ("abc", "/orchestrator", "ai.run.started"));
        assert!(e.data.is_none() && e.extensions.is_empty() && e.datacontenttype.is_none());
    }

    #[test]
    fn header_names_are_case_insensitive() {
        let h: Vec<(&str, &[u8])> = vec![
            ("CE-SpecVersion", b"1.0"),
            ("Ce-Id", b"1"),
            ("cE-sOuRcE", b"s"),
            ("CE-TYPE", b"t"),
            ("CE-TraceParent", b"00-x"),
            ("Content-TYPE", b"Application/JSON"),
        ];
        let e = parse_binary(h, b"{}", OPTS).unwrap();
        assert_eq!(e.extension("traceparent").unwrap().as_str(), Some("00-x"));
        assert_eq!(e.datacontenttype.as_deref(), Some("Application/JSON"));
    }

    #[test]
    fn quoted_and_percent_encoded_values() {
        let e = parse(
            &[
                ("ce-subject", "\"run/\\\"42\\\" \\\\ ok\""),
                ("ce-price", "%E2%82%AC10%25"),
                ("ce-quotedpct", "\"%E2%82%AC\""),
                ("ce-twice", "%2541"),
                ("ce-empty", ""),
                ("ce-spaced", "  padded\t"),
            ],
            b"",
        )
        .unwrap();
        assert_eq!(e.subject.as_deref(), Some("run/\"42\" \\ ok"));
        assert_eq!(e.extension("price").unwrap().as_str(), Some("€10%"));
        assert_eq!(e.extension("quotedpct").unwrap().as_str(), Some("€"));
        assert_eq!(e.extension("twice").unwrap().as_str(), Some("%41"), "exactly one decoding pass");
        assert_eq!(e.extension("empty").unwrap().as_str(), Some(""));
        assert_eq!(e.extension("spaced").unwrap().as_str(), Some("padded"));
    }

    #[test]
    fn extensions_are_strings_with_canonical_accessors() {
        let e = parse(&[("ce-seq", "42"), ("ce-flag", "true")], b"").unwrap();
        assert_eq!(e.extension("seq"), Some(&ExtensionValue::String("42".into())));
        assert_eq!(e.extension("seq").unwrap().as_i32(), Some(42));
        assert_eq!(e.extension("flag").unwrap().as_bool(), Some(true));
    }

    #[test]
    fn undecodable_values() {
        assert_eq!(code(&[("ce-x", "%FF")]), "invalid_header");
        assert_eq!(code(&[("ce-x", "%C3")]), "invalid_header");
        assert_eq!(code(&[("ce-x", "%G1")]), "invalid_header");
        assert_eq!(code(&[("ce-x", "50%")]), "invalid_header");
        assert_eq!(code(&[("ce-x", "%4")]), "invalid_header");
        assert_eq!(code(&[("ce-x", "\"open")]), "invalid_header");
        assert_eq!(code(&[("ce-x", "\"a\"b")]), "invalid_header");
        assert_eq!(code(&[("ce-x", "\"a\\")]), "invalid_header");
        let raw: Vec<(&str, &[u8])> = vec![("ce-id", b"\xff"), ("ce-source", b"s")];
        let e = parse_binary(raw, b"", OPTS).unwrap_err();
        assert_eq!((e.code(), e.attribute()), ("invalid_header", Some("id")));
        assert!(e.to_string().contains("`ce-id`"), "{e}");
        let bad = parse(&[("ce-x", "%G1")], b"").unwrap_err().to_string();
        assert!(bad.contains("`%G1`") && bad.contains("%25"), "{bad}");
    }

    #[test]
    fn decoded_values_follow_attribute_rules() {
        assert_eq!(code(&[("ce-x", "%00")]), "invalid_string");
        assert_eq!(code(&[("ce-x", "%EF%BF%BE")]), "invalid_string");
        assert_eq!(code(&[("ce-dataschema", "relative/path")]), "invalid_dataschema");
        assert_eq!(code(&[("ce-time", "yesterday")]), "invalid_time");
        assert_eq!(code(&[("ce-bad_name", "1")]), "invalid_extension_name");
        assert_eq!(code(&[("ce-", "1")]), "invalid_extension_name");
        assert_eq!(code(&[("ce-data", "1")]), "invalid_extension_name");
        assert_eq!(code(&[("ce-id", "again")]), "duplicate_attribute");
        assert_eq!(code(&[("content-type", "a/b"), ("Content-Type", "c/d")]), "duplicate_attribute");
        assert_eq!(code(&[("ce-datacontenttype", "application/json")]), "datacontenttype_header");
        let no_version: Vec<(&str, &[u8])> = vec![("ce-id", b"1"), ("ce-source", b"s"), ("ce-type", b"t")];
        assert_eq!(parse_binary(no_version, b"", OPTS).unwrap_err().code(), "missing_attribute");
    }

    #[test]
    fn legacy_option_reserves_ce_extensions() {
        let h = headers(&[("ce-extensions", "x")]);
        assert!(parse_binary(h.clone(), b"", OPTS).is_ok());
        let on = EnvelopeOptions { legacy_extensions_object: true, ..EnvelopeOptions::STANDARD };
        assert_eq!(parse_binary(h, b"", on).unwrap_err().code(), "invalid_extension_name");
    }

    #[test]
    fn json_body_is_borrowed() {
        let body = b" {\"run_id\": \"r1\"} \n";
        let e = parse_binary(headers(&[("content-type", "application/json; charset=utf-8")]), body, OPTS).unwrap();
        let Some(Data::Json(raw)) = &e.data else { panic!("{:?}", e.data) };
        assert_eq!(raw.get(), "{\"run_id\": \"r1\"}");
        assert!(std::ptr::eq(raw.get().as_ptr(), body[1..].as_ptr()), "data must point into the body");
        // Absent content type means JSON too.
        assert!(matches!(parse(&[], b"[1,2]").unwrap().data, Some(Data::Json(_))));
        let bad = parse(&[("content-type", "application/vnd.x+json")], b"{nope").unwrap_err();
        assert_eq!((bad.code(), bad.attribute()), ("invalid_body", Some("data")));
        assert_eq!(parse(&[], b"not json").unwrap_err().code(), "invalid_body");
    }

    #[test]
    fn binary_body_is_borrowed() {
        let body: &[u8] = b"\x00\x01\xffhello";
        let e = parse_binary(headers(&[("content-type", "application/octet-stream")]), body, OPTS).unwrap();
        assert!(!e.data_is_json());
        let Some(Data::Binary(Cow::Borrowed(bytes))) = e.data else { panic!() };
        assert_eq!(bytes, body);
        // Round trip through structured mode: binary data travels as data_base64.
        let json = e.to_json();
        assert!(json.contains("\"data_base64\":\"AAH/aGVsbG8=\""), "{json}");
        assert_eq!(Envelope::parse(json.as_bytes(), OPTS).unwrap(), e);
    }
}
