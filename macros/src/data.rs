//! `#[herald::data]`: a struct or enum that events' fields may name, read
//! into a [`DataType`] (a named definition of the IR) and given back with
//! its `Validate` impl and the macro that hands its definition on
//! ([`crate::chain`]).

use proc_macro2::{Span, TokenStream};
use quote::quote;

use herald_codegen::__private::rust_front::{DataShape, DataType, Variant};

use crate::attr::{self, SerdeContainer};
use crate::chain::Kind;
use crate::ctxt::Ctxt;
use crate::fields;
use crate::item;
use crate::symbol::CRATE;

/// What enums Herald reads, for every refusal.
const ENUMS: &str = "Herald supports enums of unit variants (a string enum) and internally tagged enums, `#[serde(tag = \"kind\")]`, whose variants are unit or have named fields (a tagged union)";

pub(crate) fn expand_data(args: TokenStream, input: TokenStream) -> TokenStream {
    let item: syn::Item = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(e) => {
            let err = e.to_compile_error();
            return quote!(#err #input);
        }
    };
    let cx = Ctxt::new();
    let herald = crate_arg(&cx, args);
    let original = item::as_written(&item);
    let mut item = item;
    let read = match &mut item {
        syn::Item::Struct(s) => read_struct(&cx, s, &herald),
        syn::Item::Enum(e) => read_enum(&cx, e, &herald),
        _ => {
            cx.error_at(Span::call_site(), "`#[herald::data]` goes on a struct with named fields or an enum");
            None
        }
    };
    let (Some((data, refs)), Some(ident)) = (read, item::ident(&item)) else { return item::refused(cx, &original) };
    for problem in data.check() {
        cx.error_spanned_by(&ident, problem);
    }
    let read = item::Read {
        kind: Kind::Data,
        json: data.schema().to_string(),
        refs,
        validate: data.emit_validate(&quote!(#ident), &item::emit_options(&herald)),
    };
    item::finish(cx, &original, item, &herald, read)
}

/// `#[herald::data]` or `#[herald::data(crate = "::my_sdk::herald")]`.
fn crate_arg(cx: &Ctxt, args: TokenStream) -> syn::Path {
    let mut herald: syn::Path = syn::parse_quote!(::herald);
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident(CRATE) {
            let lit: syn::LitStr = meta.value()?.parse()?;
            herald = lit.parse().map_err(|_| syn::Error::new_spanned(&lit, "`crate` must be a path such as `::my_sdk::herald`"))?;
            Ok(())
        } else {
            Err(meta.error("unknown `herald::data` argument; expected `crate = \"…\"`"))
        }
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, args) {
        cx.syn_error(e);
    }
    herald
}

fn no_generics(cx: &Ctxt, generics: &syn::Generics) {
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        cx.error_spanned_by(generics, "`#[herald::data]` types cannot be generic: each is one named definition of the schema");
    }
}

fn read_struct(cx: &Ctxt, item: &mut syn::ItemStruct, herald: &syn::Path) -> Option<(DataType, Vec<syn::Path>)> {
    no_generics(cx, &item.generics);
    let syn::Fields::Named(named) = &mut item.fields else {
        cx.error_spanned_by(
            &item.ident,
            "`#[herald::data]` needs named fields: a struct is a JSON object (`pub struct Detail { pub level: u8 }`)",
        );
        return None;
    };
    let container = attr::serde_container(cx, &item.attrs, false);
    let (fields, refs) = fields::read_fields(cx, named, container.rename_all.as_deref(), container.default, herald);
    let shape = DataShape::Struct { deny_unknown_fields: container.deny_unknown_fields, fields };
    Some((DataType { ident: item.ident.to_string(), description: attr::doc_text(&item.attrs), shape }, refs))
}

fn read_enum(cx: &Ctxt, item: &mut syn::ItemEnum, herald: &syn::Path) -> Option<(DataType, Vec<syn::Path>)> {
    no_generics(cx, &item.generics);
    let container: SerdeContainer = attr::serde_container(cx, &item.attrs, true);
    if let Some(span) = container.untagged {
        cx.error_at(span, format!("untagged enums are not supported: nothing on the wire says which variant a value is; {ENUMS}"));
        return None;
    }
    if let (Some(span), Some(_)) = (container.content, &container.tag) {
        cx.error_at(span, format!("adjacently tagged enums (`tag` with `content`) are not supported; {ENUMS}"));
        return None;
    }
    if item.variants.is_empty() {
        cx.error_spanned_by(&item.ident, format!("an enum without variants has no values; {ENUMS}"));
        return None;
    }
    let wire = |v: &syn::Variant, serde: &attr::SerdeVariant| match (&serde.rename, &container.rename_all) {
        (Some(name), _) => name.clone(),
        (None, Some(rule)) => attr::variant_rename_rule(rule, &v.ident.to_string()).unwrap_or_else(|| v.ident.to_string()),
        (None, None) => v.ident.to_string(),
    };
    let description = attr::doc_text(&item.attrs);
    let ident = item.ident.to_string();
    let Some((tag, _)) = container.tag.clone() else {
        // Externally tagged: only unit variants (a string enum) have a
        // schema Herald reads.
        let mut values = Vec::new();
        let mut failed = false;
        for v in &item.variants {
            let serde = attr::serde_variant(cx, &v.attrs);
            if !matches!(v.fields, syn::Fields::Unit) {
                cx.error_spanned_by(
                    &v.ident,
                    format!(
                        "variant `{}` carries data, so `{ident}` needs `#[serde(tag = \"…\")]` to name its variant on the wire; {ENUMS}",
                        v.ident
                    ),
                );
                failed = true;
                continue;
            }
            values.push(wire(v, &serde));
        }
        // A refused variant is the one error: the rest would be about a
        // type that is not the user's.
        return (!failed).then_some((DataType { ident, description, shape: DataShape::StringEnum(values) }, Vec::new()));
    };
    let mut variants = Vec::new();
    let mut refs = Vec::new();
    let mut failed = false;
    for v in item.variants.iter_mut() {
        let serde = attr::serde_variant(cx, &v.attrs);
        let wire_name = wire(v, &serde);
        let fields = match &mut v.fields {
            syn::Fields::Unit => Vec::new(),
            syn::Fields::Named(named) => {
                let rename_all = serde.rename_all.as_deref().or(container.rename_all_fields.as_deref());
                let (fields, more) = fields::read_fields(cx, named, rename_all, false, herald);
                refs.extend(more);
                fields
            }
            syn::Fields::Unnamed(fields) => {
                cx.error_spanned_by(
                    &*fields,
                    format!("tuple variants are not supported: give the fields names (`{} {{ … }}`); {ENUMS}", v.ident),
                );
                failed = true;
                continue;
            }
        };
        variants.push(Variant {
            rust_name: v.ident.to_string(),
            wire_name,
            description: attr::doc_text(&v.attrs),
            deny_unknown_fields: container.deny_unknown_fields,
            fields,
        });
    }
    (!failed).then_some((DataType { ident, description, shape: DataShape::Union { tag, variants } }, refs))
}
