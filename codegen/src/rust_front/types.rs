//! Rust field types → JSON Schema, following serde's wire shape.
//!
//! Only types whose serde representation Herald knows exactly are mapped;
//! anything else is a compile error at the type, naming what is supported.
//! That keeps the schema honest: what the schema accepts is what typed
//! decoding accepts.

use serde_json::{Value, json};
use syn::spanned::Spanned;

/// How a field type maps to JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeSchema {
    /// The schema of the value (of `T` for `Option<T>`).
    pub schema: Value,
    /// `Option<T>`: the property may be absent.
    pub optional: bool,
    /// A string format whose Rust type parses more loosely than JSON Schema
    /// (`uuid::Uuid` takes braced and URN forms; chrono takes a space for
    /// `T`), so decoding must go through Herald's strict parser.
    pub strict: Option<StrictFormat>,
    /// The user's types the value holds (`Detail` in `Vec<Detail>`), each
    /// a `$ref` to the definition named after it: their schemas come from
    /// their own `#[herald::data]`.
    pub refs: Vec<syn::Path>,
}

/// A format decoded through Herald's strict wire types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrictFormat {
    /// `format: uuid`, via `herald::types::Uuid`.
    Uuid,
    /// `format: date-time`, via `herald::types::DateTime`.
    DateTime,
}

/// What the error for an unmapped type lists.
pub const SUPPORTED: &str = "`bool`, `String`, integers, `f32`/`f64`, `char`, `uuid::Uuid`, `chrono::DateTime<_>`, \
`herald::types::{Uuid, DateTime}`, `serde_json::Value`, `serde_json::Map<String, Value>`, `Vec<T>`, \
`BTreeMap<String, T>`/`HashMap<String, T>`, `#[herald::data]` structs and enums, `Box<T>` and `Option<T>` of these";

/// The JSON Schema of a field's type.
pub fn field_schema(ty: &syn::Type) -> syn::Result<TypeSchema> {
    if let Some(inner) = generic_arg(ty, "Option") {
        if generic_arg(inner, "Option").is_some() {
            return Err(syn::Error::new(
                ty.span(),
                "`Option<Option<T>>` has no JSON Schema mapping: Herald's optional properties are never `null`; use `Option<T>`",
            ));
        }
        let mut refs = Vec::new();
        let (schema, strict) = value_schema(inner, true, &mut refs)?;
        return Ok(TypeSchema { schema, optional: true, strict, refs });
    }
    let mut refs = Vec::new();
    let (schema, strict) = value_schema(ty, true, &mut refs)?;
    Ok(TypeSchema { schema, optional: false, strict, refs })
}

/// The schema of a non-optional value. `top` is set for the field itself,
/// where a loose format can be made strict by a serde attribute; inside a
/// collection it cannot, and the strict Herald type is required. The
/// user's types it holds are added to `refs`.
fn value_schema(ty: &syn::Type, top: bool, refs: &mut Vec<syn::Path>) -> syn::Result<(Value, Option<StrictFormat>)> {
    let unsupported = |why: &str| {
        let shown = quote::ToTokens::to_token_stream(ty).to_string().replace(' ', "");
        syn::Error::new(ty.span(), format!("field type `{shown}` has no JSON Schema mapping{why}; supported: {SUPPORTED}"))
    };
    let path = match ty {
        syn::Type::Path(p) if p.qself.is_none() => &p.path,
        syn::Type::Reference(_) => return Err(unsupported(" (event data is owned: use `String` for `&str`)")),
        syn::Type::Paren(p) => return value_schema(&p.elem, top, refs),
        syn::Type::Group(g) => return value_schema(&g.elem, top, refs),
        _ => return Err(unsupported("")),
    };
    let Some(last) = path.segments.last() else { return Err(unsupported("")) };
    let name = last.ident.to_string();
    let full: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let is_herald = full.first().is_some_and(|f| f == "herald") || full.iter().any(|s| s == "types") && full.len() > 1;

    let schema = match name.as_str() {
        "bool" => json!({"type": "boolean"}),
        "String" => json!({"type": "string"}),
        "char" => json!({"type": "string", "minLength": 1, "maxLength": 1}),
        "f32" | "f64" => json!({"type": "number"}),
        "i64" | "isize" => json!({"type": "integer"}),
        "u64" | "usize" => json!({"type": "integer", "minimum": 0}),
        "i8" => json!({"type": "integer", "minimum": i8::MIN, "maximum": i8::MAX}),
        "i16" => json!({"type": "integer", "minimum": i16::MIN, "maximum": i16::MAX}),
        "i32" => json!({"type": "integer", "minimum": i32::MIN, "maximum": i32::MAX}),
        "u8" => json!({"type": "integer", "minimum": 0, "maximum": u8::MAX}),
        "u16" => json!({"type": "integer", "minimum": 0, "maximum": u16::MAX}),
        "u32" => json!({"type": "integer", "minimum": 0, "maximum": u32::MAX}),
        "Uuid" => {
            let schema = json!({"type": "string", "format": "uuid"});
            return strict(schema, StrictFormat::Uuid, is_herald, top, ty);
        }
        "DateTime" => {
            let schema = json!({"type": "string", "format": "date-time"});
            return strict(schema, StrictFormat::DateTime, is_herald, top, ty);
        }
        "Value" if full.len() == 1 || full.iter().any(|s| s == "serde_json") => json!({}),
        "Map" => {
            // serde_json::Map<String, Value>: any object.
            return Ok((json!({"type": "object"}), None));
        }
        "Box" => {
            let inner = generic_arg(ty, "Box").ok_or_else(|| unsupported(""))?;
            return value_schema(inner, top, refs);
        }
        "Vec" => {
            let inner = generic_arg(ty, "Vec").ok_or_else(|| unsupported(""))?;
            if generic_arg(inner, "Option").is_some() {
                return Err(unsupported(" (`null` items are not supported)"));
            }
            let (items, _) = value_schema(inner, false, refs)?;
            json!({"type": "array", "items": items})
        }
        "BTreeMap" | "HashMap" => {
            let args = generic_args(last);
            let [key, value] = args.as_slice() else { return Err(unsupported("")) };
            if !is_string(key) {
                return Err(unsupported(" (JSON object keys are strings: use `String` keys)"));
            }
            if generic_arg(value, "Option").is_some() {
                return Err(unsupported(" (`null` values are not supported)"));
            }
            let (values, _) = value_schema(value, false, refs)?;
            json!({"type": "object", "additionalProperties": values})
        }
        "BTreeSet" | "HashSet" => {
            return Err(unsupported(
                " (a set silently drops duplicates the schema would reject: use `Vec<T>` with `#[herald(unique_items)]`)",
            ));
        }
        // Any other plain path names a type of the user's: a definition,
        // whose own attribute gives its schema.
        _ if matches!(last.arguments, syn::PathArguments::None) => {
            refs.push(path.clone());
            json!({ "$ref": format!("{}{name}", crate::defs::REF_PREFIX) })
        }
        _ => return Err(unsupported("")),
    };
    Ok((schema, None))
}

fn strict(schema: Value, format: StrictFormat, is_herald: bool, top: bool, ty: &syn::Type) -> syn::Result<(Value, Option<StrictFormat>)> {
    if is_herald {
        return Ok((schema, None));
    }
    if top {
        return Ok((schema, Some(format)));
    }
    let herald = match format {
        StrictFormat::Uuid => "herald::types::Uuid",
        StrictFormat::DateTime => "herald::types::DateTime",
    };
    Err(syn::Error::new(
        ty.span(),
        format!(
            "inside a collection, use `{herald}`: its parser accepts exactly the JSON Schema format, which this type's parser does not"
        ),
    ))
}

fn is_string(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "String"))
}

/// `T` of `Name<T>` (by the last path segment).
fn generic_arg<'a>(ty: &'a syn::Type, name: &str) -> Option<&'a syn::Type> {
    let syn::Type::Path(p) = ty else { return None };
    let last = p.path.segments.last().filter(|s| s.ident == name)?;
    match generic_args(last).as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

fn generic_args(seg: &syn::PathSegment) -> Vec<&syn::Type> {
    match &seg.arguments {
        syn::PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|a| match a {
                syn::GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(src: &str) -> syn::Result<TypeSchema> {
        field_schema(&syn::parse_str(src).unwrap())
    }

    #[test]
    fn scalars_and_wrappers() {
        assert_eq!(schema("f64").unwrap().schema, json!({"type": "number"}));
        assert_eq!(schema("u8").unwrap().schema, json!({"type": "integer", "minimum": 0, "maximum": 255}));
        let opt = schema("Option<String>").unwrap();
        assert!(opt.optional);
        assert_eq!(opt.schema, json!({"type": "string"}));
        assert_eq!(schema("Option<serde_json::Map<String, serde_json::Value>>").unwrap().schema, json!({"type": "object"}));
        assert_eq!(
            schema("Vec<BTreeMap<String, f64>>").unwrap().schema,
            json!({"type": "array", "items": {"type": "object", "additionalProperties": {"type": "number"}}})
        );
    }

    #[test]
    fn loose_formats_are_made_strict_or_refused() {
        let u = schema("uuid::Uuid").unwrap();
        assert_eq!(u.strict, Some(StrictFormat::Uuid));
        assert_eq!(schema("herald::types::Uuid").unwrap().strict, None);
        assert!(schema("Vec<uuid::Uuid>").is_err());
        assert!(schema("Vec<herald::types::DateTime>").is_ok());
    }

    #[test]
    fn the_users_types_are_refs() {
        let s = schema("Option<Vec<crate::model::Detail>>").unwrap();
        assert_eq!(s.schema, json!({"type": "array", "items": {"$ref": "#/$defs/Detail"}}));
        assert_eq!(s.refs.len(), 1);
        assert_eq!(quote::ToTokens::to_token_stream(&s.refs[0]).to_string().replace(' ', ""), "crate::model::Detail");
        assert_eq!(schema("BTreeMap<String, Box<Status>>").unwrap().schema["additionalProperties"], json!({"$ref": "#/$defs/Status"}));
    }

    #[test]
    fn unmapped_types_say_what_is_supported() {
        let e = schema("MyStruct<u8>").unwrap_err().to_string();
        assert!(e.contains("field type `MyStruct<u8>` has no JSON Schema mapping"), "{e}");
        assert!(schema("HashSet<String>").unwrap_err().to_string().contains("unique_items"));
        assert!(schema("BTreeMap<u32, String>").is_err());
        assert!(schema("Option<Option<u8>>").is_err());
        assert!(schema("&'static str").is_err());
    }
}
