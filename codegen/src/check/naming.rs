//! The naming rule of event types, `{prefix}.{domain}.{action}`.

use super::Problem;
use crate::text::{is_lower_snake, suggestion};

/// Why `name` breaks `{prefix}.{domain}.{action}`, and the fix, or `None`
/// when it follows the rule. `prefix` is `None` when there is no catalog
/// prefix to hold it to (a `#[cloud_event]` struct, or a catalog whose own
/// prefix is missing or invalid, which is reported already).
pub fn type_name(prefix: Option<&str>, name: &str) -> Option<Problem> {
    let segments: Vec<&str> = name.split('.').collect();
    let reason = if segments.len() != 3 {
        format!("it has {} segment{}, not 3", segments.len(), if segments.len() == 1 { "" } else { "s" })
    } else if let Some(p) = prefix.filter(|p| segments[0] != *p) {
        format!("the first segment must be the catalog prefix `{p}`")
    } else if !segments.iter().all(|s| is_lower_snake(s)) {
        "segments must be lower snake case".to_string()
    } else {
        return None;
    };
    // The fix: the catalog prefix, extra segments folded into the action
    // (`ai.run.stage.started` → `ai.run.stage_started`), snake case.
    let fixed = (|| {
        let first = prefix.or(segments.first().copied()).and_then(suggestion)?;
        let (domain, action) = match segments.as_slice() {
            [_, domain, rest @ ..] if !rest.is_empty() => (suggestion(domain)?, suggestion(&rest.join("_"))?),
            _ => return None,
        };
        Some(format!("{first}.{domain}.{action}"))
    })();
    let help = match fixed {
        Some(f) => format!("rename it to `{f}`"),
        None => "name it `{prefix}.{domain}.{action}` with lower snake case segments, e.g. `ai.run.started`".to_string(),
    };
    Some(Problem::new(format!("event type `{name}` breaks the naming rule `{{prefix}}.{{domain}}.{{action}}`: {reason}"), help))
}
