//! The `fields:` shorthand, desugared to JSON Schema.
//!
//! ```yaml
//! fields:
//!   run_id: uuid                 # required property
//!   current_step?: string        # `?`: optional property
//!   tags?: map<string>           # object whose values are strings
//!   checks?: list<string>        # array of strings
//!   progress: {type: number, minimum: 0, maximum: 1}   # inline JSON Schema
//! ```
//! becomes `{"type": "object", "properties": {…}, "required": ["run_id", "progress"]}`.
//! `required` keeps declaration order; `properties` is a `serde_json::Map`
//! (sorted by name), so the output is deterministic either way.
//!
//! Shorthand types: see [`TYPES`]; `map<T>` and `list<T>` nest
//! (`list<map<number>>`).

use serde_json::{Map, Value, json};

use crate::lint;
use crate::syntax::{Ctx, Entry, YamlValue};
use crate::text::{did_you_mean, escape_pointer};

/// The plain shorthand type names.
pub const TYPES: &[&str] =
    &["string", "integer", "number", "boolean", "uuid", "datetime", "date-time", "utc_datetime", "date", "uri", "email", "object", "any"];

/// Names people reach for, mapped to what Herald calls them.
const ALIASES: &[(&str, &str)] = &[
    ("int", "integer"),
    ("i32", "integer"),
    ("i64", "integer"),
    ("float", "number"),
    ("double", "number"),
    ("f64", "number"),
    ("bool", "boolean"),
    ("str", "string"),
    ("text", "string"),
    ("timestamp", "datetime"),
    ("time", "datetime"),
    ("url", "uri"),
    ("dict", "object"),
    ("record", "object"),
    ("json", "any"),
    ("array", "list<T>"),
    ("list", "list<T>"),
    ("vec", "list<T>"),
    ("map", "map<T>"),
];

/// A shorthand type name Herald does not know, with the closest known one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownType {
    /// The unknown name (the innermost one, for `list<uuidd>`).
    pub name: String,
    /// What the whole type should probably read.
    pub suggestion: Option<String>,
}

/// The JSON Schema for a shorthand type (`uuid`, `map<string>`, `list<number>`).
pub fn type_schema(ty: &str) -> Result<Value, UnknownType> {
    let ty = ty.trim();
    if let Some(inner) = generic(ty, "list") {
        return type_schema(inner).map(|items| json!({"type": "array", "items": items})).map_err(|e| wrap(e, "list"));
    }
    if let Some(inner) = generic(ty, "map") {
        return type_schema(inner).map(|values| json!({"type": "object", "additionalProperties": values})).map_err(|e| wrap(e, "map"));
    }
    Ok(match ty {
        "string" | "integer" | "number" | "boolean" | "object" => json!({"type": ty}),
        "uuid" => json!({"type": "string", "format": "uuid"}),
        "datetime" | "date-time" => json!({"type": "string", "format": "date-time"}),
        "utc_datetime" => json!({"type": "string", "format": "date-time", "offset": "utc-only"}),
        "date" | "uri" | "email" => json!({"type": "string", "format": ty}),
        "any" => json!({}),
        _ => {
            return Err(UnknownType { name: ty.to_string(), suggestion: suggest(ty) });
        }
    })
}

/// `list<T>` → `T`.
fn generic<'a>(ty: &'a str, name: &str) -> Option<&'a str> {
    ty.strip_prefix(name)?.trim_start().strip_prefix('<')?.strip_suffix('>')
}

/// Put an inner suggestion back inside its `list<…>` / `map<…>`.
fn wrap(e: UnknownType, outer: &str) -> UnknownType {
    UnknownType { suggestion: e.suggestion.map(|s| format!("{outer}<{s}>")), ..e }
}

fn suggest(ty: &str) -> Option<String> {
    let lower = ty.to_ascii_lowercase();
    if let Some((_, to)) = ALIASES.iter().find(|(from, _)| *from == lower) {
        return Some(to.to_string());
    }
    // `lsit<string>`: fix the outer name, keep the argument.
    if let Some((outer, rest)) = ty.split_once('<') {
        let outer = did_you_mean(outer.trim(), &["list", "map"])?;
        return Some(format!("{outer}<{rest}"));
    }
    did_you_mean(ty, TYPES).map(str::to_string)
}

/// Desugar the `fields:` entry of `event`; `None` when anything was reported.
pub(crate) fn desugar(ctx: &mut Ctx, event: &str, fields: &Entry) -> Option<Value> {
    let before = ctx.count();
    let Some(entries) = fields.value.entries() else {
        ctx.error(
            fields.value.mark,
            format!("`fields` of `{event}` must be a mapping from field name to type, found {}", fields.value.kind()),
            "write one `name: type` per line, e.g. `run_id: uuid`",
        );
        return None;
    };
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut fields = lint::FieldNames::new(false);
    for entry in entries {
        let (name, optional) = match entry.key.strip_suffix('?') {
            Some(name) => (name, true),
            None => (entry.key.as_str(), false),
        };
        let pointer = format!("/properties/{}", escape_pointer(name));
        if properties.contains_key(name) {
            ctx.error(entry.key_mark, format!("field `{name}` of `{event}` is declared twice"), "keep one of `name` and `name?`");
            continue;
        }
        fields.add(ctx, event, name, entry.key_mark, &pointer);
        let schema = match &entry.value.value {
            YamlValue::Str(ty) => match type_schema(ty) {
                Ok(schema) => schema,
                Err(unknown) => {
                    let list = "shorthand types are `string`, `integer`, `number`, `boolean`, `uuid`, `datetime`, `date`, `uri`, `email`, `object`, `any`, `map<T>`, `list<T>`, or an inline JSON Schema mapping";
                    let help = match unknown.suggestion {
                        Some(s) => format!("did you mean `{s}`? {list}"),
                        None => list.to_string(),
                    };
                    ctx.error(entry.value.mark, format!("unknown shorthand type `{}` for field `{name}` of `{event}`", unknown.name), help);
                    continue;
                }
            },
            YamlValue::Map(_) => {
                lint::inline_schema(ctx, event, &entry.value, &pointer);
                match ctx.json(&entry.value) {
                    Some(schema) => schema,
                    None => continue,
                }
            }
            _ => {
                ctx.error(
                    entry.value.mark,
                    format!("field `{name}` of `{event}` needs a type, found {}", entry.value.kind()),
                    "write a shorthand type such as `string` or an inline JSON Schema mapping such as `{type: integer, minimum: 0}`",
                );
                continue;
            }
        };
        properties.insert(name.to_string(), schema);
        if !optional {
            required.push(Value::String(name.to_string()));
        }
    }
    let mut schema = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        schema["required"] = Value::Array(required);
    }
    (ctx.count() == before).then_some(schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_types() {
        assert_eq!(type_schema("uuid").unwrap(), json!({"type": "string", "format": "uuid"}));
        assert_eq!(type_schema("datetime").unwrap(), json!({"type": "string", "format": "date-time"}));
        assert_eq!(type_schema("date-time").unwrap(), type_schema("datetime").unwrap());
        assert_eq!(type_schema("email").unwrap(), json!({"type": "string", "format": "email"}));
        assert_eq!(type_schema("object").unwrap(), json!({"type": "object"}));
        assert_eq!(type_schema("any").unwrap(), json!({}));
        assert_eq!(type_schema(" integer ").unwrap(), json!({"type": "integer"}));
    }

    #[test]
    fn generic_types_nest() {
        assert_eq!(
            type_schema("list<map<number>>").unwrap(),
            json!({"type": "array", "items": {"type": "object", "additionalProperties": {"type": "number"}}})
        );
        assert_eq!(type_schema("map< string >").unwrap(), json!({"type": "object", "additionalProperties": {"type": "string"}}));
    }

    #[test]
    fn unknown_types_suggest_the_closest() {
        let err = |t: &str| type_schema(t).unwrap_err();
        assert_eq!(err("uuidd"), UnknownType { name: "uuidd".into(), suggestion: Some("uuid".into()) });
        assert_eq!(err("int").suggestion.as_deref(), Some("integer"));
        assert_eq!(err("list<strng>"), UnknownType { name: "strng".into(), suggestion: Some("list<string>".into()) });
        assert_eq!(err("lsit<string>").suggestion.as_deref(), Some("list<string>"));
        assert_eq!(err("frobnicate").suggestion, None);
        assert!(type_schema("list<>").is_err());
        assert!(type_schema("list<string").is_err());
    }

    #[test]
    fn fields_desugar_to_an_object_schema() {
        let yaml = "events:\n  ai.x.y:\n    description: d\n    version: 1\n    fields:\n      run_id: uuid\n      note?: string\n      progress: {type: number, minimum: 0, maximum: 1}\n    examples: [{run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10, progress: 1}]\nprefix: ai\n";
        let catalog = crate::catalog::parse("t.yaml", yaml).unwrap();
        assert_eq!(
            catalog.events[0].schema,
            json!({
                "type": "object",
                "properties": {
                    "run_id": {"type": "string", "format": "uuid"},
                    "note": {"type": "string"},
                    "progress": {"type": "number", "minimum": 0, "maximum": 1}
                },
                "required": ["run_id", "progress"]
            })
        );
    }
}
