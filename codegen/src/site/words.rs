//! A type's fields as the catalog pages show them: one row per field
//! (nested objects as dotted names), its type in words and its
//! constraints in words ("0 ≤ progress ≤ 1", "one of success, failure").
//!
//! Read from the data's JSON Schema (the IR's, with `fields:` already
//! desugared), so a field declared in shorthand and one written out in
//! JSON Schema read the same.

use serde_json::{Map, Value};

/// One row of a type's fields table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRow {
    /// The field's name; nested fields are dotted (`metrics.duration_ms`).
    pub name: String,
    /// Its type in words (`string (uuid)`, `list of string`).
    pub ty: String,
    /// Whether the data must carry it (for a nested field: when its parent is there).
    pub required: bool,
    /// Each rule the value must keep, in words.
    pub constraints: Vec<String>,
    /// The field's `description`, when the schema has one.
    pub description: Option<String>,
}

/// Deepest nesting of objects shown as dotted rows; deeper objects are one
/// row (`object`). Also what stops a recursive `$ref`.
const MAX_DEPTH: usize = 4;

/// The rows of `schema` (an object schema whose `$defs` its `$ref`s name).
pub fn fields(schema: &Value) -> Vec<FieldRow> {
    let defs = schema.get("$defs").and_then(Value::as_object);
    let mut rows = Vec::new();
    object_rows(schema, defs, "", 0, &mut rows);
    rows
}

fn object_rows(schema: &Value, defs: Option<&Map<String, Value>>, prefix: &str, depth: usize, rows: &mut Vec<FieldRow>) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else { return };
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).map_or_else(Vec::new, |r| r.iter().filter_map(Value::as_str).collect());
    for (name, raw) in props {
        let prop = resolve(raw, defs);
        let full = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
        rows.push(FieldRow {
            name: full.clone(),
            ty: type_words(raw, defs, 0),
            required: required.contains(&name.as_str()),
            constraints: constraints(name, prop),
            description: prop.get("description").and_then(Value::as_str).map(str::to_owned),
        });
        if depth + 1 < MAX_DEPTH && prop.get("properties").is_some() {
            object_rows(prop, defs, &full, depth + 1, rows);
        }
        // A tagged union: each branch's fields, said to hold for that tag.
        if let Some(union) = crate::tagged::TaggedUnion::of(prop).filter(|_| depth + 1 < MAX_DEPTH) {
            for branch in &union.branches {
                let mut branch_rows = Vec::new();
                object_rows(branch.schema, defs, &full, depth + 1, &mut branch_rows);
                let tag_row = format!("{full}.{}", union.tag);
                for mut row in branch_rows.into_iter().filter(|r| r.name != tag_row) {
                    row.constraints.insert(0, format!("when {} = {}", union.tag, branch.value));
                    rows.push(row);
                }
            }
        }
    }
}

/// The schema a `#/$defs/Name` reference points at (itself otherwise).
fn resolve<'a>(schema: &'a Value, defs: Option<&'a Map<String, Value>>) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/")) {
        Some(name) => defs.and_then(|d| d.get(name)).unwrap_or(schema),
        None => schema,
    }
}

/// A schema's type in words: `string (uuid)`, `list of number`,
/// `map of string`, `string or null`, `any`.
pub fn type_words(schema: &Value, defs: Option<&Map<String, Value>>, depth: usize) -> String {
    if depth > MAX_DEPTH {
        return "…".to_owned();
    }
    if let Some(name) = schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/")) {
        let target = resolve(schema, defs);
        return match target.get("type").and_then(Value::as_str) {
            None if target.get("oneOf").is_some() => format!("{} ({name})", type_words(target, defs, depth + 1)),
            Some("object") | None => format!("object ({name})"),
            Some(_) => type_words(target, defs, depth + 1),
        };
    }
    let one = |ty: &str| -> String {
        match ty {
            "string" => match schema.get("format").and_then(Value::as_str) {
                Some(f) => format!("string ({f})"),
                None => "string".to_owned(),
            },
            "array" => match schema.get("items") {
                Some(items) => format!("list of {}", type_words(resolve(items, defs), defs, depth + 1)),
                None => "list".to_owned(),
            },
            "object" => match schema.get("additionalProperties") {
                Some(v @ Value::Object(_)) if schema.get("properties").is_none() => {
                    format!("map of {}", type_words(resolve(v, defs), defs, depth + 1))
                }
                _ => "object".to_owned(),
            },
            other => other.to_owned(),
        }
    };
    if let Some(union) = crate::tagged::TaggedUnion::of(schema) {
        let values: Vec<&str> = union.branches.iter().map(|b| b.value).collect();
        return format!("one of {} by {}", values.join(", "), union.tag);
    }
    match schema.get("type") {
        Some(Value::String(ty)) => one(ty),
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).map(one).collect::<Vec<_>>().join(" or "),
        _ if schema.get("enum").is_some() => "enum".to_owned(),
        _ => "any".to_owned(),
    }
}

/// A JSON value as a page shows it in a rule: strings bare, the rest as JSON.
fn value_words(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `low ≤ name ≤ high` from the numeric bounds, with `<` for exclusive ones.
fn bounds(name: &str, schema: &Value) -> Option<String> {
    let bound = |inclusive: &str, exclusive: &str| match (
        schema.get(exclusive).filter(|v| v.is_number()),
        schema.get(inclusive).filter(|v| v.is_number()),
    ) {
        (Some(v), _) => Some((v.to_string(), "<")),
        (None, Some(v)) => Some((v.to_string(), "≤")),
        (None, None) => None,
    };
    match (bound("minimum", "exclusiveMinimum"), bound("maximum", "exclusiveMaximum")) {
        (Some((lo, a)), Some((hi, b))) => Some(format!("{lo} {a} {name} {b} {hi}")),
        (Some((lo, a)), None) => Some(format!("{name} {} {lo}", if a == "<" { ">" } else { "≥" })),
        (None, Some((hi, b))) => Some(format!("{name} {b} {hi}")),
        (None, None) => None,
    }
}

/// `at least 1 character`, `at most 5 items`, `1 to 5 items`.
fn count(schema: &Value, min: &str, max: &str, unit: &str) -> Option<String> {
    let plural = |n: u64| if n == 1 { unit.to_owned() } else { format!("{unit}s") };
    match (schema.get(min).and_then(Value::as_u64), schema.get(max).and_then(Value::as_u64)) {
        (Some(lo), Some(hi)) if lo == hi => Some(format!("exactly {lo} {}", plural(lo))),
        (Some(lo), Some(hi)) => Some(format!("{lo} to {hi} {}", plural(hi))),
        (Some(lo), None) => Some(format!("at least {lo} {}", plural(lo))),
        (None, Some(hi)) => Some(format!("at most {hi} {}", plural(hi))),
        (None, None) => None,
    }
}

/// Every rule of the field `name`'s schema, in words.
pub fn constraints(name: &str, schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    out.extend(bounds(name, schema));
    if let Some(m) = schema.get("multipleOf").filter(|v| v.is_number()) {
        out.push(format!("a multiple of {m}"));
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        out.push(format!("one of {}", values.iter().map(value_words).collect::<Vec<_>>().join(", ")));
    }
    if let Some(v) = schema.get("const") {
        out.push(format!("always {}", value_words(v)));
    }
    out.extend(count(schema, "minLength", "maxLength", "character"));
    if let Some(p) = schema.get("pattern").and_then(Value::as_str) {
        out.push(format!("matches {p}"));
    }
    out.extend(count(schema, "minItems", "maxItems", "item"));
    if schema.get("uniqueItems") == Some(&Value::Bool(true)) {
        out.push("no duplicate items".to_owned());
    }
    out.extend(count(schema, "minProperties", "maxProperties", "entry").map(|s| s.replace("entrys", "entries")));
    if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
        out.push("no other fields".to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numeric_bounds_read_as_an_inequality() {
        assert_eq!(constraints("progress", &json!({"type": "number", "minimum": 0, "maximum": 1})), ["0 ≤ progress ≤ 1"]);
        assert_eq!(constraints("n", &json!({"minimum": 1})), ["n ≥ 1"]);
        assert_eq!(constraints("n", &json!({"exclusiveMinimum": 0, "maximum": 10})), ["0 < n ≤ 10"]);
        assert_eq!(constraints("n", &json!({"exclusiveMaximum": 2.5})), ["n < 2.5"]);
        assert_eq!(constraints("n", &json!({"exclusiveMinimum": 0})), ["n > 0"]);
    }

    #[test]
    fn enums_patterns_and_counts_read_as_words() {
        assert_eq!(constraints("result", &json!({"enum": ["success", "failure"]})), ["one of success, failure"]);
        assert_eq!(
            constraints("s", &json!({"minLength": 1, "maxLength": 8, "pattern": "^[a-z]+$"})),
            ["1 to 8 characters", "matches ^[a-z]+$"]
        );
        assert_eq!(constraints("s", &json!({"minLength": 1})), ["at least 1 character"]);
        assert_eq!(constraints("xs", &json!({"maxItems": 3, "uniqueItems": true})), ["at most 3 items", "no duplicate items"]);
        assert_eq!(constraints("m", &json!({"minProperties": 2})), ["at least 2 entries"]);
        assert_eq!(constraints("k", &json!({"const": 3, "multipleOf": 0.5})), ["a multiple of 0.5", "always 3"]);
        assert!(constraints("free", &json!({"type": "string"})).is_empty());
    }

    #[test]
    fn types_read_as_words() {
        assert_eq!(type_words(&json!({"type": "string", "format": "uuid"}), None, 0), "string (uuid)");
        assert_eq!(type_words(&json!({"type": "array", "items": {"type": "number"}}), None, 0), "list of number");
        assert_eq!(type_words(&json!({"type": "object", "additionalProperties": {"type": "string"}}), None, 0), "map of string");
        assert_eq!(type_words(&json!({"type": ["string", "null"]}), None, 0), "string or null");
        assert_eq!(type_words(&json!({}), None, 0), "any");
    }

    #[test]
    fn a_tagged_union_is_its_branches_fields_each_for_its_tag() {
        let schema = json!({
            "properties": {"t": {"$ref": "#/$defs/T"}},
            "required": ["t"],
            "$defs": {"T": {"oneOf": [
                {"type": "object", "required": ["kind", "path"], "properties": {"kind": {"const": "file"}, "path": {"type": "string", "minLength": 1}}},
                {"type": "object", "required": ["kind"], "properties": {"kind": {"const": "none"}}},
            ]}},
        });
        let rows = fields(&schema);
        let shown: Vec<(&str, &str, bool, Vec<&str>)> =
            rows.iter().map(|r| (r.name.as_str(), r.ty.as_str(), r.required, r.constraints.iter().map(String::as_str).collect())).collect();
        assert_eq!(
            shown,
            [
                ("t", "one of file, none by kind (T)", true, vec![]),
                ("t.path", "string", true, vec!["when kind = file", "at least 1 character"]),
            ]
        );
    }

    #[test]
    fn fields_walk_nested_objects_and_defs_with_dotted_names() {
        let schema = json!({
            "type": "object",
            "required": ["run_id"],
            "properties": {
                "run_id": {"type": "string", "format": "uuid", "description": "The run."},
                "metrics": {"$ref": "#/$defs/M"}
            },
            "$defs": {"M": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer", "minimum": 0}}}}
        });
        let rows = fields(&schema);
        let names: Vec<_> = rows.iter().map(|r| (r.name.as_str(), r.ty.as_str(), r.required)).collect();
        assert_eq!(names, [("metrics", "object (M)", false), ("metrics.n", "integer", true), ("run_id", "string (uuid)", true)]);
        assert_eq!(rows[1].constraints, ["n ≥ 0"]);
        assert_eq!(rows[2].description.as_deref(), Some("The run."));
    }

    #[test]
    fn a_recursive_ref_stops() {
        let schema = json!({"properties": {"t": {"$ref": "#/$defs/T"}}, "$defs": {"T": {"type": "object", "properties": {"t": {"$ref": "#/$defs/T"}}}}});
        assert_eq!(fields(&schema).len(), MAX_DEPTH);
    }
}
