//! typify's data types, made to reach their dependencies through Herald.
//!
//! typify emits `::serde::…`, `::serde_json::…`, `::regress::…` and
//! `herald::types::…` paths. A user's crate depends on Herald only, so each
//! such path is rewritten to `{herald}::__private::…` (or `{herald}::types`)
//! and every serde derive gets `#[serde(crate = "…")]`.

use quote::ToTokens;
use syn::visit_mut::{self, VisitMut};

use super::EmitOptions;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::schema::GeneratedTypes;

/// Crates typify may name that Herald re-exports from `__private`.
const PRIVATE_CRATES: &[&str] = &["serde", "serde_json", "regress", "uuid", "chrono"];

/// typify's items (types, their impls, its `error` module), rewritten.
pub(super) fn emit_data_types(generated: &GeneratedTypes, opts: &EmitOptions) -> Result<syn::File, Diagnostics> {
    let tokens = generated.space.to_stream();
    let mut file: syn::File = syn::parse2(tokens)
        .map_err(|e| Diagnostics(vec![Diagnostic::new("<typify>", 0, 0, format!("typify produced unparsable code: {e}"))]))?;
    let herald: syn::Path = syn::parse_str(&opts.herald_path).unwrap_or_else(|_| syn::parse_quote!(::herald));
    let herald_text = herald.to_token_stream().to_string().replace(' ', "");
    let mut rewriter = Rewriter { herald, herald_text };
    rewriter.visit_file_mut(&mut file);
    derive_unit_defaults(&mut file);
    super::deserialize::replace_derives(&mut file, &opts.herald());
    Ok(file)
}

/// typify writes an enum's `default` (a property's `default: read`) as a
/// hand-rolled `impl Default` returning one unit variant, which clippy's
/// `derivable_impls` refuses in the user's crate: make it
/// `#[derive(Default)]` with `#[default]` on that variant.
fn derive_unit_defaults(file: &mut syn::File) {
    // Enum name → its default variant, from impls of exactly that shape.
    let mut defaults: std::collections::BTreeMap<String, syn::Ident> = std::collections::BTreeMap::new();
    for item in &file.items {
        if let Some((ty, variant)) = unit_default(item) {
            defaults.insert(ty, variant);
        }
    }
    let mut derived = std::collections::BTreeSet::new();
    for item in file.items.iter_mut() {
        let syn::Item::Enum(e) = item else { continue };
        let Some(default) = defaults.get(&e.ident.to_string()) else { continue };
        let Some(variant) = e.variants.iter_mut().find(|v| v.ident == *default && v.fields.is_empty()) else { continue };
        variant.attrs.push(syn::parse_quote!(#[default]));
        let Some(derive) = e.attrs.iter_mut().find(|a| a.path().is_ident("derive")) else { continue };
        if let syn::Meta::List(list) = &mut derive.meta {
            list.tokens.extend(quote::quote!(, Default));
        }
        derived.insert(e.ident.to_string());
    }
    file.items.retain(|item| unit_default(item).is_none_or(|(ty, _)| !derived.contains(&ty)));
}

/// `impl Default for E { fn default() -> Self { E::V } }`: `E` and `V`.
fn unit_default(item: &syn::Item) -> Option<(String, syn::Ident)> {
    let syn::Item::Impl(imp) = item else { return None };
    let (_, trait_path, _) = imp.trait_.as_ref()?;
    if trait_path.segments.last()?.ident != "Default" || imp.items.len() != 1 {
        return None;
    }
    let syn::Type::Path(ty) = imp.self_ty.as_ref() else { return None };
    let ty = ty.path.get_ident()?.to_string();
    let syn::ImplItem::Fn(f) = &imp.items[0] else { return None };
    let [syn::Stmt::Expr(syn::Expr::Path(value), None)] = f.block.stmts.as_slice() else { return None };
    let segments: Vec<&syn::PathSegment> = value.path.segments.iter().collect();
    match segments.as_slice() {
        [owner, variant] if owner.ident == ty || owner.ident == "Self" => Some((ty, variant.ident.clone())),
        _ => None,
    }
}

struct Rewriter {
    herald: syn::Path,
    /// `herald` as source text (`::herald`), for paths inside strings.
    herald_text: String,
}

impl Rewriter {
    fn rewrite(&self, path: &mut syn::Path) {
        let Some(first) = path.segments.first() else { return };
        let first = first.ident.to_string();
        let rest: Vec<syn::PathSegment> = path.segments.iter().skip(1).cloned().collect();
        let mut new: syn::Path = self.herald.clone();
        if first == "herald" && path.segments.len() > 1 {
            // `herald::types::Uuid` from the x-rust-type extension.
        } else if PRIVATE_CRATES.contains(&first.as_str()) && path.leading_colon.is_some() {
            new.segments.push(syn::parse_quote!(__private));
            new.segments.push(path.segments[0].clone());
        } else {
            return;
        }
        new.segments.extend(rest);
        *path = new;
    }
}

impl Rewriter {
    /// Makes every `Option<T>` field of a data struct mean "absent or a
    /// value": an explicit `null` is refused (see `__private::some_not_null`)
    /// and `None` is left out when serializing. The catalog lint forbids
    /// nullable types, so an `Option` here always means "not required"
    /// (typify marks some such fields required and nullable, see
    /// `schema::optional_collections_as_options`, and then skips neither).
    fn reject_null_for_optional(&self, fields: &mut syn::Fields) {
        let with = format!("{}::__private::some_not_null", self.herald_text);
        for field in fields.iter_mut() {
            if is_option(&field.ty) && field.ident.is_some() {
                // typify's `Option::deserialize` makes a required nullable
                // field take `null`; ours below takes absent instead.
                remove_serde_option(&mut field.attrs, "deserialize_with");
                field.attrs.push(syn::parse_quote!(#[serde(default, deserialize_with = #with)]));
                if !has_serde_option(&field.attrs, "skip_serializing_if") {
                    field.attrs.push(syn::parse_quote!(#[serde(skip_serializing_if = "::core::option::Option::is_none")]));
                }
            }
        }
    }
}

impl Rewriter {
    /// The named fields of a data struct or of a union's variant: `null`
    /// refused for optional ones, each documented.
    fn data_fields(&self, fields: &mut syn::Fields) {
        self.reject_null_for_optional(fields);
        for field in fields.iter_mut() {
            if let Some(ident) = &field.ident {
                // Optional fields are `Option`s or collections that
                // default to empty when absent.
                let optional = is_option(&field.ty) || has_serde_option(&field.attrs, "default");
                let name = wire_name(&field.attrs, ident);
                let doc = if optional { format!(" `{name}` (optional).") } else { format!(" `{name}` (required).") };
                add_doc_if_missing(&mut field.attrs, &doc);
            }
        }
    }
}

/// The string value of `option` in the `#[serde(...)]` attributes among
/// `attrs` (`tag` in `#[serde(tag = "kind")]`).
pub(super) fn serde_option(attrs: &[syn::Attribute], option: &str) -> Option<String> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident(option) {
                found = Some(meta.value()?.parse::<syn::LitStr>()?.value());
            } else if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            }
            Ok(())
        });
    }
    found
}

/// Remove `option` from the `#[serde(...)]` attributes among `attrs`
/// (and an attribute it leaves empty), keeping the others (`rename`).
fn remove_serde_option(attrs: &mut Vec<syn::Attribute>, option: &str) {
    type Metas = syn::punctuated::Punctuated<syn::Meta, syn::Token![,]>;
    attrs.retain_mut(|attr| {
        if !attr.path().is_ident("serde") {
            return true;
        }
        let Ok(metas) = attr.parse_args_with(Metas::parse_terminated) else { return true };
        let kept: Vec<&syn::Meta> = metas.iter().filter(|m| !m.path().is_ident(option)).collect();
        if kept.len() != metas.len() {
            *attr = syn::parse_quote!(#[serde(#(#kept),*)]);
        }
        !kept.is_empty()
    });
}

/// Whether a `#[serde(...)]` attribute among `attrs` sets `option`.
pub(super) fn has_serde_option(attrs: &[syn::Attribute], option: &str) -> bool {
    attrs.iter().filter(|a| a.path().is_ident("serde")).any(|a| {
        let mut found = false;
        let _ = a.parse_nested_meta(|meta| {
            found |= meta.path.is_ident(option);
            if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            }
            Ok(())
        });
        found
    })
}

pub(super) fn is_option(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(t)
        if t.qself.is_none() && t.path.segments.last().is_some_and(|seg| seg.ident == "Option"))
}

/// The JSON name of a field or variant: its `#[serde(rename = "…")]`, or
/// its Rust name.
pub(super) fn wire_name(attrs: &[syn::Attribute], ident: &syn::Ident) -> String {
    serde_option(attrs, "rename").unwrap_or_else(|| ident.to_string().trim_start_matches("r#").to_string())
}

/// Schema `description`s become docs; items without one get a short
/// factual line so the generated API is documented throughout.
fn add_doc_if_missing(attrs: &mut Vec<syn::Attribute>, doc: &str) {
    if !attrs.iter().any(|a| a.path().is_ident("doc")) {
        attrs.insert(0, syn::parse_quote!(#[doc = #doc]));
    }
}

impl VisitMut for Rewriter {
    /// Paths inside attribute tokens, which syn does not parse: derive
    /// lists (`#[derive(::serde::Deserialize)]`) and paths hidden in
    /// strings (`#[serde(skip_serializing_if = "::serde_json::Map::is_empty")]`).
    fn visit_attribute_mut(&mut self, attr: &mut syn::Attribute) {
        if (attr.path().is_ident("serde") || attr.path().is_ident("derive"))
            && let syn::Meta::List(list) = &mut attr.meta
        {
            let herald = &self.herald_text;
            let mut text = list.tokens.to_string();
            for krate in PRIVATE_CRATES {
                text = text
                    .replace(&format!("\"::{krate}::"), &format!("\"{herald}::__private::{krate}::"))
                    .replace(&format!(":: {krate} ::"), &format!("{herald}::__private::{krate}::"));
            }
            if let Ok(tokens) = text.parse() {
                list.tokens = tokens;
            }
        }
        visit_mut::visit_attribute_mut(self, attr);
    }

    // A qualified path such as `<D::Error as ::serde::de::Error>::custom`
    // counts its trait segments in `qself.position`; rewriting the trait
    // path grows it, so the position must grow by the same amount.
    // (`rewrite` is idempotent, so the nested `visit_path_mut` is harmless.)
    fn visit_expr_path_mut(&mut self, e: &mut syn::ExprPath) {
        let before = e.path.segments.len();
        self.rewrite(&mut e.path);
        if let Some(q) = &mut e.qself {
            q.position += e.path.segments.len() - before;
        }
        visit_mut::visit_expr_path_mut(self, e);
    }

    fn visit_type_path_mut(&mut self, t: &mut syn::TypePath) {
        let before = t.path.segments.len();
        self.rewrite(&mut t.path);
        if let Some(q) = &mut t.qself {
            q.position += t.path.segments.len() - before;
        }
        visit_mut::visit_type_path_mut(self, t);
    }

    fn visit_path_mut(&mut self, path: &mut syn::Path) {
        self.rewrite(path);
        visit_mut::visit_path_mut(self, path);
    }

    fn visit_item_mut(&mut self, item: &mut syn::Item) {
        match item {
            syn::Item::Struct(s) => self.data_fields(&mut s.fields),
            syn::Item::Enum(e) => {
                // A tagged union (`#[serde(tag = "kind")]`): each variant
                // is a branch, its fields a struct's.
                let tag = serde_option(&e.attrs, "tag");
                for variant in e.variants.iter_mut() {
                    self.data_fields(&mut variant.fields);
                    let value = wire_name(&variant.attrs, &variant.ident);
                    match &tag {
                        Some(tag) => add_doc_if_missing(&mut variant.attrs, &format!(" `{tag}` = `\"{value}\"`.")),
                        None if variant.fields.is_empty() => add_doc_if_missing(&mut variant.attrs, &format!(" The value `\"{value}\"`.")),
                        None => {}
                    }
                }
            }
            _ => {}
        }
        let attrs = match item {
            syn::Item::Struct(s) => Some(&mut s.attrs),
            syn::Item::Enum(e) => Some(&mut e.attrs),
            _ => None,
        };
        if let Some(attrs) = attrs {
            let derives_serde = attrs.iter().any(|a| a.path().is_ident("derive") && a.to_token_stream().to_string().contains("serde"));
            if derives_serde {
                let krate = format!("{}::__private::serde", self.herald_text);
                attrs.push(syn::parse_quote!(#[serde(crate = #krate)]));
            }
        }
        visit_mut::visit_item_mut(self, item);
    }
}

#[cfg(test)]
mod tests {
    use quote::ToTokens;

    /// typify's hand-rolled `Default` of an enum becomes a derive with
    /// `#[default]` (what clippy asks of the user's crate); other impls stay.
    #[test]
    fn unit_defaults_are_derived() {
        let mut file: syn::File = syn::parse_quote! {
            #[derive(Clone, Debug)]
            pub enum Mode { Read, Write }
            impl ::std::default::Default for Mode {
                fn default() -> Self { Mode::Write }
            }
            pub struct S { n: u32 }
            impl ::std::default::Default for S {
                fn default() -> Self { S { n: 1 } }
            }
        };
        super::derive_unit_defaults(&mut file);
        let text = file.to_token_stream().to_string();
        assert!(text.contains("# [derive (Clone , Debug , Default)] pub enum Mode { Read , # [default] Write }"), "{text}");
        assert!(!text.contains("for Mode"), "{text}");
        assert!(text.contains("impl :: std :: default :: Default for S"), "{text}");
    }
}
