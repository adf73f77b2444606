//! The rules of one event's declaration: version, `subject` template and
//! stream key, checked against its data schema.

use serde_json::Value;

use super::Problem;
use crate::subject::{self, Piece};
use crate::text::{did_you_mean, one_of};

/// An event's `version` as an integer from 1 up, or why `value` is not one.
/// `whose` names the owner (`` `ai.run.started` ``, `the catalog`).
pub fn version(whose: &str, value: i64) -> Result<u32, Problem> {
    match u32::try_from(value) {
        Ok(v) if v >= 1 => Ok(v),
        _ => Err(version_problem(whose, &value.to_string())),
    }
}

/// A `version` that is not a positive integer; `found` says what it is
/// (`0`, `a string`).
pub fn version_problem(whose: &str, found: &str) -> Problem {
    Problem::new(format!("the `version` of {whose} must be a positive integer, found {found}"), "start at `version: 1` and count up")
}

/// Check the `subject` template of `event`: balanced braces, and each
/// placeholder a required top-level property of `schema` (its data), so
/// that every event has a subject.
pub fn subject(event: &str, template: &str, schema: &Value) -> Vec<Problem> {
    let Ok(pieces) = subject::parse(template) else {
        return vec![Problem::new(
            format!("the `subject` of `{event}` has unbalanced braces: `{template}`"),
            "write placeholders as `{property}`, e.g. `run/{run_id}`",
        )];
    };
    let mut problems = Vec::new();
    for piece in pieces {
        let Piece::Placeholder(placeholder) = piece else { continue };
        match property(schema, placeholder) {
            Some(true) => {}
            Some(false) => problems.push(Problem::new(
                format!("the `subject` of `{event}` uses `{{{placeholder}}}`, but `{placeholder}` is optional"),
                "make it required so every event has a subject",
            )),
            None => {
                let props = property_names(schema);
                let help = match did_you_mean(placeholder, &props) {
                    Some(s) => format!("did you mean `{{{s}}}`?"),
                    None => format!("use a top-level data property: {}", one_of(&props)),
                };
                problems.push(Problem::new(
                    format!("the `subject` of `{event}` uses `{{{placeholder}}}`, which is not a property of its data"),
                    help,
                ));
            }
        }
    }
    problems
}

/// Check that the stream key `key` of `event` is a required top-level
/// property of `schema`. `explicit` tells a declared key from the default
/// (`run_id`), for the message.
pub fn stream_key(event: &str, key: &str, schema: &Value, explicit: bool) -> Option<Problem> {
    let what = if explicit { "`stream_key`" } else { "the default stream key" };
    let no_run = "declare the stream key `none` for an event that belongs to no run";
    match property(schema, key) {
        Some(true) => None,
        Some(false) => Some(Problem::new(
            format!("{what} `{key}` of `{event}` is an optional property"),
            format!("make it required (the event names the run it belongs to), or {no_run}"),
        )),
        None => {
            let props = property_names(schema);
            let help = match did_you_mean(key, &props) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("add a required `{key}` property, set the stream key to one of {}, or {no_run}", one_of(&props)),
            };
            Some(Problem::new(format!("{what} `{key}` of `{event}` is not a property of its data"), help))
        }
    }
}

/// A top-level property of `schema` and whether it is required.
fn property(schema: &Value, name: &str) -> Option<bool> {
    schema.get("properties")?.get(name)?;
    let required = schema.get("required").and_then(Value::as_array);
    Some(required.is_some_and(|r| r.iter().any(|v| v.as_str() == Some(name))))
}

fn property_names(schema: &Value) -> Vec<&str> {
    match schema.get("properties").and_then(Value::as_object) {
        Some(props) => props.keys().map(String::as_str).collect(),
        None => Vec::new(),
    }
}
