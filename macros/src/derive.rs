//! `#[cloud_event("…")]`: a struct → [`StructEvent`] (the IR's input), and
//! the struct back out with its `EventData` and `Validate` impls.
//!
//! Besides the impls, the expansion leaves a hidden `macro_rules!` next to
//! the struct that hands the event's IR (as JSON text) to `registry!`: a
//! proc macro cannot read other items, so this is how the registry learns
//! the type, version and schema that were declared here and nowhere else.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use serde_json::Value;

use herald_codegen::__private::emit::EmitOptions;
use herald_codegen::__private::rust_front::types::{StrictFormat, field_schema};
use herald_codegen::__private::rust_front::{StructEvent, StructField, StructProblem, event_to_json};

use crate::attr::{self, CloudEventArgs};
use crate::ctxt::Ctxt;
use crate::symbol::HERALD;

/// The hidden macro `#[cloud_event]` defines for a struct named `ident`.
pub(crate) fn registry_macro_name(ident: &syn::Ident) -> syn::Ident {
    format_ident!("__herald_event_{}", ident, span = ident.span())
}

pub(crate) fn expand_cloud_event(args: TokenStream, input: TokenStream) -> TokenStream {
    let item: syn::Item = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(e) => {
            let err = e.to_compile_error();
            return quote!(#err #input);
        }
    };
    let cx = Ctxt::new();
    let args = CloudEventArgs::from_tokens(&cx, args);
    let mut item = match item {
        syn::Item::Struct(s) => s,
        syn::Item::Enum(e) => {
            cx.error_spanned_by(
                e.enum_token,
                "`#[cloud_event]` goes on a struct with named fields, not an enum: declare one struct per event type",
            );
            return finish(cx, quote!(#e));
        }
        other => {
            cx.error_at(
                Span::call_site(),
                "`#[cloud_event]` goes on a struct with named fields (`pub struct RunStarted { pub run_id: Uuid }`)",
            );
            return finish(cx, quote!(#other));
        }
    };
    let herald: syn::Path = args.krate.clone().unwrap_or_else(|| syn::parse_quote!(::herald));
    // On error the struct is returned as written (minus `#[herald]`, and
    // minus `#[serde]` when only our derives would have read it), so the
    // errors are ours alone, not a cascade from half-added attributes.
    let mut original = item.clone();
    strip_herald_attrs(&mut original);
    if !derives_serde(&original) {
        strip_serde_attrs(&mut original);
    }
    let event = read_struct(&cx, &args, &mut item, &herald);
    strip_herald_attrs(&mut item);
    let Some(event) = event else { return finish(cx, quote!(#original)) };
    for problem in event.check() {
        let StructProblem::Attribute(msg) = problem;
        match &args.type_name {
            Some(lit) => cx.error_spanned_by(lit, msg),
            None => cx.error_spanned_by(&item.ident, msg),
        }
    }
    let ident = item.ident.clone();
    let opts = EmitOptions { herald_path: quote!(#herald).to_string().replace(' ', "") };
    let impls = match event.emit_impls(&quote!(#ident), &opts) {
        Ok(tokens) => tokens,
        Err(diags) => {
            cx.error_spanned_by(&ident, format!("cannot generate validation for `{ident}`: {diags}"));
            TokenStream::new()
        }
    };
    if let Err(e) = cx.check() {
        let err = e.to_compile_error();
        return quote!(#err #original);
    }
    add_derives(&mut item, &herald);

    let json = event_to_json(&event.to_ir());
    let macro_name = registry_macro_name(&ident);
    quote! {
        #item

        #[doc(hidden)]
        #[allow(unused_macros)]
        macro_rules! #macro_name {
            ($($__state:tt)*) => { #herald::__registry_step! { @event #json $($__state)* } };
        }
        #[doc(hidden)]
        #[allow(unused_imports)]
        pub(crate) use #macro_name;

        const _: () = {
            #impls
        };
    }
}

fn finish(cx: Ctxt, item: TokenStream) -> TokenStream {
    let err = cx.check().err().map(|e| e.to_compile_error());
    quote!(#err #item)
}

/// Read the struct into a [`StructEvent`], reporting every problem; also
/// adds the serde attributes that make the wire shape match the schema.
fn read_struct(cx: &Ctxt, args: &CloudEventArgs, item: &mut syn::ItemStruct, herald: &syn::Path) -> Option<StructEvent> {
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        cx.error_spanned_by(
            &item.generics,
            "`#[cloud_event]` structs cannot be generic: the registry needs one concrete data type per event type",
        );
    }
    let named = match &mut item.fields {
        syn::Fields::Named(named) => named,
        syn::Fields::Unnamed(fields) => {
            cx.error_spanned_by(
                &*fields,
                "`#[cloud_event]` needs named fields: event data is a JSON object (`pub struct RunStarted { pub run_id: Uuid }`)",
            );
            return None;
        }
        syn::Fields::Unit => {
            cx.error_spanned_by(
                &item.ident,
                "`#[cloud_event]` needs named fields: event data is a JSON object (`pub struct RunStarted { pub run_id: Uuid }`)",
            );
            return None;
        }
    };
    let container = attr::serde_container(cx, &item.attrs);
    let description = attr::doc_text(&item.attrs);
    if description.is_empty() {
        cx.error_spanned_by(
            &item.ident,
            format!("add a doc comment to `{}`: it becomes the event's description, as `description:` does in events.yaml", item.ident),
        );
    }
    let herald_text = quote!(#herald).to_string().replace(' ', "");

    let mut fields = Vec::new();
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
        let defaulted = !ts.optional && (serde.default || container.default);
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
        let wire_name = match (&serde.rename, &container.rename_all) {
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
            required: !ts.optional && !serde.default && !container.default,
            is_option: ts.optional,
        });
    }

    let type_name = args.type_name.as_ref()?.value();
    Some(StructEvent {
        ident: item.ident.to_string(),
        type_name,
        description,
        version: args.version.unwrap_or(1),
        subject: args.subject.clone(),
        stream_key: args.stream_key.clone(),
        deny_unknown_fields: container.deny_unknown_fields,
        fields,
    })
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
        _ => "any JSON value",
    }
}

/// `#[herald(...)]` is ours alone: an attribute macro cannot declare helper
/// attributes, so it must not reach the compiler.
fn strip_herald_attrs(item: &mut syn::ItemStruct) {
    for field in item.fields.iter_mut() {
        field.attrs.retain(|a| !a.path().is_ident(HERALD));
    }
}

/// Whether the user derives serde's traits on the struct themselves.
fn derives_serde(item: &syn::ItemStruct) -> bool {
    item.attrs.iter().filter(|a| a.path().is_ident("derive")).any(|a| {
        let mut found = false;
        let _ = a.parse_nested_meta(|meta| {
            found |= meta.path.segments.last().is_some_and(|s| s.ident == "Serialize" || s.ident == "Deserialize");
            Ok(())
        });
        found
    })
}

/// `#[serde]` on a struct that nothing derives serde for is an error of
/// its own ("cannot find attribute `serde`").
fn strip_serde_attrs(item: &mut syn::ItemStruct) {
    item.attrs.retain(|a| !a.path().is_ident("serde"));
    for field in item.fields.iter_mut() {
        field.attrs.retain(|a| !a.path().is_ident("serde"));
    }
}

/// Derive what generated code needs (`Debug`, `Clone`, `PartialEq` for the
/// `Event` enum, serde for decoding) unless the user derives it already.
/// serde derives added here reach serde through Herald.
fn add_derives(item: &mut syn::ItemStruct, herald: &syn::Path) {
    let mut have: Vec<String> = Vec::new();
    for attr in item.attrs.iter().filter(|a| a.path().is_ident("derive")) {
        let _ = attr.parse_nested_meta(|meta| {
            if let Some(last) = meta.path.segments.last() {
                have.push(last.ident.to_string());
            }
            Ok(())
        });
    }
    let has = |name: &str| have.iter().any(|h| h == name);
    let mut derives: Vec<TokenStream> = Vec::new();
    if !has("Debug") {
        derives.push(quote!(::core::fmt::Debug));
    }
    if !has("Clone") {
        derives.push(quote!(::core::clone::Clone));
    }
    if !has("PartialEq") {
        derives.push(quote!(::core::cmp::PartialEq));
    }
    let mut serde_added = false;
    if !has("Serialize") {
        derives.push(quote!(#herald::__private::serde::Serialize));
        serde_added = true;
    }
    if !has("Deserialize") {
        derives.push(quote!(#herald::__private::serde::Deserialize));
        serde_added = true;
    }
    if !derives.is_empty() {
        item.attrs.insert(0, syn::parse_quote!(#[derive(#(#derives),*)]));
    }
    let has_crate =
        item.attrs.iter().any(|a| a.path().is_ident("serde") && quote::ToTokens::to_token_stream(a).to_string().contains("crate"));
    if serde_added && !has_crate {
        let krate = format!("{}::__private::serde", quote!(#herald).to_string().replace(' ', ""));
        item.attrs.push(syn::parse_quote!(#[serde(crate = #krate)]));
    }
}
