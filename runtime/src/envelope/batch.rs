//! Batch mode: a JSON array of structured-mode events.
//!
//! The array is split into borrowed [`RawValue`] elements first, then each
//! element is parsed on its own, so one bad event gets its own error at its
//! own index and never hides or spoils its neighbours.

use serde_json::value::RawValue;

use super::structured::{first_non_ws, not_expected};
use super::{Envelope, EnvelopeOptions};
use crate::error::EnvelopeError;

/// Parse a batch: one result per array element, in order.
///
/// The outer `Err` means the body as a whole is unusable: not JSON
/// (`invalid_json`) or not an array (`not_a_batch`). `[]` is an empty batch.
#[allow(clippy::type_complexity)] // The nesting is the contract: outer body, inner per event.
pub fn parse_batch<'a>(
    bytes: &'a [u8],
    opts: EnvelopeOptions,
) -> Result<Vec<Result<Envelope<'a>, EnvelopeError>>, EnvelopeError> {
    match first_non_ws(bytes) {
        Some(b'[') => {}
        first => return Err(not_expected(bytes, first, |found| EnvelopeError::NotABatch { found })),
    }
    let elements: Vec<&'a RawValue> = serde_json::from_slice(bytes).map_err(|e| EnvelopeError::from_json(&e))?;
    Ok(elements.into_iter().map(|raw| Envelope::parse(raw.get().as_bytes(), opts)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: EnvelopeOptions = EnvelopeOptions { legacy_extensions_object: false };

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
            42,
            {"specversion":"1.0","id":"4","source":"s","type":"t","data":{"a":[1,2]}},
            {"specversion":"1.0","id":"5","id":"5","source":"s","type":"t"}
        ]"#;
        let results = parse_batch(body, OPTS).unwrap();
        assert_eq!(results.len(), 5);
        assert_eq!(results[0].as_ref().unwrap().id, "1");
        assert_eq!(results[1].as_ref().unwrap_err().code(), "missing_attribute");
        assert_eq!(results[2].as_ref().unwrap_err().code(), "not_an_object");
        let fourth = results[3].as_ref().unwrap();
        assert_eq!(fourth.data.as_ref().unwrap().as_bytes(), br#"{"a":[1,2]}"#);
        assert_eq!(results[4].as_ref().unwrap_err().code(), "duplicate_attribute");
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
        let on = parse_batch(body, EnvelopeOptions { legacy_extensions_object: true }).unwrap();
        assert_eq!(on[0].as_ref().unwrap().extension("seq").unwrap().as_i32(), Some(3));
        let off = parse_batch(body, OPTS).unwrap();
        assert_eq!(off[0].as_ref().unwrap_err().code(), "invalid_extension_value");
    }
}
