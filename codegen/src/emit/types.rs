//! typify's data types, made to reach their dependencies through Herald.
//!
//! typify emits `::serde::…`, `::serde_json::…`, `::regress::…` and
//! `herald::types::…` paths. A user's crate depends on Herald only, so each
//! such path is rewritten to `{herald}::__private::…` (or `{herald}::types`)
//! and every serde derive gets `#[serde(crate = "…")]`.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::visit_mut::{self, VisitMut};

use super::EmitOptions;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::schema::GeneratedTypes;

/// Crates typify may name that Herald re-exports from `__private`.
const PRIVATE_CRATES: &[&str] = &["serde", "serde_json", "regress", "uuid", "chrono"];

pub(super) fn emit_data_types(generated: &GeneratedTypes, opts: &EmitOptions) -> Result<TokenStream, Diagnostics> {
    let tokens = generated.space.to_stream();
    let mut file: syn::File = syn::parse2(tokens).map_err(|e| {
        Diagnostics(vec![Diagnostic::new("<typify>", 0, 0, format!("typify produced unparsable code: {e}"))])
    })?;
    let herald: syn::Path = syn::parse_str(&opts.herald_path).unwrap_or_else(|_| syn::parse_quote!(::herald));
    let mut rewriter = Rewriter { herald };
    rewriter.visit_file_mut(&mut file);
    Ok(file.into_token_stream())
}

struct Rewriter {
    herald: syn::Path,
}

impl Rewriter {
    fn rewrite(&self, path: &mut syn::Path) {
        let Some(first) = path.segments.first() else { return };
        let first = first.ident.to_string();
        let rest: Vec<syn::PathSegment> = path.segments.iter().skip(1).cloned().collect();
        let mut new: syn::Path = self.herald.clone();
        if first == "herald" && path.segments.len() > 1 {
            // `herald::types::Uuid` from the x-rust-type extension.
        } else if PRIVATE_CRATES.contains(&first.as_str()) && path.leading_colon.is_some() {
            new.segments.push(syn::parse_quote!(__private));
            new.segments.push(path.segments[0].clone());
        } else {
            return;
        }
        new.segments.extend(rest);
        *path = new;
    }
}

impl VisitMut for Rewriter {
    /// Paths hidden in strings, such as
    /// `#[serde(skip_serializing_if = "::serde_json::Map::is_empty")]`.
    /// Paths inside attribute tokens, which syn does not parse: derive
    /// lists (`#[derive(::serde::Deserialize)]`) and paths hidden in
    /// strings (`#[serde(skip_serializing_if = "::serde_json::Map::is_empty")]`).
    fn visit_attribute_mut(&mut self, attr: &mut syn::Attribute) {
        if attr.path().is_ident("serde") || attr.path().is_ident("derive") {
            if let syn::Meta::List(list) = &mut attr.meta {
                let herald = self.herald.to_token_stream().to_string().replace(' ', "");
                let mut text = list.tokens.to_string();
                for krate in PRIVATE_CRATES {
                    text = text
                        .replace(&format!("\"::{krate}::"), &format!("\"{herald}::__private::{krate}::"))
                        .replace(&format!(":: {krate} ::"), &format!("{herald}::__private::{krate}::"));
                }
                if let Ok(tokens) = text.parse() {
                    list.tokens = tokens;
                }
            }
        }
        visit_mut::visit_attribute_mut(self, attr);
    }

    fn visit_path_mut(&mut self, path: &mut syn::Path) {
        self.rewrite(path);
        visit_mut::visit_path_mut(self, path);
    }

    fn visit_item_mut(&mut self, item: &mut syn::Item) {
        let attrs = match item {
            syn::Item::Struct(s) => Some(&mut s.attrs),
            syn::Item::Enum(e) => Some(&mut e.attrs),
            _ => None,
        };
        if let Some(attrs) = attrs {
            let derives_serde = attrs.iter().any(|a| {
                a.path().is_ident("derive") && a.to_token_stream().to_string().contains("serde")
            });
            if derives_serde {
                let krate = format!("{}::__private::serde", self.herald.to_token_stream()).replace(' ', "");
                attrs.push(syn::parse_quote!(#[serde(crate = #krate)]));
            }
        }
        visit_mut::visit_item_mut(self, item);
    }
}
