//! The registry: `EventData` impls for generated types and the catalog's
//! `EventCatalog` impl (a const table sorted by type, looked up by binary
//! search).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{EmitOptions, data_type_path, docs, routes};
use crate::ir::{Catalog, EventType, ExtensionKind};

/// `impl EventData for #ty`: the one form of the impl, for generated types
/// and for `#[cloud_event]` structs alike.
pub(super) fn event_data_impl(ty: &TokenStream, event: &EventType, herald: &TokenStream) -> TokenStream {
    let type_name = &event.type_name;
    let version = event.version;
    let schema = schema_text(&event.schema);
    quote! {
        #[automatically_derived]
        impl #herald::EventData for #ty {
            const TYPE: &'static str = #type_name;
            const VERSION: u32 = #version;
            const SCHEMA: &'static str = #schema;
        }
    }
}

/// The JSON Schema text stored in the registry (compact, keys sorted by
/// serde_json's map, so deterministic).
pub(crate) fn schema_text(schema: &serde_json::Value) -> String {
    serde_json::to_string(schema).unwrap_or_else(|_| "{}".to_string())
}

/// `module_of` gives the domain module of an event type (see
/// `emit/routes.rs`): its row and arm are that module's items.
/// An event's registry row, as an `EventTypeInfo` expression; `event` is
/// the path to the catalog's `Event` enum where the row is written.
pub(super) fn row(e: &EventType, event: &TokenStream, herald: &TokenStream) -> TokenStream {
    let ty = data_type_path(e);
    let variant = format_ident!("{}", e.rust_name());
    let type_name = &e.type_name;
    let version = e.version;
    let description = &e.description;
    let rust_name = e.rust_name();
    let method = e.handler_method();
    let stream_key = match &e.stream_key {
        Some(key) => quote!(::core::option::Option::Some(#key)),
        None => quote!(::core::option::Option::None),
    };
    let subject = match &e.subject {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    };
    quote! {
        #herald::EventTypeInfo {
            type_name: #type_name,
            version: #version,
            description: #description,
            schema: <#ty as #herald::EventData>::SCHEMA,
            rust_name: #rust_name,
            handler_method: #method,
            stream_key: #stream_key,
            subject: #subject,
            decode: |__bytes| #herald::registry::decode_data::<#ty>(__bytes).map(#event::#variant),
        }
    }
}

pub(super) fn emit_registry(catalog: &Catalog, opts: &EmitOptions, module_of: &dyn Fn(&str) -> String) -> TokenStream {
    let herald = opts.herald();
    let rows = catalog
        .events
        .iter()
        .map(|e| if routes::in_module(e) { routes::row_path(e, &module_of(&e.type_name)) } else { row(e, &quote!(Event), &herald) });
    // One arm per type, in the order of `TYPES` (both follow the catalog,
    // which is sorted by type), so an index from `lookup_index` is an arm.
    let data_arms = catalog.events.iter().enumerate().map(|(index, e)| {
        let index = proc_macro2::Literal::usize_unsuffixed(index);
        if routes::in_module(e) {
            let path = routes::deserialize_path(e, &module_of(&e.type_name));
            return quote! { #index => #path(__d), };
        }
        let ty = data_type_path(e);
        let variant = format_ident!("{}", e.rust_name());
        quote! {
            #index => #herald::registry::deserialize_valid::<#ty, __D>(__d)
                .map(|__r| __r.map(Event::#variant)),
        }
    });
    let legacy = catalog.envelope.legacy_extensions_object;
    let required = &catalog.envelope.required;
    let datacontenttype = match &catalog.envelope.datacontenttype {
        Some(ct) => quote!(::core::option::Option::Some(#ct)),
        None => quote!(::core::option::Option::None),
    };
    let int64 = &catalog.envelope.int64_extensions;
    let subject_check = catalog.envelope.subject_matches_template;
    let ext_checks = catalog.extensions.iter().map(|x| {
        let name = &x.name;
        let (wrong_type, expected) = match x.kind {
            ExtensionKind::String => (quote!(__v.as_str().is_none()), "a string"),
            ExtensionKind::Integer if catalog.envelope.is_int64(&x.name) => (quote!(__v.as_i64().is_none()), "a 64-bit integer"),
            ExtensionKind::Integer => (quote!(__v.as_i32().is_none()), "a 32-bit integer"),
            ExtensionKind::Boolean => (quote!(__v.as_bool().is_none()), "a boolean"),
        };
        quote! {
            if __envelope.extension(#name).is_some_and(|__v| #wrong_type) {
                return ::core::result::Result::Err(#herald::DataError::Extension {
                    name: ::std::string::ToString::to_string(#name),
                    expected: #expected,
                });
            }
        }
    });
    let doc = docs::doc(&format!(
        "The `{}` catalog: its registry table, envelope options and declared extensions.\n\nUse it through [`{herald}::EventCatalog`]: `Catalog::lookup(\"{}\")`, `Catalog::decode(&envelope)`.",
        catalog.source_name,
        catalog.events.first().map_or("type", |e| e.type_name.as_str()),
        herald = opts.herald_path.trim_start_matches("::"),
    ));
    quote! {
        #doc
        #[derive(Debug, Clone, Copy, Default)]
        pub struct Catalog;

        #[automatically_derived]
        impl #herald::EventCatalog for Catalog {
            type Event = Event;

            const TYPES: &'static [#herald::EventTypeInfo<Event>] = &[ #(#rows),* ];

            const ENVELOPE: #herald::EnvelopeOptions = #herald::EnvelopeOptions {
                legacy_extensions_object: #legacy,
                required: &[#(#required),*],
                datacontenttype: #datacontenttype,
                int64_extensions: &[#(#int64),*],
                subject_matches_template: #subject_check,
            };

            fn check_extensions(
                __envelope: &#herald::Envelope<'_>,
            ) -> ::core::result::Result<(), #herald::DataError> {
                let _ = __envelope;
                #(#ext_checks)*
                ::core::result::Result::Ok(())
            }

            fn stream_key(__event: &Event) -> ::core::option::Option<&dyn ::core::fmt::Display> {
                __event.stream_key()
            }

            fn deserialize_data<'de, __D: #herald::__private::serde::Deserializer<'de>>(
                __index: usize,
                __d: __D,
            ) -> ::core::result::Result<::core::result::Result<Event, #herald::DataError>, __D::Error> {
                match __index {
                    #(#data_arms)*
                    _ => ::core::result::Result::Err(<__D::Error as #herald::__private::serde::de::Error>::custom(
                        "no event type at this index",
                    )),
                }
            }
        }
    }
}
