//! `include_events!("events.yaml")`: the build.rs path as a macro.
//!
//! The file is resolved against `CARGO_MANIFEST_DIR`, run through the same
//! loader, lints and emitters as `herald_codegen::Config`, and tracked with
//! `include_bytes!` so editing it rebuilds the crate (stable Rust has no
//! `proc_macro::tracked_path`).

use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::quote;

use herald_codegen::__private::emit::{self, EmitOptions};
use herald_codegen::__private::ir::Catalog;
use herald_codegen::Diagnostics;

/// `"events.yaml"` or `"events.yaml", crate = "::my_sdk::herald"`.
pub(crate) struct IncludeArgs {
    pub(crate) path: syn::LitStr,
    pub(crate) krate: Option<syn::LitStr>,
}

impl syn::parse::Parse for IncludeArgs {
    fn parse(input: syn::parse::ParseStream<'_>) -> syn::Result<Self> {
        if !input.peek(syn::LitStr) {
            return Err(input.error("expected the catalog path, e.g. `include_events!(\"events.yaml\")`"));
        }
        let path = input.parse()?;
        let mut krate = None;
        if input.parse::<Option<syn::Token![,]>>()?.is_some() && !input.is_empty() {
            let key: syn::Ident = input.call(syn::ext::IdentExt::parse_any)?;
            if key != "crate" {
                return Err(syn::Error::new_spanned(key, "unknown include_events argument; expected `crate = \"…\"`"));
            }
            input.parse::<syn::Token![=]>()?;
            krate = Some(input.parse()?);
            input.parse::<Option<syn::Token![,]>>()?;
        }
        Ok(IncludeArgs { path, krate })
    }
}

pub(crate) fn expand_include_events(input: TokenStream) -> syn::Result<TokenStream> {
    let args: IncludeArgs = syn::parse2(input)?;
    let herald_path = args.krate.as_ref().map_or_else(|| "::herald".to_string(), syn::LitStr::value);
    let (catalog, tracker) = load(&args.path)?;
    let opts = EmitOptions { herald_path };
    let tokens = emit::emit_catalog(&catalog, &opts).map_err(|d| diagnostics_error(&args.path, &d))?;
    Ok(quote! { #tokens #tracker })
}

/// Load and lint the catalog at `lit` (relative to `CARGO_MANIFEST_DIR`).
/// Also returns the `include_bytes!` that makes Cargo rebuild when the
/// file changes.
pub(crate) fn load(lit: &syn::LitStr) -> syn::Result<(Catalog, TokenStream)> {
    let rel = lit.value();
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_default();
    let full = dir.join(&rel);
    let text = std::fs::read_to_string(&full).map_err(|e| {
        syn::Error::new(
            lit.span(),
            format!("cannot read the catalog `{rel}`: {e}; the path is relative to the crate root (`CARGO_MANIFEST_DIR`)"),
        )
    })?;
    // Diagnostics name the file as the user wrote it, not its absolute path.
    let catalog = herald_codegen::__private::catalog::parse(&rel, &text).map_err(|d| diagnostics_error(lit, &d))?;
    let abs = full.to_string_lossy().into_owned();
    let tracker = quote! { const _: &[u8] = ::core::include_bytes!(#abs); };
    Ok((catalog, tracker))
}

/// One compile error per diagnostic, all at the path literal.
pub(crate) fn diagnostics_error(lit: &syn::LitStr, diags: &Diagnostics) -> syn::Error {
    let mut errors = diags.0.iter().map(|d| syn::Error::new(lit.span(), d.to_string()));
    let mut first = errors.next().unwrap_or_else(|| syn::Error::new(lit.span(), "the catalog could not be compiled"));
    for e in errors {
        first.combine(e);
    }
    first
}
