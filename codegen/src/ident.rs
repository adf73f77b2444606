//! Rust identifiers derived from CloudEvents type names and JSON names.
//!
//! Every generated identifier goes through here so that the registry, the
//! `Event` enum, the dispatch and the handler trait agree on names.

use heck::{ToSnakeCase, ToUpperCamelCase};

/// Words that cannot be used as plain identifiers.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
    "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod",
    "move", "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait",
    "true", "type", "unsafe", "use", "where", "while", "abstract", "become", "box", "do",
    "final", "macro", "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
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
    unprefixed(type_name)
        .iter()
        .map(|p| p.to_upper_camel_case())
        .collect()
}

/// `ai.run.stage_started` → `on_run_stage_started`.
pub fn handler_method_name(type_name: &str) -> String {
    let tail: Vec<String> = unprefixed(type_name)
        .iter()
        .map(|p| p.to_snake_case())
        .collect();
    format!("on_{}", tail.join("_"))
}

/// A field name as a Rust identifier, `r#`-escaped when it is a keyword.
pub fn field_ident(name: &str) -> String {
    let snake = name.to_snake_case();
    match snake.as_str() {
        "self" | "Self" | "super" | "crate" => format!("{snake}_"),
        s if is_keyword(s) => format!("r#{s}"),
        _ => snake,
    }
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
    fn keywords_are_escaped() {
        assert_eq!(field_ident("type"), "r#type");
        assert_eq!(field_ident("self"), "self_");
        assert_eq!(field_ident("run_id"), "run_id");
    }
}
