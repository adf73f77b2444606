//! `$ref`s and `$defs`: the one place that knows how an event's data schema
//! refers to its definitions.
//!
//! Herald allows only local refs of the form `#/$defs/Name`, with `$defs` at
//! the top of the data schema (`lint::schema` enforces both), so resolving
//! a ref is a lookup in the root's `$defs`.

use serde_json::Value;

/// The prefix of every `$ref` Herald resolves.
pub const REF_PREFIX: &str = "#/$defs/";

/// How many refs in a row [`resolve`] follows before it gives up on a
/// chain (`A` → `B` → … that never reaches a schema, or loops).
const MAX_HOPS: usize = 32;

/// The `$defs` name `schema` refers to (`M` for `{"$ref": "#/$defs/M"}`),
/// if it is a ref.
pub fn ref_name(schema: &Value) -> Option<&str> {
    schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix(REF_PREFIX))
}

/// The definitions of a data schema (its top-level `$defs`), by name.
pub fn defs(root: &Value) -> impl Iterator<Item = (&str, &Value)> {
    root.get("$defs").and_then(Value::as_object).into_iter().flatten().map(|(k, v)| (k.as_str(), v))
}

/// The definition `name` of the data schema `root`.
pub fn def<'a>(root: &'a Value, name: &str) -> Option<&'a Value> {
    root.get("$defs")?.get(name)
}

/// `schema` with its refs followed into `root`'s `$defs`: the schema itself
/// when it is not a ref, `None` when a ref names no definition or a chain
/// of refs never ends.
pub fn resolve<'a>(root: &'a Value, schema: &'a Value) -> Option<&'a Value> {
    let mut schema = schema;
    for _ in 0..MAX_HOPS {
        match ref_name(schema) {
            None => return Some(schema),
            Some(name) => schema = def(root, name)?,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refs_are_followed_to_their_definition() {
        let root = json!({
            "properties": {"a": {"$ref": "#/$defs/A"}, "n": {"type": "integer"}, "x": {"$ref": "#/$defs/X"}},
            "$defs": {"A": {"$ref": "#/$defs/B"}, "B": {"type": "string"}, "L": {"$ref": "#/$defs/L"}}
        });
        assert_eq!(resolve(&root, &root["properties"]["a"]), Some(&json!({"type": "string"})));
        assert_eq!(resolve(&root, &root["properties"]["n"]), Some(&json!({"type": "integer"})));
        assert_eq!(resolve(&root, &root["properties"]["x"]), None, "dangling");
        assert_eq!(resolve(&root, &root["$defs"]["L"]), None, "a loop ends");
        assert_eq!(ref_name(&root["properties"]["a"]), Some("A"));
        assert_eq!(defs(&root).map(|(n, _)| n).collect::<Vec<_>>(), ["A", "B", "L"]);
    }
}
