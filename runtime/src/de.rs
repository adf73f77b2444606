//! The `Deserialize` impls of generated data types, written once.
//!
//! serde's derive writes, for every struct, a field-name visitor, a
//! sequence visitor, a map visitor and a wrapper type per
//! `deserialize_with` field: about 400 lines of expanded code for an event
//! type of seven properties, more than half of what the compiler checks in
//! a generated catalog. The generated impls here are a few lines each and
//! call one generic reader, so a catalog of a thousand types builds in a
//! fraction of the time.
//!
//! They also read exactly what the JSON Schema says, where the derive reads
//! more: a struct is read from a JSON object only (the derive also takes an
//! array, matching its elements to the fields by position), and a string
//! enum from a JSON string only (the derive also takes `{"value": null}`,
//! serde's externally tagged form). Everything else — the errors for a
//! missing, duplicate or unknown property, their wording and where serde
//! reports them — is the derive's.
//!
//! Not a public API: generated code reaches it through `__private`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

/// A generated struct read from a JSON object, property by property.
///
/// `Partial` holds what has been read so far, one `Option` per property in
/// the order of [`FIELDS`](Object::FIELDS); [`read`](Object::read) fills
/// one and [`finish`](Object::finish) builds the struct from all of them.
pub trait Object: Sized {
    /// The Rust name of the type (serde says "expected struct {NAME}").
    const NAME: &'static str;
    /// The JSON names of the properties; a key's position here is the
    /// index [`read`](Object::read) gets.
    const FIELDS: &'static [&'static str];
    /// `additionalProperties: false`: a key not in `FIELDS` is an error
    /// instead of being skipped.
    const DENY_UNKNOWN: bool = false;
    /// The index in `FIELDS` of property `name`. A `match` on the names,
    /// generated with them, so the compiler compares against constants
    /// (what serde's derive does too) instead of scanning a slice.
    fn field(name: &str) -> Option<usize>;
    /// One `Option` per property, all `None` in [`EMPTY`](Object::EMPTY).
    type Partial;
    /// Nothing read yet.
    const EMPTY: Self::Partial;

    /// Reads the value of property `field` (an index into `FIELDS`).
    fn read<'de, A: MapAccess<'de>>(partial: &mut Self::Partial, field: usize, map: &mut A) -> Result<(), A::Error>;

    /// Builds the value once the object has ended: the error for the first
    /// required property that was absent.
    fn finish<E: de::Error>(partial: Self::Partial) -> Result<Self, E>;
}

/// `Deserialize::deserialize` of a generated struct.
#[inline]
pub fn object<'de, T: Object, D: Deserializer<'de>>(deserializer: D) -> Result<T, D::Error> {
    deserializer.deserialize_struct(T::NAME, T::FIELDS, ObjectVisitor::<T>(PhantomData))
}

/// Reads property `name`'s value into `slot`; a second occurrence of the
/// property is an error, as with serde's derive.
#[inline]
pub fn read<'de, T: de::Deserialize<'de>, A: MapAccess<'de>>(
    slot: &mut Option<T>,
    map: &mut A,
    name: &'static str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

/// The value of a required property, or serde's "missing field" error.
#[inline]
pub fn required<T, E: de::Error>(slot: Option<T>, name: &'static str) -> Result<T, E> {
    slot.ok_or_else(|| E::missing_field(name))
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Object> Visitor<'de> for ObjectVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "struct {}", T::NAME)
    }

    #[inline]
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut partial = T::EMPTY;
        while let Some(key) = map.next_key_seed(Key::<T>(PhantomData))? {
            match key {
                Some(field) => T::read(&mut partial, field, &mut map)?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        T::finish(partial)
    }
}

/// A property name of `T`: its index in `T::FIELDS`, or `None` for one to
/// skip.
struct Key<T>(PhantomData<T>);

impl<'de, T: Object> DeserializeSeed<'de> for Key<T> {
    type Value = Option<usize>;

    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de, T: Object> Visitor<'de> for Key<T> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field identifier")
    }

    #[inline]
    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        match T::field(key) {
            Some(index) => Ok(Some(index)),
            None if T::DENY_UNKNOWN => Err(E::unknown_field(key, T::FIELDS)),
            None => Ok(None),
        }
    }

    fn visit_bytes<E: de::Error>(self, key: &[u8]) -> Result<Option<usize>, E> {
        match std::str::from_utf8(key) {
            Ok(key) => self.visit_str(key),
            Err(_) if T::DENY_UNKNOWN => Err(E::unknown_field(&String::from_utf8_lossy(key), T::FIELDS)),
            Err(_) => Ok(None),
        }
    }
}

/// `Deserialize::deserialize` of a generated string enum: the value of
/// `values` at the position of the string in `names`.
pub fn one_of<'de, T: Copy, D: Deserializer<'de>>(
    deserializer: D,
    names: &'static [&'static str],
    values: &'static [T],
) -> Result<T, D::Error> {
    deserializer.deserialize_str(OneOf { names, values })
}

struct OneOf<T: 'static> {
    names: &'static [&'static str],
    values: &'static [T],
}

impl<'de, T: Copy> Visitor<'de> for OneOf<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_one_of(f, self.names)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<T, E> {
        match self.names.iter().position(|name| *name == value) {
            Some(index) => self.values.get(index).copied().ok_or_else(|| E::unknown_variant(value, self.names)),
            None => Err(E::unknown_variant(value, self.names)),
        }
    }
}

/// The names the way serde's "unknown variant" error lists them.
fn write_one_of(f: &mut fmt::Formatter<'_>, names: &[&str]) -> fmt::Result {
    match names {
        [] => f.write_str("no value"),
        [one] => write!(f, "`{one}`"),
        [a, b] => write!(f, "`{a}` or `{b}`"),
        _ => {
            f.write_str("one of ")?;
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "`{name}`")?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    /// What a generated struct looks like, with each kind of property:
    /// required, optional (`null` refused), defaulted, and a keyword.
    #[derive(Debug, PartialEq)]
    struct Sample {
        count: i64,
        note: Option<String>,
        tags: Vec<String>,
        r#type: String,
    }

    impl<'de> Deserialize<'de> for Sample {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            object(deserializer)
        }
    }

    impl Object for Sample {
        const NAME: &'static str = "Sample";
        const FIELDS: &'static [&'static str] = &["count", "note", "tags", "type"];
        fn field(name: &str) -> Option<usize> {
            match name {
                "count" => Some(0),
                "note" => Some(1),
                "tags" => Some(2),
                "type" => Some(3),
                _ => None,
            }
        }
        type Partial = (Option<i64>, Option<String>, Option<Vec<String>>, Option<String>);
        const EMPTY: Self::Partial = (None, None, None, None);

        fn read<'de, A: MapAccess<'de>>(partial: &mut Self::Partial, field: usize, map: &mut A) -> Result<(), A::Error> {
            match field {
                0 => read(&mut partial.0, map, "count"),
                1 => read(&mut partial.1, map, "note"),
                2 => read(&mut partial.2, map, "tags"),
                3 => read(&mut partial.3, map, "type"),
                _ => Ok(()),
            }
        }

        fn finish<E: de::Error>(partial: Self::Partial) -> Result<Self, E> {
            Ok(Self {
                count: required(partial.0, "count")?,
                note: partial.1,
                tags: partial.2.unwrap_or_default(),
                r#type: required(partial.3, "type")?,
            })
        }
    }

    /// The same structs through serde's derive, as generated code had
    /// them: their errors are the reference for ours (same names, so the
    /// same "expected struct …").
    mod derived {
        use serde::Deserialize;

        #[derive(Debug, PartialEq, Deserialize)]
        pub struct Sample {
            pub count: i64,
            #[serde(default, deserialize_with = "crate::__private::some_not_null")]
            pub note: Option<String>,
            #[serde(default)]
            pub tags: Vec<String>,
            pub r#type: String,
        }

        #[derive(Debug, PartialEq, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Closed {
            pub count: i64,
        }
    }

    #[derive(Debug, PartialEq)]
    struct Closed {
        count: i64,
    }

    impl<'de> Deserialize<'de> for Closed {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            object(deserializer)
        }
    }

    impl Object for Closed {
        const NAME: &'static str = "Closed";
        const FIELDS: &'static [&'static str] = &["count"];
        const DENY_UNKNOWN: bool = true;
        fn field(name: &str) -> Option<usize> {
            (name == "count").then_some(0)
        }
        type Partial = (Option<i64>,);
        const EMPTY: Self::Partial = (None,);

        fn read<'de, A: MapAccess<'de>>(partial: &mut Self::Partial, field: usize, map: &mut A) -> Result<(), A::Error> {
            match field {
                0 => read(&mut partial.0, map, "count"),
                _ => Ok(()),
            }
        }

        fn finish<E: de::Error>(partial: Self::Partial) -> Result<Self, E> {
            Ok(Self { count: required(partial.0, "count")? })
        }
    }

    fn ours(json: &str) -> Result<Sample, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    fn derived(json: &str) -> Result<Sample, String> {
        serde_json::from_str::<derived::Sample>(json)
            .map(|d| Sample { count: d.count, note: d.note, tags: d.tags, r#type: d.r#type })
            .map_err(|e| e.to_string())
    }

    /// On objects, ours and the derive agree on the value and on the error,
    /// word for word and position for position.
    #[test]
    fn objects_read_as_the_derive_reads_them() {
        for json in [
            r#"{"count": 3, "type": "a"}"#,
            r#"{"type": "a", "count": 3, "note": "n", "tags": ["x", "y"]}"#,
            r#"{"count": 3, "type": "a", "other": {"deep": [1, {"x": null}]}}"#,
            r#"{"count": 3, "type": "a", "note": null}"#,
            r#"{"count": 3, "type": "a", "tags": null}"#,
            r#"{"count": 3, "count": 4, "type": "a"}"#,
            r#"{"count": 3}"#,
            r#"{"type": "a"}"#,
            r#"{}"#,
            r#"{"count": "3", "type": "a"}"#,
            r#"{"count": 3.5, "type": "a"}"#,
            r#"{"count": 3, "type": "a""#,
            r#"{"count": 3, "type": "a",}"#,
            r#"{"co\u0075nt": 3, "type": "\u0061"}"#,
            r#""text""#,
            r#"7"#,
            r#"null"#,
        ] {
            assert_eq!(ours(json), derived(json), "{json}");
        }
        let closed = |json: &str| {
            let ours = serde_json::from_str::<Closed>(json).map(|c| c.count).map_err(|e| e.to_string());
            let derived = serde_json::from_str::<derived::Closed>(json).map(|c| c.count).map_err(|e| e.to_string());
            assert_eq!(ours, derived, "{json}");
            ours
        };
        assert_eq!(closed(r#"{"count": 1}"#), Ok(1));
        assert!(closed(r#"{"count": 1, "extra": 2}"#).unwrap_err().starts_with("unknown field `extra`, expected `count`"));
    }

    /// An array is not an object: the derive would match its elements to
    /// the fields by position.
    #[test]
    fn arrays_are_not_objects() {
        let json = r#"[3, "n", [], "a"]"#;
        assert!(serde_json::from_str::<derived::Sample>(json).is_ok(), "the derive takes it");
        assert_eq!(ours(json).unwrap_err(), "invalid type: sequence, expected struct Sample at line 1 column 1");
    }

    #[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
    enum Mode {
        #[serde(rename = "read")]
        Read,
        #[serde(rename = "read-write")]
        ReadWrite,
        #[serde(rename = "none")]
        Nothing,
    }

    fn mode(json: &str) -> Result<Mode, String> {
        let mut de = serde_json::Deserializer::from_str(json);
        one_of(&mut de, &["read", "read-write", "none"], &[Mode::Read, Mode::ReadWrite, Mode::Nothing]).map_err(|e| e.to_string())
    }

    /// A string enum takes exactly its strings, with the derive's error
    /// for any other string; anything not a string says what was expected.
    #[test]
    fn string_enums_take_their_strings_only() {
        for json in [r#""read""#, r#""read-write""#, r#""none""#, r#""re\u0061d""#, r#""write""#, r#""""#, r#""Read""#] {
            let derived = serde_json::from_str::<Mode>(json).map_err(|e| e.to_string());
            assert_eq!(mode(json), derived, "{json}");
        }
        assert!(serde_json::from_str::<Mode>(r#"{"read": null}"#).is_ok(), "the derive takes it");
        assert_eq!(
            mode(r#"{"read": null}"#).unwrap_err(),
            "invalid type: map, expected one of `read`, `read-write`, `none` at line 1 column 0"
        );
        assert_eq!(mode("5").unwrap_err(), "invalid type: integer `5`, expected one of `read`, `read-write`, `none` at line 1 column 1");
        assert_eq!(mode("null").unwrap_err(), "invalid type: null, expected one of `read`, `read-write`, `none` at line 1 column 4");
    }

    /// The list reads like serde's own for one, two and more names.
    #[test]
    fn expected_names_read_like_serdes() {
        struct Names(&'static [&'static str]);
        impl fmt::Display for Names {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_one_of(f, self.0)
            }
        }
        for names in [&["a"][..], &["a", "b"], &["a", "b", "c"]] {
            let serde = <serde_json::Error as de::Error>::unknown_variant("z", names).to_string();
            assert_eq!(serde, format!("unknown variant `z`, expected {}", Names(names)));
        }
    }
}
