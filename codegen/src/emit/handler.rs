//! The handler trait — the contract — and the exhaustive `dispatch`.
//!
//! One required method per event type, no default bodies: adding an event
//! to the catalog makes every handler impl fail to compile until it handles
//! the new type.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{EmitOptions, data_type_path, routes};
use crate::ir::Catalog;

/// `module_of` gives the domain module of an event type: `dispatch` sends
/// a generated event to its module's `dispatch` (see `emit/routes.rs`), so
/// no body awaits every handler's future.
pub(super) fn emit_handler(catalog: &Catalog, opts: &EmitOptions, module_of: &dyn Fn(&str) -> String) -> TokenStream {
    let herald = opts.herald();
    let methods = catalog.events.iter().map(|e| {
        let method = format_ident!("{}", e.handler_method());
        let ty = data_type_path(e);
        let lines: Vec<String> = std::iter::once(format!(" Handle `{}` (version {}).", e.type_name, e.version))
            .chain(std::iter::once(String::new()))
            .chain(e.description.lines().map(|l| format!(" {l}")))
            .collect();
        quote! {
            #( #[doc = #lines] )*
            fn #method(
                &self,
                ctx: &#herald::EventContext<'_>,
                data: #ty,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<Self::Output, Self::Error>,
            > + ::core::marker::Send;
        }
    });
    let domain_arms = routes::by_module(catalog, module_of).into_iter().map(|(module, events)| {
        let module = format_ident!("{}", module);
        let variants = events.iter().map(|e| format_ident!("{}", e.rust_name()));
        quote! { #(Event::#variants(_))|* => #module::dispatch(__handler, __ctx, __event).await }
    });
    let own_arms = catalog.events.iter().filter(|e| !routes::in_module(e)).map(|e| {
        let method = format_ident!("{}", e.handler_method());
        let variant = format_ident!("{}", e.rust_name());
        quote! { Event::#variant(__data) => __handler.#method(__ctx, __data).await }
    });
    let arms: Vec<TokenStream> = domain_arms.chain(own_arms).collect();
    let dispatch_body = if catalog.events.is_empty() {
        quote! { match __event {} }
    } else {
        quote! { match __event { #(#arms,)* } }
    };
    quote! {
        /// Handles every event type in the catalog.
        ///
        /// Every method is required: when an event type is added to the
        /// catalog, implementations stop compiling until they handle it.
        /// `Output` is what handling produces (for example the change to
        /// apply to a run's state); `Error` is why it could not.
        pub trait Handler: ::core::marker::Send + ::core::marker::Sync {
            /// What handling an event produces.
            type Output: ::core::marker::Send;
            /// Why handling failed.
            type Error: ::core::marker::Send;

            #(#methods)*
        }

        /// Route an event to the handler method for its type, through its
        /// domain module's `dispatch`.
        ///
        /// The `match` is exhaustive over [`Event`], so the compiler proves
        /// that every type in the catalog has a route.
        pub async fn dispatch<H: Handler>(
            __handler: &H,
            __ctx: &#herald::EventContext<'_>,
            __event: Event,
        ) -> ::core::result::Result<H::Output, H::Error> {
            #dispatch_body
        }

        /// Lets code that is generic over catalogs (the server) call
        /// [`dispatch`] for any [`Handler`].
        #[automatically_derived]
        impl<__H: Handler> #herald::Dispatch<__H> for Catalog {
            type Output = __H::Output;
            type Error = __H::Error;

            fn dispatch(
                __handler: &__H,
                __ctx: &#herald::EventContext<'_>,
                __event: Event,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<__H::Output, __H::Error>,
            > + ::core::marker::Send {
                dispatch(__handler, __ctx, __event)
            }
        }
    }
}
