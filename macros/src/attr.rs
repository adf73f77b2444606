//! Reading `#[cloud_event(...)]`, `#[herald(...)]` and the `#[serde(...)]`
//! attributes that change the wire shape.
//!
//! Like serde_derive's `attr.rs`, nothing here returns early: a bad
//! attribute is reported to the [`Ctxt`] and skipped, so the user sees every
//! problem at once.

use herald_codegen::__private::rust_front::StreamKey;
use proc_macro2::{Span, TokenStream};
use serde_json::{Map, Number, Value};
use syn::parse::ParseStream;
use syn::spanned::Spanned;

use crate::ctxt::Ctxt;
use crate::symbol::*;

/// `#[cloud_event("ai.run.started", version = 1, subject = "run/{run_id}")]`.
pub(crate) struct CloudEventArgs {
    pub(crate) type_name: Option<syn::LitStr>,
    pub(crate) version: Option<u32>,
    pub(crate) subject: Option<String>,
    pub(crate) stream_key: StreamKey,
    pub(crate) krate: Option<syn::Path>,
}

impl CloudEventArgs {
    pub(crate) fn from_tokens(cx: &Ctxt, tokens: TokenStream) -> Self {
        let mut args = CloudEventArgs { type_name: None, version: None, subject: None, stream_key: StreamKey::Default, krate: None };
        let parser = |input: ParseStream<'_>| parse_args(cx, input, &mut args);
        if let Err(e) = syn::parse::Parser::parse2(parser, tokens) {
            cx.syn_error(e);
        }
        args
    }
}

fn parse_args(cx: &Ctxt, input: ParseStream<'_>, args: &mut CloudEventArgs) -> syn::Result<()> {
    if input.is_empty() || !input.peek(syn::LitStr) {
        return Err(input.error("expected the CloudEvents type as the first argument, e.g. `#[cloud_event(\"ai.run.started\")]`"));
    }
    args.type_name = Some(input.parse()?);
    let mut seen: Vec<String> = Vec::new();
    while !input.is_empty() {
        input.parse::<syn::Token![,]>()?;
        if input.is_empty() {
            break;
        }
        let key: syn::Ident = input.call(syn::ext::IdentExt::parse_any)?;
        input.parse::<syn::Token![=]>()?;
        let name = key.to_string();
        if seen.contains(&name) {
            cx.error_spanned_by(&key, format!("duplicate cloud_event argument `{name}`"));
        }
        seen.push(name.clone());
        match name.as_str() {
            VERSION => {
                let lit: syn::LitInt = input.parse()?;
                match lit.base10_parse::<u32>() {
                    Ok(v) if v >= 1 => args.version = Some(v),
                    _ => cx.error_spanned_by(&lit, "`version` is a whole number starting at 1"),
                }
            }
            SUBJECT => args.subject = Some(input.parse::<syn::LitStr>()?.value()),
            // `stream_key = none`: the event belongs to no run.
            STREAM_KEY if input.peek(syn::Ident) => {
                let none: syn::Ident = input.parse()?;
                if none == "none" {
                    args.stream_key = StreamKey::None;
                } else {
                    cx.error_spanned_by(
                        &none,
                        "`stream_key` is a field name in quotes (`stream_key = \"run_id\"`), or `none` for an event that belongs to no run",
                    );
                }
            }
            STREAM_KEY => args.stream_key = StreamKey::Field(input.parse::<syn::LitStr>()?.value()),
            CRATE => {
                let lit: syn::LitStr = input.parse()?;
                match lit.parse::<syn::Path>() {
                    Ok(p) => args.krate = Some(p),
                    Err(_) => cx.error_spanned_by(&lit, "`crate` must be a path such as `::my_sdk::herald`"),
                }
            }
            other => {
                let _: syn::Lit = input.parse()?;
                let expected = format!("expected one of {}", one_of(CLOUD_EVENT_ARGS));
                let msg = match herald_codegen::__private::text::did_you_mean(other, CLOUD_EVENT_ARGS) {
                    Some(s) => format!("unknown cloud_event argument `{other}`; did you mean `{s}`? {expected}"),
                    None => format!("unknown cloud_event argument `{other}`; {expected}"),
                };
                cx.error_spanned_by(&key, msg);
            }
        }
    }
    Ok(())
}

fn one_of(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// One JSON Schema rule from `#[herald(...)]`, with where it was written.
pub(crate) struct Rule {
    /// The `#[herald]` key (`min_length`), for messages.
    pub(crate) key: String,
    /// The JSON Schema keyword (`minLength`).
    pub(crate) keyword: &'static str,
    pub(crate) value: Value,
    /// The JSON type it applies to (`"number"`, `"string"`, …).
    pub(crate) applies_to: &'static str,
    pub(crate) span: Span,
}

/// All `#[herald(...)]` rules on a field.
pub(crate) fn herald_rules(cx: &Ctxt, attrs: &[syn::Attribute]) -> Vec<Rule> {
    let mut rules = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident(HERALD)) {
        let result = attr.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
            let span = meta.path.span();
            if key == RANGE {
                return meta.parse_nested_meta(|inner| {
                    let k = inner.path.get_ident().map(ToString::to_string).unwrap_or_default();
                    let keyword = match k.as_str() {
                        "min" => "minimum",
                        "max" => "maximum",
                        _ => return Err(inner.error(format!("unknown `range` bound `{k}`; expected `min` or `max`"))),
                    };
                    let value = number(&inner.value()?.parse::<syn::Expr>()?)?;
                    rules.push(Rule { key: format!("range({k})"), keyword, value, applies_to: "number", span });
                    Ok(())
                });
            }
            if key == UNIQUE_ITEMS {
                rules.push(Rule { key, keyword: "uniqueItems", value: Value::Bool(true), applies_to: "array", span });
                return Ok(());
            }
            let groups: [(&[(&str, &'static str)], &'static str); 4] =
                [(NUMBER_RULES, "number"), (STRING_RULES, "string"), (ARRAY_RULES, "array"), (OBJECT_RULES, "object")];
            for (group, applies_to) in groups {
                if let Some((_, keyword)) = group.iter().find(|(k, _)| *k == key) {
                    let expr: syn::Expr = meta.value()?.parse()?;
                    let value = match (*keyword, &expr) {
                        ("pattern", _) => {
                            let s = string(&expr)?;
                            if let Err(e) = regress::Regex::new(&s) {
                                return Err(syn::Error::new_spanned(&expr, format!("invalid `pattern`: {e}")));
                            }
                            Value::String(s)
                        }
                        ("format", _) => {
                            let s = string(&expr)?;
                            if !FORMATS.contains(&s.as_str()) {
                                let hint = match s.as_str() {
                                    "uuid" => "; for `uuid` use a `uuid::Uuid` field".to_string(),
                                    "date-time" => "; for `date-time` use a `chrono::DateTime<_>` field".to_string(),
                                    _ => String::new(),
                                };
                                return Err(syn::Error::new_spanned(
                                    &expr,
                                    format!("unsupported string `format` `{s}`{hint}; expected one of {}", one_of(FORMATS)),
                                ));
                            }
                            Value::String(s)
                        }
                        _ if applies_to != "number" => {
                            let n = number(&expr)?;
                            match n.as_u64() {
                                Some(_) => n,
                                None => return Err(syn::Error::new_spanned(&expr, format!("`{key}` is a count: a whole number ≥ 0"))),
                            }
                        }
                        ("multipleOf", _) => {
                            let n = number(&expr)?;
                            if n.as_f64().is_none_or(|x| x <= 0.0) {
                                return Err(syn::Error::new_spanned(&expr, "`multiple_of` must be greater than 0"));
                            }
                            n
                        }
                        _ => number(&expr)?,
                    };
                    rules.push(Rule { key, keyword, value, applies_to, span });
                    return Ok(());
                }
            }
            let all: Vec<&str> = [RANGE, UNIQUE_ITEMS]
                .into_iter()
                .chain(NUMBER_RULES.iter().chain(STRING_RULES).chain(ARRAY_RULES).chain(OBJECT_RULES).map(|(k, _)| *k))
                .collect();
            let msg = match herald_codegen::__private::text::did_you_mean(&key, &all) {
                Some(s) => format!("unknown herald attribute `{key}`; did you mean `{s}`?"),
                None => format!("unknown herald attribute `{key}`; expected one of {}", one_of(&all)),
            };
            Err(meta.error(msg))
        });
        if let Err(e) = result {
            cx.syn_error(e);
        }
    }
    rules
}

/// A numeric literal, possibly negated; integral floats become integers so
/// `0.0` and `0` give the same schema.
fn number(expr: &syn::Expr) -> syn::Result<Value> {
    let (negative, lit) = match expr {
        syn::Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => match &*u.expr {
            syn::Expr::Lit(l) => (true, &l.lit),
            _ => return Err(syn::Error::new_spanned(expr, "expected a number literal")),
        },
        syn::Expr::Lit(l) => (false, &l.lit),
        _ => return Err(syn::Error::new_spanned(expr, "expected a number literal")),
    };
    let x: f64 = match lit {
        syn::Lit::Int(i) => i.base10_parse::<i64>()? as f64,
        syn::Lit::Float(f) => f.base10_parse::<f64>()?,
        _ => return Err(syn::Error::new_spanned(expr, "expected a number literal")),
    };
    let x = if negative { -x } else { x };
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        #[allow(clippy::cast_possible_truncation)]
        let i = x as i64;
        return Ok(if i >= 0 { Value::Number(Number::from(i as u64)) } else { Value::Number(Number::from(i)) });
    }
    Number::from_f64(x).map(Value::Number).ok_or_else(|| syn::Error::new_spanned(expr, "expected a finite number"))
}

fn string(expr: &syn::Expr) -> syn::Result<String> {
    match expr {
        syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Ok(s.value()),
        _ => Err(syn::Error::new_spanned(expr, "expected a string literal")),
    }
}

/// The serde attributes of a field that change its wire shape.
#[derive(Default)]
pub(crate) struct SerdeField {
    pub(crate) rename: Option<String>,
    pub(crate) default: bool,
    pub(crate) skip: bool,
    pub(crate) skip_serializing_if: bool,
}

/// The serde attributes of the struct (or enum) that change its wire shape.
#[derive(Default)]
pub(crate) struct SerdeContainer {
    pub(crate) rename_all: Option<String>,
    pub(crate) deny_unknown_fields: bool,
    pub(crate) default: bool,
    pub(crate) krate: bool,
    /// An enum's representation keys, where written: `tag = "…"`,
    /// `content`, `untagged`; and `rename_all_fields`.
    pub(crate) tag: Option<(String, Span)>,
    pub(crate) content: Option<Span>,
    pub(crate) untagged: Option<Span>,
    pub(crate) rename_all_fields: Option<String>,
}

/// The serde attributes of an enum variant that change its wire shape.
#[derive(Default)]
pub(crate) struct SerdeVariant {
    pub(crate) rename: Option<String>,
    pub(crate) rename_all: Option<String>,
}

/// serde attributes whose wire shape Herald cannot derive a schema for.
const UNSUPPORTED_FIELD: &[&str] = &["flatten", "with", "deserialize_with", "alias", "getter"];
const UNSUPPORTED_CONTAINER: &[&str] = &["transparent", "from", "try_from", "into", "remote"];
/// Keys only an enum may have.
const ENUM_ONLY: &[&str] = &["tag", "content", "untagged", "rename_all_fields"];
const UNSUPPORTED_VARIANT: &[&str] = &["skip", "skip_deserializing", "other", "untagged", "with", "deserialize_with", "alias", "borrow"];

pub(crate) fn serde_field(cx: &Ctxt, attrs: &[syn::Attribute]) -> SerdeField {
    let mut out = SerdeField::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident(SERDE)) {
        let result = attr.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
            match key.as_str() {
                "rename" => {
                    if meta.input.peek(syn::token::Paren) {
                        return Err(meta.error("`#[cloud_event]` needs one JSON name: use `rename = \"…\"`, not `rename(serialize = …, deserialize = …)`"));
                    }
                    out.rename = Some(meta.value()?.parse::<syn::LitStr>()?.value());
                }
                "default" => {
                    out.default = true;
                    skip_value(&meta)?;
                }
                "skip" | "skip_deserializing" => out.skip = true,
                "skip_serializing_if" => {
                    out.skip_serializing_if = true;
                    skip_value(&meta)?;
                }
                k if UNSUPPORTED_FIELD.contains(&k) => {
                    skip_value(&meta)?;
                    return Err(meta.error(format!(
                        "`#[serde({k})]` is not supported on a `#[cloud_event]` field: Herald cannot derive the JSON Schema of a custom wire shape"
                    )));
                }
                _ => skip_value(&meta)?,
            }
            Ok(())
        });
        if let Err(e) = result {
            cx.syn_error(e);
        }
    }
    out
}

/// The container attributes of a struct (`on_enum` false, which refuses
/// the enum-only keys) or of an enum.
pub(crate) fn serde_container(cx: &Ctxt, attrs: &[syn::Attribute], on_enum: bool) -> SerdeContainer {
    let mut out = SerdeContainer::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident(SERDE)) {
        let result = attr.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
            match key.as_str() {
                "rename_all" => out.rename_all = Some(naming_rule(&meta)?),
                "rename_all_fields" if on_enum => out.rename_all_fields = Some(naming_rule(&meta)?),
                "tag" if on_enum => {
                    let lit: syn::LitStr = meta.value()?.parse()?;
                    out.tag = Some((lit.value(), lit.span()));
                }
                "content" if on_enum => {
                    out.content = Some(meta.path.span());
                    skip_value(&meta)?;
                }
                "untagged" if on_enum => out.untagged = Some(meta.path.span()),
                "deny_unknown_fields" => out.deny_unknown_fields = true,
                "default" => {
                    out.default = true;
                    skip_value(&meta)?;
                }
                "crate" => {
                    out.krate = true;
                    skip_value(&meta)?;
                }
                k if UNSUPPORTED_CONTAINER.contains(&k) || ENUM_ONLY.contains(&k) => {
                    skip_value(&meta)?;
                    return Err(meta.error(format!(
                        "`#[serde({k})]` is not supported on a Herald struct or enum: Herald cannot derive the JSON Schema of a custom wire shape"
                    )));
                }
                _ => skip_value(&meta)?,
            }
            Ok(())
        });
        if let Err(e) = result {
            cx.syn_error(e);
        }
    }
    out
}

/// `rename_all = "…"` (or `rename_all_fields`): one known naming rule.
fn naming_rule(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<String> {
    if meta.input.peek(syn::token::Paren) {
        return Err(meta.error("Herald needs one naming rule: use `rename_all = \"…\"`"));
    }
    let lit: syn::LitStr = meta.value()?.parse()?;
    if rename_rule(&lit.value(), "x").is_none() {
        return Err(syn::Error::new_spanned(lit, "unknown `rename_all` rule"));
    }
    Ok(lit.value())
}

/// The serde attributes of an enum variant.
pub(crate) fn serde_variant(cx: &Ctxt, attrs: &[syn::Attribute]) -> SerdeVariant {
    let mut out = SerdeVariant::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident(SERDE)) {
        let result = attr.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
            match key.as_str() {
                "rename" => {
                    if meta.input.peek(syn::token::Paren) {
                        return Err(meta.error("Herald needs one JSON name: use `rename = \"…\"`, not `rename(serialize = …, deserialize = …)`"));
                    }
                    out.rename = Some(meta.value()?.parse::<syn::LitStr>()?.value());
                }
                "rename_all" => out.rename_all = Some(naming_rule(&meta)?),
                k if UNSUPPORTED_VARIANT.contains(&k) => {
                    skip_value(&meta)?;
                    return Err(meta.error(format!(
                        "`#[serde({k})]` is not supported on a `#[herald::data]` variant: Herald cannot derive the JSON Schema of a custom wire shape"
                    )));
                }
                _ => skip_value(&meta)?,
            }
            Ok(())
        });
        if let Err(e) = result {
            cx.syn_error(e);
        }
    }
    out
}

/// serde's `rename_all` rules, applied to a variant name (`SetName`).
pub(crate) fn variant_rename_rule(rule: &str, variant: &str) -> Option<String> {
    let mut snake = String::new();
    for (i, ch) in variant.char_indices() {
        if i > 0 && ch.is_uppercase() {
            snake.push('_');
        }
        snake.push(ch.to_ascii_lowercase());
    }
    Some(match rule {
        "lowercase" => variant.to_ascii_lowercase(),
        "UPPERCASE" => variant.to_ascii_uppercase(),
        "PascalCase" => variant.to_string(),
        "camelCase" => {
            let mut c = variant.chars();
            c.next().map(|f| f.to_lowercase().collect::<String>() + c.as_str()).unwrap_or_default()
        }
        "snake_case" => snake,
        "SCREAMING_SNAKE_CASE" => snake.to_ascii_uppercase(),
        "kebab-case" => snake.replace('_', "-"),
        "SCREAMING-KEBAB-CASE" => snake.replace('_', "-").to_ascii_uppercase(),
        _ => return None,
    })
}

/// Consume `= value` or `(…)` after a key we do not interpret.
fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        let _: syn::Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        let _: TokenStream = content.parse()?;
    }
    Ok(())
}

/// serde's `rename_all` rules, applied to a snake_case field name.
pub(crate) fn rename_rule(rule: &str, field: &str) -> Option<String> {
    let words: Vec<&str> = field.split('_').filter(|w| !w.is_empty()).collect();
    let cap = |w: &str| {
        let mut c = w.chars();
        c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
    };
    Some(match rule {
        "lowercase" => field.to_lowercase(),
        "UPPERCASE" => field.to_uppercase(),
        "PascalCase" => words.iter().map(|w| cap(w)).collect(),
        "camelCase" => {
            let pascal: String = words.iter().map(|w| cap(w)).collect();
            let mut c = pascal.chars();
            c.next().map(|f| f.to_lowercase().collect::<String>() + c.as_str()).unwrap_or_default()
        }
        "snake_case" => field.to_string(),
        "SCREAMING_SNAKE_CASE" => field.to_uppercase(),
        "kebab-case" => field.replace('_', "-"),
        "SCREAMING-KEBAB-CASE" => field.replace('_', "-").to_uppercase(),
        _ => return None,
    })
}

/// The text of `///` doc comments, one leading space removed per line.
pub(crate) fn doc_text(attrs: &[syn::Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("doc")) {
        if let syn::Meta::NameValue(nv) = &attr.meta
            && let syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) = &nv.value
        {
            let v = s.value();
            lines.push(v.strip_prefix(' ').unwrap_or(&v).to_string());
        }
    }
    lines.join("\n").trim().to_string()
}

/// Insert a rule into a JSON Schema object.
pub(crate) fn apply(schema: &mut Map<String, Value>, rule: &Rule) {
    schema.insert(rule.keyword.to_string(), rule.value.clone());
}
