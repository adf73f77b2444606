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
//!   the field stays a `String` that `validate()` checks.

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
    /// Every `$defs` entry, as written by the user (refs not rewritten).
    pub defs: BTreeMap<String, Value>,
}

/// Build Rust types for every [`DataSource::Generated`] event.
pub fn generate_types(catalog: &Catalog) -> Result<GeneratedTypes, Diagnostics> {
    let mut diags = Vec::new();
    let mut settings = TypeSpaceSettings::default();
    settings
        .with_struct_builder(false)
        .with_derive("PartialEq".to_string())
        .with_map_type("::std::collections::BTreeMap")
        .with_crate("herald", CrateVers::Any, None);
    let mut space = TypeSpace::new(&settings);

    // Pool `$defs` across events: they become named Rust types in one module.
    let mut defs: BTreeMap<String, (Value, &EventType)> = BTreeMap::new();
    for event in generated(catalog) {
        if let Some(Value::Object(event_defs)) = event.schema.get("$defs") {
            for (name, schema) in event_defs {
                match defs.get(name) {
                    Some((existing, first)) if existing != schema => diags.push(
                        at(event, format!(
                            "`$defs/{name}` in `{}` differs from the `$defs/{name}` of `{}`",
                            event.type_name, first.type_name
                        ))
                        .with_help("definitions share one namespace: give one of them another name"),
                    ),
                    Some(_) => {}
                    None => {
                        defs.insert(name.clone(), (schema.clone(), event));
                    }
                }
            }
        }
    }

    let mut prepared_defs = Vec::new();
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
        let mut schema = prepare(&event.schema);
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
        Ok(GeneratedTypes { space, roots, defs: defs.into_iter().map(|(k, (v, _))| (k, v)).collect() })
    } else {
        Err(Diagnostics(diags))
    }
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
                let v = match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        Value::String(r.replacen("#/$defs/", "#/definitions/", 1))
                    }
                    // Keyword positions whose values are schemas or maps of them.
                    ("properties" | "$defs", Value::Object(m)) => {
                        Value::Object(m.iter().map(|(k, v)| (k.clone(), prepare(v))).collect())
                    }
                    ("items" | "additionalProperties", v) => prepare(v),
                    // Examples, defaults and enums are data, not schemas.
                    _ => v.clone(),
                };
                out.insert(k.clone(), v);
            }
            if let Some(path) = strict_type(&out) {
                out.insert(
                    "x-rust-type".into(),
                    json!({"crate": "herald", "version": "*", "path": path}),
                );
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Herald's strict wire type for a string format, if it has one.
fn strict_type(obj: &Map<String, Value>) -> Option<&'static str> {
    if obj.get("type").and_then(Value::as_str) != Some("string") || obj.contains_key("enum") {
        return None;
    }
    match obj.get("format").and_then(Value::as_str)? {
        "uuid" => Some("herald::types::Uuid"),
        "date-time" => Some("herald::types::DateTime"),
        _ => None,
    }
}

/// The formats whose Rust type already enforces them (no runtime check).
pub(crate) fn format_enforced_by_type(schema: &Value) -> bool {
    schema.as_object().is_some_and(|o| strict_type(o).is_some())
}
