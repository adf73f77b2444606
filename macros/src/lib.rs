//! Procedural macros for Herald, re-exported by the `herald` crate (feature
//! `derive`, on by default). Use them through `herald::…`.
//!
//! - [`macro@cloud_event`] declares an event type on a Rust struct;
//! - [`registry!`] gathers struct events (and optionally a YAML catalog)
//!   into the same `Event` enum, `Catalog`, `Handler` trait and `dispatch`
//!   a YAML catalog gets;
//! - [`include_events!`] compiles an `events.yaml` in place, like build.rs.
//!
//! Each parses its input with syn, builds herald-codegen's IR and calls
//! herald-codegen's emitters: there is no second code generator here. They
//! reach both through `herald_codegen::__private`, the semver-exempt module
//! kept for this crate and the `herald` CLI (released together with it).

mod attr;
mod chain;
mod ctxt;
mod data;
mod derive;
mod fields;
mod include;
mod item;
mod registry;
mod symbol;

use proc_macro::TokenStream;

/// Declare a CloudEvents event type on a struct.
///
/// ```ignore
/// /// A feature began running inside a run.
/// #[herald::cloud_event("ai.myfeature.started", version = 1, subject = "run/{run_id}")]
/// pub struct MyFeatureStarted {
///     pub run_id: uuid::Uuid,
///     /// Which feature.
///     pub feature_name: String,
///     #[herald(range(min = 0, max = 1))]
///     pub progress: f64,
///     pub config: Option<serde_json::Map<String, serde_json::Value>>,
/// }
/// ```
///
/// Arguments: the type (`{prefix}.{domain}.{action}`), then optional
/// `version = N` (default 1), `subject = "run/{run_id}"`,
/// `stream_key = "run_id"` (default `run_id`, a required field; `none` for
/// an event that belongs to no run) and
/// `crate = "::path::to::herald"`.
///
/// The struct's doc comment is the event's description; field doc
/// comments describe properties. The JSON Schema follows serde's wire
/// shape: `#[serde(rename, rename_all, default, skip, deny_unknown_fields)]`
/// are honoured; an `Option<T>` field is an optional, non-null property.
/// Field rules: `#[herald(range(min = …, max = …))]`, `minimum`,
/// `maximum`, `exclusive_minimum`, `exclusive_maximum`, `multiple_of`,
/// `min_length`, `max_length`, `pattern`, `format`, `min_items`,
/// `max_items`, `unique_items`, `min_properties`, `max_properties`; they
/// are enforced by the same generated `validate()` YAML events get. A
/// field may also hold a [`macro@data`] type (directly or in `Option`,
/// `Vec`, `Box` or a map): its schema joins the event's `$defs`.
///
/// Derives `Debug`, `Clone`, `PartialEq`, `Serialize` and `Deserialize`
/// unless the struct derives them itself, and implements
/// `herald::EventData` and `herald::Validate`.
#[proc_macro_attribute]
pub fn cloud_event(args: TokenStream, input: TokenStream) -> TokenStream {
    derive::expand_cloud_event(args.into(), input.into()).into()
}

/// Declare a struct or enum that `#[cloud_event]` structs (and other
/// `#[herald::data]` types) may hold.
///
/// ```ignore
/// /// Where the output goes.
/// #[herald::data]
/// #[serde(tag = "kind", rename_all = "snake_case")]
/// pub enum Target { File { #[herald(min_length = 1)] path: String }, Url { url: String } }
///
/// #[herald::data]
/// pub struct Detail { #[herald(range(min = 0, max = 10))] pub level: u8, pub note: Option<String> }
/// ```
///
/// A struct is a JSON object, read like a `#[cloud_event]` struct's data
/// (the same field types, `#[herald(...)]` rules and serde attributes); an
/// enum of unit variants is a string enum; an enum with
/// `#[serde(tag = "…")]` is a tagged union whose variants are unit or have
/// named fields. Each becomes the definition `$defs/Name` of every event
/// that holds it, and implements `herald::Validate`, which the holder's
/// `validate()` calls with the pointer of the field. Optional argument:
/// `crate = "::path::to::herald"`.
#[proc_macro_attribute]
pub fn data(args: TokenStream, input: TokenStream) -> TokenStream {
    data::expand_data(args.into(), input.into()).into()
}

/// A registry of struct events, optionally combined with a YAML catalog.
///
/// ```ignore
/// herald::registry! {
///     /// Everything this service handles.
///     pub mod app_events {
///         include_events!("events.yaml"),
///         MyFeatureStarted,
///         crate::billing::InvoicePaid,
///     }
/// }
/// ```
///
/// The module gets what a YAML catalog gets: `Event`, `Catalog` (the
/// registry table), `Handler` (one required method per type) and
/// `dispatch`. A type declared twice, or with another prefix than the
/// catalog's, is a compile error at the entry. Structs must be declared in
/// the same crate, with `#[cloud_event]`.
#[proc_macro]
pub fn registry(input: TokenStream) -> TokenStream {
    registry::expand_registry(input.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Compile an `events.yaml` catalog in place (an alternative to build.rs).
///
/// ```ignore
/// mod events {
///     herald::include_events!("events.yaml");
/// }
/// ```
///
/// The path is relative to the crate root (`CARGO_MANIFEST_DIR`); editing
/// the file rebuilds the crate. Catalog problems are compile errors naming
/// the file and line.
#[proc_macro]
pub fn include_events(input: TokenStream) -> TokenStream {
    include::expand_include_events(input.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// One step of a definition chain (called by the macros
/// `#[herald::data]` leaves behind). Not a public API.
#[doc(hidden)]
#[proc_macro]
pub fn __data_step(input: TokenStream) -> TokenStream {
    chain::expand_step(input.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// One step of `registry!` (called by the macros `#[cloud_event]` leaves
/// behind). Not a public API.
#[doc(hidden)]
#[proc_macro]
pub fn __registry_step(input: TokenStream) -> TokenStream {
    registry::expand_step(input.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}
