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
        }
    }
}
