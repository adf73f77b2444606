//! The subject check on the accept path: the subject is compared with the
//! template piece by piece, against the data's values borrowed from the
//! input, so a matching subject costs no allocation (only a value with
//! JSON escapes is decoded into a `String`).
//!
//! The values come from one of two places:
//!
//! - [`Recording`], which the one pass wraps around the typed decode of
//!   `data`: it notes the strings the decode reads for the template's
//!   properties, so `data` is not read again;
//! - [`matches`], which reads `data` again to find them (the two-pass path,
//!   binary data, and every case the recording does not settle).
//!
//! Either way the value compared is the member's text as sent, never the
//! typed value: a uuid sent in upper case must compare as sent.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use smallvec::SmallVec;

use crate::envelope::CowStr;

/// The placeholder names of a template, in order.
pub(super) type Names<'t> = SmallVec<[&'t str; 4]>;

/// What [`Recording`] saw of `data`.
pub(super) struct Values<'de> {
    /// Whether the decode read `data` as an object.
    object: bool,
    /// Each placeholder's property, in template order: the string it
    /// holds, as it lies in the input (no escapes), or `None` when the
    /// decode read no such string (no such member, a value of another JSON
    /// type, a string with escapes).
    texts: SmallVec<[Option<&'de str>; 2]>,
}

impl<'de> Values<'de> {
    /// Nothing seen yet, for a template of `placeholders` placeholders.
    pub(super) fn new(placeholders: usize) -> Self {
        Values { object: false, texts: SmallVec::from_elem(None, placeholders) }
    }

    /// Whether `subject` is `template` filled from what was seen: `true`
    /// only when [`matches`] would say so too, `false` when it may not.
    pub(super) fn settle(&self, template: &str, subject: &str) -> bool {
        self.object && compare(template, subject, self.texts.iter().map(|text| text.map(Cow::Borrowed)))
    }
}

/// The placeholder names of `template`, in order; `None` when a `{` is not
/// closed.
pub(super) fn placeholders(template: &str) -> Option<Names<'_>> {
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
    // A string's text, any other value's JSON text.
    let texts = found.iter().map(|value| {
        let raw = (*value)?.get();
        match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            Some(inner) if !inner.contains('\\') => Some(Cow::Borrowed(inner)),
            Some(_) => serde_json::from_str::<String>(raw).ok().map(Cow::Owned),
            None => Some(Cow::Borrowed(raw)),
        }
    });
    compare(template, subject, texts)
}

/// Whether `subject` is `template` with each placeholder replaced by its
/// text in `texts` (in template order). A missing text never matches.
fn compare<'t>(template: &str, subject: &str, texts: impl IntoIterator<Item = Option<Cow<'t, str>>>) -> bool {
    let (mut template, mut subject) = (template, subject);
    for text in texts {
        let Some(open) = template.find('{') else { return false };
        let close = open + template[open..].find('}').unwrap_or_default();
        let Some(after) = subject.strip_prefix(&template[..open]) else { return false };
        let Some(text) = text else { return false };
        let Some(after) = after.strip_prefix(&*text) else { return false };
        subject = after;
        template = &template[close + 1..];
    }
    subject == template
}

/// Reads an object, keeping the raw values of the keys named.
struct Capture<'n>(&'n [&'n str]);

impl<'de> Visitor<'de> for Capture<'_> {
    type Value = SmallVec<[Option<&'de RawValue>; 4]>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found: Self::Value = SmallVec::from_elem(None, self.0.len());
        while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
            if self.0.contains(&key.as_ref()) {
                let value: &'de RawValue = map.next_value()?;
                for (slot, name) in found.iter_mut().zip(self.0) {
                    if *name == key.as_ref() {
                        *slot = Some(value);
                    }
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// A deserializer of `data` that notes, in `values`, the strings the typed
/// decode reads as the values of the top-level members `names` names.
///
/// It only watches: every request goes to `D`, every value and error comes
/// back from it unchanged, so the decode is the one it would be without
/// recording. An object is watched when the decode reads it through
/// `deserialize_struct` or `deserialize_map` (what a derived struct asks
/// for): each key as it is handed to the decode's key seed, and the value
/// of a named member, whose string is noted when serde_json lends it from
/// the input as it lies (no escapes; a JSON string's text then is exactly
/// what [`matches`] would find). Anything else notes nothing, which leaves
/// the check to [`matches`].
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
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Recording<'_, 'de, D> {
    type Error = D::Error;

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_map(Recorder { visitor, names: self.names, values: self.values })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de.deserialize_struct(name, fields, Recorder { visitor, names: self.names, values: self.values })
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }

    forward_deserialize_but_maps!();
}

/// Forward `Visitor` methods to `self.visitor` as they are.
macro_rules! forward_visit {
    ($($method:ident($ty:ty))*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.visitor.$method(v)
        }
    )*};
}

/// The visits of a value, forwarded as they are, but for the few
/// [`Recorder`] and [`Watcher`] look at.
macro_rules! forward_other_visits {
    () => {
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.visitor.expecting(f)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            self.visitor.visit_seq(seq)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            self.visitor.visit_some(d)
        }

        fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            self.visitor.visit_newtype_struct(d)
        }

        fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
            self.visitor.visit_enum(data)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            self.visitor.visit_none()
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            self.visitor.visit_unit()
        }

        forward_visit! {
            visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64) visit_i128(i128)
            visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64) visit_u128(u128) visit_f32(f32)
            visit_f64(f64) visit_char(char) visit_bytes(&[u8]) visit_borrowed_bytes(&'de [u8])
            visit_byte_buf(Vec<u8>)
        }
    };
}

/// The decode's visitor for `data`, handed a [`RecordingMap`] for an object.
struct Recorder<'r, 'de, V> {
    visitor: V,
    names: &'r [&'r str],
    values: &'r mut Values<'de>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Recorder<'_, 'de, V> {
    type Value = V::Value;

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.values.object = true;
        self.visitor.visit_map(RecordingMap { map, names: self.names, values: self.values, named: None })
    }

    forward_visit! { visit_str(&str) visit_borrowed_str(&'de str) visit_string(String) }

    forward_other_visits!();
}

/// The object's members as the decode reads them, noting the named ones.
struct RecordingMap<'r, 'de, A> {
    map: A,
    names: &'r [&'r str],
    values: &'r mut Values<'de>,
    /// The key just read, when it is one of `names`.
    named: Option<&'r str>,
}

impl<'r, 'de, A: MapAccess<'de>> MapAccess<'de> for RecordingMap<'r, 'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.named = None;
        self.map.next_key_seed(Watching { seed, watch: KeyWatch { names: self.names, named: &mut self.named } })
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        let Some(name) = self.named.take() else { return self.map.next_value_seed(seed) };
        // A later member of the same name replaces what an earlier one gave.
        for (slot, _) in self.values.texts.iter_mut().zip(self.names).filter(|(_, n)| **n == name) {
            *slot = None;
        }
        self.map.next_value_seed(Watching { seed, watch: ValueWatch { name, names: self.names, values: &mut *self.values } })
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// Told the string a deserializer hands its visitor.
trait Watch<'de> {
    /// `text` is the string read; `borrowed` is the same text when it is
    /// lent from the input as it lies.
    fn string(self, text: &str, borrowed: Option<&'de str>);
}

/// A key: which of the names it is.
struct KeyWatch<'w, 'r> {
    names: &'r [&'r str],
    named: &'w mut Option<&'r str>,
}

impl<'de> Watch<'de> for KeyWatch<'_, '_> {
    fn string(self, text: &str, _: Option<&'de str>) {
        *self.named = self.names.iter().find(|name| **name == text).copied();
    }
}

/// A named member's value: its string, lent from the input.
struct ValueWatch<'w, 'r, 'de> {
    name: &'r str,
    names: &'r [&'r str],
    values: &'w mut Values<'de>,
}

impl<'de> Watch<'de> for ValueWatch<'_, '_, 'de> {
    fn string(self, _: &str, borrowed: Option<&'de str>) {
        for (slot, name) in self.values.texts.iter_mut().zip(self.names) {
            if *name == self.name {
                *slot = borrowed;
            }
        }
    }
}

/// `seed`, deserialized through a [`Watched`] deserializer.
struct Watching<S, W> {
    seed: S,
    watch: W,
}

impl<'de, S: DeserializeSeed<'de>, W: Watch<'de>> DeserializeSeed<'de> for Watching<S, W> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Watched { de: d, watch: self.watch })
    }
}

/// `D`, whose visitor tells `W` the string it is handed, if any (only the
/// value itself: nothing nested in it).
struct Watched<D, W> {
    de: D,
    watch: W,
}

/// Forward `Deserializer` methods to `self.de`, the visitor wrapped in a
/// [`Watcher`].
macro_rules! watch_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*))*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
            self.de.$method($($arg,)* Watcher { visitor, watch: self.watch })
        }
    )*};
}

impl<'de, D: Deserializer<'de>, W: Watch<'de>> Deserializer<'de> for Watched<D, W> {
    type Error = D::Error;

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }

    watch_deserialize! {
        deserialize_any() deserialize_bool() deserialize_i8() deserialize_i16() deserialize_i32()
        deserialize_i64() deserialize_i128() deserialize_u8() deserialize_u16() deserialize_u32()
        deserialize_u64() deserialize_u128() deserialize_f32() deserialize_f64() deserialize_char()
        deserialize_str() deserialize_string() deserialize_bytes() deserialize_byte_buf()
        deserialize_option() deserialize_unit() deserialize_unit_struct(name: &'static str)
        deserialize_newtype_struct(name: &'static str) deserialize_seq() deserialize_tuple(len: usize)
        deserialize_tuple_struct(name: &'static str, len: usize)
        deserialize_map()
        deserialize_struct(name: &'static str, fields: &'static [&'static str])
        deserialize_enum(name: &'static str, variants: &'static [&'static str])
        deserialize_identifier() deserialize_ignored_any()
    }
}

/// A visitor that tells `W` the string it is handed.
struct Watcher<V, W> {
    visitor: V,
    watch: W,
}

impl<'de, V: Visitor<'de>, W: Watch<'de>> Visitor<'de> for Watcher<V, W> {
    type Value = V::Value;

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        self.watch.string(v, Some(v));
        self.visitor.visit_borrowed_str(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        self.watch.string(v, None);
        self.visitor.visit_str(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        self.watch.string(&v, None);
        self.visitor.visit_string(v)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_map(map)
    }

    forward_other_visits!();
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Sample {
        run_id: String,
        n: u32,
        #[serde(default)]
        tags: Vec<String>,
    }

    /// `json` decoded as a `T` through [`Recording`] for `template`, and
    /// what it noted.
    fn recorded<'de, T: Deserialize<'de>>(json: &'de str, template: &str) -> (Result<T, String>, Values<'de>) {
        let names = placeholders(template).unwrap();
        let mut values = Values::new(names.len());
        let mut de = serde_json::Deserializer::from_str(json);
        let decoded = T::deserialize(Recording::new(&mut de, &names, &mut values)).map_err(|e| e.to_string());
        (decoded, values)
    }

    #[test]
    fn recording_notes_the_named_strings_as_sent() {
        let json = r#"{"n": 3 ,"r\u0075n_id" : "ABc","tags":["x"]}"#;
        let (sample, values) = recorded::<Sample>(json, "run/{run_id}/{run_id}");
        assert_eq!(sample.unwrap(), serde_json::from_str::<Sample>(json).unwrap());
        assert_eq!(values.texts.as_slice(), [Some("ABc"), Some("ABc")]);
        assert!(values.settle("run/{run_id}/{run_id}", "run/ABc/ABc"));
        assert!(!values.settle("run/{run_id}/{run_id}", "run/abc/abc"), "compared as sent");

        // What it cannot vouch for is not noted, so the full check decides:
        // a string with escapes, a number, an array, a missing member.
        let json = r#"{"run_id":"A\u0042c","n":1,"tags":["x"]}"#;
        let (sample, values) = recorded::<Sample>(json, "{run_id}/{n}/{tags}/{missing}");
        assert!(sample.is_ok());
        assert_eq!(values.texts.as_slice(), [None, None, None, None]);
        assert!(matches("{run_id}/{n}/{tags}", r#"ABc/1/["x"]"#, json.as_bytes()));

        // Not an object: nothing noted, not even for a template without
        // placeholders (which [`matches`] only fills from an object).
        let (sample, values) = recorded::<Sample>(r#"["r",1,[]]"#, "run/{run_id}");
        assert_eq!(sample.unwrap(), Sample { run_id: "r".into(), n: 1, tags: vec![] });
        assert_eq!(values.texts.as_slice(), [None]);
        let (_, values) = recorded::<Sample>(r#"["r",1,[]]"#, "run");
        assert!(!values.settle("run", "run") && !matches("run", "run", br#"["r",1,[]]"#));
        let (_, values) = recorded::<Sample>(r#"{"run_id":"r","n":1}"#, "run");
        assert!(values.settle("run", "run") && matches("run", "run", br#"{"run_id":"r","n":1}"#));

        // A later member of the same name replaces an earlier one.
        let (map, values) =
            recorded::<BTreeMap<String, serde_json::Value>>(r#"{"run_id":"a","x":{"run_id":"c"},"run_id":"b"}"#, "{run_id}");
        assert_eq!(map.unwrap()["run_id"], "b");
        assert_eq!(values.texts.as_slice(), [Some("b")]);
        let (_, values) = recorded::<BTreeMap<String, serde_json::Value>>(r#"{"run_id":"a","run_id":1}"#, "{run_id}");
        assert_eq!(values.texts.as_slice(), [None]);
    }

    /// Recording only watches: the decode's errors are the plain decode's,
    /// word for word.
    #[test]
    fn recording_changes_no_decode() {
        for json in [
            r#"{"run_id":1,"n":1}"#,
            r#"{"run_id":"r","n":-1}"#,
            r#"{"run_id":"r"}"#,
            r#"{"run_id":"r","n":1,"run_id":"s"}"#,
            r#"{"run_id":"r","n":1,"tags":"x"}"#,
            r#"{"run_id":"r","n":1"#,
            r#""r""#,
            "[]",
        ] {
            let plain = serde_json::from_str::<Sample>(json).map_err(|e| e.to_string());
            assert_eq!(recorded::<Sample>(json, "{run_id}").0, plain, "{json}");
        }
    }
}
