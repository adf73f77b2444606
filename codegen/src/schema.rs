//! JSON Schema → Rust data types, through typify.
//!
//! typify does the heavy lifting (structs, enums, nested objects, `$defs`);
//! this module prepares each event's schema for it and never lets a typify
//! error or panic escape as anything but a [`Diagnostic`].
//!
//! Preparation:
//! - `$ref: #/$defs/X` → `#/definitions/X` (typify's dialect) and every
//!   event's `$defs` pooled into one namespace (conflicts are diagnosed);
//! - `format: uuid` / `format: date-time` strings → Herald's strict wire
//!   types via typify's `x-rust-type` extension, so typed decoding accepts
//!   exactly what the schema accepts; `format: date` hidden from typify, so
//!   the field stays a `String` that `validate()` checks;
//! - `minLength` / `maxLength` / `pattern` hidden from typify likewise: a
//!   constrained string is a `String` whose rules `validate()` checks,
//!   not a newtype with its own conversion impls;
//! - a tagged union's branches (`tagged.rs`) made to read as an internally
//!   tagged enum, `discriminator` dropped.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::{Map, Value, json};
use typify_impl::{CrateVers, TypeId, TypeSpace, TypeSpaceSettings};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::ir::{Catalog, DataSource, EventType, Origin};

/// typify's output for a catalog, and what the validate emitter needs to
/// walk it.
pub struct GeneratedTypes {
    /// The type space holding every generated type.
    pub space: TypeSpace,
    /// Event `type` → the root data type.
    pub roots: BTreeMap<String, TypeId>,
    /// Every `$defs` entry, as written by the user (refs not rewritten),
    /// and every shape shared across events (see `shapes.rs`).
    pub defs: BTreeMap<String, Value>,
    /// Event `type` → the data schema its type was generated from: the
    /// user's, with shared shapes replaced by `$ref`s.
    pub schemas: BTreeMap<String, Value>,
}

/// Build Rust types for every [`DataSource::Generated`] event, one type
/// per shape the catalog repeats (`shapes.rs`).
pub fn generate_types(catalog: &Catalog) -> Result<GeneratedTypes, Diagnostics> {
    generate(catalog, true)
}

/// Build Rust types that mirror each event's schema as written, every
/// inline enum and object typed where it stands: for a struct declared
/// with `#[cloud_event]`, whose own field types the walk must see.
pub(crate) fn generate_types_unshared(catalog: &Catalog) -> Result<GeneratedTypes, Diagnostics> {
    generate(catalog, false)
}

fn generate(catalog: &Catalog, share: bool) -> Result<GeneratedTypes, Diagnostics> {
    let mut diags = Vec::new();
    let mut settings = TypeSpaceSettings::default();
    settings.with_struct_builder(false).with_derive("PartialEq".to_string()).with_map_type("::std::collections::BTreeMap").with_crate(
        "herald",
        CrateVers::Any,
        None,
    );
    let mut space = TypeSpace::new(&settings);

    // Pool `$defs` across events: they become named Rust types in one
    // module. The YAML loader reports conflicts with their positions
    // already; this catches catalogs built any other way.
    let (defs, conflicts) = pool_defs(generated(catalog).flat_map(|event| {
        crate::defs::defs(&event.schema).map(move |(name, schema)| DefEntry { event: &event.type_name, name, schema, at: event })
    }));
    for conflict in conflicts {
        let first = at(conflict.first, String::new());
        let message = format!("{} (declared at {})", conflict.message, first.location());
        diags.push(at(conflict.at, message).with_help(DefsConflict::<()>::HELP));
    }

    // Repeated shapes become definitions too (after the user's, whose
    // names they avoid).
    let events: Vec<crate::shapes::EventSchema<'_>> = generated(catalog)
        .map(|e| crate::shapes::EventSchema { type_name: &e.type_name, rust_name: e.rust_name(), schema: &e.schema })
        .collect();
    let shared = if share {
        crate::shapes::share(&events, &defs.keys().cloned().collect())
    } else {
        crate::shapes::Shared {
            schemas: events.iter().map(|e| (e.type_name.to_string(), e.schema.clone())).collect(),
            defs: BTreeMap::new(),
        }
    };

    let mut prepared_defs = Vec::new();
    for (name, schema) in &shared.defs {
        match to_schemars(&prepare(schema)) {
            Ok(s) => prepared_defs.push((name.clone(), s)),
            Err(e) => {
                diags.push(Diagnostic::new(&catalog.source_name, 0, 0, format!("shared shape `{name}` is not valid JSON Schema: {e}")))
            }
        }
    }
    for (name, (schema, event)) in &defs {
        match to_schemars(&prepare(schema)) {
            Ok(s) => prepared_defs.push((name.clone(), s)),
            Err(e) => diags.push(at(event, format!("`$defs/{name}` is not a valid JSON Schema: {e}"))),
        }
    }
    if !prepared_defs.is_empty() {
        let first = defs.values().next().map(|(_, e)| *e);
        if let Err(msg) = guarded(|| space.add_ref_types(prepared_defs)) {
            let d = match first {
                Some(e) => at(e, format!("typify cannot generate the `$defs` types: {msg}")),
                None => Diagnostic::new(&catalog.source_name, 0, 0, msg),
            };
            diags.push(d.with_help("simplify the definitions to Herald's supported subset"));
        }
    }

    let mut roots = BTreeMap::new();
    for event in generated(catalog) {
        let mut schema = prepare(&shared.schemas[&event.type_name]);
        if let Value::Object(obj) = &mut schema {
            obj.remove("$defs");
            obj.entry("description").or_insert_with(|| Value::String(event.description.clone()));
        }
        let schema = match to_schemars(&schema) {
            Ok(s) => s,
            Err(e) => {
                diags.push(at(event, format!("the data schema of `{}` is not valid JSON Schema: {e}", event.type_name)));
                continue;
            }
        };
        let name = event.rust_name();
        match guarded(|| space.add_type_with_name(&schema, Some(name.clone()))) {
            Ok(id) => {
                roots.insert(event.type_name.clone(), id);
            }
            Err(msg) => diags.push(
                at(event, format!("cannot generate a Rust type for `{}`: {msg}", event.type_name))
                    .with_help("simplify the schema to Herald's supported subset"),
            ),
        }
    }

    if diags.is_empty() {
        let mut all_defs: BTreeMap<String, Value> = defs.into_iter().map(|(k, (v, _))| (k, v)).collect();
        all_defs.extend(shared.defs);
        Ok(GeneratedTypes { space, roots, defs: all_defs, schemas: shared.schemas })
    } else {
        Err(Diagnostics(diags))
    }
}

/// One `$defs` entry of an event's data schema, and where it is declared
/// (`L`: a YAML position, or the event).
pub(crate) struct DefEntry<'a, L> {
    /// The CloudEvents `type` of the event whose schema declares it.
    pub(crate) event: &'a str,
    /// The definition's name (`RunMetrics`).
    pub(crate) name: &'a str,
    /// Its schema.
    pub(crate) schema: &'a Value,
    /// Where it is declared.
    pub(crate) at: L,
}

/// A `$defs` name declared again with a different schema.
pub(crate) struct DefsConflict<L> {
    /// Where the second declaration is.
    pub(crate) at: L,
    /// Where the first one is.
    pub(crate) first: L,
    /// What is wrong, naming both events (the caller adds where the first
    /// declaration is, in the form its diagnostics use).
    pub(crate) message: String,
}

impl<L> DefsConflict<L> {
    /// How to fix a conflict.
    pub(crate) const HELP: &'static str = "the definitions of all events share one namespace (each becomes one Rust type): give one of them another name, or make them identical";
}

/// Every `$defs` name with its schema and where it was first declared.
pub(crate) type PooledDefs<L> = BTreeMap<String, (Value, L)>;

/// Pool the `$defs` of many events into the one namespace their Rust types
/// share: each name with its schema and where it was first declared, and
/// every later declaration of a name with a different schema.
pub(crate) fn pool_defs<'a, L: Clone>(entries: impl IntoIterator<Item = DefEntry<'a, L>>) -> (PooledDefs<L>, Vec<DefsConflict<L>>) {
    let mut pooled: BTreeMap<String, (Value, L, &'a str)> = BTreeMap::new();
    let mut conflicts = Vec::new();
    for entry in entries {
        match pooled.get(entry.name) {
            Some((schema, first_at, first)) if schema != entry.schema => conflicts.push(DefsConflict {
                message: format!("`$defs/{name}` of `{}` differs from the `$defs/{name}` of `{first}`", entry.event, name = entry.name),
                at: entry.at,
                first: first_at.clone(),
            }),
            Some(_) => {}
            None => {
                pooled.insert(entry.name.to_string(), (entry.schema.clone(), entry.at, entry.event));
            }
        }
    }
    (pooled.into_iter().map(|(name, (schema, at, _))| (name, (schema, at))).collect(), conflicts)
}

fn generated(catalog: &Catalog) -> impl Iterator<Item = &EventType> {
    catalog.events.iter().filter(|e| e.data == DataSource::Generated)
}

/// Run a typify call, turning both its errors and its panics into text.
fn guarded<T>(f: impl FnOnce() -> typify_impl::Result<T>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(match panic.downcast_ref::<&str>() {
            Some(s) => format!("typify panicked: {s}"),
            None => match panic.downcast_ref::<String>() {
                Some(s) => format!("typify panicked: {s}"),
                None => "typify panicked".to_string(),
            },
        }),
    }
}

fn to_schemars(v: &Value) -> Result<schemars::schema::Schema, String> {
    serde_json::from_value(v.clone()).map_err(|e| e.to_string())
}

/// A diagnostic at the event's declaration.
pub(crate) fn at(event: &EventType, message: String) -> Diagnostic {
    match &event.origin {
        Origin::Yaml { file, line, column } => Diagnostic::new(file, *line, *column, message),
        Origin::Rust { ident } => Diagnostic::new(format!("struct `{ident}`"), 0, 0, message),
        Origin::Synthetic => Diagnostic::new("<catalog>", 0, 0, message),
    }
}

/// Rewrite a user schema into what typify should see.
fn prepare(schema: &Value) -> Value {
    match schema {
        Value::Object(obj) => {
            let mut out = Map::new();
            for (k, v) in obj {
                // typify decodes `format: date` with chrono, whose parser
                // also takes `2024-1-01`: keep such a field a `String`, and
                // the generated `validate()` checks the format exactly.
                if k == "format" && v == "date" {
                    continue;
                }
                // The branches' tags say it all (`tagged.rs`).
                if k == "discriminator" {
                    continue;
                }
                let v = match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => Value::String(r.replacen(crate::defs::REF_PREFIX, "#/definitions/", 1)),
                    // Keyword positions whose values are schemas or maps of them.
                    ("properties" | "$defs", Value::Object(m)) => Value::Object(m.iter().map(|(k, v)| (k.clone(), prepare(v))).collect()),
                    ("items" | "additionalProperties", v) => prepare(v),
                    ("oneOf", Value::Array(branches)) => Value::Array(branches.iter().map(prepare).map(internally_tagged).collect()),
                    // Examples, defaults and enums are data, not schemas.
                    _ => v.clone(),
                };
                out.insert(k.clone(), v);
            }
            optional_collections_as_options(&mut out);
            // A string with length or pattern rules stays a `String`, and
            // the generated `validate()` checks the rules (with a pointer
            // to the field): typify would make a newtype with seven
            // conversion impls of each, and the `#[cloud_event]` route
            // gives such a field a `String` too.
            if out.get("type").and_then(Value::as_str) == Some("string") && !out.contains_key("enum") {
                for rule in ["minLength", "maxLength", "pattern"] {
                    out.remove(rule);
                }
            }
            if let Some(path) = strict_type(&out) {
                out.insert("x-rust-type".into(), json!({"crate": "herald", "version": "*", "path": path}));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// A property no branch of a union has, declared with the schema `false`
/// (which typify leaves out of the struct): see [`internally_tagged`].
const NOT_ADJACENT: &str = "$herald:internally-tagged";

/// A union's branch (prepared), as typify must see it to make the union
/// an internally tagged enum with one struct variant per branch.
///
/// typify reads a union whose branches all have exactly the tag and one
/// other property, all required (`{kind, value}`), as *adjacently* tagged
/// (`#[serde(tag = "kind", content = "value")]`, tuple variants): the same
/// JSON, but another Rust shape than every other union gets. A property
/// typify drops (schema `false`, not required) on each branch with fields
/// rules that reading out, and changes nothing else. A branch of the tag
/// alone stays a unit variant.
fn internally_tagged(mut branch: Value) -> Value {
    if let Some(Value::Object(properties)) = branch.get_mut("properties")
        && properties.len() > 1
    {
        properties.insert(NOT_ADJACENT.into(), Value::Bool(false));
    }
    branch
}

/// Make the optional properties of an object schema whose absence and
/// emptiness differ into `Option`s.
///
/// typify gives an optional array a `Vec` and an optional map a map, both
/// empty when absent. That is faithful while empty is valid; with
/// `minItems`/`minProperties` of 1 or more it is not (absent is valid,
/// `[]` is not), so such a property is declared to typify as required and
/// nullable, which gives `Option<…>`; the emitter then makes the field
/// accept absent and refuse `null`, as for every `Option`. Likewise when
/// the object itself has `minProperties`/`maxProperties`: those count the
/// properties present, so an absent list must not count as an empty one.
fn optional_collections_as_options(object: &mut Map<String, Value>) {
    let required: Vec<String> = match object.get("required") {
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    };
    let counted = object.contains_key("minProperties") || object.contains_key("maxProperties");
    let Some(Value::Object(properties)) = object.get_mut("properties") else { return };
    let mut made_required = Vec::new();
    for (name, schema) in properties.iter_mut() {
        if required.contains(name) || !(empty_is_invalid(schema) || counted && defaults_to_empty(schema)) {
            continue;
        }
        if let Value::Object(schema) = schema {
            make_nullable(schema);
            made_required.push(Value::String(name.clone()));
        }
    }
    if !made_required.is_empty() {
        let names = object.entry("required").or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(names) = names {
            names.extend(made_required);
        }
    }
}

/// Whether `schema` is a collection that a Rust type would default to
/// empty (an array, or an object without declared properties: a map),
/// while the schema refuses an empty one. Such a property, when optional,
/// must be an `Option` so that absent and empty differ.
pub fn empty_is_invalid(schema: &Value) -> bool {
    let at_least_one = |key: &str| schema.get(key).and_then(Value::as_u64).is_some_and(|n| n > 0);
    let no_properties = schema.get("properties").and_then(Value::as_object).is_none_or(Map::is_empty);
    match schema.get("type").and_then(Value::as_str) {
        Some("array") => at_least_one("minItems"),
        Some("object") => no_properties && at_least_one("minProperties"),
        _ => false,
    }
}

/// Whether typify gives `schema`, as an optional property without a
/// `default`, a collection that is empty when absent (an array, or an
/// object without declared properties: a map).
fn defaults_to_empty(schema: &Value) -> bool {
    let no_properties = schema.get("properties").and_then(Value::as_object).is_none_or(Map::is_empty);
    match schema.get("type").and_then(Value::as_str) {
        Some("array") => schema.get("default").is_none(),
        Some("object") => no_properties && schema.get("default").is_none(),
        _ => false,
    }
}

/// Allow `null` besides the schema's type, so that typify makes the value
/// an `Option` (a schema without a `type` is any JSON value already, and
/// is left alone).
pub(crate) fn make_nullable(schema: &mut Map<String, Value>) {
    if let Some(Value::String(t)) = schema.get("type").cloned() {
        schema.insert("type".into(), json!([t, "null"]));
    }
}

/// Herald's strict wire type for a string format, if it has one.
fn strict_type(obj: &Map<String, Value>) -> Option<&'static str> {
    if obj.get("type").and_then(Value::as_str) != Some("string") || obj.contains_key("enum") {
        return None;
    }
    match obj.get("format").and_then(Value::as_str)? {
        "uuid" => Some("herald::types::Uuid"),
        "date-time" if obj.get("offset").and_then(Value::as_str) == Some("utc-only") => Some("herald::types::UtcDateTime"),
        "date-time" => Some("herald::types::DateTime"),
        _ => None,
    }
}

/// The formats whose Rust type already enforces them (no runtime check).
pub(crate) fn format_enforced_by_type(schema: &Value) -> bool {
    schema.as_object().is_some_and(|o| strict_type(o).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ident::field_name;
    use typify_impl::TypeDetails;

    /// `ident::field_name` is typify's naming rule: the walk and the lints
    /// rely on it naming every field as typify does.
    #[test]
    fn typify_names_fields_as_herald_expects() {
        let names =
            ["runId", "type", "self", "Self", "match", "crate", "fooBar", "dash-name", "HTTPStatus", "2fa", "with space", "été", "a'b"];
        let properties: Map<String, Value> = names.iter().map(|n| (n.to_string(), json!({"type": "string"}))).collect();
        let mut catalog = Catalog::new("names.yaml", "ai");
        catalog.events.push(EventType {
            type_name: "ai.names.sent".into(),
            description: "Names.".into(),
            version: 1,
            subject: None,
            stream_key: Some("runId".into()),
            schema: json!({"type": "object", "properties": properties}),
            examples: vec![],
            data: DataSource::Generated,
            origin: Origin::Synthetic,
        });
        let generated = generate_types(&catalog).unwrap_or_else(|e| panic!("{e}"));
        let root = generated.space.get_type(&generated.roots["ai.names.sent"]).unwrap();
        let TypeDetails::Struct(s) = root.details() else { panic!("a struct") };
        let mut typify: Vec<String> = s.properties().map(|(n, _)| n.to_string()).collect();
        let mut herald: Vec<String> = names.iter().map(|n| field_name(n)).collect();
        typify.sort();
        herald.sort();
        assert_eq!(typify, herald);
    }

    /// `ident::variant_name` is typify's naming rule for a union's variants
    /// (the lints report collisions by it, the walk pairs variants with
    /// branches by it); and every branch with fields is a struct variant,
    /// also `{kind, value}` branches typify would read as adjacently tagged.
    #[test]
    fn typify_names_union_variants_as_herald_expects() {
        use crate::ident::variant_name;
        use typify_impl::TypeEnumVariant;
        let values = ["file", "by-url", "HTTPGet", "2d", "Self", "a_b"];
        let branches: Vec<Value> = values
            .iter()
            .map(|v| json!({"type": "object", "required": ["kind", "value"], "properties": {"kind": {"const": v}, "value": {"type": "string"}}}))
            .collect();
        let mut catalog = Catalog::new("union.yaml", "ai");
        catalog.events.push(EventType {
            type_name: "ai.union.sent".into(),
            description: "A union.".into(),
            version: 1,
            subject: None,
            stream_key: None,
            schema: json!({"type": "object", "properties": {"u": {"oneOf": branches}}}),
            examples: vec![],
            data: DataSource::Generated,
            origin: Origin::Synthetic,
        });
        let generated = generate_types(&catalog).unwrap_or_else(|e| panic!("{e}"));
        let root = generated.space.get_type(&generated.roots["ai.union.sent"]).unwrap();
        let TypeDetails::Struct(s) = root.details() else { panic!("a struct") };
        let (_, union_id) = s.properties().find(|(n, _)| *n == "u").unwrap();
        let TypeDetails::Option(union_id) = generated.space.get_type(&union_id).unwrap().details() else { panic!("optional") };
        let union = generated.space.get_type(&union_id).unwrap();
        let TypeDetails::Enum(e) = union.details() else { panic!("an enum") };
        let variants: Vec<(String, bool)> =
            e.variants().map(|(n, d)| (n.to_string(), matches!(d, TypeEnumVariant::Struct(f) if f.len() == 1))).collect();
        let expected: Vec<(String, bool)> = values.iter().map(|v| (variant_name(v), true)).collect();
        assert_eq!(variants, expected);
    }

    /// An optional array or map that must not be empty is an `Option`; one
    /// that may be empty stays a collection defaulting to empty.
    #[test]
    fn optional_collections_are_options_when_empty_is_invalid() {
        let mut object = json!({
            "type": "object",
            "properties": {
                "some": {"type": "array", "minItems": 1},
                "any": {"type": "array", "maxItems": 3},
                "map": {"type": "object", "minProperties": 1},
                "record": {"type": "object", "properties": {"a": {"type": "string"}}, "minProperties": 1},
                "needed": {"type": "array", "minItems": 1},
            },
            "required": ["needed"],
        });
        let Value::Object(o) = &mut object else { unreachable!() };
        optional_collections_as_options(o);
        assert_eq!(object["properties"]["some"]["type"], json!(["array", "null"]));
        assert_eq!(object["properties"]["map"]["type"], json!(["object", "null"]));
        for unchanged in ["any", "record", "needed"] {
            assert!(object["properties"][unchanged]["type"].is_string(), "{unchanged}");
        }
        assert_eq!(object["required"], json!(["needed", "map", "some"]));
    }

    /// Under `minProperties`/`maxProperties`, which count the properties
    /// present, every optional collection is an `Option` (absent is not
    /// empty), unless a `default` fills it in.
    #[test]
    fn optional_collections_are_options_when_properties_are_counted() {
        let mut object = json!({
            "type": "object",
            "properties": {
                "list": {"type": "array"},
                "map": {"type": "object"},
                "defaulted": {"type": "array", "default": ["a"]},
                "record": {"type": "object", "properties": {"a": {"type": "string"}}},
                "n": {"type": "integer"},
            },
            "maxProperties": 2,
        });
        let Value::Object(o) = &mut object else { unreachable!() };
        optional_collections_as_options(o);
        assert_eq!(object["required"], json!(["list", "map"]));
        assert_eq!(object["properties"]["list"]["type"], json!(["array", "null"]));
    }
}
