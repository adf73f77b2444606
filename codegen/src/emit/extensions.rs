//! Typed accessors for the extension attributes a catalog declares.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{EmitOptions, docs};
use crate::ir::{Catalog, ExtensionKind};

pub(super) fn emit_extensions(catalog: &Catalog, opts: &EmitOptions) -> TokenStream {
    let herald = opts.herald();
    let mut decls = Vec::new();
    let mut impls = Vec::new();
    for x in &catalog.extensions {
        let method = if x.name.starts_with(|c: char| c.is_ascii_digit()) || crate::ident::is_keyword(&x.name) {
            format_ident!("ext_{}", x.name)
        } else {
            format_ident!("{}", x.name)
        };
        let name = &x.name;
        let description = if x.description.is_empty() {
            format!("The `{}` extension attribute.", x.name)
        } else {
            format!("{}\n\nThe `{}` extension attribute; `None` when absent or not of its declared type.", x.description, x.name)
        };
        let doc = docs::doc(&description);
        let (ret, body) = match x.kind {
            ExtensionKind::String => (quote!(::core::option::Option<&str>), quote!(__v.as_str())),
            ExtensionKind::Integer if catalog.envelope.is_int64(&x.name) => (quote!(::core::option::Option<i64>), quote!(__v.as_i64())),
            ExtensionKind::Integer => (quote!(::core::option::Option<i32>), quote!(__v.as_i32())),
            ExtensionKind::Boolean => (quote!(::core::option::Option<bool>), quote!(__v.as_bool())),
        };
        decls.push(quote! { #doc fn #method(&self) -> #ret; });
        impls.push(quote! {
            fn #method(&self) -> #ret {
                self.extension(#name).and_then(|__v| #body)
            }
        });
    }
    quote! {
        /// Typed access to the extension attributes this catalog declares.
        pub trait EnvelopeExt {
            #(#decls)*
        }

        #[automatically_derived]
        impl EnvelopeExt for #herald::Envelope<'_> {
            #(#impls)*
        }
    }
}
