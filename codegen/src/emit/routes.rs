//! The per-type and per-domain items the catalog-level items name: each
//! generated event's registry row and `deserialize_*` (its
//! `deserialize_data` arm), and each domain's `dispatch`.
//!
//! They live in the domain module, next to the types they name, so the
//! root only names items whose types never change when a type does
//! (`EventTypeInfo<Event>`, `fn(D) -> Result<Result<Event, DataError>, D::Error>`). rustc's incremental
//! compilation then re-checks the edited type's domain, not a root body
//! holding one closure, arm or `.await` per type in the catalog.
//!
//! Events whose data type the user declared (`#[cloud_event]`) keep their
//! row and arms in the root: their path is written for the root's scope.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::data_type_path;
use crate::ir::{Catalog, DataSource, EventType};

/// The identifier shared by an event's functions: its handler method
/// without `on_` (`ai.run.started` → `run_started`).
fn stem(event: &EventType) -> String {
    let method = event.handler_method();
    method.strip_prefix("on_").unwrap_or(&method).to_string()
}

/// Whether an event's functions are emitted in its domain module.
pub(super) fn in_module(event: &EventType) -> bool {
    event.data == DataSource::Generated
}

/// The root's path to an event's registry row constant.
pub(super) fn row_path(event: &EventType, module: &str) -> TokenStream {
    let module = format_ident!("{}", module);
    let name = format_ident!("{}", stem(event).to_uppercase());
    quote!(#module::#name)
}

/// The root's path to an event's `deserialize_*` function, for its
/// `deserialize_data` arm.
pub(super) fn deserialize_path(event: &EventType, module: &str) -> TokenStream {
    let module = format_ident!("{}", module);
    let name = format_ident!("deserialize_{}", stem(event));
    quote!(#module::#name)
}

/// An event's registry row (a constant: its `decode` closure is compiled
/// only where the table is used) and `deserialize_*`, for its domain
/// module.
pub(super) fn event_fns(event: &EventType, herald: &TokenStream) -> TokenStream {
    let ty = data_type_path(event);
    let variant = format_ident!("{}", event.rust_name());
    let row_name = format_ident!("{}", stem(event).to_uppercase());
    let row = super::registry::row(event, &quote!(super::Event), herald);
    let deserialize = format_ident!("deserialize_{}", stem(event));
    let row_doc = format!(" The registry row of `{}`.", event.type_name);
    let deserialize_doc = format!(" Deserialize and validate `{}` data: its `deserialize_data` arm.", event.type_name);
    quote! {
        #[doc = #row_doc]
        pub(super) const #row_name: #herald::EventTypeInfo<super::Event> = #row;

        #[doc = #deserialize_doc]
        pub(super) fn #deserialize<'de, D: #herald::__private::serde::Deserializer<'de>>(
            d: D,
        ) -> ::core::result::Result<::core::result::Result<super::Event, #herald::DataError>, D::Error> {
            ::core::result::Result::Ok(#herald::registry::deserialize_valid::<#ty, D>(d)?.map(super::Event::#variant))
        }
    }
}

/// A domain's `dispatch`: the handler call for each of its events, for
/// its module. The root's `dispatch` sends it only these events; `all`
/// says they are the whole catalog (no other event to rule out).
pub(super) fn domain_dispatch(module: &str, events: &[&EventType], all: bool, herald: &TokenStream) -> TokenStream {
    let arms = events.iter().map(|e| {
        let variant = format_ident!("{}", e.rust_name());
        let method = format_ident!("{}", e.handler_method());
        quote! { super::Event::#variant(data) => handler.#method(ctx, data).await, }
    });
    let doc = format!(" Route an event of the `{module}` domain to its handler method (the root's `dispatch` sends only those here).");
    let stray = format!("`dispatch` sent a non-`{module}` event to `{module}::dispatch`");
    let others = if all {
        TokenStream::new()
    } else {
        quote! { _ => ::core::unreachable!(#stray), }
    };
    quote! {
        #[doc = #doc]
        pub(super) async fn dispatch<H: super::Handler>(
            handler: &H,
            ctx: &#herald::EventContext<'_>,
            event: super::Event,
        ) -> ::core::result::Result<H::Output, H::Error> {
            match event {
                #(#arms)*
                #others
            }
        }
    }
}

/// The domain modules' events, in catalog order, grouped by module (in
/// order of first appearance).
pub(super) fn by_module<'c>(catalog: &'c Catalog, module_of: &dyn Fn(&str) -> String) -> Vec<(String, Vec<&'c EventType>)> {
    let mut groups: Vec<(String, Vec<&EventType>)> = Vec::new();
    for event in catalog.events.iter().filter(|e| in_module(e)) {
        let module = module_of(&event.type_name);
        match groups.iter_mut().find(|(m, _)| *m == module) {
            Some((_, events)) => events.push(event),
            None => groups.push((module, vec![event])),
        }
    }
    groups
}
