//! `herald new ai.domain.action`: append a new event type to a catalog.
//!
//! The entry is added by editing the text, never by re-serialising the
//! YAML, so every comment, blank line and quote of the file stays as it
//! was. It gets a placeholder description, `version: 1`, the catalog's
//! usual `subject` template when its placeholders are required fields, the
//! fields given with `--fields` (the `fields:` shorthand on one line) and
//! one example built to match them. The new text is linted as a whole
//! before it is written; nothing is written when anything is wrong.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::catalog;
use crate::ir::Catalog;
use crate::syntax::{self, Node};
use crate::{check, ident, shorthand, subject, text};

/// Placeholder description of a new type (it lints; replace it).
pub const DESCRIPTION: &str = "\"TODO: say when this event is sent.\"";
/// The default stream key every event must carry.
const STREAM_KEY: &str = "run_id";

/// One field of `--fields`.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Property name.
    pub name: String,
    /// Whether it is required (no `?`).
    pub required: bool,
    /// The shorthand type as written (`uuid`, `list<string>`).
    pub ty: String,
    /// Its JSON Schema.
    pub schema: Value,
}

/// Parse `run_id: uuid, name: string, note?: string`. Every problem is
/// reported, one per line.
pub fn parse_fields(spec: &str) -> Result<Vec<Field>, Vec<String>> {
    let mut fields: Vec<Field> = Vec::new();
    let mut problems = Vec::new();
    for item in split_top_level(spec) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((name, ty)) = item.split_once(':') else {
            problems.push(format!("`--fields` item `{item}` has no type; write it as `{item}: string`"));
            continue;
        };
        let (name, ty) = (name.trim(), ty.trim());
        let (name, required) = match name.strip_suffix('?') {
            Some(n) => (n.trim_end(), false),
            None => (name, true),
        };
        // Any JSON name is a property (`fooBar`, `type`, `dash-name`: the
        // Rust field is its snake case); these are the ones written plain
        // in YAML, which is how the entry is rendered.
        if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            problems.push(format!(
                "field name `{name}` cannot be given in `--fields`: use letters, digits, `_` and `-`, starting with a letter \
                 (or add the property to the entry by hand: any JSON name works in the catalog)"
            ));
            continue;
        }
        if fields.iter().any(|f| f.name == name) {
            problems.push(format!("field `{name}` is listed twice in `--fields`; keep one"));
            continue;
        }
        if let Some(f) = fields.iter().find(|f| ident::field_name(&f.name) == ident::field_name(name)) {
            problems.push(format!(
                "fields `{}` and `{name}` would both become the Rust field `{}`; keep one",
                f.name,
                ident::field_name(name)
            ));
            continue;
        }
        if ty.is_empty() {
            problems.push(format!("field `{name}` has no type; write `{name}: string` (or uuid, integer, number, boolean, datetime, …)"));
            continue;
        }
        match shorthand::type_schema(ty) {
            Ok(schema) => fields.push(Field { name: name.to_string(), required, ty: ty.to_string(), schema }),
            Err(e) => {
                let help = match e.suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("use one of {}, `list<T>` or `map<T>`", text::one_of(shorthand::TYPES)),
                };
                problems.push(format!("unknown type `{}` for field `{name}`; {help}", e.name));
            }
        }
    }
    if problems.is_empty() { Ok(fields) } else { Err(problems) }
}

/// Split at commas outside `<…>`.
fn split_top_level(spec: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in spec.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            ',' if depth <= 0 => {
                out.push(&spec[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&spec[start..]);
    out
}

/// What [`add_event`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Added {
    /// The whole new catalog text.
    pub text: String,
    /// 1-based line of the new type's key.
    pub line: usize,
    /// Remarks for the user (a field added for them).
    pub notes: Vec<String>,
    /// The handler method the compiler will ask for, as Rust.
    pub handler: String,
}

/// Append `type_name` with `fields` to the catalog `text` (named `file`).
/// Errors are messages, one per problem.
pub fn add_event(file: &str, text: &str, type_name: &str, fields: &str) -> Result<Added, Vec<String>> {
    let existing = catalog::parse(file, text).map_err(|d| {
        let mut v: Vec<String> = d.0.iter().map(ToString::to_string).collect();
        v.push(format!("{file} does not lint; fix it before adding an event type"));
        v
    })?;
    if let Some(problem) = check::type_name(Some(&existing.prefix), type_name) {
        return Err(vec![problem.to_string()]);
    }
    if let Some(e) = existing.event(type_name) {
        let at = match &e.origin {
            crate::ir::Origin::Yaml { line, column, .. } => format!("{file}:{line}:{column}"),
            _ => file.to_string(),
        };
        return Err(vec![format!("`{type_name}` already exists at {at}; choose another name, or edit that entry")]);
    }
    let mut fields = parse_fields(fields)?;
    let mut notes = Vec::new();
    match fields.iter().find(|f| f.name == STREAM_KEY) {
        Some(f) if !f.required => {
            return Err(vec![format!(
                "`{STREAM_KEY}?` cannot be optional: it is the stream key every event must carry; write `{STREAM_KEY}: uuid`"
            )]);
        }
        Some(_) => {}
        None => {
            notes.push(format!("added `{STREAM_KEY}: uuid`, the stream key every event carries"));
            let schema = shorthand::type_schema("uuid").unwrap_or_default();
            fields.insert(0, Field { name: STREAM_KEY.into(), required: true, ty: "uuid".into(), schema });
        }
    }
    let root = syntax::parse_yaml(text).root.ok_or_else(|| vec![format!("{file} could not be read as YAML")])?;
    let (at, indent, step) = insertion(text, &root).map_err(|e| vec![e])?;
    let subject = subject_template(&existing, &fields);
    let entry = render(type_name, &fields, subject.as_deref(), &example(&existing, &fields), indent, step);

    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let needs_newline = at > 0 && !lines[at - 1].ends_with('\n');
    let mut block = String::new();
    if needs_newline {
        block.push('\n');
    }
    block.push('\n');
    block.push_str(&entry);
    if text.contains("\r\n") {
        block = block.replace('\n', "\r\n"); // keep the file's line endings
    }
    lines.insert(at, &block);
    let new_text: String = lines.concat();
    let line = at + 2; // after the blank separator line
    if let Err(d) = catalog::parse(file, &new_text) {
        let mut v: Vec<String> = d.0.iter().map(ToString::to_string).collect();
        v.push(format!("the new entry for `{type_name}` would not lint; nothing was written"));
        return Err(v);
    }
    let rust = ident::type_rust_name(type_name);
    let handler = format!(
        "async fn {}(&self, ctx: &EventContext<'_>, data: {rust}) -> Result<Self::Output, Self::Error> {{\n    todo!()\n}}",
        ident::handler_method_name(type_name)
    );
    Ok(Added { text: new_text, line, notes, handler })
}

/// Where the entry goes (a 0-based line index to insert before), the
/// indentation of event keys and the indentation step inside an event.
fn insertion(text: &str, root: &Node) -> Result<(usize, usize, usize), String> {
    let entries = root.entries().unwrap_or_default();
    let Some(i) = entries.iter().position(|e| e.key == "events") else {
        return Err("the catalog has no `events:` mapping".to_string());
    };
    let events = &entries[i];
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let first = events.value.entries().and_then(|e| e.first());
    let flow = lines
        .get(events.value.mark.line.saturating_sub(1))
        .and_then(|l| l.get(events.value.mark.column.saturating_sub(1)..))
        .is_some_and(|rest| rest.starts_with('{'));
    let Some(first) = first.filter(|_| !flow) else {
        return Err("`events:` is not a block mapping (`events: {…}`); add the entry by hand".to_string());
    };
    let indent = first.key_mark.column - 1;
    let step = first
        .value
        .entries()
        .and_then(|e| e.first())
        .map(|inner| inner.key_mark.column.saturating_sub(first.key_mark.column))
        .filter(|s| *s > 0)
        .unwrap_or(2);
    let at = match entries.get(i + 1) {
        None => lines.len(),
        Some(next) => {
            // Blank lines and column-0 comments just above the next key
            // introduce it; the entry goes before them.
            let mut at = next.key_mark.line - 1;
            while at > 0 {
                let l = lines[at - 1];
                if l.trim().is_empty() || l.starts_with('#') {
                    at -= 1;
                } else {
                    break;
                }
            }
            at
        }
    };
    Ok((at, indent, step))
}

/// The `subject` template most events of the catalog use, when each of its
/// placeholders is a required field of the new type.
fn subject_template(catalog: &Catalog, fields: &[Field]) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &catalog.events {
        if let Some(s) = &e.subject {
            *counts.entry(s).or_default() += 1;
        }
    }
    let (template, _) = counts.into_iter().max_by_key(|(_, n)| *n)?;
    let fits = subject::placeholders(template).iter().all(|p| fields.iter().any(|f| f.required && f.name == *p));
    fits.then(|| template.to_string())
}

/// One example: a value from the catalog's own examples for a field of
/// the same name and schema (so `run_id` matches existing runs), else a
/// value made for its type. Optional fields are included too.
fn example(catalog: &Catalog, fields: &[Field]) -> Vec<(String, Value)> {
    fields
        .iter()
        .map(|f| {
            let reused = catalog.events.iter().find_map(|e| {
                (e.schema.get("properties")?.get(&f.name)? == &f.schema)
                    .then(|| e.examples.iter().find_map(|x| x.get(&f.name).cloned()))
                    .flatten()
            });
            (f.name.clone(), reused.unwrap_or_else(|| value_for(&f.schema, 0)))
        })
        .collect()
}

/// A value valid for a shorthand-made schema.
fn value_for(schema: &Value, depth: usize) -> Value {
    if depth > 8 {
        return json!(null);
    }
    match (schema.get("type").and_then(Value::as_str), schema.get("format").and_then(Value::as_str)) {
        (Some("string"), Some("uuid")) => json!("8f14e45f-ceea-467f-a0e6-f6e5c1a5e2b1"),
        (Some("string"), Some("date-time")) => json!("2024-01-01T00:00:00Z"),
        (Some("string"), Some("date")) => json!("2024-01-01"),
        (Some("string"), Some("uri")) => json!("https://example.com/"),
        (Some("string"), Some("email")) => json!("user@example.com"),
        (Some("string"), _) => json!("example"),
        (Some("integer"), _) => json!(1),
        (Some("number"), _) => json!(1.5),
        (Some("boolean"), _) => json!(true),
        (Some("array"), _) => json!([value_for(schema.get("items").unwrap_or(&json!({})), depth + 1)]),
        (Some("object"), _) => match schema.get("additionalProperties").filter(|v| v.is_object()) {
            Some(values) => json!({"key": value_for(values, depth + 1)}),
            None => json!({}),
        },
        _ => json!("example"),
    }
}

fn render(type_name: &str, fields: &[Field], subject: Option<&str>, example: &[(String, Value)], indent: usize, step: usize) -> String {
    let (i0, i1, i2, i3) =
        (" ".repeat(indent), " ".repeat(indent + step), " ".repeat(indent + 2 * step), " ".repeat(indent + 2 * step + 2));
    let mut s = format!("{i0}{type_name}:\n{i1}description: {DESCRIPTION}\n{i1}version: 1\n");
    if let Some(subject) = subject {
        s.push_str(&format!("{i1}subject: {}\n", Value::String(subject.to_string())));
    }
    s.push_str(&format!("{i1}fields:\n"));
    for f in fields {
        let q = if f.required { "" } else { "?" };
        s.push_str(&format!("{i2}{}{q}: {}\n", f.name, f.ty));
    }
    s.push_str(&format!("{i1}examples:\n"));
    for (n, (name, value)) in example.iter().enumerate() {
        let lead = if n == 0 { format!("{i2}- ") } else { i3.clone() };
        s.push_str(&format!("{lead}{name}: {value}\n"));
    }
    s
}

#[cfg(test)]
mod tests;
