//! `registry! { pub mod app_events { include_events!("events.yaml"), MyFeatureStarted } }`.
//!
//! A registry lists struct events by path (and optionally one YAML
//! catalog). Their IR lives with the structs: each `#[cloud_event]` leaves
//! a hidden `macro_rules! __herald_event_<Name>` that hands its event back
//! as JSON. `registry!` therefore expands to a chain of calls:
//!
//! ```text
//! registry!{..} → __herald_event_A!{state} → __registry_step!{@event "A" state}
//!              → __herald_event_B!{state'} → __registry_step!{@event "B" state'}
//!              → (nothing pending) merge with the YAML catalog, emit
//! ```
//!
//! The last step builds one [`Catalog`](herald_codegen::__private::ir::Catalog) and calls
//! the same `emit_catalog` as build.rs and `include_events!`.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;

use herald_codegen::__private::emit::{self, EmitOptions};
use herald_codegen::__private::rust_front::{StructEntry, event_from_json, merge};

use crate::chain::event_macro_name;
use crate::include;

/// The user's `registry!` input.
struct RegistryInput {
    header: TokenStream,
    yaml: Option<syn::LitStr>,
    structs: Vec<syn::Path>,
}

/// `#[attrs] vis mod name` → its parts.
struct Header {
    attrs: Vec<syn::Attribute>,
    vis: syn::Visibility,
    name: syn::Ident,
}

impl Parse for Header {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(syn::Attribute::parse_outer)?;
        let vis = input.parse()?;
        input
            .parse::<syn::Token![mod]>()
            .map_err(|e| syn::Error::new(e.span(), "expected `mod`: write `registry! { pub mod app_events { MyEvent, … } }`"))?;
        let name = input.parse()?;
        Ok(Header { attrs, vis, name })
    }
}

impl Parse for RegistryInput {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(syn::Attribute::parse_outer)?;
        let vis: syn::Visibility = input.parse()?;
        let mod_token = input
            .parse::<syn::Token![mod]>()
            .map_err(|e| syn::Error::new(e.span(), "expected `mod`: write `registry! { pub mod app_events { MyEvent, … } }`"))?;
        let name: syn::Ident = input.parse()?;
        let header = quote!(#(#attrs)* #vis #mod_token #name);
        let content;
        syn::braced!(content in input);
        let mut yaml: Option<syn::LitStr> = None;
        let mut structs = Vec::new();
        while !content.is_empty() {
            if content.peek(syn::Ident) && content.peek2(syn::Token![!]) {
                let mac: syn::Ident = content.parse()?;
                if mac != "include_events" {
                    return Err(syn::Error::new_spanned(
                        mac,
                        "a registry entry is an event struct's path or `include_events!(\"events.yaml\")`",
                    ));
                }
                content.parse::<syn::Token![!]>()?;
                let args;
                syn::parenthesized!(args in content);
                let lit: syn::LitStr = args.parse()?;
                if yaml.is_some() {
                    return Err(syn::Error::new_spanned(lit, "a registry includes at most one YAML catalog; merge the files"));
                }
                yaml = Some(lit);
            } else {
                structs.push(content.parse::<syn::Path>()?);
            }
            if content.is_empty() {
                break;
            }
            content.parse::<syn::Token![,]>()?;
        }
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the registry module"));
        }
        Ok(RegistryInput { header, yaml, structs })
    }
}

pub(crate) fn expand_registry(input: TokenStream) -> syn::Result<TokenStream> {
    let input: RegistryInput = syn::parse2(input)?;
    let state = State { header: input.header, yaml: input.yaml, current: None, pending: input.structs, done: Vec::new() };
    state.next()
}

/// What travels through the chain of macro calls.
struct State {
    header: TokenStream,
    yaml: Option<syn::LitStr>,
    /// The struct whose macro was just called (its event arrives as `@event`).
    current: Option<syn::Path>,
    pending: Vec<syn::Path>,
    /// Struct events collected so far: (path as listed, IR JSON).
    done: Vec<(syn::Path, syn::LitStr)>,
}

impl Parse for State {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let event: Option<syn::LitStr> = if input.peek(syn::Token![@]) {
            input.parse::<syn::Token![@]>()?;
            let _: syn::Ident = input.parse()?;
            Some(input.parse()?)
        } else {
            None
        };
        let section = |name: &str| -> syn::Result<TokenStream> {
            let key: syn::Ident = input.parse()?;
            if key != name {
                return Err(syn::Error::new_spanned(key, "internal error: malformed registry state"));
            }
            let content;
            syn::braced!(content in input);
            content.parse()
        };
        let header = section("header")?;
        let yaml: Option<syn::LitStr> = syn::parse2(section("yaml")?)?;
        let current: Option<syn::Path> = {
            let t = section("current")?;
            if t.is_empty() { None } else { Some(syn::parse2(t)?) }
        };
        let pending = syn::parse::Parser::parse2(Punctuated::<syn::Path, syn::Token![,]>::parse_terminated, section("pending")?)?;
        let done_tokens = section("done")?;
        let done = syn::parse::Parser::parse2(
            |input: ParseStream<'_>| {
                let mut out = Vec::new();
                while !input.is_empty() {
                    let content;
                    syn::braced!(content in input);
                    let path: syn::Path = content.parse()?;
                    let json: syn::LitStr = input.parse()?;
                    out.push((path, json));
                }
                Ok(out)
            },
            done_tokens,
        )?;
        let mut state = State { header, yaml, current, pending: pending.into_iter().collect(), done };
        if let (Some(json), Some(path)) = (event, state.current.take()) {
            state.done.push((path, json));
        }
        Ok(state)
    }
}

impl State {
    /// Call the next struct's macro, or emit the registry.
    fn next(mut self) -> syn::Result<TokenStream> {
        if self.pending.is_empty() {
            return self.finish();
        }
        let path = self.pending.remove(0);
        let mut mac = path.clone();
        if let Some(last) = mac.segments.last_mut() {
            last.ident = event_macro_name(&last.ident);
            last.arguments = syn::PathArguments::None;
        }
        let State { header, yaml, pending, done, .. } = self;
        let done = done.iter().map(|(p, j)| quote!({ #p } #j));
        Ok(quote! {
            #mac! {
                header { #header }
                yaml { #yaml }
                current { #path }
                pending { #(#pending),* }
                done { #(#done)* }
            }
        })
    }

    fn finish(self) -> syn::Result<TokenStream> {
        let Header { attrs, vis, name } = syn::parse2(self.header)?;
        let (base, tracker) = match &self.yaml {
            Some(lit) => include::load(lit)?,
            None => (herald_codegen::__private::ir::Catalog::new(format!("<registry {name}>"), ""), TokenStream::new()),
        };
        let mut entries = Vec::new();
        let mut errors: Option<syn::Error> = None;
        let mut push = |e: syn::Error| match &mut errors {
            Some(all) => all.combine(e),
            None => errors = Some(e),
        };
        for (path, json) in &self.done {
            match event_from_json(&json.value()) {
                Ok(event) => entries.push(StructEntry { event, path: from_module(path) }),
                Err(e) => push(syn::Error::new_spanned(path, format!("internal error: unreadable event data: {e}"))),
            }
        }
        let catalog = match merge(base, entries) {
            Ok(c) => Some(c),
            Err(problems) => {
                for p in problems {
                    push(syn::Error::new_spanned(&self.done[p.entry].0, p.message));
                }
                None
            }
        };
        if let Some(e) = errors {
            return Err(e);
        }
        let Some(catalog) = catalog else { return Ok(TokenStream::new()) };
        let tokens = emit::emit_catalog(&catalog, &EmitOptions::default()).map_err(|d| {
            let span = self.yaml.as_ref().map_or_else(|| name.span(), syn::LitStr::span);
            syn::Error::new(span, d.to_string())
        })?;
        let doc = (!attrs.iter().any(|a| a.path().is_ident("doc"))).then(|| {
            let text = format!(" The `{name}` event registry: `Event`, `Catalog`, `Handler` and `dispatch`.");
            quote!(#[doc = #text])
        });
        Ok(quote! {
            #(#attrs)*
            #doc
            #vis mod #name {
                #tokens
                #tracker
            }
        })
    }
}

/// A path as written next to `registry!`, as seen from inside the
/// generated module.
fn from_module(path: &syn::Path) -> String {
    let text = path.to_token_stream().to_string().replace(' ', "");
    if path.leading_colon.is_some() {
        return text;
    }
    match path.segments.first().map(|s| s.ident.to_string()).as_deref() {
        Some("crate") => text,
        Some("self") => format!("super{}", &text[4..]),
        _ => format!("super::{text}"),
    }
}

/// One link of the chain: record the event that arrived, go on.
pub(crate) fn expand_step(input: TokenStream) -> syn::Result<TokenStream> {
    let state: State = syn::parse2(input)?;
    state.next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_seen_from_the_generated_module() {
        let p = |s: &str| from_module(&syn::parse_str(s).unwrap());
        assert_eq!(p("Started"), "super::Started");
        assert_eq!(p("events::Started"), "super::events::Started");
        assert_eq!(p("self::Started"), "super::Started");
        assert_eq!(p("super::Started"), "super::super::Started");
        assert_eq!(p("crate::events::Started"), "crate::events::Started");
        assert_eq!(p("::other::Started"), "::other::Started");
    }
}
