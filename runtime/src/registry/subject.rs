//! The subject check on the accept path: the subject is compared with the
//! template piece by piece, against the data's values borrowed from the
//! input, so a matching subject costs no allocation (only a value with
//! JSON escapes is decoded into a `String`).
//!
//! The values come from one of two places:
//!
//! - [`Recording`], which the one pass wraps around the typed decode of
//!   `data`: it keeps the raw text of the template's properties as the
//!   decode reads the object's members, so `data` is not read again;
//! - [`matches`], which reads `data` again to find them (the two-pass path,
//!   binary data, and every case the one pass did not settle).
//!
//! Either way the value compared is the member's text as sent, never the
//! typed value: a uuid sent in upper case must compare as sent.

use std::borrow::Cow;
use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, StrDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use smallvec::SmallVec;

/// The raw JSON text of each placeholder's property, in template order;
/// `None` where the object has no such member.
pub(super) type Values<'de> = SmallVec<[Option<&'de str>; 4]>;

/// The placeholder names of `template`, in order; `None` when a `{` is not
/// closed.
pub(super) fn placeholders(template: &str) -> Option<SmallVec<[&str; 4]>> {
    let mut names = SmallVec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = open + rest[open..].find('}')?;
        names.push(&rest[open + 1..close]);
        rest = &rest[close + 1..];
    }
    Some(names)
}

/// Whether `subject` is `template` filled from the JSON object `data`.
pub(super) fn matches(template: &str, subject: &str, data: &[u8]) -> bool {
    let Some(names) = placeholders(template) else { return false };
    let mut de = serde_json::Deserializer::from_slice(data);
    let Ok(found) = de.deserialize_map(Capture(&names)) else { return false };
    compare(template, subject, &found)
}

/// Whether `subject` is `template` with each placeholder replaced by its
/// value in `values` (the raw JSON text, in template order): a string's
/// text, any other value's JSON text. A missing value never matches.
pub(super) fn compare(template: &str, subject: &str, values: &[Option<&str>]) -> bool {
    let (mut template, mut subject) = (template, subject);
    for value in values {
        let Some(open) = template.find('{') else { return false };
        let close = open + template[open..].find('}').unwrap_or_default();
        let Some(after) = subject.strip_prefix(&template[..open]) else { return false };
        let Some(raw) = *value else { return false };
        let text: Cow<'_, str> = match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            Some(inner) if !inner.contains('\\') => Cow::Borrowed(inner),
            Some(_) => match serde_json::from_str::<String>(raw) {
                Ok(decoded) => Cow::Owned(decoded),
                Err(_) => return false,
            },
            None => Cow::Borrowed(raw),
        };
        let Some(after) = after.strip_prefix(&*text) else { return false };
        subject = after;
        template = &template[close + 1..];
    }
    subject == template
}

/// Reads an object, keeping the raw values of the keys named.
struct Capture<'n>(&'n [&'n str]);

impl<'de> Visitor<'de> for Capture<'_> {
    type Value = Values<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Values<'de>, A::Error> {
        let mut found: Values<'de> = SmallVec::from_elem(None, self.0.len());
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if self.0.contains(&key.as_ref()) {
                let value: &'de RawValue = map.next_value()?;
                record(self.0, &mut found, &key, value.get());
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Put `value` in the slot of every placeholder named `key` (a later member
/// of the same name replaces an earlier one).
fn record<'de>(names: &[&str], values: &mut Values<'de>, key: &str, value: &'de str) {
    for (slot, name) in values.iter_mut().zip(names) {
        if *name == key {
            *slot = Some(value);
        }
    }
}

/// An object key, borrowed from the input unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A deserializer of `data` that keeps the raw text of the top-level
/// members `names` names in `values` while the typed decode reads them.
///
/// Only an object read through `deserialize_struct` or `deserialize_map`
/// (what a derived struct asks for) is recorded; any other request goes to
/// `D` as it is and records nothing, which leaves the check to [`matches`].
/// Each key is read as a string and handed to the decode's key seed as
/// one (a derived struct's field names are read no other way); the value of
/// a named member is read raw, recorded, then decoded from that text. A
/// named value that is an object or an array is refused instead (a data
/// error, so the caller decodes `data` again on its own): decoded from its
/// own text it would start at another depth of serde_json's recursion
/// limit than when decoded within `data`.
pub(super) struct Recording<'r, 'de, D> {
    de: D,
    names: &'r [&'r str],
    values: &'r mut Values<'de>,
}

impl<'r, 'de, D> Recording<'r, 'de, D> {
    /// Wrap `de`; `values` has one slot per name.
    pub(super) fn new(de: D, names: &'r [&'r str], values: &'r mut Values<'de>) -> Self {
        Recording { de, names, values }
    }

    fn recorder<V>(names: &'r [&'r str], values: &'r mut Values<'de>, visitor: V) -> Recorder<'r, 'de, V> {
        Recorder { visitor, names, values }
    }
}

/// Forward `Deserializer` methods to `self.de` untouched.
macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*))*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            self.de.$method($($arg,)* visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Recording<'_, 'de, D> {
    type Error = D::Error;

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_map(Self::recorder(self.names, self.values, visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de.deserialize_struct(name, fields, Self::recorder(self.names, self.values, visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }

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
}

/// The decode's visitor, handed a [`RecordingMap`] for the object.
struct Recorder<'r, 'de, V> {
    visitor: V,
    names: &'r [&'r str],
    values: &'r mut Values<'de>,
}

/// Forward `Visitor` methods to `self.visitor` untouched.
macro_rules! forward_visit {
    ($($method:ident($ty:ty))*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.visitor.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Recorder<'_, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_map(RecordingMap { map, names: self.names, values: self.values, named: None })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_seq(seq)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_some(d)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_newtype_struct(d)
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_enum(data)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_unit()
    }

    forward_visit! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64) visit_i128(i128)
        visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64) visit_u128(u128) visit_f32(f32)
        visit_f64(f64) visit_char(char) visit_str(&str) visit_borrowed_str(&'de str) visit_string(String)
        visit_bytes(&[u8]) visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }
}

/// The object's members as the decode reads them, recording the named ones.
struct RecordingMap<'r, 'de, A> {
    map: A,
    names: &'r [&'r str],
    values: &'r mut Values<'de>,
    /// The key just read, when it is one of `names`.
    named: Option<Cow<'de, str>>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for RecordingMap<'_, 'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        let Some(Key(key)) = self.map.next_key::<Key<'de>>()? else { return Ok(None) };
        let value = match &key {
            Cow::Borrowed(key) => seed.deserialize(BorrowedStrDeserializer::<A::Error>::new(key))?,
            Cow::Owned(key) => seed.deserialize(StrDeserializer::<A::Error>::new(key))?,
        };
        self.named = self.names.contains(&key.as_ref()).then_some(key);
        Ok(Some(value))
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        let Some(key) = self.named.take() else { return self.map.next_value_seed(seed) };
        let raw = self.map.next_value::<&'de RawValue>()?.get();
        if raw.starts_with(['{', '[']) {
            return Err(de::Error::custom("herald: a subject placeholder's value is an object or an array"));
        }
        record(self.names, self.values, &key, raw);
        seed.deserialize(&mut serde_json::Deserializer::from_str(raw)).map_err(de::Error::custom)
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Sample {
        run_id: String,
        n: u32,
        #[serde(default)]
        tags: Vec<String>,
    }

    /// `json` decoded as a `Sample` through [`Recording`] for `template`,
    /// and the values it recorded.
    fn recorded<'de>(json: &'de str, template: &str) -> (Result<Sample, String>, Values<'de>) {
        let names = placeholders(template).unwrap();
        let mut values = Values::from_elem(None, names.len());
        let mut de = serde_json::Deserializer::from_str(json);
        let sample = Sample::deserialize(Recording::new(&mut de, &names, &mut values)).map_err(|e| e.to_string());
        (sample, values)
    }

    #[test]
    fn recording_keeps_the_named_members_as_sent() {
        let json = r#"{"n": 3 ,"r\u0075n_id" : "A\u0042c","tags":["x"], "run_id":"AB"}"#;
        let (sample, values) = recorded(json, "run/{run_id}/{n}/{run_id}");
        // A duplicate field is the decode's error, as without recording.
        assert_eq!(sample.unwrap_err(), serde_json::from_str::<Sample>(json).unwrap_err().to_string());
        assert_eq!(values.as_slice(), [Some(r#""A\u0042c""#), Some("3"), Some(r#""A\u0042c""#)]);

        let json = r#"{"n": 3 ,"r\u0075n_id" : "A\u0042c","tags":["x"]}"#;
        let (sample, values) = recorded(json, "run/{run_id}/{n}/{run_id}");
        assert_eq!(sample.unwrap(), serde_json::from_str::<Sample>(json).unwrap());
        assert_eq!(values.as_slice(), [Some(r#""A\u0042c""#), Some("3"), Some(r#""A\u0042c""#)]);
        assert!(compare("run/{run_id}/{n}/{run_id}", "run/ABc/3/ABc", &values));
        assert!(!compare("run/{run_id}/{n}/{run_id}", "run/abc/3/abc", &values), "compared as sent");

        let (sample, values) = recorded(r#"{"run_id":"r","n":1}"#, "run/{missing}");
        assert!(sample.is_ok());
        assert_eq!(values.as_slice(), [None]);
        assert!(!compare("run/{missing}", "run/", &values));
    }

    /// What the recording cannot vouch for is left to [`matches`]: data
    /// that is not an object records nothing, and a named value that is an
    /// object or an array fails the decode (which is then read again).
    #[test]
    fn recording_leaves_the_rest_to_the_full_check() {
        let (sample, values) = recorded(r#"["r",1,[]]"#, "run/{run_id}");
        assert_eq!(sample.unwrap(), Sample { run_id: "r".into(), n: 1, tags: vec![] });
        assert_eq!(values.as_slice(), [None]);

        let json = r#"{"run_id":"r","n":1,"tags":["x"]}"#;
        assert!(recorded(json, "{tags}").0.is_err());
        assert!(recorded(json, "{run_id}").0.is_ok());
        assert!(matches("{tags}", r#"["x"]"#, json.as_bytes()));

        let (sample, _) = recorded(r#"{"run_id":1,"n":1}"#, "{run_id}");
        assert!(sample.is_err(), "a wrong type is still the decode's error");
    }
}
