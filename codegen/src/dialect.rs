//! Herald's JSON Schema dialect as standard JSON Schema.
//!
//! Catalog schemas may use Herald's own keywords (`offset: utc-only`);
//! the exports publish standard JSON Schema and the example lint validates
//! with the `jsonschema` crate, so both translate through this one leaf
//! module (which is why it is not part of `export`: the lints sit below
//! the exports).

use serde_json::{Map, Value, json};

/// A catalog data schema in standard JSON Schema: Herald's own keyword
/// `offset: utc-only` (on a `format: date-time` string) becomes the
/// `pattern` it means, `Z` or `z` at the end (the lint keeps `pattern` off
/// typed date-times, so there is none to merge with). Only schema
/// positions are rewritten, never `examples`, `default` or `const` data.
pub fn portable(schema: &Value) -> Value {
    let Some(map) = schema.as_object() else { return schema.clone() };
    let mut out = Map::new();
    for (key, value) in map {
        let value = match key.as_str() {
            "offset" => continue,
            "properties" | "$defs" => match value.as_object() {
                Some(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), portable(v))).collect()),
                None => value.clone(),
            },
            "items" | "additionalProperties" => portable(value),
            "oneOf" => match value.as_array() {
                Some(branches) => Value::Array(branches.iter().map(portable).collect()),
                None => value.clone(),
            },
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    if map.get("offset").and_then(Value::as_str) == Some("utc-only") {
        out.insert("pattern".into(), json!(UTC_ONLY));
    }
    Value::Object(out)
}

/// `offset: utc-only` as a pattern: the date-time ends in `Z` (RFC 3339
/// also allows `z`).
pub const UTC_ONLY: &str = "[Zz]$";
