//! Shared shapes: a sub-schema repeated across a catalog becomes one Rust
//! type.
//!
//! typify names every inline enum and object after the place it appears
//! in (`RunCompletedResult`, `NodeCompletedResult`), so a catalog that
//! repeats `status: {enum: [queued, running, done]}` in a hundred events
//! gets a hundred identical enums, each with its conversion impls. Before
//! typify sees the schemas, each enum or object shape that occurs more than
//! once (compared by its whole JSON, description included) is moved into a
//! definition and every occurrence replaced by a `$ref` to it: one type,
//! and one validation function, per distinct shape.
//!
//! A shared shape is named after the property it sits under (`status` →
//! `Status`, the items of `tags` → `TagsItem`) when that name is free: not
//! wanted by another shape, not a `$defs` name, an event's type or a name
//! the emitters or the prelude use. Otherwise it keeps the name typify
//! would give its first occurrence (`MyfeatureCompletedResult`). A shape
//! seen once is left inline, so its type keeps typify's name.

use std::collections::{BTreeMap, BTreeSet};

use heck::ToUpperCamelCase;
use serde_json::{Map, Value};

use crate::defs::REF_PREFIX;

/// Names a shared shape never takes: the prelude's and the catalog-level
/// items' (`emit`), which generated code and users' code mention bare.
const RESERVED: &[&str] = &[
    "Box",
    "Catalog",
    "Clone",
    "Copy",
    "Default",
    "Drop",
    "Env",
    "EnvelopeExt",
    "Eq",
    "Err",
    "Event",
    "Fn",
    "From",
    "Handler",
    "Into",
    "Iterator",
    "None",
    "Ok",
    "Option",
    "Ord",
    "ParseRunStatusError",
    "PartialEq",
    "PartialOrd",
    "Result",
    "RunStatus",
    "Self",
    "Send",
    "Sized",
    "Some",
    "String",
    "Sync",
    "ToOwned",
    "ToString",
    "Vec",
];

/// An event's data schema, as [`share`] reads it.
pub(crate) struct EventSchema<'a> {
    /// The CloudEvents `type`.
    pub(crate) type_name: &'a str,
    /// The Rust name of its data type (`RunCompleted`).
    pub(crate) rust_name: String,
    /// Its JSON Schema.
    pub(crate) schema: &'a Value,
}

/// The catalog's schemas with every repeated shape replaced by a `$ref`.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Event `type` → its data schema, rewritten.
    pub(crate) schemas: BTreeMap<String, Value>,
    /// The shared shapes, by definition name (their own repeated parts
    /// rewritten too).
    pub(crate) defs: BTreeMap<String, Value>,
}

/// Move each enum or object shape that occurs more than once across
/// `events` into a definition. `taken` holds the names already in use
/// (the `$defs` of the catalog).
pub(crate) fn share(events: &[EventSchema<'_>], taken: &BTreeSet<String>) -> Shared {
    let mut seen: BTreeMap<String, Occurrences> = BTreeMap::new();
    let mut order = 0usize;
    for event in events {
        visit_children(event.schema, &mut |name, node| {
            count(node, name, event, &mut seen, &mut order);
        });
    }
    let names = name_shapes(&seen, events, taken);

    let mut shared = Shared::default();
    for event in events {
        let schema = rewrite_children(event.schema, &names, &mut shared.defs);
        shared.schemas.insert(event.type_name.to_string(), schema);
    }
    shared
}

/// Where one shape occurs.
struct Occurrences {
    /// How many times.
    count: usize,
    /// The order of its first occurrence, so naming is in catalog order.
    first: usize,
    /// The Rust name of the event it first occurs in.
    first_event: String,
    /// The type name each occurrence suggests (`Status`, `TagsItem`), with
    /// how often.
    suggested: BTreeMap<String, usize>,
}

/// Count `node` (reached as `name`) and the shapes inside it.
fn count(node: &Value, name: &str, event: &EventSchema<'_>, seen: &mut BTreeMap<String, Occurrences>, order: &mut usize) {
    if is_shape(node) {
        let entry = seen.entry(canonical(node)).or_insert_with(|| {
            *order += 1;
            Occurrences { count: 0, first: *order, first_event: event.rust_name.clone(), suggested: BTreeMap::new() }
        });
        entry.count += 1;
        *entry.suggested.entry(name.to_upper_camel_case()).or_default() += 1;
    }
    visit_children(node, &mut |child_name, child| {
        count(child, &format!("{name}_{child_name}"), event, seen, order);
    });
}

/// The name of every shape that occurs more than once, by canonical JSON.
fn name_shapes(seen: &BTreeMap<String, Occurrences>, events: &[EventSchema<'_>], taken: &BTreeSet<String>) -> BTreeMap<String, String> {
    let mut repeated: Vec<(&String, &Occurrences)> = seen.iter().filter(|(_, o)| o.count > 1).collect();
    repeated.sort_by_key(|(_, o)| o.first);

    let mut unavailable: BTreeSet<String> = taken.clone();
    unavailable.extend(events.iter().map(|e| e.rust_name.clone()));
    unavailable.extend(RESERVED.iter().map(|s| s.to_string()));

    // Each shape's preferred name: the one most of its occurrences suggest.
    let preferred: Vec<String> = repeated
        .iter()
        .map(|(_, o)| {
            let best = o.suggested.values().max().copied().unwrap_or(0);
            o.suggested.iter().find(|(_, n)| **n == best).map(|(s, _)| s.clone()).unwrap_or_default()
        })
        .collect();
    let mut wanted: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &preferred {
        *wanted.entry(p.as_str()).or_default() += 1;
    }

    let mut names = BTreeMap::new();
    for ((key, o), p) in repeated.iter().zip(&preferred) {
        let mut name =
            if wanted[p.as_str()] == 1 && is_ident(p) && !unavailable.contains(p) { p.clone() } else { format!("{}{p}", o.first_event) };
        let base = name.clone();
        let mut n = 2;
        while unavailable.contains(&name) {
            name = format!("{base}{n}");
            n += 1;
        }
        unavailable.insert(name.clone());
        names.insert((*key).clone(), name);
    }
    names
}

/// `node` with its children rewritten; itself a `$ref` if it is shared.
fn rewrite(node: &Value, names: &BTreeMap<String, String>, defs: &mut BTreeMap<String, Value>) -> Value {
    let inner = rewrite_children(node, names, defs);
    if !is_shape(node) {
        return inner;
    }
    match names.get(&canonical(node)) {
        Some(name) => {
            defs.entry(name.clone()).or_insert(inner);
            let mut r = Map::new();
            r.insert("$ref".into(), Value::String(format!("{REF_PREFIX}{name}")));
            Value::Object(r)
        }
        None => inner,
    }
}

/// `node` with the schemas under its `properties`, `items` and
/// `additionalProperties` rewritten.
fn rewrite_children(node: &Value, names: &BTreeMap<String, String>, defs: &mut BTreeMap<String, Value>) -> Value {
    let Value::Object(obj) = node else { return node.clone() };
    let mut out = Map::new();
    for (k, v) in obj {
        let v = match (k.as_str(), v) {
            ("properties", Value::Object(props)) => {
                Value::Object(props.iter().map(|(name, p)| (name.clone(), rewrite(p, names, defs))).collect())
            }
            ("items" | "additionalProperties", v @ Value::Object(_)) => rewrite(v, names, defs),
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    Value::Object(out)
}

/// Call `f` on each schema under `node`'s `properties` (with the property
/// name), `items` (`item`) and `additionalProperties` (`value`).
fn visit_children(node: &Value, f: &mut dyn FnMut(&str, &Value)) {
    let Value::Object(obj) = node else { return };
    if let Some(Value::Object(props)) = obj.get("properties") {
        for (name, p) in props {
            f(name, p);
        }
    }
    if let Some(items @ Value::Object(_)) = obj.get("items") {
        f("item", items);
    }
    if let Some(values @ Value::Object(_)) = obj.get("additionalProperties") {
        f("value", values);
    }
}

/// Whether `node` becomes a type of its own in typify: an enum, a tagged
/// union, or an object with declared properties. (Refs and `$defs` are
/// named already; a union's branches are its variants, never shared on
/// their own.)
fn is_shape(node: &Value) -> bool {
    let Value::Object(obj) = node else { return false };
    if obj.contains_key("$ref") || obj.contains_key("$defs") {
        return false;
    }
    obj.contains_key("enum") || obj.contains_key("oneOf") || obj.get("properties").and_then(Value::as_object).is_some_and(|p| !p.is_empty())
}

/// `node` as JSON with every object's keys sorted, so equal schemas give
/// equal text whatever order they were written in.
fn canonical(node: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(obj) => {
                let mut keys: Vec<&String> = obj.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write(&obj[k], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(node, &mut out);
    out
}

/// Whether `s` is a plain Rust type name.
fn is_ident(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && s.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn events(schemas: &[(&'static str, Value)]) -> Vec<(String, Value)> {
        schemas.iter().map(|(t, s)| (t.to_string(), s.clone())).collect()
    }

    fn run(schemas: &[(String, Value)], taken: &[&str]) -> Shared {
        let events: Vec<EventSchema<'_>> =
            schemas.iter().map(|(t, s)| EventSchema { type_name: t, rust_name: crate::ident::type_rust_name(t), schema: s }).collect();
        share(&events, &taken.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn a_repeated_enum_becomes_one_definition_named_after_its_property() {
        let status = json!({"type": "string", "enum": ["queued", "done"]});
        let schemas = events(&[
            ("ai.a.one", json!({"type": "object", "properties": {"status": status, "n": {"type": "integer"}}})),
            ("ai.b.two", json!({"type": "object", "properties": {"status": status}})),
            ("ai.c.three", json!({"type": "object", "properties": {"status": {"type": "string", "enum": ["other"]}}})),
        ]);
        let shared = run(&schemas, &[]);
        assert_eq!(shared.defs.keys().collect::<Vec<_>>(), ["Status"]);
        assert_eq!(shared.defs["Status"], status);
        assert_eq!(shared.schemas["ai.a.one"]["properties"]["status"], json!({"$ref": "#/$defs/Status"}));
        assert_eq!(shared.schemas["ai.a.one"]["properties"]["n"], json!({"type": "integer"}));
        assert_eq!(shared.schemas["ai.b.two"]["properties"]["status"], json!({"$ref": "#/$defs/Status"}));
        // Seen once: left inline, so typify names it as before.
        assert_eq!(shared.schemas["ai.c.three"], schemas[2].1);
    }

    #[test]
    fn nested_shapes_are_shared_inside_shared_objects_and_arrays() {
        let level = json!({"type": "string", "enum": ["low", "high"]});
        let detail = json!({"type": "object", "properties": {"level": level, "note": {"type": "string"}}});
        let schemas = events(&[
            ("ai.a.one", json!({"type": "object", "properties": {"detail": detail, "levels": {"type": "array", "items": level}}})),
            ("ai.b.two", json!({"type": "object", "properties": {"detail": detail}})),
        ]);
        let shared = run(&schemas, &[]);
        assert_eq!(shared.defs.keys().collect::<Vec<_>>(), ["Detail", "DetailLevel"]);
        assert_eq!(shared.defs["Detail"]["properties"]["level"], json!({"$ref": "#/$defs/DetailLevel"}));
        assert_eq!(shared.schemas["ai.a.one"]["properties"]["levels"]["items"], json!({"$ref": "#/$defs/DetailLevel"}));
    }

    #[test]
    fn a_name_wanted_twice_or_taken_falls_back_to_the_first_occurrence() {
        let a = json!({"type": "string", "enum": ["a"]});
        let b = json!({"type": "string", "enum": ["b"]});
        let result = json!({"type": "string", "enum": ["success", "failure"]});
        let schemas = events(&[
            ("ai.x.one", json!({"type": "object", "properties": {"kind": a, "result": result}})),
            ("ai.x.two", json!({"type": "object", "properties": {"kind": a, "result": result}})),
            ("ai.y.one", json!({"type": "object", "properties": {"kind": b, "mode": a}})),
            ("ai.y.two", json!({"type": "object", "properties": {"kind": b}})),
        ]);
        let shared = run(&schemas, &[]);
        // `kind` is wanted by two shapes, `Result` is the prelude's.
        assert_eq!(shared.defs.keys().collect::<Vec<_>>(), ["XOneKind", "XOneResult", "YOneKind"]);
        // A user's `$defs` name is taken likewise.
        let shared = run(&schemas[..2], &["Kind"]);
        assert!(shared.defs.contains_key("XOneKind"), "{:?}", shared.defs.keys());
    }

    #[test]
    fn a_repeated_union_is_one_definition_its_branches_stay_inline() {
        let branch = |v: &str| json!({"type": "object", "required": ["kind"], "properties": {"kind": {"const": v}, "n": {"type": "string", "enum": ["x"]}}});
        let target = json!({"oneOf": [branch("a"), branch("b")]});
        let schemas = events(&[
            ("ai.a.one", json!({"type": "object", "properties": {"target": target}})),
            ("ai.b.two", json!({"type": "object", "properties": {"target": target}})),
        ]);
        let shared = run(&schemas, &[]);
        assert_eq!(shared.defs.keys().collect::<Vec<_>>(), ["Target"]);
        assert_eq!(shared.defs["Target"], target, "branches (and what is inside them) untouched");
        assert_eq!(shared.schemas["ai.b.two"]["properties"]["target"], json!({"$ref": "#/$defs/Target"}));
    }

    #[test]
    fn key_order_does_not_matter_but_descriptions_do() {
        let schemas = events(&[
            ("ai.a.one", json!({"type": "object", "properties": {"s": {"type": "string", "enum": ["x"]}}})),
            ("ai.a.two", json!({"type": "object", "properties": {"s": {"enum": ["x"], "type": "string"}}})),
            ("ai.a.three", json!({"type": "object", "properties": {"s": {"enum": ["x"], "type": "string", "description": "d"}}})),
        ]);
        let shared = run(&schemas, &[]);
        assert_eq!(shared.defs.keys().collect::<Vec<_>>(), ["S"]);
        assert_eq!(shared.schemas["ai.a.three"], schemas[2].1);
    }
}
