//! `#[herald::data]` types: the structs and enums an event's fields name.
//!
//! Each is a named definition (`$defs/Detail`) that fields refer to with
//! `$ref`, as `$defs` are in events.yaml: a struct is an object, an enum of
//! unit variants a string `enum`, and an internally tagged enum
//! (`#[serde(tag = "kind")]`) a tagged union — the `oneOf` that
//! `tagged.rs` reads for YAML, so validation, exports and
//! compatibility treat both routes' unions alike.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use serde_json::{Value, json};

use super::{StructField, object};
use crate::diagnostic::Diagnostics;
use crate::emit::{self, EmitOptions, ExternalNames};
use crate::ir::{DataSource, EventType, Origin};

/// A struct or enum declared with `#[herald::data]`, as the macro read it.
#[derive(Debug, Clone, PartialEq)]
pub struct DataType {
    /// The type's name: its definition's name in `$defs`.
    pub ident: String,
    /// From the type's doc comment (may be empty).
    pub description: String,
    /// What it is on the wire.
    pub shape: DataShape,
}

/// The wire shape of a [`DataType`].
#[derive(Debug, Clone, PartialEq)]
pub enum DataShape {
    /// A struct with named fields: a JSON object.
    Struct {
        /// `#[serde(deny_unknown_fields)]`: `additionalProperties: false`.
        deny_unknown_fields: bool,
        /// Fields in declaration order (skipped fields left out).
        fields: Vec<StructField>,
    },
    /// An enum of unit variants: one of these strings (the variants' JSON
    /// names, in declaration order).
    StringEnum(Vec<String>),
    /// An enum with `#[serde(tag = "…")]`: an object whose `tag` property
    /// names its variant.
    Union {
        /// The tag property's JSON name.
        tag: String,
        /// The variants, in declaration order.
        variants: Vec<Variant>,
    },
}

/// One variant of a tagged union.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// The Rust variant name.
    pub rust_name: String,
    /// The tag's value for it (after `rename` / `rename_all`).
    pub wire_name: String,
    /// From the variant's doc comment (may be empty).
    pub description: String,
    /// `#[serde(deny_unknown_fields)]` on the enum.
    pub deny_unknown_fields: bool,
    /// Its fields (none for a unit variant).
    pub fields: Vec<StructField>,
}

impl DataType {
    /// The definition's JSON Schema, keyed by JSON names.
    pub fn schema(&self) -> Value {
        let mut schema = match &self.shape {
            DataShape::Struct { deny_unknown_fields, fields } => object::schema(fields, *deny_unknown_fields),
            DataShape::StringEnum(values) => json!({"type": "string", "enum": values}),
            DataShape::Union { tag, variants } => {
                json!({"oneOf": variants.iter().map(|v| branch(tag, v, object::schema(&v.fields, v.deny_unknown_fields), true)).collect::<Vec<_>>()})
            }
        };
        if !self.description.is_empty() {
            schema["description"] = Value::String(self.description.clone());
        }
        schema
    }

    /// The schema typify types the user's type by ([`object::shape`]).
    fn shape(&self) -> Value {
        match &self.shape {
            DataShape::Struct { deny_unknown_fields, fields } => object::shape(fields, *deny_unknown_fields),
            DataShape::StringEnum(values) => json!({"type": "string", "enum": values}),
            DataShape::Union { tag, variants } => {
                json!({"oneOf": variants.iter().map(|v| branch(tag, v, object::shape(&v.fields, v.deny_unknown_fields), false)).collect::<Vec<_>>()})
            }
        }
    }

    /// What is wrong with the declaration, in words (the macro reports
    /// each at the type).
    pub fn check(&self) -> Vec<String> {
        let DataShape::Union { tag, variants } = &self.shape else { return Vec::new() };
        // The rules YAML unions are held to, on the union this enum is.
        let at = |_: &str| format!("`{}`", self.ident);
        let mut problems: Vec<String> =
            crate::tagged::problems(&self.schema(), &at).into_iter().map(|p| format!("{}; {}", p.message, p.help)).collect();
        let mut renames: BTreeMap<&str, &str> = BTreeMap::new();
        for v in variants {
            if let Some(f) = v.fields.iter().find(|f| f.wire_name == *tag) {
                problems.push(format!(
                    "field `{}` of variant `{}` is named `{tag}` on the wire, which is the tag of `{}`; rename the field or the tag",
                    f.rust_name, v.rust_name, self.ident
                ));
            }
            for f in &v.fields {
                match renames.insert(&f.rust_name, &f.wire_name) {
                    Some(other) if other != f.wire_name => problems.push(format!(
                        "field `{}` has the JSON name `{other}` in one variant of `{}` and `{}` in another; give it one name",
                        f.rust_name, self.ident, f.wire_name
                    )),
                    _ => {}
                }
            }
        }
        problems
    }

    /// `Validate` for the type `ty`: the walk YAML definitions get, over
    /// its schema and typify's type for its shape. Every data type has the
    /// impl, empty when it has no rules, since the types that hold it call
    /// it without knowing.
    pub fn emit_validate(&self, ty: &TokenStream, opts: &EmitOptions) -> Result<TokenStream, Diagnostics> {
        let shadow = EventType {
            type_name: format!("data.{}", self.ident),
            description: self.description.clone(),
            version: 1,
            subject: None,
            stream_key: None,
            schema: self.schema(),
            examples: Vec::new(),
            data: DataSource::External(self.ident.clone()),
            origin: Origin::Rust { ident: self.ident.clone() },
        };
        let mut names = ExternalNames::default();
        match &self.shape {
            DataShape::Struct { fields, .. } => names.fields = object::renames(fields),
            DataShape::StringEnum(_) => {}
            DataShape::Union { variants, .. } => {
                for v in variants {
                    names.fields.extend(object::renames(&v.fields));
                    names.variants.insert(v.wire_name.clone(), v.rust_name.clone());
                }
            }
        }
        emit::emit_external_validate(ty, &shadow, &self.shape(), names, opts)
    }
}

/// A union's branch: the variant's object, with the tag a required
/// constant (first, as YAML unions are written).
fn branch(tag: &str, v: &Variant, mut object: Value, described: bool) -> Value {
    object["properties"][tag] = json!({"const": v.wire_name});
    let mut required = vec![Value::String(tag.to_string())];
    required.extend(object.get("required").and_then(Value::as_array).cloned().unwrap_or_default());
    object["required"] = Value::Array(required);
    if described && !v.description.is_empty() {
        object["description"] = Value::String(v.description.clone());
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn field(name: &str, schema: Value) -> StructField {
        StructField { rust_name: name.into(), wire_name: name.into(), schema, required: true, is_option: false }
    }

    fn target() -> DataType {
        DataType {
            ident: "Target".into(),
            description: "Where the output goes.".into(),
            shape: DataShape::Union {
                tag: "kind".into(),
                variants: vec![
                    Variant {
                        rust_name: "File".into(),
                        wire_name: "file".into(),
                        description: String::new(),
                        deny_unknown_fields: false,
                        fields: vec![field("path", json!({"type": "string", "minLength": 1}))],
                    },
                    Variant {
                        rust_name: "Remote".into(),
                        wire_name: "url".into(),
                        description: String::new(),
                        deny_unknown_fields: false,
                        fields: vec![field("url", json!({"type": "string"}))],
                    },
                ],
            },
        }
    }

    #[test]
    fn a_tagged_enum_is_the_union_yaml_declares() {
        let schema = target().schema();
        let union = crate::tagged::TaggedUnion::of(&schema).expect("a tagged union");
        assert_eq!(union.tag, "kind");
        assert_eq!(union.branches.iter().map(|b| b.value).collect::<Vec<_>>(), ["file", "url"]);
        assert_eq!(schema["oneOf"][0]["required"], json!(["kind", "path"]));
        assert!(target().check().is_empty(), "{:?}", target().check());
    }

    #[test]
    fn a_unions_validate_matches_the_users_variants() {
        let tokens = target().emit_validate(&quote!(Target), &EmitOptions::default()).unwrap().to_string();
        assert!(tokens.contains("match self { Self :: File { path , } =>"), "{tokens}");
        assert!(tokens.contains("min_length"), "{tokens}");
    }

    #[test]
    fn a_field_named_like_the_tag_is_refused() {
        let mut t = target();
        let DataShape::Union { variants, .. } = &mut t.shape else { unreachable!() };
        variants[1].fields[0].wire_name = "kind".into();
        let problems = t.check();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("which is the tag of `Target`"), "{}", problems[0]);
    }
}
