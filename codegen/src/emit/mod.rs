//! Emitters: IR (+ typify's types) → Rust tokens, one artifact per module.
//!
//! Every emitter reads the same [`Catalog`], sorted by event type, so output
//! is deterministic. Generated code reaches Herald only through absolute
//! paths rooted at [`EmitOptions::herald_path`].

mod deserialize;
mod docs;
mod event_enum;
mod extensions;
mod handler;
mod lifecycle;
mod modules;
mod registry;
mod routes;
mod types;
mod validate;

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

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

/// The code generated for a catalog: the catalog-level items, and the data
/// types with their impls, one module per domain (see `emit/modules.rs`).
#[derive(Debug, Clone)]
pub struct Emitted {
    /// The catalog-level items (`Event`, the registry, the handler trait,
    /// dispatch, extensions, lifecycle) and the re-exports of every module.
    root: TokenStream,
    /// Module name → its items, with the imports they need.
    modules: BTreeMap<String, TokenStream>,
}

impl Emitted {
    /// Everything in one token stream, each module inline
    /// (`mod run { … }`): for a macro, or a single generated file.
    pub fn inline(&self) -> TokenStream {
        let modules = self.modules.iter().map(|(name, items)| {
            let ident = format_ident!("{}", name);
            quote! { mod #ident { #items } }
        });
        let root = &self.root;
        quote! { #(#modules)* #root }
    }

    /// The root with each module included from `{dir}/{module}.rs`
    /// (relative to the root's own file), and the modules' items by name.
    pub fn split(&self, dir: &str) -> (TokenStream, Vec<(String, TokenStream)>) {
        let modules = self.modules.keys().map(|name| {
            let ident = format_ident!("{}", name);
            let path = format!("{dir}/{name}.rs");
            quote! { mod #ident { include!(#path); } }
        });
        let root = &self.root;
        (quote! { #(#modules)* #root }, self.modules.iter().map(|(n, t)| (n.clone(), t.clone())).collect())
    }
}

/// Emit everything for a catalog: data types (for YAML-declared events),
/// their validation and registry impls, the `Event` enum, the registry,
/// the handler trait, `dispatch`, typed extension accessors and, when the
/// catalog declares a `lifecycle`, `RunStatus` and `Event::transition`;
/// all in one token stream ([`Emitted::inline`]).
pub fn emit_catalog(catalog: &Catalog, opts: &EmitOptions) -> Result<TokenStream, Diagnostics> {
    emit_modules(catalog, opts).map(|e| e.inline())
}

/// [`emit_catalog`], with the data types and their impls kept apart by
/// module.
pub fn emit_modules(catalog: &Catalog, opts: &EmitOptions) -> Result<Emitted, Diagnostics> {
    let generated = schema::generate_types(catalog)?;
    // The build refuses a catalog whose own examples its code would refuse.
    crate::examples::check(catalog, &generated)?;
    let plan = modules::Plan::new(catalog, &generated);
    let data_types = types::emit_data_types(&generated, opts)?;
    let validate = validate::emit_validate(catalog, &generated, &plan, opts)?;
    let herald = opts.herald();

    // Each module's items: its types (with typify's impls), their
    // `Validate` impls, and its events' `EventData` impls.
    let mut items: BTreeMap<String, TokenStream> = BTreeMap::new();
    let mut root_types = TokenStream::new();
    for item in data_types.items {
        match modules::owner(&item, &|n| plan.knows(n)) {
            Some(name) => items.entry(plan.module_of_type(&name).to_string()).or_default().extend(quote!(#item)),
            None => root_types.extend(quote!(#item)),
        }
    }
    for (module, tokens) in validate {
        items.entry(module).or_default().extend(tokens);
    }
    for event in catalog.events.iter().filter(|e| e.data == DataSource::Generated) {
        let module = plan.module_of_event(&event.type_name).to_string();
        items.entry(module).or_default().extend(registry::event_data_impl(&data_type_path(event), event, &herald));
    }
    // Each domain's registry functions and `dispatch`, which the root's
    // table and `dispatch` name.
    let module_of = |type_name: &str| plan.module_of_event(type_name).to_string();
    for (module, events) in routes::by_module(catalog, &module_of) {
        let tokens = items.entry(module.clone()).or_default();
        for event in &events {
            tokens.extend(routes::event_fns(event, &herald));
        }
        let all = events.len() == catalog.events.len();
        tokens.extend(routes::domain_dispatch(&module, &events, all, &herald));
    }

    // Each module imports what it names from `shared` and the root's
    // `error` and `defaults` modules (typify's conversion errors, and the
    // functions giving properties their `default`, named only inside
    // `#[serde(default = "defaults::…")]` strings).
    let shared_names: BTreeSet<String> = match items.get(modules::SHARED) {
        Some(tokens) => defined_types(tokens),
        None => BTreeSet::new(),
    };
    let mut module_tokens = BTreeMap::new();
    for (module, tokens) in items {
        let mut used = BTreeSet::new();
        modules::idents(&tokens, &mut used);
        let mut imports = TokenStream::new();
        if used.contains("error") {
            imports.extend(quote! { use super::error; });
        }
        if tokens.to_string().contains("\"defaults::") {
            imports.extend(quote! { use super::defaults; });
        }
        if module != modules::SHARED {
            let names: Vec<syn::Ident> = shared_names.intersection(&used).map(|n| format_ident!("{}", n)).collect();
            if !names.is_empty() {
                imports.extend(quote! { use super::shared::{#(#names),*}; });
            }
        }
        module_tokens.insert(module, quote! { #imports #tokens });
    }
    // The modules are private: their types are the catalog's API, named
    // from the root as if declared there. The shared types are named by
    // the domains' types and need not be by the root.
    let reexports = module_tokens.keys().map(|name| {
        let ident = format_ident!("{}", name);
        if name == modules::SHARED {
            quote! {
                #[allow(unused_imports)]
                pub use self::#ident::*;
            }
        } else {
            quote! { pub use self::#ident::*; }
        }
    });

    let event_enum = event_enum::emit_event_enum(catalog);
    let registry = registry::emit_registry(catalog, opts, &module_of);
    let handler = handler::emit_handler(catalog, opts, &module_of);
    let extensions = extensions::emit_extensions(catalog, opts);
    let lifecycle = lifecycle::emit_lifecycle(catalog, Some(&generated), opts);
    let root = quote! {
        #(#reexports)*
        #root_types
        #event_enum
        #registry
        #handler
        #extensions
        #lifecycle
    };
    Ok(Emitted { root, modules: module_tokens })
}

/// The names of the structs and enums `tokens` defines.
fn defined_types(tokens: &TokenStream) -> BTreeSet<String> {
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => file
            .items
            .iter()
            .filter(|i| matches!(i, syn::Item::Struct(_) | syn::Item::Enum(_)))
            .filter_map(|i| modules::owner(i, &|_| true))
            .collect(),
        Err(_) => BTreeSet::new(),
    }
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
    names: ExternalNames,
    opts: &EmitOptions,
) -> Result<TokenStream, Diagnostics> {
    let mut catalog = Catalog::new(event.type_name.clone(), "");
    let mut shadow = event.clone();
    shadow.schema = shape.clone();
    shadow.data = DataSource::Generated;
    catalog.events.push(shadow);
    let generated = schema::generate_types_unshared(&catalog)?;
    let Some(root) = generated.roots.get(&event.type_name) else {
        return Ok(TokenStream::new());
    };
    validate::emit_validate_external(ty, &event.schema, &generated, root, names, opts)
}

/// How a type the user declared names what its JSON Schema names: each
/// Rust field's JSON name, and each union tag value's Rust variant.
#[derive(Debug, Clone, Default)]
pub struct ExternalNames {
    /// Rust field name → JSON property name (every field).
    pub fields: BTreeMap<String, String>,
    /// Tag value → Rust variant name (unions only).
    pub variants: BTreeMap<String, String>,
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
        // The root routes by domain; the domain's own `dispatch` calls the
        // handler, with no catch-all arm when its domain is the catalog
        // (it would be an unreachable pattern, a warning in the user's crate).
        let flat = a.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains("=> { myfeature::dispatch(__handler, __ctx, __event).await }"), "{a}");
        assert!(flat.contains("handler.on_myfeature_progress(ctx, data).await"), "{a}");
        assert!(!flat.contains("unreachable!"), "{a}");
        assert!(flat.contains("= &[ myfeature::MYFEATURE_PROGRESS, ];"), "{a}");
        if std::env::var_os("HERALD_PRINT").is_some() {
            println!("{a}");
        }
    }
}
