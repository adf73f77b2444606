//! The fields of a struct (or of an enum's struct variant) → [`StructField`]s:
//! one reading for `#[cloud_event]` and `#[herald::data]`, with Herald's
//! constraint attributes, serde's renames and defaults, and doc comments.

use proc_macro2::TokenStream;
use quote::quote;
use serde_json::Value;

use herald_codegen::__private::rust_front::StructField;
use herald_codegen::__private::rust_front::types::{StrictFormat, field_schema};

use crate::attr;
use crate::ctxt::Ctxt;

/// Read `named`, reporting every problem, and add the serde attributes
/// that make the wire shape match the schema. `rename_all` and
/// `container_default` are the struct's (or variant's) serde attributes.
/// Also returns the user's types the fields name (`$ref`s), as written.
pub(crate) fn read_fields(
    cx: &Ctxt,
    named: &mut syn::FieldsNamed,
    rename_all: Option<&str>,
    container_default: bool,
    herald: &syn::Path,
) -> (Vec<StructField>, Vec<syn::Path>) {
    let herald_text = quote!(#herald).to_string().replace(' ', "");
    let mut fields = Vec::new();
    let mut refs = Vec::new();
    for field in named.named.iter_mut() {
        let Some(ident) = field.ident.clone() else { continue };
        let rust_name = ident.to_string();
        let serde = attr::serde_field(cx, &field.attrs);
        let rules = attr::herald_rules(cx, &field.attrs);
        if serde.skip {
            continue;
        }
        if rust_name.starts_with("r#") || herald_codegen::__private::ident::field_name(&rust_name) != rust_name {
            cx.error_spanned_by(
                &ident,
                format!("field `{rust_name}` must be a snake_case name that is not a keyword; name the JSON property with `#[serde(rename = \"…\")]`"),
            );
            continue;
        }
        let ts = match field_schema(&field.ty) {
            Ok(ts) => ts,
            Err(e) => {
                cx.syn_error(e);
                continue;
            }
        };
        refs.extend(ts.refs.iter().cloned());
        let mut schema = ts.schema.as_object().cloned().unwrap_or_default();
        let kind = json_kind(&ts.schema);
        for rule in &rules {
            let fits = match rule.applies_to {
                "number" => matches!(kind, "number" | "integer"),
                other => kind == other,
            };
            if fits {
                attr::apply(&mut schema, rule);
            } else {
                cx.error_at(
                    rule.span,
                    format!("`{}` applies to {}, but `{rust_name}` is {}", rule.key, plural(rule.applies_to), describe(kind)),
                );
            }
        }
        crossed_bounds(cx, &schema, &rules, &rust_name);
        let defaulted = !ts.optional && (serde.default || container_default);
        if defaulted && herald_codegen::__private::schema::empty_is_invalid(&Value::Object(schema.clone())) {
            cx.error_spanned_by(
                &field.ty,
                format!(
                    "`{rust_name}` defaults to empty when absent, which its minimum then refuses, so an event without it would be rejected; make it an `Option<…>` (absent or at least the minimum), or drop `#[serde(default)]` to make it required"
                ),
            );
        }
        let doc = attr::doc_text(&field.attrs);
        if !doc.is_empty() {
            schema.insert("description".into(), Value::String(doc));
        }
        let wire_name = match (&serde.rename, rename_all) {
            (Some(name), _) => name.clone(),
            (None, Some(rule)) => attr::rename_rule(rule, &rust_name).unwrap_or_else(|| rust_name.clone()),
            (None, None) => rust_name.clone(),
        };

        // Make serde's wire shape the schema's: an optional property is
        // absent or a value, never `null`; loose formats parse strictly.
        let mut extra: Vec<TokenStream> = Vec::new();
        let helper = |name: &str| format!("{herald_text}::__private::{name}");
        if ts.optional {
            if !serde.default {
                extra.push(quote!(default));
            }
            let with = match ts.strict {
                Some(StrictFormat::Uuid) => helper("strict::uuid_some"),
                Some(StrictFormat::DateTime) => helper("strict::date_time_some"),
                None => helper("some_not_null"),
            };
            extra.push(quote!(deserialize_with = #with));
            if !serde.skip_serializing_if {
                extra.push(quote!(skip_serializing_if = "::core::option::Option::is_none"));
            }
        } else if let Some(strict) = ts.strict {
            let with = match strict {
                StrictFormat::Uuid => helper("strict::uuid"),
                StrictFormat::DateTime => helper("strict::date_time"),
            };
            extra.push(quote!(deserialize_with = #with));
        }
        if !extra.is_empty() {
            field.attrs.push(syn::parse_quote!(#[serde(#(#extra),*)]));
        }

        fields.push(StructField {
            rust_name,
            wire_name,
            schema: Value::Object(schema),
            required: !ts.optional && !serde.default && !container_default,
            is_option: ts.optional,
        });
    }

    (fields, refs)
}

/// A lower bound above an upper one (`range(min = 10, max = 1)`, or a
/// `minimum` above the largest value of the field's type): no value could
/// match, which is a mistake, not a rule to enforce.
fn crossed_bounds(cx: &Ctxt, schema: &serde_json::Map<String, Value>, rules: &[attr::Rule], field: &str) {
    for crossed in herald_codegen::__private::check::crossed_bounds(|keyword| schema.get(keyword).and_then(Value::as_f64)) {
        // The last rule setting a keyword wins, as in the schema.
        let rule = |keyword: &str| rules.iter().rev().find(|r| r.keyword == keyword);
        let bound = |keyword: &str, value: f64| match rule(keyword) {
            Some(r) => format!("`{}` ({value})", r.key),
            None => format!("the type's `{keyword}` ({value})"),
        };
        // Types never cross their own bounds, so one of the two is a rule.
        let Some(at) = rule(crossed.lower).or_else(|| rule(crossed.upper)) else { continue };
        cx.error_at(
            at.span,
            format!(
                "{} is greater than {} on `{field}`: no value could match; fix the bounds",
                bound(crossed.lower, crossed.low),
                bound(crossed.upper, crossed.high)
            ),
        );
    }
}

fn json_kind(schema: &Value) -> &str {
    if schema.get("$ref").is_some() {
        return "data";
    }
    schema.get("type").and_then(Value::as_str).unwrap_or("any")
}

fn plural(kind: &str) -> &'static str {
    match kind {
        "number" => "numbers",
        "string" => "strings",
        "array" => "arrays (`Vec<T>`)",
        _ => "objects (maps)",
    }
}

fn describe(kind: &str) -> &'static str {
    match kind {
        "number" => "a number",
        "integer" => "an integer",
        "string" => "a string",
        "boolean" => "a boolean",
        "array" => "an array",
        "object" => "an object",
        "data" => "a `#[herald::data]` type (put the rule on its own fields)",
        _ => "any JSON value",
    }
}
