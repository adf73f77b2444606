//! Rust identifiers derived from CloudEvents type names and JSON names.
//!
//! Every generated identifier goes through here so that the registry, the
//! `Event` enum, the dispatch and the handler trait agree on names.

use heck::{ToSnakeCase, ToUpperCamelCase};

/// Words that cannot be used as plain identifiers.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false", "fn", "for", "gen", "if",
    "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super",
    "trait", "true", "type", "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro", "override", "priv",
    "try", "typeof", "unsized", "virtual", "yield",
];

/// Whether `s` is a Rust keyword (strict or reserved).
pub fn is_keyword(s: &str) -> bool {
    KEYWORDS.contains(&s)
}

/// The segments of a type after its prefix: `ai.run.stage_started` →
/// `["run", "stage_started"]`.
fn unprefixed(type_name: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = type_name.split('.').collect();
    if parts.len() > 1 {
        parts.remove(0);
    }
    parts
}

/// `ai.run.stage_started` → `RunStageStarted`.
pub fn type_rust_name(type_name: &str) -> String {
    unprefixed(type_name).iter().map(|p| p.to_upper_camel_case()).collect()
}

/// `ai.run.stage_started` → `on_run_stage_started`.
pub fn handler_method_name(type_name: &str) -> String {
    let tail: Vec<String> = unprefixed(type_name).iter().map(|p| p.to_snake_case()).collect();
    format!("on_{}", tail.join("_"))
}

/// The `RunStatus` variant of a lifecycle state (`in_review` → `InReview`).
pub fn state_variant(state: &str) -> String {
    heck::ToUpperCamelCase::to_upper_camel_case(state)
}

/// The Rust field for a JSON property: snake case (`fooBar` → `foo_bar`,
/// `dash-name` → `dash_name`), `x` in front of what cannot start an
/// identifier (`2fa` → `x2fa`), `_` after a keyword (`type` → `type_`,
/// `self` → `self_`). The JSON name stays on the wire through
/// `#[serde(rename = "…")]`.
///
/// This is typify's naming rule for struct fields, which generates the data
/// structs: the validation walk and lifecycle conditions find fields by it,
/// and the lints use it to report properties that would share a field. The
/// walk fails loudly if typify ever names a field otherwise.
pub fn field_name(property: &str) -> String {
    sanitize(property, |s| s.to_snake_case(), "x")
}

/// The enum variant for a tagged union's tag value: UpperCamelCase
/// (`file` → `File`, `by-url` → `ByUrl`, `2d` → `X2d`), `_` after a
/// keyword (`Self` → `Self_`). The tag value stays on the wire through
/// `#[serde(rename = "…")]`.
///
/// This is typify's naming rule for enum variants, which generates the
/// union's enum: the lints use it to report tag values that would share a
/// variant, and the validation walk pairs variants with branches by it.
pub fn variant_name(tag_value: &str) -> String {
    sanitize(tag_value, |s| s.to_upper_camel_case(), "X")
}

/// typify's `sanitize`: `to_case` applied to `input` with what cannot be
/// in an identifier turned into word breaks, `prefix` in front of what
/// cannot start one, `_` after a keyword.
fn sanitize(input: &str, to_case: fn(&str) -> String, prefix: &str) -> String {
    let cased = match input {
        "+1" => "plus1".to_string(),
        "-1" => "minus1".to_string(),
        _ => to_case(&input.replace('\'', "").replace(|c| !unicode_ident::is_xid_continue(c), "-")),
    };
    let name = match cased.chars().next() {
        Some(c) if unicode_ident::is_xid_start(c) => cased,
        _ => format!("{prefix}{cased}"),
    };
    if typify_impl::accept_as_ident(&name) { name } else { format!("{name}_") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        assert_eq!(type_rust_name("ai.run.stage_started"), "RunStageStarted");
        assert_eq!(type_rust_name("ai.myfeature.started"), "MyfeatureStarted");
        assert_eq!(handler_method_name("ai.myfeature.started"), "on_myfeature_started");
        assert_eq!(handler_method_name("ai.validation.auto_completed"), "on_validation_auto_completed");
    }

    #[test]
    fn field_names_are_snake_case_identifiers() {
        for (property, field) in [
            ("run_id", "run_id"),
            ("fooBar", "foo_bar"),
            ("HTTPStatus", "http_status"),
            ("dash-name", "dash_name"),
            ("with space", "with_space"),
            ("type", "type_"),
            ("self", "self_"),
            ("match", "match_"),
            ("Self", "self_"),
            ("crate", "crate_"),
            ("type_", "type_"),
            ("2fa", "x2fa"),
            ("", "x"),
            ("_", "x"),
        ] {
            assert_eq!(field_name(property), field, "{property:?}");
            // Already a field name: unchanged (what `#[cloud_event]` relies on).
            assert_eq!(field_name(field), field, "{field:?}");
        }
    }

    #[test]
    fn variant_names_are_upper_camel_case_identifiers() {
        for (value, variant) in [
            ("file", "File"),
            ("by-url", "ByUrl"),
            ("by_url", "ByUrl"),
            ("HTTPGet", "HttpGet"),
            ("2d", "X2d"),
            ("", "X"),
            ("Self", "Self_"),
        ] {
            assert_eq!(variant_name(value), variant, "{value:?}");
        }
    }
}
