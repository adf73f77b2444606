//! Batch mode: a JSON array of structured-mode events.
//!
//! Each element is parsed on its own, so one bad event gets its own error at
//! its own index and never hides or spoils its neighbours.
//!
//! As in structured mode, a fast reader checks UTF-8 once for the body and
//! reads each element in place (decoding `data` into its type when the
//! caller lends a [`DataHook`]). An element it refuses is skipped as raw
//! JSON and read again by the exact reader on its own; a body it refuses
//! (not an array, too many elements, malformed) is read again whole by the
//! exact reader, which splits the array into raw elements first and reports
//! every error as it always has.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::structured::{self, DataHook, NoHook, ObjectVisitor, Refusal, first_non_ws, not_expected};
use super::{Envelope, EnvelopeOptions};
use crate::error::EnvelopeError;

/// Most events one batch may carry when the caller sets no limit: enough
/// for any sender's flush, small enough that one request cannot make the
/// server build a huge answer (500,000 tiny elements fit in 1 MiB).
pub const DEFAULT_MAX_BATCH_EVENTS: usize = 1000;

/// Parse a batch of at most [`DEFAULT_MAX_BATCH_EVENTS`] events: one result
/// per array element, in order. See [`parse_batch_limited`].
#[allow(clippy::type_complexity)] // The nesting is the contract: outer body, inner per event.
pub fn parse_batch<'a>(bytes: &'a [u8], opts: EnvelopeOptions) -> Result<Vec<Result<Envelope<'a>, EnvelopeError>>, EnvelopeError> {
    parse_batch_limited(bytes, opts, DEFAULT_MAX_BATCH_EVENTS)
}

/// Parse a batch of at most `max_events` events: one result per array
/// element, in order.
///
/// The outer `Err` means the body as a whole is refused: not JSON
/// (`invalid_json`), not an array (`not_a_batch`), more than `max_events`
/// elements (`batch_too_large`, found while reading, before anything is
/// built for the rest), or an element that is not an event object or not
/// CloudEvents v1.0 (`malformed_batch`). Any other fault of an element is
/// that element's own result. `[]` is an empty batch.
#[allow(clippy::type_complexity)]
pub fn parse_batch_limited<'a>(
    bytes: &'a [u8],
    opts: EnvelopeOptions,
    max_events: usize,
) -> Result<Vec<Result<Envelope<'a>, EnvelopeError>>, EnvelopeError> {
    let parsed = parse_batch_with::<NoHook>(bytes, opts, max_events)?;
    Ok(parsed.into_iter().map(|r| r.map(|(envelope, _)| envelope)).collect())
}

/// One element's result: its envelope and what `H` made of its `data`.
pub(crate) type Element<'a, H> = Result<(Envelope<'a>, Option<<H as DataHook>::Out<'a>>), EnvelopeError>;

/// [`parse_batch_limited`], decoding `data` with `H` where it can.
pub(crate) fn parse_batch_with<H: DataHook>(
    bytes: &[u8],
    opts: EnvelopeOptions,
    max_events: usize,
) -> Result<Vec<Element<'_, H>>, EnvelopeError> {
    let fast = match std::str::from_utf8(bytes) {
        Ok(text) if opts.legacy_extensions_object => read_fast::<H, true>(text, opts, max_events),
        Ok(text) => read_fast::<H, false>(text, opts, max_events),
        Err(_) => None,
    };
    let parsed = match fast {
        Some(parsed) => parsed,
        None => read_exact(bytes, opts, max_events)?.into_iter().map(|r| r.map(|envelope| (envelope, None))).collect(),
    };
    for (index, result) in parsed.iter().enumerate() {
        let reason = match result {
            Err(EnvelopeError::NotAnObject { found }) => format!("is {found}, not an object"),
            Err(EnvelopeError::UnsupportedSpecversion { found }) => format!("has specversion {found}"),
            _ => continue,
        };
        return Err(EnvelopeError::MalformedBatch { index, reason });
    }
    Ok(parsed)
}

/// A batch element as the fast reader takes it: an object, read in place.
struct FastElement<'a, H: DataHook, const LEGACY: bool>(structured::ObjectRead<'a, H>);

impl<'de, H: DataHook, const LEGACY: bool> Deserialize<'de> for FastElement<'de, H, LEGACY> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ObjectVisitor::<H>::new(LEGACY, true)).map(FastElement)
    }
}

/// The fast reader; `None` when it refuses the body.
fn read_fast<'a, H: DataHook, const LEGACY: bool>(text: &'a str, opts: EnvelopeOptions, max_events: usize) -> Option<Vec<Element<'a, H>>> {
    let b = text.as_bytes();
    let skip_ws = |mut pos: usize| {
        while pos < b.len() && matches!(b[pos], b' ' | b'\t' | b'\n' | b'\r') {
            pos += 1;
        }
        pos
    };
    let mut pos = skip_ws(0);
    if b.get(pos) != Some(&b'[') {
        return None;
    }
    pos = skip_ws(pos + 1);
    let mut out = Vec::new();
    if b.get(pos) == Some(&b']') {
        pos += 1;
    } else {
        loop {
            if out.len() == max_events {
                return None;
            }
            let rest = &text[pos..];
            let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<FastElement<'a, H, LEGACY>>();
            let fast = match stream.next() {
                Some(Ok(FastElement(mut object))) => {
                    let len = stream.byte_offset();
                    object.place_data(text, pos + len - 1).map(|()| (object, len)).ok_or(Refusal::Other)
                }
                Some(Err(e)) => Err(Refusal::of(&e)),
                None => Err(Refusal::Other),
            };
            let result = match fast {
                Ok((object, len)) => {
                    pos += len;
                    object.into_fast().finish(opts)
                }
                // Refused: skip the element as raw JSON, and read it alone:
                // without decoding `data` if that is what failed, else with
                // the exact reader (or the body, if it is not JSON).
                Err(refusal) => {
                    let mut de = serde_json::Deserializer::from_str(rest);
                    let raw = <&RawValue>::deserialize(&mut de).ok()?;
                    let element = raw.get();
                    pos = element.as_ptr() as usize - text.as_ptr() as usize + element.len();
                    match refusal {
                        Refusal::Data => structured::parse_refused::<H>(element, opts),
                        Refusal::Other => structured::parse_exact(element.as_bytes(), opts).map(|envelope| (envelope, None)),
                    }
                }
            };
            out.push(result);
            pos = skip_ws(pos);
            match b.get(pos) {
                Some(b',') => pos = skip_ws(pos + 1),
                Some(b']') => {
                    pos += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    (skip_ws(pos) == b.len()).then_some(out)
}

/// The exact reader: split the array into raw elements, then parse each.
#[allow(clippy::type_complexity)]
fn read_exact(bytes: &[u8], opts: EnvelopeOptions, max_events: usize) -> Result<Vec<Result<Envelope<'_>, EnvelopeError>>, EnvelopeError> {
    match first_non_ws(bytes) {
        Some(b'[') => {}
        first => return Err(not_expected(bytes, first, |found| EnvelopeError::NotABatch { found })),
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let elements = match serde::Deserializer::deserialize_seq(&mut de, AtMost(max_events)).and_then(|e| de.end().map(|()| e)) {
        Ok(elements) => elements,
        Err(e) if e.to_string().starts_with(TOO_MANY) => return Err(EnvelopeError::BatchTooLarge { max: max_events }),
        Err(e) => return Err(EnvelopeError::from_json(&e)),
    };
    Ok(elements.into_iter().map(|raw| structured::parse_exact(raw.get().as_bytes(), opts)).collect())
}

/// The start of the error [`AtMost`] stops with.
const TOO_MANY: &str = "herald: batch over its limit";

/// Reads a JSON array's elements as borrowed raw values, failing as soon as
/// there are more than `.0` of them.
struct AtMost(usize);

impl<'de> serde::de::Visitor<'de> for AtMost {
    type Value = Vec<&'de RawValue>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "an array of at most {} events", self.0)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.0));
        while let Some(element) = seq.next_element::<&'de RawValue>()? {
            if out.len() == self.0 {
                return Err(serde::de::Error::custom(TOO_MANY));
            }
            out.push(element);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: EnvelopeOptions = EnvelopeOptions::STANDARD;

    #[test]
    fn empty_batch() {
        assert!(parse_batch(b"[]", OPTS).unwrap().is_empty());
        assert!(parse_batch(b" \n[ ] ", OPTS).unwrap().is_empty());
    }

    #[test]
    fn per_index_results() {
        let body = br#"[
            {"specversion":"1.0","id":"1","source":"s","type":"t"},
            {"specversion":"1.0","source":"s","type":"t"},
            {"specversion":"1.0","id":"4","source":"s","type":"t","data":{"a":[1,2]}},
            {"specversion":"1.0","id":"5","id":"5","source":"s","type":"t"}
        ]"#;
        let results = parse_batch(body, OPTS).unwrap();
        assert_eq!(results.len(), 4);
        assert_eq!(results[0].as_ref().unwrap().id, "1");
        assert_eq!(results[1].as_ref().unwrap_err().code(), "missing_attribute");
        let third = results[2].as_ref().unwrap();
        assert_eq!(third.data.as_ref().unwrap().as_bytes(), br#"{"a":[1,2]}"#);
        assert_eq!(results[3].as_ref().unwrap_err().code(), "duplicate_attribute");
    }

    #[test]
    fn an_element_that_is_not_a_v1_event_object_refuses_the_whole_batch() {
        let ok = r#"{"specversion":"1.0","id":"1","source":"s","type":"t"}"#;
        for (bad, index, says) in [
            ("42", 1, "is a number"),
            (r#"[{"specversion":"1.0"}]"#, 1, "is an array"),
            (r#"{"specversion":"0.3","id":"2","source":"s","type":"t"}"#, 1, "specversion"),
        ] {
            let body = format!("[{ok},{bad},{ok}]");
            let err = parse_batch(body.as_bytes(), OPTS).unwrap_err();
            assert_eq!(err.code(), "malformed_batch", "{bad}");
            assert!(matches!(err, EnvelopeError::MalformedBatch { index: i, .. } if i == index), "{err:?}");
            assert!(err.to_string().contains(says) && err.to_string().contains("element 1"), "{err}");
        }
    }

    #[test]
    fn more_events_than_the_limit_refuse_the_batch_while_reading() {
        let one = r#"{"specversion":"1.0","id":"1","source":"s","type":"t"}"#;
        let three = format!("[{one},{one},{one}]");
        assert_eq!(parse_batch_limited(three.as_bytes(), OPTS, 3).unwrap().len(), 3);
        assert_eq!(parse_batch_limited(three.as_bytes(), OPTS, 2).unwrap_err(), EnvelopeError::BatchTooLarge { max: 2 });
        // Half a million tiny elements: refused at element 1001, not after
        // building them all (and the error says how many are allowed).
        let huge = format!("[{}0]", "0,".repeat(500_000));
        let err = parse_batch(huge.as_bytes(), OPTS).unwrap_err();
        assert_eq!(err.code(), "batch_too_large");
        assert!(err.to_string().contains("at most 1000"), "{err}");
        // Broken JSON is still reported as such, not as too large.
        assert_eq!(parse_batch_limited(b"[1,2,", OPTS, 10).unwrap_err().code(), "invalid_json");
    }

    #[test]
    fn not_a_batch() {
        let single = br#"{"specversion":"1.0","id":"1","source":"s","type":"t"}"#;
        assert_eq!(parse_batch(single, OPTS).unwrap_err().code(), "not_a_batch");
        assert_eq!(parse_batch(b"\"x\"", OPTS).unwrap_err().code(), "not_a_batch");
        assert_eq!(parse_batch(b"null", OPTS).unwrap_err().code(), "not_a_batch");
        assert_eq!(parse_batch(b"", OPTS).unwrap_err().code(), "invalid_json");
        assert_eq!(parse_batch(b"[{}", OPTS).unwrap_err().code(), "invalid_json");
        assert_eq!(parse_batch(b"[] x", OPTS).unwrap_err().code(), "invalid_json");
        assert_eq!(parse_batch(b"nope", OPTS).unwrap_err().code(), "invalid_json");
    }

    #[test]
    fn legacy_option_applies_to_elements() {
        let body = br#"[{"specversion":"1.0","id":"1","source":"s","type":"t","extensions":{"seq":3}}]"#;
        let on = parse_batch(body, EnvelopeOptions { legacy_extensions_object: true, ..EnvelopeOptions::STANDARD }).unwrap();
        assert_eq!(on[0].as_ref().unwrap().extension("seq").unwrap().as_i32(), Some(3));
        let off = parse_batch(body, OPTS).unwrap();
        assert_eq!(off[0].as_ref().unwrap_err().code(), "invalid_extension_value");
    }
}
