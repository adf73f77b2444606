//! The definition chain: how a type learns the schemas of the
//! `#[herald::data]` types its fields name.
//!
//! A proc macro cannot read other items, so each `#[herald::data]` type
//! leaves a hidden `macro_rules!` beside it that hands on its definitions
//! (its own and those it refers to, as JSON). The macro is re-exported
//! under the type's own name (`Detail!`, in the macro namespace, beside
//! the struct in the type namespace), so it travels with the type: a
//! `use model::Detail;` imports both. A type
//! whose fields name such types expands, where it is declared (so the
//! paths its fields were written with resolve as written), to a chain of
//! calls:
//!
//! ```text
//! #[cloud_event] JobQueued → Target!{state} → __data_step!{@defs "…" state}
//!                          → Detail!{state'} → __data_step!{@defs "…" state'}
//!                          → (nothing pending) `EventData` with `$defs`, and
//!                            `__herald_event_JobQueued!` for `registry!`
//! ```
//!
//! A `#[herald::data]` type that names others ends its chain with its own
//! macro, so definitions travel transitively and every
//! schema the chain ends with is complete: the event's `SCHEMA`, and the
//! IR `registry!` collects.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;

use herald_codegen::__private::emit;
use herald_codegen::__private::rust_front::{defs_from_json, defs_to_json, event_from_json, event_to_json, with_defs};

/// The hidden macro `#[cloud_event]` defines for a struct named `ident`.
pub(crate) fn event_macro_name(ident: &syn::Ident) -> syn::Ident {
    format_ident!("__herald_event_{}", ident, span = ident.span())
}

/// The hidden macro `#[herald::data]` defines for a type named `ident`.
pub(crate) fn data_macro_name(ident: &syn::Ident) -> syn::Ident {
    format_ident!("__herald_data_{}", ident, span = ident.span())
}

/// What the chain ends with.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An event: `json` is its IR ([`event_to_json`]).
    Event,
    /// A data type: `json` is its definition's schema.
    Data,
}

/// What travels through the chain of macro calls.
pub(crate) struct Chain {
    pub(crate) herald: syn::Path,
    pub(crate) kind: Kind,
    /// The type being declared.
    pub(crate) ident: syn::Ident,
    pub(crate) json: syn::LitStr,
    /// The types still to ask, as the fields name them.
    pub(crate) pending: Vec<syn::Path>,
    /// The definitions collected so far.
    defs: BTreeMap<String, Value>,
}

impl Chain {
    /// A chain for `ident` that will ask each type of `refs` (as written
    /// in its fields) once.
    pub(crate) fn new(herald: syn::Path, kind: Kind, ident: syn::Ident, json: String, refs: Vec<syn::Path>) -> Self {
        let mut pending: Vec<syn::Path> = Vec::new();
        for path in refs {
            if !pending.iter().any(|p| last_ident(p) == last_ident(&path)) {
                pending.push(path);
            }
        }
        let json = syn::LitStr::new(&json, ident.span());
        Chain { herald, kind, ident, json, pending, defs: BTreeMap::new() }
    }

    /// Ask the next type for its definitions, or end the chain.
    pub(crate) fn next(mut self) -> syn::Result<TokenStream> {
        // A type delivered with an earlier one's definitions is not asked.
        self.pending.retain(|p| last_ident(p).is_none_or(|name| !self.defs.contains_key(&name.to_string())));
        if self.pending.is_empty() {
            return self.finish();
        }
        let path = self.pending.remove(0);
        // The type's macro has the type's name (in the macro namespace),
        // so it is in scope wherever the type is, imports included.
        let mut mac = path.clone();
        if let Some(last) = mac.segments.last_mut() {
            last.arguments = syn::PathArguments::None;
        }
        let Chain { herald, kind, ident, json, pending, defs, .. } = self;
        let kind = match kind {
            Kind::Event => quote!(event),
            Kind::Data => quote!(data),
        };
        let defs = syn::LitStr::new(&defs_to_json(&defs), ident.span());
        Ok(quote! {
            #mac! {
                herald { #herald }
                kind { #kind }
                ident { #ident }
                json { #json }
                current { #path }
                pending { #(#pending),* }
                defs { #defs }
            }
        })
    }

    /// Every definition is in: emit what needed them, and the type's own
    /// macro (an event may be held by another type too).
    fn finish(self) -> syn::Result<TokenStream> {
        let Chain { herald, kind, ident, json, defs, .. } = self;
        let internal = |e: String| syn::Error::new(ident.span(), format!("internal error: unreadable definitions: {e}"));
        let (own, event) = match kind {
            Kind::Event => {
                let mut event = event_from_json(&json.value()).map_err(internal)?;
                let own = event.schema.clone();
                event.schema = with_defs(&event.schema, &defs);
                (own, Some(event))
            }
            Kind::Data => (serde_json::from_str(&json.value()).map_err(|e| internal(e.to_string()))?, None),
        };
        let event_items = event.map(|event| {
            let event_data = emit::emit_event_data(&quote!(#ident), &event, &crate::item::emit_options(&herald));
            let json = event_to_json(&event);
            let macro_name = event_macro_name(&ident);
            quote! {
                #[doc(hidden)]
                #[allow(unused_macros)]
                macro_rules! #macro_name {
                    ($($__state:tt)*) => { #herald::__registry_step! { @event #json $($__state)* } };
                }
                #[doc(hidden)]
                #[allow(unused_imports)]
                pub(crate) use #macro_name;

                const _: () = {
                    #event_data
                };
            }
        });
        let mut defs = defs;
        defs.insert(ident.to_string(), own);
        let defs = defs_to_json(&defs);
        let macro_name = data_macro_name(&ident);
        Ok(quote! {
            #event_items

            #[doc(hidden)]
            #[allow(unused_macros)]
            macro_rules! #macro_name {
                ($($__state:tt)*) => { #herald::__data_step! { @defs #defs $($__state)* } };
            }
            #[doc(hidden)]
            #[allow(unused_imports)]
            pub(crate) use #macro_name as #ident;
        })
    }
}

fn last_ident(path: &syn::Path) -> Option<&syn::Ident> {
    path.segments.last().map(|s| &s.ident)
}

impl Parse for Chain {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        input.parse::<syn::Token![@]>()?;
        let _: syn::Ident = input.parse()?;
        let arrived: syn::LitStr = input.parse()?;
        let section = |name: &str| -> syn::Result<TokenStream> {
            let key: syn::Ident = input.parse()?;
            if key != name {
                return Err(syn::Error::new_spanned(key, "internal error: malformed definition chain"));
            }
            let content;
            syn::braced!(content in input);
            content.parse()
        };
        let herald: syn::Path = syn::parse2(section("herald")?)?;
        let kind: syn::Ident = syn::parse2(section("kind")?)?;
        let kind = if kind == "event" { Kind::Event } else { Kind::Data };
        let ident: syn::Ident = syn::parse2(section("ident")?)?;
        let json: syn::LitStr = syn::parse2(section("json")?)?;
        // The type whose macro was just called: the definitions arrived
        // from it.
        let current: syn::Path = syn::parse2(section("current")?)?;
        let pending = syn::parse::Parser::parse2(Punctuated::<syn::Path, syn::Token![,]>::parse_terminated, section("pending")?)?;
        let defs: syn::LitStr = syn::parse2(section("defs")?)?;
        let internal = |e: String| syn::Error::new(ident.span(), format!("internal error: unreadable definitions: {e}"));
        let mut defs = defs_from_json(&defs.value()).map_err(internal)?;
        let arrived = defs_from_json(&arrived.value()).map_err(internal)?;
        if let Some(name) = last_ident(&current).map(ToString::to_string)
            && !arrived.contains_key(&name)
        {
            return Err(syn::Error::new_spanned(
                &current,
                format!(
                    "name the type `{name}` stands for by its own name: the field's schema is the definition `$defs/{name}`, which only the type's own name can give"
                ),
            ));
        }
        for (name, schema) in arrived {
            match defs.get(&name) {
                Some(before) if *before != schema => {
                    return Err(syn::Error::new_spanned(
                        &current,
                        format!(
                            "two different types named `{name}` reach `{ident}`: each becomes the definition `$defs/{name}`, so their names must differ; rename one"
                        ),
                    ));
                }
                _ => {
                    defs.insert(name, schema);
                }
            }
        }
        Ok(Chain { herald, kind, ident, json, pending: pending.into_iter().collect(), defs })
    }
}

/// One link of the chain: record the definitions that arrived, go on.
pub(crate) fn expand_step(input: TokenStream) -> syn::Result<TokenStream> {
    let chain: Chain = syn::parse2(input)?;
    chain.next()
}
