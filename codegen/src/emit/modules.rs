//! Where generated items go: one module per domain, one for what domains
//! share.
//!
//! A catalog's data types are split by the domain of their event
//! (`ai.run.started` → `run`); a type that events of several domains reach
//! (a shared shape, a `$defs` entry) goes to `shared`. rustc compiles and
//! caches each module as its own codegen unit, and a build script writes
//! each to its own file, so editing one event type recompiles its domain,
//! not the catalog. The catalog-level items (`Event`, the registry, the
//! handler trait) stay at the root, which re-exports every module, so the
//! types are named as before (`events::RunStarted`).

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{TokenStream, TokenTree};
use typify_impl::{TypeDetails, TypeEnumVariant, TypeId, TypeSpace};

use crate::ir::{Catalog, DataSource};
use crate::schema::GeneratedTypes;

/// The module of the types that more than one domain reaches.
pub(crate) const SHARED: &str = "shared";

/// The module of each generated type and event.
pub(crate) struct Plan {
    /// Event `type` → module.
    by_event: BTreeMap<String, String>,
    /// Rust type name → module.
    by_type: BTreeMap<String, String>,
}

impl Plan {
    /// Place every generated type: in its event's domain module when one
    /// domain reaches it, else in [`SHARED`].
    pub(crate) fn new(catalog: &Catalog, generated: &GeneratedTypes) -> Plan {
        let mut by_event = BTreeMap::new();
        let mut reached: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for event in catalog.events.iter().filter(|e| e.data == DataSource::Generated) {
            let module = domain_module(&event.type_name, &catalog.prefix);
            if let Some(root) = generated.roots.get(&event.type_name) {
                let mut seen = BTreeSet::new();
                named_types(&generated.space, root, &mut seen);
                for name in seen {
                    reached.entry(name).or_default().insert(module.clone());
                }
            }
            by_event.insert(event.type_name.clone(), module);
        }
        let by_type = reached
            .into_iter()
            .map(|(name, modules)| {
                let module = if modules.len() == 1 { modules.into_iter().next().unwrap_or_default() } else { SHARED.to_string() };
                (name, module)
            })
            .collect();
        Plan { by_event, by_type }
    }

    /// The module of an event's items.
    pub(crate) fn module_of_event(&self, type_name: &str) -> &str {
        self.by_event.get(type_name).map_or(SHARED, String::as_str)
    }

    /// Whether `name` is a generated type some event reaches.
    pub(crate) fn knows(&self, name: &str) -> bool {
        self.by_type.contains_key(name)
    }

    /// The module of a generated type (a definition no event reaches goes
    /// to [`SHARED`]).
    pub(crate) fn module_of_type(&self, name: &str) -> &str {
        self.by_type.get(name).map_or(SHARED, String::as_str)
    }
}

/// The module of an event type's domain: `ai.run.started` → `run`, as a
/// Rust identifier (`field_name` rules), and never the name of a module the
/// generated code has already (`shared`, typify's `error` and `defaults`).
pub(crate) fn domain_module(type_name: &str, prefix: &str) -> String {
    let rest = type_name.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')).unwrap_or(type_name);
    let domain = match rest.split_once('.') {
        Some((domain, _)) => domain,
        None => "events",
    };
    let name = crate::ident::field_name(domain);
    if matches!(name.as_str(), SHARED | "error" | "defaults") { format!("{name}_events") } else { name }
}

/// The names of the generated (named) types reachable from `id`.
fn named_types(space: &TypeSpace, id: &TypeId, seen: &mut BTreeSet<String>) {
    let Ok(ty) = space.get_type(id) else { return };
    let children: Vec<TypeId> = match ty.details() {
        TypeDetails::Struct(s) => {
            if !seen.insert(ty.name()) {
                return;
            }
            s.properties().map(|(_, t)| t).collect()
        }
        TypeDetails::Enum(e) => {
            if !seen.insert(ty.name()) {
                return;
            }
            e.variants_info()
                .flat_map(|v| match v.details {
                    TypeEnumVariant::Simple => Vec::new(),
                    TypeEnumVariant::Tuple(ids) => ids,
                    TypeEnumVariant::Struct(fields) => fields.into_iter().map(|(_, t)| t).collect(),
                })
                .collect()
        }
        TypeDetails::Newtype(n) => {
            if !seen.insert(ty.name()) {
                return;
            }
            vec![n.inner()]
        }
        TypeDetails::Option(t) | TypeDetails::Vec(t) | TypeDetails::Set(t) | TypeDetails::Box(t) | TypeDetails::Array(t, _) => vec![t],
        TypeDetails::Map(k, v) => vec![k, v],
        TypeDetails::Tuple(ids) => ids.collect(),
        TypeDetails::Builtin(_) | TypeDetails::Unit | TypeDetails::String => Vec::new(),
    };
    for child in children {
        named_types(space, &child, seen);
    }
}

/// The type an item of typify's output belongs to: a struct's or enum's
/// name, an impl's self type, or for an impl on a foreign type
/// (`impl From<Name> for String`) the generated type among its trait's
/// arguments, as `known` tells them; `None` for anything else (its `error`
/// module).
pub(crate) fn owner(item: &syn::Item, known: &dyn Fn(&str) -> bool) -> Option<String> {
    match item {
        syn::Item::Struct(s) => Some(s.ident.to_string()),
        syn::Item::Enum(e) => Some(e.ident.to_string()),
        syn::Item::Impl(i) => {
            let last = |ty: &syn::Type| match ty {
                syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
                _ => None,
            };
            let own = last(&i.self_ty);
            if own.as_deref().is_some_and(known) {
                return own;
            }
            let from_trait = i.trait_.as_ref().and_then(|(_, path, _)| {
                path.segments.iter().find_map(|seg| match &seg.arguments {
                    syn::PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
                        syn::GenericArgument::Type(t) => last(t).filter(|n| known(n)),
                        _ => None,
                    }),
                    _ => None,
                })
            });
            from_trait.or(own)
        }
        _ => None,
    }
}

/// Every identifier in `tokens`, for the imports a module needs.
pub(crate) fn idents(tokens: &TokenStream, out: &mut BTreeSet<String>) {
    for tt in tokens.clone() {
        match tt {
            TokenTree::Ident(i) => {
                out.insert(i.to_string());
            }
            TokenTree::Group(g) => idents(&g.stream(), out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_name_modules() {
        assert_eq!(domain_module("ai.run.started", "ai"), "run");
        assert_eq!(domain_module("ai.stage-two.done", "ai"), "stage_two");
        assert_eq!(domain_module("ai.type.set", "ai"), "type_");
        assert_eq!(domain_module("ai.shared.x", "ai"), "shared_events");
        assert_eq!(domain_module("ai.error.raised", "ai"), "error_events");
        assert_eq!(domain_module("ai.defaults.set", "ai"), "defaults_events");
        assert_eq!(domain_module("kit.user.signed_up", "ai"), "kit");
        assert_eq!(domain_module("ai.ping", "ai"), "events");
    }
}
