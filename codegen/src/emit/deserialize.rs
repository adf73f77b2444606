//! `Deserialize` for data types without serde's derive.
//!
//! serde's derive expands to about 400 lines per struct (a field visitor, a
//! sequence visitor, a map visitor, a wrapper type per `deserialize_with`
//! field), and in a catalog of many types that expansion is most of what
//! rustc checks: at 100 event types the generated crate built in 8.4 s with
//! it and 2.9 s without. So a plain data struct or string enum gets a short
//! impl instead, which hands the work to one generic reader in the runtime
//! (`__private::de`): the struct lists its properties and says how each is
//! read and finished; the enum lists its strings. The `Serialize` derive
//! stays.
//!
//! Only shapes whose every serde attribute is understood here are
//! rewritten; anything else (a tagged union, `flatten`, a newtype) keeps
//! the derive, so nothing is read differently by accident.

use proc_macro2::TokenStream;
use quote::quote;
use syn::punctuated::Punctuated;

use super::types::{has_serde_option, is_option, serde_option, wire_name};

/// Replaces the `Deserialize` derive of every struct and string enum in
/// `file` that this module can read, adding the impls after each item.
pub(super) fn replace_derives(file: &mut syn::File, herald: &TokenStream) {
    let mut items = Vec::with_capacity(file.items.len());
    for mut item in std::mem::take(&mut file.items) {
        let impls = match &item {
            syn::Item::Struct(s) => struct_plan(s).map(|plan| struct_impls(&s.ident, &plan, herald)),
            syn::Item::Enum(e) => enum_plan(e).map(|plan| enum_impl(&e.ident, &plan, herald)),
            _ => None,
        };
        // The impls are built from parsed items, so they parse; if they
        // ever did not, the derive stays and nothing is lost.
        let impls = impls.and_then(|tokens| syn::parse2::<syn::File>(tokens).ok());
        if impls.is_some() {
            match &mut item {
                syn::Item::Struct(s) => remove_deserialize_derive(&mut s.attrs),
                syn::Item::Enum(e) => remove_deserialize_derive(&mut e.attrs),
                _ => {}
            }
        }
        items.push(item);
        items.extend(impls.into_iter().flat_map(|f| f.items));
    }
    file.items = items;
}

/// How one property of a struct is read and finished.
struct Property {
    ident: syn::Ident,
    /// Its JSON name.
    wire: String,
    /// What is read from the JSON: the field's type, or `T` of an
    /// `Option<T>` field (present means a `T`; `null` is refused).
    read_as: syn::Type,
    finish: Finish,
}

/// What a property becomes when the object has ended.
enum Finish {
    /// Required: absent is serde's "missing field" error.
    Required,
    /// An `Option` field: absent is `None`.
    Optional,
    /// `#[serde(default)]`: absent is `Default::default()`.
    Default,
    /// `#[serde(default = "path")]`: absent is `path()`.
    DefaultWith(syn::Path),
}

struct StructPlan {
    properties: Vec<Property>,
    deny_unknown: bool,
}

/// The plan for a struct with named fields that derives `Deserialize` and
/// whose serde attributes are all understood; `None` leaves it derived.
fn struct_plan(s: &syn::ItemStruct) -> Option<StructPlan> {
    if !derives_deserialize(&s.attrs) || !s.generics.params.is_empty() {
        return None;
    }
    let syn::Fields::Named(fields) = &s.fields else { return None };
    let container = serde_keys(&s.attrs)?;
    if container.iter().any(|k| k != "crate" && k != "deny_unknown_fields") {
        return None;
    }
    let mut properties = Vec::new();
    for field in &fields.named {
        let keys = serde_keys(&field.attrs)?;
        if keys.iter().any(|k| !["rename", "default", "deserialize_with", "skip_serializing_if"].contains(&k.as_str())) {
            return None;
        }
        let ident = field.ident.clone()?;
        let wire = wire_name(&field.attrs, &ident);
        let with = serde_option(&field.attrs, "deserialize_with");
        let (read_as, finish) = match (is_option(&field.ty), with) {
            // `default, deserialize_with = "…some_not_null"`: see the
            // runtime's `some_not_null`.
            (true, Some(with)) if with.ends_with("::__private::some_not_null") && has_serde_option(&field.attrs, "default") => {
                (option_inner(&field.ty)?, Finish::Optional)
            }
            (_, Some(_)) => return None,
            // An `Option` serde would fill with `None` when absent, without
            // the attributes above: not a shape the emitters produce.
            (true, None) => return None,
            (false, None) => {
                let finish = match serde_option(&field.attrs, "default") {
                    Some(path) => Finish::DefaultWith(syn::parse_str(&path).ok()?),
                    None if has_serde_option(&field.attrs, "default") => Finish::Default,
                    None => Finish::Required,
                };
                (field.ty.clone(), finish)
            }
        };
        properties.push(Property { ident, wire, read_as, finish });
    }
    Some(StructPlan { properties, deny_unknown: container.iter().any(|k| k == "deny_unknown_fields") })
}

fn struct_impls(ident: &syn::Ident, plan: &StructPlan, herald: &TokenStream) -> TokenStream {
    let serde = quote!(#herald::__private::serde);
    let de = quote!(#herald::__private::de);
    let name = ident.to_string();
    let wires: Vec<&str> = plan.properties.iter().map(|p| p.wire.as_str()).collect();
    let read_as = plan.properties.iter().map(|p| &p.read_as);
    let nones = plan.properties.iter().map(|_| quote!(::core::option::Option::None));
    let deny = plan.deny_unknown.then(|| {
        quote!(
            const DENY_UNKNOWN: bool = true;
        )
    });
    let (field, read, finish) = if plan.properties.is_empty() {
        (
            quote! {
                fn field(_: &str) -> ::core::option::Option<usize> {
                    ::core::option::Option::None
                }
            },
            quote! {
                fn read<'de, A: #serde::de::MapAccess<'de>>(_: &mut (), _: usize, _: &mut A) -> ::core::result::Result<(), A::Error> {
                    ::core::result::Result::Ok(())
                }
            },
            quote! {
                fn finish<E: #serde::de::Error>(_: ()) -> ::core::result::Result<Self, E> {
                    ::core::result::Result::Ok(Self {})
                }
            },
        )
    } else {
        let arms = plan.properties.iter().enumerate().map(|(i, p)| {
            let index = syn::Index::from(i);
            let wire = &p.wire;
            quote! { #index => #de::read(&mut partial.#index, map, #wire), }
        });
        let fields = plan.properties.iter().enumerate().map(|(i, p)| {
            let index = syn::Index::from(i);
            let field = &p.ident;
            let wire = &p.wire;
            let value = match &p.finish {
                Finish::Required => quote!(#de::required(partial.#index, #wire)?),
                Finish::Optional => quote!(partial.#index),
                Finish::Default => quote!(partial.#index.unwrap_or_default()),
                Finish::DefaultWith(path) => quote!(partial.#index.unwrap_or_else(#path)),
            };
            quote! { #field: #value, }
        });
        let indexes = (0..plan.properties.len()).map(syn::Index::from);
        (
            quote! {
                fn field(name: &str) -> ::core::option::Option<usize> {
                    match name {
                        #(#wires => ::core::option::Option::Some(#indexes),)*
                        _ => ::core::option::Option::None,
                    }
                }
            },
            quote! {
                fn read<'de, A: #serde::de::MapAccess<'de>>(
                    partial: &mut Self::Partial,
                    field: usize,
                    map: &mut A,
                ) -> ::core::result::Result<(), A::Error> {
                    match field {
                        #(#arms)*
                        _ => ::core::result::Result::Ok(()),
                    }
                }
            },
            quote! {
                fn finish<E: #serde::de::Error>(partial: Self::Partial) -> ::core::result::Result<Self, E> {
                    ::core::result::Result::Ok(Self { #(#fields)* })
                }
            },
        )
    };
    quote! {
        impl<'de> #serde::Deserialize<'de> for #ident {
            fn deserialize<D: #serde::Deserializer<'de>>(deserializer: D) -> ::core::result::Result<Self, D::Error> {
                #de::object(deserializer)
            }
        }
        impl #de::Object for #ident {
            const NAME: &'static str = #name;
            const FIELDS: &'static [&'static str] = &[#(#wires),*];
            #deny
            #field
            type Partial = (#(::core::option::Option<#read_as>,)*);
            const EMPTY: Self::Partial = (#(#nones,)*);
            #read
            #finish
        }
    }
}

/// A string enum: each unit variant and its JSON string.
struct EnumPlan {
    variants: Vec<(syn::Ident, String)>,
}

/// The plan for an enum of unit variants that derives `Deserialize` and
/// `Copy` and has no serde attribute but `crate` and variants' `rename`.
fn enum_plan(e: &syn::ItemEnum) -> Option<EnumPlan> {
    if !derives_deserialize(&e.attrs) || !derives(&e.attrs, "Copy") || !e.generics.params.is_empty() {
        return None;
    }
    if serde_keys(&e.attrs)?.iter().any(|k| k != "crate") {
        return None;
    }
    let mut variants = Vec::new();
    for variant in &e.variants {
        if !variant.fields.is_empty() || variant.discriminant.is_some() {
            return None;
        }
        if serde_keys(&variant.attrs)?.iter().any(|k| k != "rename") {
            return None;
        }
        variants.push((variant.ident.clone(), wire_name(&variant.attrs, &variant.ident)));
    }
    Some(EnumPlan { variants })
}

fn enum_impl(ident: &syn::Ident, plan: &EnumPlan, herald: &TokenStream) -> TokenStream {
    let serde = quote!(#herald::__private::serde);
    let de = quote!(#herald::__private::de);
    let names = plan.variants.iter().map(|(_, wire)| wire);
    let values = plan.variants.iter().map(|(variant, _)| quote!(Self::#variant));
    quote! {
        impl<'de> #serde::Deserialize<'de> for #ident {
            fn deserialize<D: #serde::Deserializer<'de>>(deserializer: D) -> ::core::result::Result<Self, D::Error> {
                #de::one_of(deserializer, &[#(#names),*], &[#(#values),*])
            }
        }
    }
}

/// The `T` of `Option<T>`.
fn option_inner(ty: &syn::Type) -> Option<syn::Type> {
    let syn::Type::Path(path) = ty else { return None };
    let syn::PathArguments::AngleBracketed(args) = &path.path.segments.last()?.arguments else { return None };
    match args.args.first()? {
        syn::GenericArgument::Type(inner) if args.args.len() == 1 => Some(inner.clone()),
        _ => None,
    }
}

/// The keys of every `#[serde(...)]` attribute (`rename`, `default`, …);
/// `None` if one does not parse as a list of keys and values.
fn serde_keys(attrs: &[syn::Attribute]) -> Option<Vec<String>> {
    let mut keys = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let metas = attr.parse_args_with(Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated).ok()?;
        for meta in metas {
            keys.push(meta.path().get_ident()?.to_string());
        }
    }
    Some(keys)
}

/// The paths in the item's `#[derive(...)]` lists.
fn derived(attrs: &[syn::Attribute]) -> Vec<syn::Path> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .filter_map(|a| a.parse_args_with(Punctuated::<syn::Path, syn::Token![,]>::parse_terminated).ok())
        .flatten()
        .collect()
}

fn derives(attrs: &[syn::Attribute], name: &str) -> bool {
    derived(attrs).iter().any(|p| p.segments.last().is_some_and(|s| s.ident == name))
}

fn derives_deserialize(attrs: &[syn::Attribute]) -> bool {
    derived(attrs).iter().any(is_serde_deserialize)
}

/// serde's `Deserialize` derive, under whatever path it was reached.
fn is_serde_deserialize(path: &syn::Path) -> bool {
    path.segments.last().is_some_and(|s| s.ident == "Deserialize") && path.segments.iter().any(|s| s.ident == "serde")
}

/// Drops serde's `Deserialize` from the item's derive lists.
fn remove_deserialize_derive(attrs: &mut [syn::Attribute]) {
    for attr in attrs.iter_mut().filter(|a| a.path().is_ident("derive")) {
        let Ok(paths) = attr.parse_args_with(Punctuated::<syn::Path, syn::Token![,]>::parse_terminated) else { continue };
        let kept: Vec<&syn::Path> = paths.iter().filter(|p| !is_serde_deserialize(p)).collect();
        if kept.len() != paths.len() {
            *attr = syn::parse_quote!(#[derive(#(#kept),*)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::{ToTokens, quote};

    fn rewritten(mut file: syn::File) -> String {
        super::replace_derives(&mut file, &quote!(::herald));
        file.to_token_stream().to_string()
    }

    /// A plain struct loses the derive and gets the two impls, each
    /// property read and finished as its attributes say.
    #[test]
    fn a_struct_gets_the_compact_impls() {
        let text = rewritten(syn::parse_quote! {
            #[derive(::herald::__private::serde::Deserialize, ::herald::__private::serde::Serialize, Clone, Debug)]
            #[serde(crate = "::herald::__private::serde")]
            pub struct Sample {
                pub count: i64,
                #[serde(skip_serializing_if = "::std::option::Option::is_none")]
                #[serde(default, deserialize_with = "::herald::__private::some_not_null")]
                pub note: ::std::option::Option<::std::string::String>,
                #[serde(default, skip_serializing_if = "::std::vec::Vec::is_empty")]
                pub tags: ::std::vec::Vec<::std::string::String>,
                #[serde(rename = "type")]
                pub type_: ::std::string::String,
                #[serde(default = "defaults::level")]
                pub level: u8,
            }
        });
        assert!(text.contains("# [derive (:: herald :: __private :: serde :: Serialize , Clone , Debug)]"), "{text}");
        for part in [
            "const FIELDS : & 'static [& 'static str] = & [\"count\" , \"note\" , \"tags\" , \"type\" , \"level\"]",
            "1 => :: herald :: __private :: de :: read (& mut partial . 1 , map , \"note\")",
            "count : :: herald :: __private :: de :: required (partial . 0 , \"count\") ?",
            "note : partial . 1 ,",
            "tags : partial . 2 . unwrap_or_default () ,",
            "type_ : :: herald :: __private :: de :: required (partial . 3 , \"type\") ?",
            "level : partial . 4 . unwrap_or_else (defaults :: level) ,",
            "type Partial = (:: core :: option :: Option < i64 > , :: core :: option :: Option < :: std :: string :: String > ,",
        ] {
            assert!(text.contains(part), "missing {part:?} in {text}");
        }
        assert!(!text.contains("DENY_UNKNOWN"), "{text}");
    }

    /// Anything this module does not understand keeps serde's derive.
    #[test]
    fn unknown_shapes_keep_the_derive() {
        for file in [
            syn::parse_quote! {
                #[derive(::serde::Deserialize)]
                #[serde(tag = "kind")]
                pub enum Target { File { path: String }, Url { url: String } }
            },
            syn::parse_quote! {
                #[derive(::serde::Deserialize)]
                pub struct Wrapper(pub String);
            },
            syn::parse_quote! {
                #[derive(::serde::Deserialize)]
                pub struct Flat { #[serde(flatten)] pub rest: ::std::collections::BTreeMap<String, String> }
            },
            syn::parse_quote! {
                #[derive(::serde::Deserialize)]
                pub struct Loose { pub maybe: Option<String> }
            },
            syn::parse_quote! {
                #[derive(::serde::Deserialize, Clone)]
                pub enum NotCopy { A, B }
            },
        ] {
            let text = rewritten(file);
            assert!(text.contains("serde :: Deserialize"), "{text}");
            assert!(!text.contains("__private :: de"), "{text}");
        }
    }

    /// `additionalProperties: false` and a string enum.
    #[test]
    fn closed_structs_and_string_enums() {
        let text = rewritten(syn::parse_quote! {
            #[derive(::serde::Deserialize, ::serde::Serialize)]
            #[serde(deny_unknown_fields)]
            pub struct Closed {}
            #[derive(::serde::Deserialize, Clone, Copy)]
            pub enum Mode { #[serde(rename = "read-only")] ReadOnly, Write }
        });
        assert!(text.contains("const DENY_UNKNOWN : bool = true ;"), "{text}");
        assert!(text.contains("type Partial = () ;"), "{text}");
        assert!(text.contains("one_of (deserializer , & [\"read-only\" , \"Write\"] , & [Self :: ReadOnly , Self :: Write])"), "{text}");
        assert!(!text.contains("serde :: Deserialize ,") && !text.contains("(:: serde :: Deserialize)"), "{text}");
    }
}
