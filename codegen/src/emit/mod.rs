//! Emitters: IR (+ typify's types) → Rust tokens, one artifact per module.
//!
//! Every emitter reads the same [`Catalog`], sorted by event type, so output
//! is deterministic. Generated code reaches Herald only through absolute
//! paths rooted at [`EmitOptions::herald_path`].

mod docs;
mod event_enum;
mod extensions;
mod handler;
mod lifecycle;
mod registry;
mod types;
mod validate;

use proc_macro2::TokenStream;
use quote::quote;

use crate::diagnostic::Diagnostics;
use crate::ir::{Catalog, DataSource};
use crate::schema;

/// Knobs that change what is emitted.
#[derive(Debug, Clone)]
pub struct EmitOptions {
    /// Path to the Herald runtime crate as seen from the generated code
    /// (`::herald`, or e.g. `::my_facade::herald` when re-exported).
    pub herald_path: String,
}

impl Default for EmitOptions {
    fn default() -> Self {
        EmitOptions { herald_path: "::herald".to_string() }
    }
}

impl EmitOptions {
    pub(crate) fn herald(&self) -> TokenStream {
        self.herald_path.parse().unwrap_or_else(|_| quote!(::herald))
    }
}

/// Emit everything for a catalog: data types (for YAML-declared events),
/// their validation and registry impls, the `Event` enum, the registry,
/// the handler trait, `dispatch`, typed extension accessors and, when the
/// catalog declares a `lifecycle`, `RunStatus` and `Event::transition`.
pub fn emit_catalog(catalog: &Catalog, opts: &EmitOptions) -> Result<TokenStream, Diagnostics> {
    let generated = schema::generate_types(catalog)?;
    let data_types = types::emit_data_types(&generated, opts)?;
    let validate = validate::emit_validate(catalog, &generated, opts)?;
    let event_data = registry::emit_event_data_impls(catalog, opts);
    let event_enum = event_enum::emit_event_enum(catalog);
    let registry = registry::emit_registry(catalog, opts);
    let handler = handler::emit_handler(catalog, opts);
    let extensions = extensions::emit_extensions(catalog, opts);
    let lifecycle = lifecycle::emit_lifecycle(catalog, Some(&generated), opts);
    Ok(quote! {
        #data_types
        #validate
        #event_data
        #event_enum
        #registry
        #handler
        #extensions
        #lifecycle
    })
}

/// Emit only the catalog-level items (enum, registry, handler, dispatch,
/// extensions) for events whose data types exist already — the path the
/// `registry!` macro takes for `#[cloud_event]` structs.
pub fn emit_catalog_items(catalog: &Catalog, opts: &EmitOptions) -> TokenStream {
    debug_assert!(catalog.events.iter().all(|e| e.data != DataSource::Generated));
    let event_enum = event_enum::emit_event_enum(catalog);
    let registry = registry::emit_registry(catalog, opts);
    let handler = handler::emit_handler(catalog, opts);
    let extensions = extensions::emit_extensions(catalog, opts);
    let lifecycle = lifecycle::emit_lifecycle(catalog, None, opts);
    quote! { #event_enum #registry #handler #extensions #lifecycle }
}

/// `EventData` for a struct the user declared with `#[cloud_event]`: the
/// same impl a YAML-declared event's generated type gets.
pub fn emit_event_data(ty: &TokenStream, event: &crate::ir::EventType, opts: &EmitOptions) -> TokenStream {
    registry::event_data_impl(ty, event, &opts.herald())
}

/// `Validate` for a struct the user declared with `#[cloud_event]` (the
/// Rust front-end, `crate::rust_front`): the same walk over JSON Schema and
/// typify's types that YAML-declared events get.
///
/// `schema` is the event's JSON Schema (JSON names); `shape` is the same
/// object keyed by the Rust field names, without the string rules typify
/// would turn into newtypes, so typify's type mirrors the user's struct;
/// `renames` maps Rust field names to JSON names.
pub fn emit_external_validate(
    ty: &TokenStream,
    event: &crate::ir::EventType,
    shape: &serde_json::Value,
    renames: std::collections::BTreeMap<String, String>,
    opts: &EmitOptions,
) -> Result<TokenStream, Diagnostics> {
    let mut catalog = Catalog::new(event.type_name.clone(), "");
    let mut shadow = event.clone();
    shadow.schema = shape.clone();
    shadow.data = DataSource::Generated;
    catalog.events.push(shadow);
    let generated = schema::generate_types(&catalog)?;
    let Some(root) = generated.roots.get(&event.type_name) else {
        return Ok(TokenStream::new());
    };
    validate::emit_validate_external(ty, &event.schema, &generated, root, renames, opts)
}

/// The Rust type of an event's data, as a path.
pub(crate) fn data_type_path(event: &crate::ir::EventType) -> TokenStream {
    match &event.data {
        DataSource::Generated => {
            let ident = quote::format_ident!("{}", event.rust_name());
            quote!(#ident)
        }
        DataSource::External(path) => path.parse().unwrap_or_else(|_| {
            let ident = quote::format_ident!("{}", event.rust_name());
            quote!(#ident)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{EventType, Origin};

    fn sample() -> Catalog {
        let mut c = Catalog::new("sample.yaml", "ai");
        c.events.push(EventType {
            type_name: "ai.myfeature.progress".into(),
            description: "Progress of a feature.".into(),
            version: 1,
            subject: Some("run/{run_id}".into()),
            stream_key: Some("run_id".into()),
            schema: serde_json::json!({
                "type": "object",
                "properties": {
                    "run_id": {"type": "string", "format": "uuid"},
                    "progress": {"type": "number", "minimum": 0, "maximum": 1},
                    "tags": {"type": "array", "items": {"type": "string", "format": "email"}, "maxItems": 2, "uniqueItems": true}
                },
                "required": ["run_id", "progress"]
            }),
            examples: vec![],
            data: DataSource::Generated,
            origin: Origin::Synthetic,
        });
        c.normalize();
        c
    }

    #[test]
    fn emits_deterministic_parseable_code() {
        let a = crate::write::render(emit_catalog(&sample(), &EmitOptions::default()).unwrap(), "sample.yaml").unwrap();
        let b = crate::write::render(emit_catalog(&sample(), &EmitOptions::default()).unwrap(), "sample.yaml").unwrap();
        assert_eq!(a, b);
        assert!(a.contains("fn on_myfeature_progress"), "{a}");
        assert!(a.contains("checks::maximum(__p, __e, __x, 1f64)") || a.contains("maximum("), "{a}");
        assert!(!a.replace("__private::serde", "").contains("::serde"), "typify paths must be rewritten:\n{a}");
        if std::env::var_os("HERALD_PRINT").is_some() {
            println!("{a}");
        }
    }
}
