//! The Rust front-end: `#[cloud_event]` structs → the [IR](crate::ir).
//!
//! `herald-macros` parses a struct and its attributes with syn into a
//! [`StructEvent`]; this module turns it into an [`EventType`] (JSON Schema
//! from the field types, serde's renames and defaults, Herald's constraint
//! attributes and doc comments), emits the struct's `EventData` and
//! `Validate` impls through the shared emitters, and combines struct events
//! with a YAML catalog into one [`Catalog`](crate::ir::Catalog) for [`crate::emit::emit_catalog`].
//! The structs and enums its fields hold (`#[herald::data]`) are
//! [`DataType`]s: named definitions (`$defs`) referred to with `$ref`, as
//! in YAML ([`data`]). No code is generated here that the YAML path does
//! not also generate.

pub mod data;
mod merge;
mod object;
pub mod types;
mod wire;

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use serde_json::Value;

use crate::check;
use crate::diagnostic::Diagnostics;
use crate::emit::{self, EmitOptions, ExternalNames};
use crate::ir::{DataSource, EventType, Origin};

pub use data::{DataShape, DataType, Variant};
pub use merge::{MergeError, StructEntry, merge};
pub use wire::{defs_from_json, defs_to_json, event_from_json, event_to_json, with_defs};

/// A struct declared with `#[cloud_event("…")]`, as the macro read it.
#[derive(Debug, Clone, PartialEq)]
pub struct StructEvent {
    /// The struct's name.
    pub ident: String,
    /// The CloudEvents `type`.
    pub type_name: String,
    /// From the struct's doc comment.
    pub description: String,
    /// Schema version (default 1).
    pub version: u32,
    /// `subject` template.
    pub subject: Option<String>,
    /// The field that keys the per-run stream.
    pub stream_key: StreamKey,
    /// `#[serde(deny_unknown_fields)]`: `additionalProperties: false`.
    pub deny_unknown_fields: bool,
    /// Fields in declaration order (skipped fields left out).
    pub fields: Vec<StructField>,
}

/// `stream_key = …` in `#[cloud_event(…)]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StreamKey {
    /// Not given: the `run_id` field.
    #[default]
    Default,
    /// `stream_key = "field"`: that field (its JSON name).
    Field(String),
    /// `stream_key = none`: the event belongs to no run.
    None,
}

impl StreamKey {
    /// The JSON name of the stream key field, if the event has one.
    pub fn field(&self) -> Option<&str> {
        match self {
            StreamKey::Default => Some("run_id"),
            StreamKey::Field(name) => Some(name),
            StreamKey::None => None,
        }
    }
}

/// One serialized field of a `#[cloud_event]` struct.
#[derive(Debug, Clone, PartialEq)]
pub struct StructField {
    /// The Rust field name (without `r#`).
    pub rust_name: String,
    /// Its JSON name (after `rename` / `rename_all`).
    pub wire_name: String,
    /// JSON Schema of the value, constraints and description included.
    pub schema: Value,
    /// Whether the property must be present (not `Option`, no `default`).
    pub required: bool,
    /// Whether the Rust type is `Option<T>` (typify's shape must match).
    pub is_option: bool,
}

/// What went wrong turning a struct into an event, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StructProblem {
    /// About the `#[cloud_event]` arguments (type name, subject, stream key).
    Attribute(String),
}

impl StructEvent {
    /// The JSON Schema of the struct's data, keyed by JSON names.
    pub fn schema(&self) -> Value {
        object::schema(&self.fields, self.deny_unknown_fields)
    }

    /// The schema typify sees for the struct's shape ([`object::shape`]).
    fn shape(&self) -> Value {
        object::shape(&self.fields, self.deny_unknown_fields)
    }

    /// Check the declaration with the rules a YAML event is held to
    /// ([`crate::check`]): the naming rule, the version, the `subject`
    /// template and the stream key, with the same messages.
    pub fn check(&self) -> Vec<StructProblem> {
        let name = &self.type_name;
        let schema = self.schema();
        let mut problems: Vec<check::Problem> = check::type_name(None, name).into_iter().collect();
        problems.extend(check::version(&format!("`{name}`"), i64::from(self.version)).err());
        if let Some(template) = &self.subject {
            problems.extend(check::subject(name, template, &schema));
        }
        if let Some(key) = self.stream_key.field() {
            let explicit = matches!(self.stream_key, StreamKey::Field(_));
            problems.extend(check::stream_key(name, key, &schema, explicit));
        }
        problems.into_iter().map(|p| StructProblem::Attribute(p.to_string())).collect()
    }

    /// The event as the IR holds it. Its `data` names the struct by ident;
    /// a registry replaces that with the path it was listed under.
    pub fn to_ir(&self) -> EventType {
        EventType {
            type_name: self.type_name.clone(),
            description: self.description.clone(),
            version: self.version,
            subject: self.subject.clone(),
            stream_key: self.stream_key.field().map(str::to_string),
            schema: self.schema(),
            examples: Vec::new(),
            data: DataSource::External(self.ident.clone()),
            origin: Origin::Rust { ident: self.ident.clone() },
        }
    }

    /// `Validate` for the struct `ty`. (Its `EventData` impl needs the
    /// schema with every definition its fields name, which the macros
    /// gather: [`emit::emit_event_data`].)
    pub fn emit_validate(&self, ty: &TokenStream, opts: &EmitOptions) -> Result<TokenStream, Diagnostics> {
        let names = ExternalNames { fields: object::renames(&self.fields), variants: BTreeMap::new() };
        emit::emit_external_validate(ty, &self.to_ir(), &self.shape(), names, opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;
    use serde_json::json;

    fn sample() -> StructEvent {
        StructEvent {
            ident: "MyFeatureStarted".into(),
            type_name: "ai.myfeature.started".into(),
            description: "Started.".into(),
            version: 1,
            subject: Some("run/{run_id}".into()),
            stream_key: StreamKey::Default,
            deny_unknown_fields: false,
            fields: vec![
                StructField {
                    rust_name: "run_id".into(),
                    wire_name: "run_id".into(),
                    schema: json!({"type": "string", "format": "uuid"}),
                    required: true,
                    is_option: false,
                },
                StructField {
                    rust_name: "name".into(),
                    wire_name: "feature_name".into(),
                    schema: json!({"type": "string", "minLength": 1}),
                    required: false,
                    is_option: true,
                },
            ],
        }
    }

    #[test]
    fn schema_uses_json_names_and_shape_uses_rust_names() {
        let e = sample();
        assert_eq!(e.schema()["properties"]["feature_name"], json!({"type": "string", "minLength": 1}));
        assert_eq!(e.schema()["required"], json!(["run_id"]));
        // The shape drops string rules (no typify newtype) and makes the
        // `Option` field nullable-required (typify then yields `Option`).
        assert_eq!(e.shape()["properties"]["name"], json!({"type": ["string", "null"]}));
        assert_eq!(e.shape()["required"], json!(["run_id", "name"]));
        assert!(e.check().is_empty(), "{:?}", e.check());
    }

    #[test]
    fn checks_mirror_the_yaml_lints() {
        let mut e = sample();
        e.type_name = "ai.MyFeature.started".into();
        e.subject = Some("run/{feature_name}".into());
        e.stream_key = StreamKey::Field("runid".into());
        let problems = e.check();
        assert_eq!(problems.len(), 3, "{problems:?}");
        let text = format!("{problems:?}");
        assert!(text.contains("rename it to `ai.my_feature.started`"), "{text}");
        assert!(text.contains("`feature_name` is optional"), "{text}");
        assert!(text.contains("`stream_key` `runid` of `ai.MyFeature.started` is not a property of its data"), "{text}");
    }

    #[test]
    fn an_event_may_belong_to_no_run() {
        let mut e = sample();
        e.stream_key = StreamKey::None;
        e.fields.retain(|f| f.rust_name != "run_id");
        e.subject = None;
        assert!(e.check().is_empty(), "{:?}", e.check());
        assert_eq!(e.to_ir().stream_key, None);
        assert_eq!(sample().to_ir().stream_key.as_deref(), Some("run_id"));
        let wire = crate::rust_front::event_from_json(&crate::rust_front::event_to_json(&e.to_ir())).unwrap();
        assert_eq!(wire.stream_key, None);
    }

    #[test]
    fn impls_compile_to_tokens_with_the_shared_walker() {
        let tokens = sample().emit_validate(&quote!(MyFeatureStarted), &EmitOptions::default()).unwrap().to_string();
        assert!(tokens.contains("impl :: herald :: Validate for MyFeatureStarted"), "{tokens}");
        // The minLength of the renamed field is checked on the Rust field,
        // under its JSON name.
        assert!(tokens.contains("__p . push (\"feature_name\")"), "{tokens}");
        assert!(tokens.contains("self . name"), "{tokens}");
        assert!(tokens.contains("min_length"), "{tokens}");
    }

    #[test]
    fn the_event_data_impl_is_the_one_generated_types_get() {
        // A YAML event with the struct's IR gets its `EventData` impl from
        // `emit_catalog`; the struct's impl must be that same impl.
        let mut event = sample().to_ir();
        event.data = DataSource::Generated;
        let mut catalog = crate::ir::Catalog::new("t.yaml", "ai");
        catalog.events.push(event.clone());
        let generated = emit::emit_catalog(&catalog, &EmitOptions::default()).unwrap().to_string();
        let struct_impls = emit::emit_event_data(&quote!(MyfeatureStarted), &sample().to_ir(), &EmitOptions::default()).to_string();
        let impl_of =
            |code: &str| code.find("impl :: herald :: EventData").map(|at| code[at..].split('}').next().unwrap_or_default().to_string());
        assert!(impl_of(&generated).is_some(), "{generated}");
        assert_eq!(impl_of(&struct_impls), impl_of(&generated));
    }
}
