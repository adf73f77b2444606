//! Herald's JSON Schema subset, checked node by node with source positions.
//!
//! The subset is what typify turns into plain Rust types and what the
//! generated `validate()` enforces; anything else would be silently
//! ignored or mistranslated, so it is rejected here, before typify runs.

use super::FieldNames;
use crate::check::{CrossedBounds, crossed_bounds};
use crate::syntax::{Ctx, Entry, Node, YamlValue};
use crate::tagged;
use crate::text::{did_you_mean, escape_pointer, one_of};

/// Every keyword Herald understands.
const SUPPORTED: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "enum",
    "const",
    "description",
    "title",
    "default",
    "examples",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "offset",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "$ref",
    "$defs",
    "oneOf",
    "discriminator",
];
const SUMMARY: &str = "Herald supports `type`, `properties`, `required`, `additionalProperties`, `items`, `enum` (of strings), \
    `const`, `format` (with `offset: utc-only` on a `date-time`), `pattern`, `minimum`/`maximum` (and exclusive), `multipleOf`, length, item and property counts, \
    `uniqueItems`, `$ref` to `#/$defs/Name`, `$defs`, tagged unions (`oneOf` of objects with a `const` tag property) and annotations (`description`, `title`, `default`, `examples`)";
const TYPES: &[&str] = &["object", "string", "number", "integer", "boolean", "array"];
/// The formats the generated `validate()` checks (see `herald::formats`).
const FORMATS: &[&str] = &["date-time", "date", "time", "email", "hostname", "ipv4", "ipv6", "uri", "uri-reference", "uuid"];

/// Lint the `data:` schema of `event`: Herald's subset, plus the top level
/// must be `type: object`.
pub(crate) fn data(ctx: &mut Ctx, event: &str, node: &Node) {
    let defs = match node.get("$defs").and_then(|d| d.value.entries()) {
        Some(entries) => entries.iter().map(|e| e.key.clone()).collect(),
        None => Vec::new(),
    };
    if node.entries().is_some() {
        match node.get("type") {
            None => ctx.error(
                node.mark,
                format!("the data schema of `{event}` has no `type`"),
                "add `type: object`: event data is always a JSON object",
            ),
            Some(t) => {
                if let Some(ty) = t.value.as_str().filter(|t| *t != "object" && TYPES.contains(t)) {
                    ctx.error(
                        t.value.mark,
                        format!("the data schema of `{event}` is `type: {ty}`"),
                        "event data is always a JSON object: use `type: object` with `properties`",
                    );
                }
            }
        }
    }
    Walker { ctx, event, defs }.node(node, "", true);
}

/// Lint an inline JSON Schema of a shorthand field at `pointer`.
pub(crate) fn inline(ctx: &mut Ctx, event: &str, node: &Node, pointer: &str) {
    Walker { ctx, event, defs: Vec::new() }.node(node, pointer, false);
}

struct Walker<'c> {
    ctx: &'c mut Ctx,
    event: &'c str,
    /// Names under the top-level `$defs`, the only `$ref` targets.
    defs: Vec<String>,
}

impl Walker<'_> {
    /// "`ai.x.y` at /properties/foo", or just "`ai.x.y`" at the root.
    fn at(&self, pointer: &str) -> String {
        at(self.event, pointer)
    }

    fn node(&mut self, node: &Node, pointer: &str, top: bool) {
        let Some(entries) = node.entries() else {
            let at = self.at(pointer);
            self.ctx.error(
                node.mark,
                format!("a schema in {at} must be a mapping, found {}", node.kind()),
                "write a JSON Schema object such as `{type: string}`",
            );
            return;
        };
        for entry in entries {
            self.keyword(node, entry, pointer, top);
        }
        self.ranges(node, pointer);
        self.typed_format_rules(node, pointer);
    }

    /// `format: date-time` and `format: uuid` strings decode into typed
    /// values, so rules on their text would be silently skipped.
    fn typed_format_rules(&mut self, node: &Node, pointer: &str) {
        let string = node.get("type").and_then(|t| t.value.as_str()) == Some("string");
        let Some(format) = node.get("format").and_then(|f| f.value.as_str()).filter(|f| matches!(*f, "date-time" | "uuid")) else {
            return;
        };
        if !string || node.get("enum").is_some() {
            return;
        }
        for key in ["pattern", "minLength", "maxLength"] {
            if let Some(entry) = node.get(key) {
                let at = self.at(pointer);
                self.ctx.error(
                    entry.key_mark,
                    format!("`{key}` on a `format: {format}` string in {at} would not be checked"),
                    format!(
                        "Herald decodes `{format}` into a typed value and does not check its text; remove `{key}`, or remove `format` and keep `{key}` (then the value is a plain string)"
                    ),
                );
            }
        }
    }

    /// Report `key` having the wrong kind of value.
    fn expected(&mut self, entry: &Entry, pointer: &str, expected: &str) {
        let at = self.at(pointer);
        let (key, value) = (&entry.key, &entry.value);
        self.ctx.error(
            value.mark,
            format!("`{key}` in {at} must be {expected}, found {}", value.kind()),
            format!("write `{key}` as {expected}"),
        );
    }

    fn keyword(&mut self, parent: &Node, entry: &Entry, pointer: &str, top: bool) {
        let value = &entry.value;
        let at = self.at(pointer);
        match entry.key.as_str() {
            "type" => self.type_keyword(entry, pointer),
            "properties" => {
                let Some(props) = value.entries() else {
                    return self.expected(entry, pointer, "a mapping of property schemas");
                };
                let flattened = parent.get("additionalProperties").is_some_and(|a| a.value.entries().is_some());
                let mut fields = FieldNames::new(flattened);
                for prop in props {
                    let child = format!("{pointer}/properties/{}", escape_pointer(&prop.key));
                    fields.add(self.ctx, self.event, &prop.key, prop.key_mark, &child);
                    self.node(&prop.value, &child, false);
                }
            }
            "required" => self.required(parent, entry, pointer),
            "additionalProperties" => {
                if !matches!(value.value, YamlValue::Bool(_)) {
                    self.node(value, &format!("{pointer}/additionalProperties"), false);
                }
            }
            "items" => match value.value {
                YamlValue::Map(_) => self.node(value, &format!("{pointer}/items"), false),
                YamlValue::Seq(_) => self.ctx.error(
                    value.mark,
                    format!("tuple `items` (a list of schemas) in {at} is not supported"),
                    "use one schema for every item; model fixed positions as an object",
                ),
                _ => self.expected(entry, pointer, "a schema mapping"),
            },
            "enum" => self.enum_keyword(parent, entry, pointer),
            "const" | "default" => {}
            "description" | "title" => {
                if value.as_str().is_none() {
                    self.expected(entry, pointer, "a string");
                }
            }
            "examples" => {
                if value.items().is_none() {
                    self.expected(entry, pointer, "a sequence");
                }
            }
            "offset" => {
                let date_time = parent.get("format").and_then(|f| f.value.as_str()) == Some("date-time");
                match value.as_str() {
                    None => self.expected(entry, pointer, "a string"),
                    Some("utc-only" | "any") if date_time => {}
                    Some(_) if !date_time => self.ctx.error(
                        entry.key_mark,
                        format!("`offset` in {at} applies to `format: date-time` strings only"),
                        "add `format: date-time`, or remove `offset`",
                    ),
                    Some(o) => self.ctx.error(
                        value.mark,
                        format!("unknown `offset` `{o}` in {at}"),
                        "write `offset: utc-only` (only `Z`, as Zod's `z.iso.datetime()`), or `offset: any` (the default: any RFC 3339 offset)",
                    ),
                }
            }
            "format" => match value.as_str() {
                None => self.expected(entry, pointer, "a string"),
                Some(f) if FORMATS.contains(&f) => {}
                Some(f) => {
                    let formats = format!("Herald checks {}", one_of(FORMATS));
                    let help = match did_you_mean(f, FORMATS) {
                        Some(s) => format!("did you mean `{s}`? {formats}"),
                        None => formats,
                    };
                    self.ctx.error(value.mark, format!("unsupported format `{f}` in {at}"), help);
                }
            },
            "minimum" | "maximum" => {
                if number(value).is_none() {
                    self.expected(entry, pointer, "a number");
                }
            }
            key @ ("exclusiveMinimum" | "exclusiveMaximum") => {
                if matches!(value.value, YamlValue::Bool(_)) {
                    let bound = if key == "exclusiveMinimum" { "minimum" } else { "maximum" };
                    self.ctx.error(
                        value.mark,
                        format!("boolean `{key}` in {at} is draft-4 style"),
                        format!("use the draft 2020-12 form: `{key}: <number>` in place of `{bound}` + `{key}: true`"),
                    );
                } else if number(value).is_none() {
                    self.expected(entry, pointer, "a number");
                }
            }
            "multipleOf" => {
                if number(value).is_none_or(|n| n <= 0.0) {
                    self.expected(entry, pointer, "a number greater than 0");
                }
            }
            "minLength" | "maxLength" | "minItems" | "maxItems" | "minProperties" | "maxProperties" => {
                if !matches!(value.value, YamlValue::Int(i) if i >= 0) {
                    self.expected(entry, pointer, "a non-negative integer");
                }
            }
            "uniqueItems" => {
                if !matches!(value.value, YamlValue::Bool(_)) {
                    self.expected(entry, pointer, "`true` or `false`");
                }
            }
            "pattern" => match value.as_str() {
                None => self.expected(entry, pointer, "a string"),
                Some(p) => {
                    if let Err(e) = regress::Regex::new(p) {
                        self.ctx.error(
                            value.mark,
                            format!("`pattern` in {at} does not compile: {e}"),
                            "write an ECMAScript regular expression, e.g. `^[0-9a-f]{64}$`",
                        );
                    }
                }
            },
            "$ref" => self.reference(entry, pointer),
            "oneOf" => self.union(parent, entry, pointer),
            "discriminator" => {
                if parent.get("oneOf").is_none() {
                    self.ctx.error(
                        entry.key_mark,
                        format!("`discriminator` in {at} is not beside a `oneOf`"),
                        format!("{}; remove it, or add the `oneOf` it names the tag of", tagged::SUPPORTED),
                    );
                }
            }
            "$defs" => {
                if !top {
                    self.ctx.error(
                        entry.key_mark,
                        format!("`$defs` in {at} is not at the top of the data schema"),
                        "move it to the top: refs are always `#/$defs/Name`, from the root",
                    );
                    return;
                }
                let Some(defs) = value.entries() else {
                    return self.expected(entry, pointer, "a mapping of named schemas");
                };
                for def in defs {
                    let ok = def.key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                        && def.key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if !ok {
                        self.ctx.error(
                            def.key_mark,
                            format!("definition name `{}` in `{}` is not a valid type name", def.key, self.event),
                            "use letters, digits and `_`, starting with a letter (it becomes a Rust type)",
                        );
                    }
                    self.node(&def.value, &format!("/$defs/{}", escape_pointer(&def.key)), false);
                }
            }
            key => self.unsupported(entry.key_mark, key, pointer),
        }
    }

    fn unsupported(&mut self, mark: crate::syntax::Mark, key: &str, pointer: &str) {
        let advice = match key {
            "anyOf" | "allOf" | "not" | "if" | "then" | "else" => {
                "model alternatives as a tagged union (a `oneOf` of objects that each require a tag property with its own `const`, e.g. `kind: {const: file}`), an `enum`, or separate event types".to_string()
            }
            "definitions" => "use `$defs` and refs of the form `#/$defs/Name`".to_string(),
            "patternProperties" | "propertyNames" | "unevaluatedProperties" => {
                "use `additionalProperties` with a schema for free-form keys (`map<T>` in the shorthand)".to_string()
            }
            "prefixItems" | "contains" | "minContains" | "maxContains" | "unevaluatedItems" => {
                "use `items` with one schema for every element".to_string()
            }
            "dependentRequired" | "dependentSchemas" | "dependencies" => "make the fields required, or split the event type".to_string(),
            "nullable" => "leave the property out of `required` instead (`name?:` in the shorthand)".to_string(),
            _ => match did_you_mean(key, SUPPORTED) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "remove it".to_string(),
            },
        };
        let at = self.at(pointer);
        self.ctx.error(mark, format!("unsupported JSON Schema keyword `{key}` in {at}"), format!("{SUMMARY}; {advice}"));
    }

    /// A `oneOf`: each branch linted as any schema, then the union as a
    /// whole (`tagged::problems`: objects, one constant tag, distinct
    /// values and variants).
    fn union(&mut self, parent: &Node, entry: &Entry, pointer: &str) {
        for (i, branch) in entry.value.items().unwrap_or_default().iter().enumerate() {
            self.node(branch, &format!("{pointer}/oneOf/{i}"), false);
        }
        let Ok(json) = parent.to_json() else { return };
        let event = self.event;
        for problem in tagged::problems(&json, &|relative| at(event, &format!("{pointer}{relative}"))) {
            self.ctx.error(parent.at_pointer(&problem.pointer).mark, problem.message, problem.help);
        }
    }

    fn type_keyword(&mut self, entry: &Entry, pointer: &str) {
        let at = self.at(pointer);
        let optional = "leave the property out of `required` (`name?:` in the shorthand) instead of allowing `null`";
        let value = &entry.value;
        match &value.value {
            YamlValue::Str(t) if TYPES.contains(&t.as_str()) => {}
            YamlValue::Str(t) if t == "null" => self.ctx.error(value.mark, format!("type `null` in {at} is not supported"), optional),
            YamlValue::Str(t) => {
                let types = format!("supported types are {}", one_of(TYPES));
                let help = match did_you_mean(t, TYPES) {
                    Some(s) => format!("did you mean `{s}`? {types}"),
                    None => types,
                };
                self.ctx.error(value.mark, format!("unknown type `{t}` in {at}"), help);
            }
            YamlValue::Seq(_) => self.ctx.error(
                value.mark,
                format!("a list of types in {at} is not supported"),
                format!("use a single type; for an optional value, {optional}"),
            ),
            _ => self.expected(entry, pointer, "a type name"),
        }
    }

    fn required(&mut self, parent: &Node, entry: &Entry, pointer: &str) {
        let Some(items) = entry.value.items() else {
            return self.expected(entry, pointer, "a sequence of property names");
        };
        let props = parent.get("properties").and_then(|p| p.value.entries()).unwrap_or_default();
        let names: Vec<&str> = props.iter().map(|p| p.key.as_str()).collect();
        let at = self.at(pointer);
        for (i, item) in items.iter().enumerate() {
            let Some(name) = item.as_str() else {
                self.ctx.error(
                    item.mark,
                    format!("`required` in {at} lists {}, not a property name", item.kind()),
                    "list property names as strings",
                );
                continue;
            };
            if items[..i].iter().any(|p| p.as_str() == Some(name)) {
                self.ctx.error(item.mark, format!("`required` in {at} lists `{name}` twice"), "list each property once");
            } else if !names.contains(&name) {
                let help = match did_you_mean(name, &names) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "declare it under `properties` or remove it from `required`".to_string(),
                };
                self.ctx.error(item.mark, format!("`required` in {at} lists `{name}`, which is not a declared property"), help);
            }
        }
    }

    fn enum_keyword(&mut self, parent: &Node, entry: &Entry, pointer: &str) {
        let Some(items) = entry.value.items().filter(|i| !i.is_empty()) else {
            return self.expected(entry, pointer, "a non-empty sequence of strings");
        };
        let at = self.at(pointer);
        if let Some(t) = parent.get("type").and_then(|t| t.value.as_str()).filter(|t| *t != "string") {
            self.ctx.error(entry.key_mark, format!("`enum` in {at} is on a `{t}`"), "Herald supports enums of strings: use `type: string`");
        }
        for (i, item) in items.iter().enumerate() {
            match item.as_str() {
                None => self.ctx.error(
                    item.mark,
                    format!("`enum` in {at} has a value that is {}", item.kind()),
                    "Herald supports enums of strings; bound numbers with `minimum`/`maximum` or use `const`",
                ),
                Some(s) if items[..i].iter().any(|p| p.as_str() == Some(s)) => {
                    self.ctx.error(item.mark, format!("`enum` in {at} lists `{s}` twice"), "list each value once")
                }
                Some(_) => {}
            }
        }
    }

    fn reference(&mut self, entry: &Entry, pointer: &str) {
        let Some(target) = entry.value.as_str() else {
            return self.expected(entry, pointer, "a string such as `#/$defs/Name`");
        };
        let at = self.at(pointer);
        let mark = entry.value.mark;
        match target.strip_prefix("#/$defs/").filter(|n| !n.is_empty() && !n.contains('/')) {
            Some(name) if self.defs.iter().any(|d| d == name) => {}
            Some(name) => {
                let defs: Vec<&str> = self.defs.iter().map(String::as_str).collect();
                let help = match did_you_mean(name, &defs) {
                    Some(s) => format!("did you mean `#/$defs/{s}`?"),
                    None => format!("define `{name}` under `$defs` at the top of the data schema"),
                };
                self.ctx.error(mark, format!("`$ref` in {at} points to `#/$defs/{name}`, which is not defined"), help);
            }
            None => self.ctx.error(
                mark,
                format!("external `$ref` `{target}` in {at}"),
                "Herald resolves only local refs of the form `#/$defs/Name`: copy the definition under `$defs` at the top of the data schema",
            ),
        }
    }

    /// Lower bounds above upper bounds: no value could ever match.
    fn ranges(&mut self, node: &Node, pointer: &str) {
        for crossed in crossed_bounds(|keyword| node.get(keyword).and_then(|e| number(&e.value))) {
            let CrossedBounds { lower, upper, low, high } = crossed;
            let Some(at_lower) = node.get(lower) else { continue };
            let at = self.at(pointer);
            self.ctx.error(
                at_lower.key_mark,
                format!("`{lower}` ({low}) is greater than `{upper}` ({high}) in {at}"),
                "no value could match: fix the bounds",
            );
        }
    }
}

/// "`ai.x.y` at /properties/foo", or just "`ai.x.y`" at the root.
fn at(event: &str, pointer: &str) -> String {
    if pointer.is_empty() { format!("`{event}`") } else { format!("`{event}` at {pointer}") }
}

/// A finite number (YAML integer or float).
fn number(node: &Node) -> Option<f64> {
    match node.value {
        YamlValue::Int(i) => Some(i as f64),
        YamlValue::Float(f) if f.is_finite() => Some(f),
        _ => None,
    }
}
