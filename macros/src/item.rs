//! The item a Herald attribute returns: the user's struct or enum with
//! what generated code needs (derives, hidden attributes removed), its
//! impls, and the definition chain that completes its schema.

use proc_macro2::TokenStream;
use quote::quote;

use herald_codegen::__private::emit::EmitOptions;
use herald_codegen::Diagnostics;

use crate::chain::{Chain, Kind};
use crate::ctxt::Ctxt;
use crate::symbol::HERALD;

/// A type as its attribute read it: what the definition chain carries and
/// the type's `Validate` impl.
pub(crate) struct Read {
    pub(crate) kind: Kind,
    /// The event's IR, or the data type's schema, as JSON.
    pub(crate) json: String,
    /// The user's types its fields name, as written.
    pub(crate) refs: Vec<syn::Path>,
    pub(crate) validate: Result<TokenStream, Diagnostics>,
}

/// The options of the shared emitters for the runtime at `herald`.
pub(crate) fn emit_options(herald: &syn::Path) -> EmitOptions {
    EmitOptions { herald_path: quote!(#herald).to_string().replace(' ', "") }
}

/// The item as written (minus `#[herald]`, and minus `#[serde]` when only
/// our derives would have read it), returned on error so that the errors
/// are ours alone, not a cascade from half-added attributes.
pub(crate) fn as_written(item: &syn::Item) -> syn::Item {
    let mut original = item.clone();
    strip_herald_attrs(&mut original);
    if !derives_serde(&original) {
        strip_serde_attrs(&mut original);
    }
    original
}

/// The errors so far and the item as written.
pub(crate) fn refused(cx: Ctxt, original: &syn::Item) -> TokenStream {
    let err = cx.check().err().map(|e| e.to_compile_error());
    quote!(#err #original)
}

/// The end of `#[cloud_event]` and `#[herald::data]` once the type is
/// read: every error, or the item with what generated code needs.
pub(crate) fn finish(cx: Ctxt, original: &syn::Item, mut item: syn::Item, herald: &syn::Path, read: Read) -> TokenStream {
    let Some(ident) = ident(&item) else { return refused(cx, original) };
    refuse_recursion(&cx, &ident, &read.refs);
    let validate = read.validate.unwrap_or_else(|diags| {
        cx.error_spanned_by(&ident, format!("cannot generate validation for `{ident}`: {diags}"));
        TokenStream::new()
    });
    if let Err(e) = cx.check() {
        let err = e.to_compile_error();
        return quote!(#err #original);
    }
    let chain = Chain::new(herald.clone(), read.kind, ident, read.json, read.refs);
    strip_herald_attrs(&mut item);
    emit(item, validate, chain, herald)
}

/// The name of a struct or enum.
pub(crate) fn ident(item: &syn::Item) -> Option<syn::Ident> {
    match item {
        syn::Item::Struct(s) => Some(s.ident.clone()),
        syn::Item::Enum(e) => Some(e.ident.clone()),
        _ => None,
    }
}

/// `item` with `validate` (its `Validate` impl, which calls that of every
/// type its fields name, through `Data`) and the chain, which emits what
/// needs the definitions of those types.
fn emit(mut item: syn::Item, validate: TokenStream, chain: Chain, herald: &syn::Path) -> TokenStream {
    add_derives(&mut item, herald);
    let Some(ident) = ident(&item) else { return quote!(#item) };
    let chain = chain.next().unwrap_or_else(syn::Error::into_compile_error);
    quote! {
        #item

        #[automatically_derived]
        impl #herald::__private::Data for #ident {}

        #validate

        #chain
    }
}

/// A type whose fields name the type itself: its definition would need
/// its own, which the chain cannot hand it.
fn refuse_recursion(cx: &Ctxt, ident: &syn::Ident, refs: &[syn::Path]) {
    for path in refs.iter().filter(|p| p.segments.last().is_some_and(|s| s.ident == *ident || s.ident == "Self")) {
        cx.error_spanned_by(
            path,
            format!("`{ident}` holds a `{ident}`: recursive types are not supported on the struct route; declare the recursive type in events.yaml (`$defs`)"),
        );
    }
}

/// The attribute lists of every field of the item (and of every variant,
/// for an enum), to strip helper attributes from.
fn field_attrs(item: &mut syn::Item) -> Vec<&mut Vec<syn::Attribute>> {
    match item {
        syn::Item::Struct(s) => s.fields.iter_mut().map(|f| &mut f.attrs).collect(),
        syn::Item::Enum(e) => {
            e.variants.iter_mut().flat_map(|v| std::iter::once(&mut v.attrs).chain(v.fields.iter_mut().map(|f| &mut f.attrs))).collect()
        }
        _ => Vec::new(),
    }
}

fn item_attrs(item: &mut syn::Item) -> Option<&mut Vec<syn::Attribute>> {
    match item {
        syn::Item::Struct(s) => Some(&mut s.attrs),
        syn::Item::Enum(e) => Some(&mut e.attrs),
        _ => None,
    }
}

/// `#[herald(...)]` is ours alone: an attribute macro cannot declare helper
/// attributes, so it must not reach the compiler.
fn strip_herald_attrs(item: &mut syn::Item) {
    for attrs in field_attrs(item) {
        attrs.retain(|a| !a.path().is_ident(HERALD));
    }
}

/// Whether the user derives serde's traits on the item themselves.
fn derives_serde(item: &syn::Item) -> bool {
    let attrs = match item {
        syn::Item::Struct(s) => &s.attrs,
        syn::Item::Enum(e) => &e.attrs,
        _ => return false,
    };
    attrs.iter().filter(|a| a.path().is_ident("derive")).any(|a| {
        let mut found = false;
        let _ = a.parse_nested_meta(|meta| {
            found |= meta.path.segments.last().is_some_and(|s| s.ident == "Serialize" || s.ident == "Deserialize");
            Ok(())
        });
        found
    })
}

/// `#[serde]` on an item that nothing derives serde for is an error of
/// its own ("cannot find attribute `serde`").
fn strip_serde_attrs(item: &mut syn::Item) {
    if let Some(attrs) = item_attrs(item) {
        attrs.retain(|a| !a.path().is_ident("serde"));
    }
    for attrs in field_attrs(item) {
        attrs.retain(|a| !a.path().is_ident("serde"));
    }
}

/// Derive what generated code needs (`Debug`, `Clone`, `PartialEq` for the
/// `Event` enum, serde for decoding) unless the user derives it already.
/// serde derives added here reach serde through Herald.
fn add_derives(item: &mut syn::Item, herald: &syn::Path) {
    let Some(attrs) = item_attrs(item) else { return };
    let mut have: Vec<String> = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("derive")) {
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
        attrs.insert(0, syn::parse_quote!(#[derive(#(#derives),*)]));
    }
    let has_crate = attrs.iter().any(|a| a.path().is_ident("serde") && quote::ToTokens::to_token_stream(a).to_string().contains("crate"));
    if serde_added && !has_crate {
        let krate = format!("{}::__private::serde", quote!(#herald).to_string().replace(' ', ""));
        attrs.push(syn::parse_quote!(#[serde(crate = #krate)]));
    }
}
