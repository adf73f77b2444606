//! The catalog's examples, read as the generated code reads them.
//!
//! The lints check each example against its JSON Schema, where an absent
//! optional property is simply absent. The generated type is not so
//! simple: an absent property with a `default` holds that default, and an
//! absent optional array or map without a minimum holds an empty one; its
//! `validate()` then checks what the type holds. A default that breaks its
//! own schema (`default: [a]` under `items: {minLength: 2}`) would make the
//! generated code refuse every event without the property, the catalog's
//! own examples included, while the schema accepts them.
//!
//! So each example is turned into the value its generated type holds,
//! following the same typify types the emitters use (`GeneratedTypes`),
//! and that value is checked against the same schema with the same rule
//! set as the lints (`lint::schema_errors`, the `jsonschema` crate, which
//! the differential tests hold the generated `validate()` to). `herald
//! check` and the build run this through [`crate::emit::emit_modules`],
//! so a catalog passes `check` only if its build accepts its examples.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use typify_impl::{TypeDetails, TypeEnumVariant, TypeId, TypeSpace};

use crate::diagnostic::Diagnostics;
use crate::ir::{Catalog, DataSource};
use crate::schema::GeneratedTypes;
use crate::tagged::TaggedUnion;
use crate::text::escape_pointer;

/// Check that the generated code accepts every example of every
/// YAML-declared event of `catalog`, whose types are `generated`.
pub(crate) fn check(catalog: &Catalog, generated: &GeneratedTypes) -> Result<(), Diagnostics> {
    let mut diags = Vec::new();
    for event in catalog.events.iter().filter(|e| e.data == DataSource::Generated) {
        let (Some(root), Some(schema)) = (generated.roots.get(&event.type_name), generated.schemas.get(&event.type_name)) else {
            continue;
        };
        let reader = Reader { space: &generated.space, defs: &generated.defs };
        let mut filled = Vec::new();
        let mut held = Vec::new();
        for (index, example) in event.examples.iter().enumerate() {
            let mut found = Vec::new();
            held.push(reader.held(schema, root, example, "", &mut found));
            filled.extend(found.into_iter().map(|(pointer, holds, default)| Filled { example: index, pointer, holds, default }));
        }
        let values: Vec<&Value> = held.iter().collect();
        let found = match crate::lint::schema_errors(&crate::dialect::portable(&event.schema), &values) {
            Ok(found) => found,
            Err(e) => {
                diags.push(crate::schema::at(event, format!("cannot check the examples of `{}`: {e}", event.type_name)));
                continue;
            }
        };
        for (index, path, error) in found {
            let at = if path.is_empty() { String::new() } else { format!(" at `{path}`") };
            // The filled-in value the error is in or under, or else one
            // right under the object the error is about (`maxProperties`).
            let mine = || filled.iter().filter(|f| f.example == index);
            let inside = mine().find(|f| path == f.pointer || path.starts_with(&format!("{}/", f.pointer)));
            let above = || mine().find(|f| f.pointer.rsplit_once('/').is_some_and(|(parent, _)| parent == path));
            let (cause, help) = match (inside, above()) {
                (Some(f), _) if f.default => (Some(f), "make the `default` valid under the property's own schema"),
                (None, Some(f)) if f.default => (
                    Some(f),
                    "the object's rules count the properties its type holds: remove the property's `default`, or allow for it in those rules",
                ),
                (f, g) => (f.or(g), "fix the example or the schema"),
            };
            let why = match cause {
                Some(f) => format!(" (`{}` is absent, and the generated type holds {} there)", f.pointer, f.holds),
                None => String::new(),
            };
            diags.push(
                crate::schema::at(
                    event,
                    format!("example {} of `{}` is refused by the generated code{at}: {error}{why}", index + 1, event.type_name),
                )
                .with_help(help),
            );
        }
    }
    if diags.is_empty() { Ok(()) } else { Err(Diagnostics(diags)) }
}

/// A value the generated type puts in place of an absent property.
struct Filled {
    /// In which example (0-based).
    example: usize,
    /// Where, as a JSON pointer into the example.
    pointer: String,
    /// What it holds, in words (`its default ["a"]`).
    holds: String,
    /// Whether it is the property's `default` (else an empty collection).
    default: bool,
}

/// Where a value was filled in, what it is in words, and whether it is a
/// `default`.
type Fill = (String, String, bool);

/// Reads JSON as the generated types do.
struct Reader<'a> {
    space: &'a TypeSpace,
    /// `$defs` and shared shapes, by name (what `$ref`s in the schemas name).
    defs: &'a BTreeMap<String, Value>,
}

impl Reader<'_> {
    /// The value of type `id` (generated from `schema`) that decoding
    /// `value` gives, as JSON: `value` with every absent property the type
    /// fills in (with its default, or an empty collection) filled in, and
    /// recorded in `filled`. Anything decoding would refuse is left as it
    /// is: the lints have checked it against the schema already.
    fn held(&self, schema: &Value, id: &TypeId, value: &Value, pointer: &str, filled: &mut Vec<Fill>) -> Value {
        let schema = self.resolve(schema);
        let Ok(ty) = self.space.get_type(id) else { return value.clone() };
        match (ty.details(), value) {
            (TypeDetails::Option(inner) | TypeDetails::Box(inner), _) => self.held(schema, &inner, value, pointer, filled),
            (TypeDetails::Newtype(n), _) => self.held(schema, &n.inner(), value, pointer, filled),
            (TypeDetails::Struct(s), Value::Object(object)) => {
                // typify's field for each property, by the field naming
                // rule the validate emitter also relies on.
                let fields: BTreeMap<String, (TypeId, bool)> =
                    s.properties_info().map(|p| (p.name.to_string(), (p.type_id, p.required))).collect();
                Value::Object(self.object(schema, &fields, object, pointer, filled))
            }
            // A tagged union: the branch the tag names, read as an object
            // (an unknown or missing tag is refused by decoding and by the
            // schema alike).
            (TypeDetails::Enum(e), Value::Object(object)) => {
                let Some(branch) = TaggedUnion::of(schema).and_then(|u| u.branch_of(value).cloned()) else { return value.clone() };
                let required: Vec<&str> =
                    branch.schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
                let fields: BTreeMap<String, (TypeId, bool)> = e
                    .variants()
                    .filter(|(name, _)| *name == branch.variant())
                    .flat_map(|(_, details)| match details {
                        TypeEnumVariant::Struct(fields) => fields.into_iter().map(|(n, t)| (n.to_string(), t)).collect(),
                        _ => Vec::new(),
                    })
                    .map(|(name, id)| {
                        let required = required.iter().any(|r| crate::ident::field_name(r) == name);
                        (name, (id, required))
                    })
                    .collect();
                Value::Object(self.object(branch.schema, &fields, object, pointer, filled))
            }
            (TypeDetails::Vec(item) | TypeDetails::Set(item), Value::Array(items)) => match schema.get("items") {
                Some(item_schema) => Value::Array(
                    items.iter().enumerate().map(|(i, v)| self.held(item_schema, &item, v, &format!("{pointer}/{i}"), filled)).collect(),
                ),
                None => value.clone(),
            },
            (TypeDetails::Map(_, value_id), Value::Object(object)) => match schema.get("additionalProperties").filter(|s| s.is_object()) {
                Some(value_schema) => Value::Object(
                    object
                        .iter()
                        .map(|(k, v)| {
                            let at = format!("{pointer}/{}", escape_pointer(k));
                            (k.clone(), self.held(value_schema, &value_id, v, &at, filled))
                        })
                        .collect::<Map<_, _>>(),
                ),
                None => value.clone(),
            },
            _ => value.clone(),
        }
    }

    /// The JSON object `object` (at `pointer`) read as an object type
    /// whose `schema` declares its properties and whose fields typify
    /// typed `fields` (field name → type, required).
    fn object(
        &self,
        schema: &Value,
        fields: &BTreeMap<String, (TypeId, bool)>,
        object: &Map<String, Value>,
        pointer: &str,
        filled: &mut Vec<Fill>,
    ) -> Map<String, Value> {
        let properties = schema.get("properties").and_then(Value::as_object);
        let mut out = object.clone();
        for (key, prop_schema) in properties.into_iter().flatten() {
            let Some((prop_id, required)) = fields.get(&crate::ident::field_name(key)) else { continue };
            let at = format!("{pointer}/{}", escape_pointer(key));
            match object.get(key) {
                Some(v) => {
                    let v = self.held(prop_schema, prop_id, v, &at, filled);
                    out.insert(key.clone(), v);
                }
                // A required property that is absent is refused
                // by decoding and by the schema alike.
                None if *required => {}
                None => {
                    if let Some((v, holds, default)) = self.absent(prop_schema, prop_id) {
                        // A default is decoded too (its own absent
                        // properties filled in).
                        let v = self.held(prop_schema, prop_id, &v, &at, filled);
                        filled.push((at, holds, default));
                        out.insert(key.clone(), v);
                    }
                }
            }
        }
        out
    }

    /// What an optional field of type `id` (from `schema`) holds when its
    /// property is absent, and that in words; `None` when it holds nothing
    /// (an `Option`). typify's rule: the property's own `default` if it
    /// has one, else an empty `Vec` or map; any other type is an `Option`.
    fn absent(&self, schema: &Value, id: &TypeId) -> Option<(Value, String, bool)> {
        let ty = self.space.get_type(id).ok()?;
        let details = ty.details();
        if matches!(details, TypeDetails::Option(_)) {
            return None;
        }
        if let Some(default) = schema.get("default") {
            return Some((default.clone(), format!("its default `{default}`"), true));
        }
        match details {
            TypeDetails::Vec(_) => Some((Value::Array(Vec::new()), "an empty list".to_string(), false)),
            TypeDetails::Map(..) => Some((Value::Object(Map::new()), "an empty map".to_string(), false)),
            _ => None,
        }
    }

    /// `schema` with its `$ref`s followed into the definitions.
    fn resolve<'s>(&'s self, schema: &'s Value) -> &'s Value {
        let mut schema = schema;
        // A chain of refs ends within as many hops as there are definitions.
        for _ in 0..=self.defs.len() {
            match crate::defs::ref_name(schema).and_then(|name| self.defs.get(name)) {
                Some(def) => schema = def,
                None => break,
            }
        }
        schema
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::ir::{Catalog, DataSource, EventType, Origin};

    fn catalog(schema: Value, examples: Vec<Value>) -> Catalog {
        let mut catalog = Catalog::new("<test>", "ai");
        catalog.events.push(EventType {
            type_name: "ai.job.queued".into(),
            description: "A job was queued.".into(),
            version: 1,
            subject: None,
            stream_key: None,
            schema,
            examples,
            data: DataSource::Generated,
            origin: Origin::Synthetic,
        });
        catalog
    }

    fn problems(catalog: &Catalog) -> Vec<String> {
        let generated = crate::schema::generate_types(catalog).unwrap_or_else(|e| panic!("{e}"));
        match super::check(catalog, &generated) {
            Ok(()) => Vec::new(),
            Err(diags) => diags.0.iter().map(|d| d.message.clone()).collect(),
        }
    }

    /// A catalog built without the YAML loader skips its lints; its
    /// examples are still held to what the generated code accepts: here
    /// a nested default its schema refuses, filled in two levels down.
    #[test]
    fn defaults_are_filled_in_where_the_type_holds_them() {
        let schema = json!({
            "type": "object",
            "properties": {
                "job": {
                    "type": "object",
                    "properties": {"labels": {"type": "array", "items": {"type": "string", "minLength": 2}, "default": ["a"]}},
                },
                "list": {"type": "array", "items": {"type": "string"}},
            },
        });
        let found = problems(&catalog(schema, vec![json!({"job": {}}), json!({"job": {"labels": ["ab"]}}), json!({})]));
        assert_eq!(
            found,
            ["example 1 of `ai.job.queued` is refused by the generated code at `/job/labels/0`: \"a\" is shorter than 2 characters \
                 (`/job/labels` is absent, and the generated type holds its default `[\"a\"]` there)"]
        );
    }

    /// A union's branch is read as the object its tag names: a default
    /// inside it is filled in where the enum's variant holds it, and `check`
    /// refuses what the build would (the YAML loader's own lint of the
    /// default is skipped by building the catalog in code).
    #[test]
    fn defaults_inside_a_union_branch_are_filled_in() {
        let branch = |tag: &str, extra: Value| {
            let mut properties = json!({"kind": {"const": tag}});
            for (k, v) in extra.as_object().unwrap() {
                properties[k] = v.clone();
            }
            json!({"type": "object", "required": ["kind"], "properties": properties})
        };
        let schema = json!({
            "type": "object",
            "properties": {
                "target": {"oneOf": [
                    branch("file", json!({"mode": {"type": "string", "minLength": 5, "default": "rw"}})),
                    branch("none", json!({})),
                ]},
            },
        });
        let examples = vec![
            json!({"target": {"kind": "none"}}),
            json!({"target": {"kind": "file"}}),
            json!({"target": {"kind": "file", "mode": "write"}}),
        ];
        assert_eq!(
            problems(&catalog(schema, examples)),
            ["example 2 of `ai.job.queued` is refused by the generated code at `/target/mode`: \"rw\" is shorter than 5 characters \
                 (`/target/mode` is absent, and the generated type holds its default `\"rw\"` there)"]
        );
    }

    /// Absent optional collections and `Option`s hold nothing a schema
    /// could refuse: a catalog of such examples passes.
    #[test]
    fn absent_optional_properties_pass() {
        let schema = json!({
            "type": "object",
            "properties": {
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "list": {"type": "array", "items": {"type": "string"}},
                "map": {"type": "object", "additionalProperties": {"type": "integer"}},
                "n": {"type": "integer", "minimum": 3},
            },
            "maxProperties": 1,
        });
        assert_eq!(problems(&catalog(schema, vec![json!({}), json!({"n": 3})])), Vec::<String>::new());
    }
}
