//! `data` is a JSON object, for every event type.
//!
//! serde's derived `Deserialize` of a struct also reads a JSON array,
//! matching its elements to the fields by position (`[3, "x"]` as
//! `{"count": 3, "name": "x"}`), which the type's JSON Schema
//! (`type: object`) refuses and so do the TypeScript and Python exports.
//! [`ObjectOnly`] wraps the deserializer a type's `data` is read from and
//! asks for a map where the type asks for a struct: an object reads as
//! before, anything else is "invalid type: sequence, expected struct X".
//! Generated data types read objects only by themselves (`__private::de`);
//! this is the same rule for `#[cloud_event]` structs, which derive their
//! own `Deserialize`.

use serde::de::{Deserializer, Visitor};

/// A deserializer whose `deserialize_struct` is `deserialize_map`.
pub(super) struct ObjectOnly<D> {
    de: D,
}

impl<D> ObjectOnly<D> {
    pub(super) fn new(de: D) -> Self {
        ObjectOnly { de }
    }
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectOnly<D> {
    type Error = D::Error;

    #[inline]
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_map(visitor)
    }

    #[inline]
    fn deserialize_struct<V: Visitor<'de>>(self, _: &'static str, _: &'static [&'static str], visitor: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_map(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }

    forward_deserialize_but_maps!();
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::ObjectOnly;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Sample {
        count: u32,
        name: String,
    }

    fn read(json: &str) -> Result<Sample, String> {
        let mut de = serde_json::Deserializer::from_str(json);
        Sample::deserialize(ObjectOnly::new(&mut de)).map_err(|e| e.to_string())
    }

    /// An object reads as through the bare deserializer; an array, which the
    /// derive alone would take, does not.
    #[test]
    fn objects_only() {
        let object = r#"{"count": 3, "name": "x"}"#;
        assert_eq!(read(object), serde_json::from_str::<Sample>(object).map_err(|e| e.to_string()));
        assert!(serde_json::from_str::<Sample>(r#"[3, "x"]"#).is_ok(), "the derive takes it");
        assert_eq!(read(r#"[3, "x"]"#).unwrap_err(), "invalid type: sequence, expected struct Sample at line 1 column 0");
        assert_eq!(read("7").unwrap_err(), "invalid type: integer `7`, expected struct Sample at line 1 column 1");
    }
}
