//! The `Event` enum: one variant per event type, carrying its typed data.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{data_type_path, docs};
use crate::ir::Catalog;

pub(super) fn emit_event_enum(catalog: &Catalog) -> TokenStream {
    let variants = catalog.events.iter().map(|e| {
        let doc = docs::event_doc(e);
        let variant = format_ident!("{}", e.rust_name());
        let ty = data_type_path(e);
        quote! { #doc #variant(#ty) }
    });
    let type_arms = catalog.events.iter().map(|e| {
        let variant = format_ident!("{}", e.rust_name());
        let t = &e.type_name;
        quote! { Event::#variant(_) => #t }
    });
    // Types keyed by a field name it; the rest (`stream_key: none`)
    // share one `None` arm.
    let mut key_arms: Vec<TokenStream> = catalog
        .events
        .iter()
        .filter_map(|e| {
            let variant = format_ident!("{}", e.rust_name());
            let field = format_ident!("{}", crate::ident::field_name(e.stream_key.as_deref()?));
            Some(quote! { Event::#variant(__data) => ::core::option::Option::Some(&__data.#field) })
        })
        .collect();
    let runless: Vec<syn::Ident> =
        catalog.events.iter().filter(|e| e.stream_key.is_none()).map(|e| format_ident!("{}", e.rust_name())).collect();
    if !runless.is_empty() {
        key_arms.push(quote! { #(Event::#runless(_))|* => ::core::option::Option::None });
    }
    let stream_key_doc = quote! {
        /// The run this event belongs to: the value of the data field its
        /// type declares as `stream_key`, or `None` for a type declared
        /// `stream_key: none`.
    };
    if catalog.events.is_empty() {
        return quote! {
            /// Every event type in the catalog (the catalog is empty).
            #[derive(Debug, Clone, PartialEq)]
            pub enum Event {}

            impl Event {
                /// The CloudEvents `type` of this event.
                pub fn type_name(&self) -> &'static str {
                    match *self {}
                }

                #stream_key_doc
                pub fn stream_key(&self) -> ::core::option::Option<&dyn ::core::fmt::Display> {
                    match *self {}
                }
            }
        };
    }
    quote! {
        /// Every event type in the catalog, with its typed data.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event {
            #(#variants,)*
        }

        impl Event {
            /// The CloudEvents `type` of this event.
            pub fn type_name(&self) -> &'static str {
                match self {
                    #(#type_arms,)*
                }
            }

            #stream_key_doc
            pub fn stream_key(&self) -> ::core::option::Option<&dyn ::core::fmt::Display> {
                match self {
                    #(#key_arms,)*
                }
            }
        }
    }
}
