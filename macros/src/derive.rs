//! `#[cloud_event("…")]`: a struct → [`StructEvent`] (the IR's input), and
//! the struct back out with its `EventData` and `Validate` impls.
//!
//! Besides the impls, the expansion leaves a hidden `macro_rules!` next to
//! the struct that hands the event's IR (as JSON text) to `registry!`: a
//! proc macro cannot read other items, so this is how the registry learns
//! the type, version and schema that were declared here and nowhere else.
//! When fields name `#[herald::data]` types, the `EventData` impl and that
//! macro come at the end of the definition chain ([`crate::chain`]), with
//! the schema's `$defs` complete.

use proc_macro2::{Span, TokenStream};
use quote::quote;

use herald_codegen::__private::rust_front::{StructEvent, StructProblem, event_to_json};

use crate::attr::{self, CloudEventArgs};
use crate::chain::Kind;
use crate::ctxt::Ctxt;
use crate::fields;
use crate::item;

pub(crate) fn expand_cloud_event(args: TokenStream, input: TokenStream) -> TokenStream {
    let item: syn::Item = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(e) => {
            let err = e.to_compile_error();
            return quote!(#err #input);
        }
    };
    let cx = Ctxt::new();
    let args = CloudEventArgs::from_tokens(&cx, args);
    let mut item = match item {
        syn::Item::Struct(s) => s,
        syn::Item::Enum(e) => {
            cx.error_spanned_by(
                e.enum_token,
                "`#[cloud_event]` goes on a struct with named fields, not an enum: declare one struct per event type",
            );
            return item::refused(cx, &syn::Item::Enum(e));
        }
        other => {
            cx.error_at(
                Span::call_site(),
                "`#[cloud_event]` goes on a struct with named fields (`pub struct RunStarted { pub run_id: Uuid }`)",
            );
            return item::refused(cx, &other);
        }
    };
    let herald: syn::Path = args.krate.clone().unwrap_or_else(|| syn::parse_quote!(::herald));
    let original = item::as_written(&syn::Item::Struct(item.clone()));
    let Some((event, refs)) = read_struct(&cx, &args, &mut item, &herald) else {
        return item::refused(cx, &original);
    };
    for problem in event.check() {
        let StructProblem::Attribute(msg) = problem;
        match &args.type_name {
            Some(lit) => cx.error_spanned_by(lit, msg),
            None => cx.error_spanned_by(&item.ident, msg),
        }
    }
    let ident = &item.ident;
    let read = item::Read {
        kind: Kind::Event,
        json: event_to_json(&event.to_ir()),
        refs,
        validate: event.emit_validate(&quote!(#ident), &item::emit_options(&herald)),
    };
    item::finish(cx, &original, syn::Item::Struct(item), &herald, read)
}

/// Read the struct into a [`StructEvent`] and the user's types its fields
/// name, reporting every problem; also adds the serde attributes that make
/// the wire shape match the schema.
fn read_struct(cx: &Ctxt, args: &CloudEventArgs, item: &mut syn::ItemStruct, herald: &syn::Path) -> Option<(StructEvent, Vec<syn::Path>)> {
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        cx.error_spanned_by(
            &item.generics,
            "`#[cloud_event]` structs cannot be generic: the registry needs one concrete data type per event type",
        );
    }
    let named = match &mut item.fields {
        syn::Fields::Named(named) => named,
        syn::Fields::Unnamed(fields) => {
            cx.error_spanned_by(
                &*fields,
                "`#[cloud_event]` needs named fields: event data is a JSON object (`pub struct RunStarted { pub run_id: Uuid }`)",
            );
            return None;
        }
        syn::Fields::Unit => {
            cx.error_spanned_by(
                &item.ident,
                "`#[cloud_event]` needs named fields: event data is a JSON object (`pub struct RunStarted { pub run_id: Uuid }`)",
            );
            return None;
        }
    };
    let container = attr::serde_container(cx, &item.attrs, false);
    let description = attr::doc_text(&item.attrs);
    if description.is_empty() {
        cx.error_spanned_by(
            &item.ident,
            format!("add a doc comment to `{}`: it becomes the event's description, as `description:` does in events.yaml", item.ident),
        );
    }
    let (fields, refs) = fields::read_fields(cx, named, container.rename_all.as_deref(), container.default, herald);
    let type_name = args.type_name.as_ref()?.value();
    let event = StructEvent {
        ident: item.ident.to_string(),
        type_name,
        description,
        version: args.version.unwrap_or(1),
        subject: args.subject.clone(),
        stream_key: args.stream_key.clone(),
        deny_unknown_fields: container.deny_unknown_fields,
        fields,
    };
    Some((event, refs))
}
