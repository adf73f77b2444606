//! The JSON object a struct (or a struct variant) is on the wire, and the
//! shape typify types it by: one reading for `#[cloud_event]` structs,
//! `#[herald::data]` structs and the variants of their enums.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::StructField;

/// The JSON Schema of the object, keyed by JSON names.
pub(crate) fn schema(fields: &[StructField], deny_unknown_fields: bool) -> Value {
    object(fields, deny_unknown_fields, |f| f.wire_name.clone(), |f| f.required, Value::clone)
}

/// The schema typify sees for the object's shape: keyed by Rust field
/// names, without the string rules typify would turn into newtypes, and
/// with every `$ref` an opaque object (the referred type validates itself).
///
/// Every field is required in the shape; an `Option` field is made
/// nullable instead, because typify maps a non-required array or map
/// to a plain `Vec`/map with a default, but the user's field is an
/// `Option` and the walk must unwrap it.
pub(crate) fn shape(fields: &[StructField], deny_unknown_fields: bool) -> Value {
    let mut shape = object(fields, deny_unknown_fields, |f| f.rust_name.clone(), |_| true, strip_string_rules);
    if let Some(Value::Object(props)) = shape.get_mut("properties") {
        for f in fields.iter().filter(|f| f.is_option) {
            if let Some(Value::Object(p)) = props.get_mut(&f.rust_name) {
                if p.get("type").is_some_and(Value::is_string) {
                    crate::schema::make_nullable(p);
                } else {
                    // `serde_json::Value`: nothing to check inside.
                    p.clear();
                }
            }
        }
    }
    shape
}

/// Rust field name → JSON name, for every field.
pub(crate) fn renames(fields: &[StructField]) -> BTreeMap<String, String> {
    fields.iter().map(|f| (f.rust_name.clone(), f.wire_name.clone())).collect()
}

fn object(
    fields: &[StructField],
    deny_unknown_fields: bool,
    key: impl Fn(&StructField) -> String,
    required_if: impl Fn(&StructField) -> bool,
    map: impl Fn(&Value) -> Value,
) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for f in fields {
        properties.insert(key(f), map(&f.schema));
        if required_if(f) {
            required.push(Value::String(key(f)));
        }
    }
    let mut schema = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        schema["required"] = Value::Array(required);
    }
    if deny_unknown_fields {
        schema["additionalProperties"] = Value::Bool(false);
    }
    schema
}

/// Remove `minLength`, `maxLength` and `pattern` from string schemas (at
/// any depth): typify would make a newtype of such a string, but the
/// user's field is a plain `String`. The walker still sees the real schema.
/// A `$ref` becomes `{"type": "object"}`: the user's type it names is no
/// type of typify's, and the walker calls its own `Validate` impl.
fn strip_string_rules(schema: &Value) -> Value {
    if crate::defs::ref_name(schema).is_some() {
        return json!({"type": "object"});
    }
    match schema {
        Value::Object(obj) => Value::Object(
            obj.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "minLength" | "maxLength" | "pattern" | "description"))
                .map(|(k, v)| {
                    let v = match k.as_str() {
                        "items" | "additionalProperties" => strip_string_rules(v),
                        _ => v.clone(),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}
