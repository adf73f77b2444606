//! Generated `validate()`: the schema rules Rust types cannot express.
//!
//! The emitter walks each event's JSON Schema and typify's type for it side
//! by side. The type says how to reach a value (`Option`, `Box`, newtype,
//! `Vec`, map, struct field); the schema says what to check there. Checks
//! that deserialisation already performs are not repeated: required fields,
//! JSON types, enums, strict uuid/date-time. String length and pattern
//! rules are checked here (`schema` keeps them away from typify, so a
//! constrained string is a plain `String`).
//!
//! A `$ref` (a user's definition, or a shape the catalog shares, see
//! `crate::shapes`) becomes a call of that type's own `Validate` impl,
//! emitted once into its module, so each shape's rules are emitted once
//! and recursive definitions terminate.

use std::collections::BTreeMap;

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use serde_json::Value;
use typify_impl::{TypeDetails, TypeEnumVariant, TypeId, TypeSpace};

use super::EmitOptions;
use super::modules::Plan;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::ident;
use crate::ir::Catalog;
use crate::schema::{GeneratedTypes, format_enforced_by_type};
use crate::tagged::TaggedUnion;

/// The `Validate` impls of a catalog's generated types, by the module
/// ([`super::modules`]) each type lives in: every event's data type, and
/// every definition or shared shape that has rules of its own (its impl is
/// what the types that hold it call).
pub(super) fn emit_validate(
    catalog: &Catalog,
    generated: &GeneratedTypes,
    plan: &Plan,
    opts: &EmitOptions,
) -> Result<BTreeMap<String, TokenStream>, Diagnostics> {
    let herald = opts.herald();
    let mut walker = Walker::new(generated, &herald, BTreeMap::new());
    walker.plan = Some(plan);

    for event in &catalog.events {
        let Some(root) = generated.roots.get(&event.type_name) else { continue };
        let Some(schema) = generated.schemas.get(&event.type_name) else { continue };
        walker.module = plan.module_of_event(&event.type_name).to_string();
        let ident = format_ident!("{}", event.rust_name());
        let body = walker.walk(schema, root, Place::reference(quote!(self)), false);
        let item = validate_impl(&quote!(#ident), &body, &herald);
        walker.items.entry(walker.module.clone()).or_default().extend(item);
    }

    if !walker.errors.is_empty() {
        return Err(Diagnostics(walker.errors.into_iter().map(|m| Diagnostic::new(&catalog.source_name, 0, 0, m)).collect()));
    }

    let mut out = BTreeMap::new();
    for (module, items) in std::mem::take(&mut walker.items) {
        let patterns = walker.pattern_statics(&module);
        out.insert(
            module,
            quote! {
                const _: () = {
                    #(#patterns)*
                    #items
                };
            },
        );
    }
    Ok(out)
}

/// `impl Validate for #ty` with `body` as its walk.
fn validate_impl(ty: &TokenStream, body: &TokenStream, herald: &TokenStream) -> TokenStream {
    quote! {
        #[automatically_derived]
        impl #herald::Validate for #ty {
            fn validate_into(
                &self,
                __p: &mut #herald::validate::Pointer,
                __e: &mut ::std::vec::Vec<#herald::ValidationError>,
            ) {
                let _ = (&__p, &__e);
                #body
            }
        }
    }
}

/// `Validate` for a type the user declared (`#[cloud_event]` or
/// `#[herald::data]`).
///
/// `generated` holds typify's type for the type's *shape* (its schema
/// keyed by Rust field names, without the string rules typify would turn
/// into newtypes); `schema` is the real JSON Schema, keyed by JSON names.
/// `names` maps each Rust field to its JSON name, and each tag value of a
/// union to its Rust variant. The walk is the one YAML-declared types get,
/// so both enforce the same rules; a `$ref` is a call of the referred
/// type's own impl, which its `#[herald::data]` emitted.
pub(super) fn emit_validate_external(
    ty: &TokenStream,
    schema: &Value,
    generated: &GeneratedTypes,
    root: &TypeId,
    names: super::ExternalNames,
    opts: &EmitOptions,
) -> Result<TokenStream, Diagnostics> {
    let herald = opts.herald();
    let mut walker = Walker::new(generated, &herald, names.fields);
    walker.variants = Some(names.variants);
    let body = walker.walk(schema, root, Place::reference(quote!(self)), false);
    if !walker.errors.is_empty() {
        let source = ty.to_string();
        return Err(Diagnostics(walker.errors.into_iter().map(|m| Diagnostic::new(&source, 0, 0, m)).collect()));
    }
    let patterns = walker.pattern_statics("");
    let item = validate_impl(ty, &body, &herald);
    Ok(quote! {
        const _: () = {
            #(#patterns)*
            #item
        };
    })
}

struct Walker<'a> {
    space: &'a TypeSpace,
    defs: &'a BTreeMap<String, Value>,
    /// Where each type's items go; `None` for a struct-declared event.
    plan: Option<&'a Plan>,
    /// The module whose items are being walked.
    module: String,
    /// Each definition reached through `$ref`: whether it has rules, so
    /// its `Validate` impl exists (`None` while its walk is under way).
    defs_seen: BTreeMap<String, Option<bool>>,
    /// Each module's regexes (`__PATTERN_0`, …).
    patterns: BTreeMap<String, Vec<String>>,
    /// Each module's `Validate` impls.
    items: BTreeMap<String, TokenStream>,
    herald: TokenStream,
    errors: Vec<String>,
    /// Rust field name → JSON property name, for a struct the user wrote
    /// (`#[serde(rename)]`); empty for typify's own types.
    renames: BTreeMap<String, String>,
    /// For a type the user declared: the Rust variant of each tag value of
    /// its union (matched as `Self::Variant`). `None` for typify's types.
    variants: Option<BTreeMap<String, String>>,
}

impl<'a> Walker<'a> {
    /// A walker over `generated`'s types, emitting paths rooted at
    /// `herald`; `renames` maps Rust field names to JSON names where they
    /// differ (struct-declared events).
    fn new(generated: &'a GeneratedTypes, herald: &TokenStream, renames: BTreeMap<String, String>) -> Self {
        Walker {
            space: &generated.space,
            defs: &generated.defs,
            plan: None,
            module: String::new(),
            defs_seen: BTreeMap::new(),
            patterns: BTreeMap::new(),
            items: BTreeMap::new(),
            herald: herald.clone(),
            errors: Vec::new(),
            renames,
            variants: None,
        }
    }

    /// The compiled regexes the checks of `module` refer to, one `static`
    /// each (`__PATTERN_0`, …), built on first use.
    fn pattern_statics(&self, module: &str) -> Vec<TokenStream> {
        let herald = &self.herald;
        self.patterns
            .get(module)
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, src)| {
                let name = format_ident!("__PATTERN_{}", i);
                quote! {
                    static #name: ::std::sync::LazyLock<#herald::__private::regress::Regex> =
                        ::std::sync::LazyLock::new(|| {
                            #herald::__private::regress::Regex::new(#src)
                                .expect("pattern was checked when the catalog was compiled")
                        });
                }
            })
            .collect()
    }

    /// Checks for the value `v` (an expression of type `&T`, or `self`)
    /// whose type is `id` and whose schema is `schema`. `in_newtype` is set
    /// once typify's constrained-string newtype has enforced length and
    /// pattern.
    fn walk(&mut self, schema: &Value, id: &TypeId, v: Place, in_newtype: bool) -> TokenStream {
        let herald = self.herald.clone();
        // Copy the reference so the type borrows the space, not `self`.
        let space = self.space;
        let ty = match space.get_type(id) {
            Ok(t) => t,
            Err(e) => {
                self.errors.push(e.to_string());
                return TokenStream::new();
            }
        };
        let details = ty.details();

        // Wrappers first: they say how to reach the value, not what it is.
        match details {
            TypeDetails::Option(inner) => {
                let body = self.walk(schema, &inner, Place::reference(quote!(__x)), in_newtype);
                let r = v.by_ref();
                return if body.is_empty() {
                    body
                } else {
                    quote! { if let ::core::option::Option::Some(__x) = #r { #body } }
                };
            }
            // Field access, method calls and `&Box<T>` → `&T` coercion all see
            // through the box, so the same place serves.
            TypeDetails::Box(inner) => return self.walk(schema, &inner, v, in_newtype),
            _ => {}
        }

        if let Some(name) = crate::defs::ref_name(schema) {
            return self.walk_def(name, id, &v);
        }

        let mut out = TokenStream::new();
        let c = quote!(#herald::__private::checks);
        // typify types `const` as a plain JSON value: check it here.
        if let Some(constant) = schema.get("const")
            && !matches!(details, TypeDetails::Enum(_))
        {
            let text = constant.to_string();
            let r = v.by_ref();
            out.extend(quote! { #c::constant(__p, __e, #r, #text); });
        }
        match details {
            TypeDetails::Newtype(n) => {
                let inner = n.inner();
                out.extend(self.walk(schema, &inner, v.field(quote!(0)), true));
            }
            TypeDetails::Struct(s) => {
                let props: Vec<(String, TypeId)> = s.properties().map(|(n, t)| (n.to_string(), t)).collect();
                // How many properties the JSON object had: one per required
                // field, one per optional field present, and every key of
                // the flattened map of undeclared ones (`additionalProperties`).
                let mut optional_counts = Vec::new();
                let mut required = 0usize;
                for check in self.field_checks(schema, &props, None, &|field| v.field(quote!(#field))) {
                    let field = &check.field;
                    match check.counted {
                        Counted::IfPresent => optional_counts.push(quote!(usize::from(#v.#field.is_some()))),
                        Counted::EachKey => optional_counts.push(quote!(#v.#field.len())),
                        Counted::One => required += 1,
                    }
                    out.extend(check.pushed());
                }
                let mut terms = optional_counts;
                if required > 0 || terms.is_empty() {
                    terms.insert(0, quote!(#required));
                }
                let count = quote!(#(#terms)+*);
                if let Some(n) = uint(schema, "minProperties") {
                    out.extend(quote! { #c::min_properties(__p, __e, #count, #n); });
                }
                if let Some(n) = uint(schema, "maxProperties") {
                    out.extend(quote! { #c::max_properties(__p, __e, #count, #n); });
                }
            }
            TypeDetails::Enum(e) => {
                if let Some(union) = TaggedUnion::of(schema) {
                    let variants: BTreeMap<String, Vec<(String, TypeId)>> = e
                        .variants()
                        .map(|(name, details)| {
                            let fields = match details {
                                TypeEnumVariant::Struct(fields) => fields.into_iter().map(|(n, t)| (n.to_string(), t)).collect(),
                                _ => Vec::new(),
                            };
                            (name.to_string(), fields)
                        })
                        .collect();
                    out.extend(self.union_checks(&union, &variants, &ty.ident(), &v));
                }
            }
            TypeDetails::Map(_, value_id) => {
                if let Some(n) = uint(schema, "minProperties") {
                    out.extend(quote! { #c::min_properties(__p, __e, #v.len(), #n); });
                }
                if let Some(n) = uint(schema, "maxProperties") {
                    out.extend(quote! { #c::max_properties(__p, __e, #v.len(), #n); });
                }
                if let Some(item_schema) = schema.get("additionalProperties").filter(|s| s.is_object()) {
                    let body = self.walk(item_schema, &value_id, Place::reference(quote!(__x)), false);
                    if !body.is_empty() {
                        out.extend(quote! {
                            for (__k, __x) in #v.iter() { __p.push(__k); #body __p.pop(); }
                        });
                    }
                }
            }
            TypeDetails::Vec(item_id) | TypeDetails::Set(item_id) => {
                if let Some(n) = uint(schema, "minItems") {
                    out.extend(quote! { #c::min_items(__p, __e, #v.len(), #n); });
                }
                if let Some(n) = uint(schema, "maxItems") {
                    out.extend(quote! { #c::max_items(__p, __e, #v.len(), #n); });
                }
                if schema.get("uniqueItems") == Some(&Value::Bool(true)) {
                    out.extend(quote! { #c::unique_items(__p, __e, #v.iter()); });
                }
                if let Some(item_schema) = schema.get("items").filter(|s| s.is_object()) {
                    let body = self.walk(item_schema, &item_id, Place::reference(quote!(__x)), false);
                    if !body.is_empty() {
                        out.extend(quote! {
                            for (__i, __x) in #v.iter().enumerate() { __p.push_index(__i); #body __p.pop(); }
                        });
                    }
                }
            }
            TypeDetails::String => out.extend(self.string_checks(schema, &v, in_newtype)),
            TypeDetails::Builtin(_) if is_numeric(schema) => out.extend(number_checks(schema, &v, &c)),
            _ => {}
        }
        out
    }

    /// The checks of each field of an object, struct or struct variant,
    /// whose properties `schema` declares (but `except`, a union's tag,
    /// which is no field) and whose fields typify typed `props`; `place`
    /// says where a field's value is.
    fn field_checks(
        &mut self,
        schema: &Value,
        props: &[(String, TypeId)],
        except: Option<&str>,
        place: &dyn Fn(&syn::Ident) -> Place,
    ) -> Vec<FieldCheck> {
        let space = self.space;
        let properties = schema.get("properties").and_then(Value::as_object);
        // The JSON name of each field: the user's rename (a struct
        // declared with `#[cloud_event]`), else the property whose
        // field name it is. Fields without one are typify's
        // flattened map of undeclared properties.
        let by_field: BTreeMap<String, &str> = properties
            .into_iter()
            .flatten()
            .filter(|(k, _)| Some(k.as_str()) != except)
            .map(|(k, _)| (ident::field_name(k), k.as_str()))
            .collect();
        if self.renames.is_empty() {
            let fields: Vec<&str> = props.iter().map(|(n, _)| n.as_str()).collect();
            for (field, key) in &by_field {
                if !fields.contains(&field.as_str()) {
                    self.errors.push(format!(
                        "typify named the field of property `{key}` otherwise than `{field}`; Herald's field naming rule (`ident::field_name`) must follow typify's"
                    ));
                }
            }
        }
        let mut out = Vec::new();
        for (name, prop_id) in props {
            let field = syn::parse_str::<syn::Ident>(name).unwrap_or_else(|_| format_ident!("r#{}", name));
            let key = match self.renames.get(name.as_str()) {
                Some(renamed) => renamed.clone(),
                None => by_field.get(name.as_str()).copied().unwrap_or(name.as_str()).to_string(),
            };
            let prop_schema = properties.and_then(|p| p.get(&key));
            let counted = match space.get_type(prop_id).as_ref().map(|t| t.details()) {
                Ok(TypeDetails::Option(_)) => Counted::IfPresent,
                Ok(TypeDetails::Map(..)) if prop_schema.is_none() => Counted::EachKey,
                _ => Counted::One,
            };
            let body = match prop_schema {
                Some(prop_schema) => self.walk(prop_schema, prop_id, place(&field), false),
                None => TokenStream::new(),
            };
            out.push(FieldCheck { field, key, counted, body });
        }
        out
    }

    /// The checks of `v`, a tagged union's enum (`enum_ident`, whose
    /// variants typify typed `variants`): a `match` with an arm for each
    /// variant with rules, binding the fields that have some.
    fn union_checks(
        &mut self,
        union: &TaggedUnion<'_>,
        variants: &BTreeMap<String, Vec<(String, TypeId)>>,
        enum_ident: &TokenStream,
        v: &Place,
    ) -> TokenStream {
        let mut arms = Vec::new();
        let mut every_variant = true;
        for branch in &union.branches {
            let name = branch.variant();
            let Some(props) = variants.get(&name) else {
                self.errors.push(format!(
                    "typify named the variant of tag value `{}` otherwise than `{name}`; Herald's variant naming rule (`ident::variant_name`) must follow typify's",
                    branch.value
                ));
                continue;
            };
            let checks: Vec<FieldCheck> = self
                .field_checks(branch.schema, props, Some(union.tag), &|field| Place::reference(quote!(#field)))
                .into_iter()
                .filter(|c| !c.body.is_empty())
                .collect();
            if checks.is_empty() {
                every_variant = false;
                continue;
            }
            let binds = checks.iter().map(|c| &c.field);
            let rest = (checks.len() < props.len()).then(|| quote!(..));
            let bodies = checks.iter().map(FieldCheck::pushed);
            // The user's enum is matched in its own impl, by its own names.
            let (enum_ident, variant) = match &self.variants {
                Some(names) => (quote!(Self), format_ident!("{}", names.get(branch.value).map_or(name.as_str(), String::as_str))),
                None => (enum_ident.clone(), format_ident!("{}", name)),
            };
            arms.push(quote! { #enum_ident::#variant { #(#binds,)* #rest } => { #(#bodies)* } });
        }
        if arms.is_empty() {
            return TokenStream::new();
        }
        let others = (!every_variant).then(|| quote!(_ => {}));
        let r = v.by_ref();
        quote! { match #r { #(#arms)* #others } }
    }

    /// The checks for `v`, an instance of the definition `name` (typed
    /// `id`): a call of the definition's own `Validate` impl, emitted once
    /// into its type's module the first time it is reached, and nothing at
    /// all when the definition has no rules. (A recursive definition calls
    /// its impl while it is being walked, so it always gets one.)
    fn walk_def(&mut self, name: &str, id: &TypeId, v: &Place) -> TokenStream {
        let herald = self.herald.clone();
        let r = v.by_ref();
        let call = quote! { #herald::Validate::validate_into(#r, __p, __e); };
        if self.plan.is_none() {
            // A type the user declared refers to another of theirs, whose
            // `#[herald::data]` implements `Validate` (empty when it has
            // no rules: it cannot know who calls it). The call is bounded
            // by `Data`, whose error says to add the attribute.
            return quote! { #herald::__private::validate_data(#r, __p, __e); };
        }
        match self.defs_seen.get(name) {
            Some(Some(false)) => return TokenStream::new(),
            Some(Some(true)) => return call,
            Some(None) => {
                // Reached from its own walk: it needs its impl.
                self.defs_seen.insert(name.to_string(), Some(true));
                return call;
            }
            None => {}
        }
        self.defs_seen.insert(name.to_string(), None);
        let (Some(plan), Some(schema)) = (self.plan, self.defs.get(name)) else {
            // A ref the lints let through to nothing.
            return TokenStream::new();
        };
        let ty = match self.space.get_type(id) {
            Ok(t) => t,
            Err(e) => {
                self.errors.push(format!("`$defs/{name}`: {e}"));
                return TokenStream::new();
            }
        };
        if !matches!(ty.details(), TypeDetails::Struct(_) | TypeDetails::Enum(_) | TypeDetails::Newtype(_)) {
            // Not a type of the generated code (a builtin or Herald's own):
            // its rules are checked where it is used.
            self.defs_seen.remove(name);
            return self.walk(schema, id, Place { expr: v.expr.clone(), is_ref: v.is_ref }, false);
        }
        let ty_name = ty.name();
        let ident = ty.ident();
        let outer = std::mem::replace(&mut self.module, plan.module_of_type(&ty_name).to_string());
        let body = self.walk(schema, id, Place::reference(quote!(self)), false);
        let module = std::mem::replace(&mut self.module, outer);
        let called = self.defs_seen.get(name) == Some(&Some(true));
        let has_impl = called || !body.is_empty();
        self.defs_seen.insert(name.to_string(), Some(has_impl));
        if !has_impl {
            return TokenStream::new();
        }
        let item = validate_impl(&ident, &body, &herald);
        self.items.entry(module).or_default().extend(item);
        call
    }

    fn string_checks(&mut self, schema: &Value, v: &Place, in_newtype: bool) -> TokenStream {
        let herald = &self.herald;
        let c = quote!(#herald::__private::checks);
        let mut out = TokenStream::new();
        let s = quote!(#v.as_str());
        if !in_newtype {
            if let Some(n) = uint(schema, "minLength") {
                out.extend(quote! { #c::min_length(__p, __e, #s, #n); });
            }
            if let Some(n) = uint(schema, "maxLength") {
                out.extend(quote! { #c::max_length(__p, __e, #s, #n); });
            }
            if let Some(src) = schema.get("pattern").and_then(Value::as_str) {
                let patterns = self.patterns.entry(self.module.clone()).or_default();
                let i = match patterns.iter().position(|p| p == src) {
                    Some(i) => i,
                    None => {
                        patterns.push(src.to_string());
                        patterns.len() - 1
                    }
                };
                let name = format_ident!("__PATTERN_{}", i);
                out.extend(quote! { #c::pattern(__p, __e, #s, &#name, #src); });
            }
        }
        if let Some(format) = schema.get("format").and_then(Value::as_str)
            && !format_enforced_by_type(schema)
        {
            out.extend(quote! { #c::format(__p, __e, #s, #format); });
        }
        out
    }
}

/// How a field counts towards its object's `minProperties`/`maxProperties`.
enum Counted {
    /// Always there (required, or a collection that is empty when absent).
    One,
    /// An `Option`: when it is `Some`.
    IfPresent,
    /// typify's flattened map of undeclared properties: each of its keys.
    EachKey,
}

/// One field of an object and its checks.
struct FieldCheck {
    /// The Rust field.
    field: syn::Ident,
    /// Its JSON name, the pointer segment of its errors.
    key: String,
    counted: Counted,
    /// The checks of its value (empty: none).
    body: TokenStream,
}

impl FieldCheck {
    /// The checks with the field's name on the pointer while they run.
    fn pushed(&self) -> TokenStream {
        if self.body.is_empty() {
            return TokenStream::new();
        }
        let (key, body) = (&self.key, &self.body);
        quote! { __p.push(#key); #body __p.pop(); }
    }
}

/// Where the value being checked lives, as Rust source.
///
/// Either a reference (`self`, `__v`, a loop or `if let` binding `__x`) or a
/// place reached from one (`self.progress`, `__v.0`). Method calls and field
/// access read the same for both; [`Place::by_ref`] adds the `&` that a
/// place needs when passed to a check, so the output carries no redundant
/// `(&…)` wrapping.
struct Place {
    expr: TokenStream,
    is_ref: bool,
}

impl Place {
    fn reference(expr: TokenStream) -> Self {
        Place { expr, is_ref: true }
    }

    fn field(&self, name: TokenStream) -> Self {
        let base = &self.expr;
        Place { expr: quote!(#base.#name), is_ref: false }
    }

    fn by_ref(&self) -> TokenStream {
        let e = &self.expr;
        if self.is_ref { e.clone() } else { quote!(&#e) }
    }
}

impl quote::ToTokens for Place {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.expr.to_tokens(tokens);
    }
}

fn is_numeric(schema: &Value) -> bool {
    matches!(schema.get("type").and_then(Value::as_str), Some("number" | "integer"))
}

fn number_checks(schema: &Value, v: &Place, c: &TokenStream) -> TokenStream {
    let mut out = TokenStream::new();
    for (key, f) in [
        ("minimum", quote!(minimum)),
        ("maximum", quote!(maximum)),
        ("exclusiveMinimum", quote!(exclusive_minimum)),
        ("exclusiveMaximum", quote!(exclusive_maximum)),
        ("multipleOf", quote!(multiple_of)),
    ] {
        if let Some(x) = schema.get(key).and_then(Value::as_f64).filter(|x| x.is_finite()) {
            let lit = Literal::f64_suffixed(x);
            let r = v.by_ref();
            out.extend(quote! { #c::#f(__p, __e, #r, #lit); });
        }
    }
    out
}

fn uint(schema: &Value, key: &str) -> Option<Literal> {
    schema.get(key).and_then(Value::as_u64).map(Literal::u64_unsuffixed)
}
