//! [`RawJson`]: one JSON value, as text borrowed from the input.

use std::fmt;

/// One well-formed JSON value (the `data` member, or a binary-mode JSON
/// body), exactly as sent and borrowed from the input.
///
/// Only the parsers make one, from text they have just read as a complete
/// JSON value, so [`RawJson::get`] is always valid JSON. It plays the part
/// of `&serde_json::value::RawValue`, which the one-pass reader cannot
/// build: it learns where `data` ends from the member after it, and a
/// `RawValue` can only come out of a second scan of the same bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RawJson<'a>(&'a str);

impl<'a> RawJson<'a> {
    /// Wrap text the caller has read as exactly one JSON value (no
    /// surrounding whitespace).
    pub(crate) fn new(text: &'a str) -> Self {
        RawJson(text)
    }

    /// The JSON text.
    pub fn get(&self) -> &'a str {
        self.0
    }
}

impl fmt::Debug for RawJson<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawJson").field(&self.0).finish()
    }
}

impl fmt::Display for RawJson<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Serialises as the JSON it holds, verbatim.
impl serde::Serialize for RawJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match serde_json::value::RawValue::from_string(self.0.to_owned()) {
            Ok(raw) => raw.serialize(s),
            Err(e) => Err(serde::ser::Error::custom(e)),
        }
    }
}
