//! Catalog lints: every rule an `events.yaml` must follow beyond being YAML.
//!
//! Each lint reports `file:line:col: problem — fix` at the most precise node
//! it can, and reporting never stops the walk, so one run shows everything.
//!
//! | lint | example message |
//! |---|---|
//! | type names | event type `ai.MyFeature.started` breaks the naming rule `{prefix}.{domain}.{action}`: segments must be lower snake case — rename it to `ai.my_feature.started` |
//! | duplicate types (`syntax::yaml`) | duplicate event type `ai.run.started`; it is already declared at line 12 — remove or rename one of the two declarations |
//! | unknown shorthand types (`shorthand`) | unknown shorthand type `uuidd` for field `run_id` of `ai.run.started` — did you mean `uuid`? … |
//! | JSON Schema subset (`lint::schema`) | unsupported JSON Schema keyword `anyOf` in `ai.x.y` at /properties/foo — Herald supports …; model alternatives as a tagged union (a `oneOf` of objects that each require a tag property with its own `const`, …), an `enum`, or separate event types |
//! | tagged unions (`tagged`) | the union in `ai.x.y` at /properties/target has no tag: no property is a required constant string in every branch (branch 1 has `kind`, branch 2 has `type`) — give every branch the same required tag property … |
//! | property names | properties `run_id` and `runId` in `ai.x.y` at /properties/runId both become the Rust field `run_id` — rename one of them … |
//! | defaults | the `default` of `ai.x.y` at /properties/labels does not match its own schema at `/0`: "a" is shorter than 2 characters — … fix the default or remove it |
//! | examples | example 1 of `ai.x.y` does not match its schema at `/progress`: 1.5 is greater than the maximum of 1 — fix the example or the schema |
//! | unknown keys | unknown key `verison` in event `ai.x.y` — did you mean `version`? expected one of … |
//! | lifecycle states (`lint::lifecycle`) | unknown state `runing` in `to` of transition 1 (`ai.run.started`) — did you mean `running`? expected one of … |
//! | lifecycle events | `on` names `ai.run.start`, which is not an event type of this catalog — did you mean `ai.run.started`? |
//! | terminal states | transition 3 (`ai.run.canceled`) leaves the terminal state `completed` — terminal states are final: remove `completed` from `from:`, … |
//! | `when` | `when` of transition 2: `result` of `ai.run.completed` can never be `succes` — did you mean `success`? its values are `success` or `failure` |
//! | ambiguous transitions | transitions 3 and 5 of `ai.run.completed` both match data with `result` = `success`, so which one applies is ambiguous — give them `when` conditions that exclude each other … |
//!
//! Structural checks of the format itself (missing `prefix`, `version`,
//! `examples`, …) live next to the reader in `catalog`.

mod lifecycle;
mod schema;

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::Value;

use crate::syntax::{Ctx, Mark, Node};
use crate::text::{did_you_mean, escape_pointer, one_of};
use crate::{check, ident};

pub(crate) use lifecycle::{Marked, MarkedTransition, Named, check as lifecycle};
pub(crate) use schema::{data as schema, inline as inline_schema};

/// Report keys of the mapping `node` that are not in `allowed`.
pub(crate) fn unknown_keys(ctx: &mut Ctx, node: &Node, allowed: &[&str], what: &str) {
    for entry in node.entries().unwrap_or_default() {
        if !allowed.contains(&entry.key.as_str()) {
            let expected = format!("expected one of {}", one_of(allowed));
            let help = match did_you_mean(&entry.key, allowed) {
                Some(s) => format!("did you mean `{s}`? {expected}"),
                None => expected,
            };
            ctx.error(entry.key_mark, format!("unknown key `{}` in {what}", entry.key), help);
        }
    }
}

/// Check an event type against `{prefix}.{domain}.{action}`
/// ([`check::type_name`]) and report the problem at `mark`; `true` if it
/// follows the rule. `prefix` is `None` when the catalog's own is missing
/// or invalid (already reported).
pub(crate) fn type_name(ctx: &mut Ctx, prefix: Option<&str>, name: &str, mark: Mark) -> bool {
    match check::type_name(prefix, name) {
        None => true,
        Some(problem) => {
            ctx.error(mark, problem.message, problem.help);
            false
        }
    }
}

/// The Rust fields the properties of one object schema become
/// ([`ident::field_name`]), to report two properties that would share one.
///
/// Any JSON name is fine on its own (`fooBar`, `type`, `dash-name`): the
/// field is its snake case form and serde keeps the JSON name.
pub(crate) struct FieldNames {
    /// Field → the property it was first taken by.
    taken: std::collections::BTreeMap<String, String>,
}

impl FieldNames {
    /// The fields of an object; `flattened` when its `additionalProperties`
    /// is a schema, whose undeclared properties typify keeps in a field
    /// named `extra`.
    pub(crate) fn new(flattened: bool) -> Self {
        let mut taken = std::collections::BTreeMap::new();
        if flattened {
            taken.insert("extra".to_string(), String::new());
        }
        FieldNames { taken }
    }

    /// Add the property `name` (declared at `mark`, at `pointer` in
    /// `event`'s data schema), reporting a clash with an earlier one.
    pub(crate) fn add(&mut self, ctx: &mut Ctx, event: &str, name: &str, mark: Mark, pointer: &str) {
        let field = ident::field_name(name);
        match self.taken.get(&field) {
            None => {
                self.taken.insert(field, name.to_string());
            }
            Some(first) if first.is_empty() => ctx.error(
                mark,
                format!("property `{name}` in `{event}` at {pointer} becomes the Rust field `{field}`, which holds the undeclared properties (`additionalProperties`)"),
                "rename the property",
            ),
            Some(first) => ctx.error(
                mark,
                format!("properties `{first}` and `{name}` in `{event}` at {pointer} both become the Rust field `{field}`"),
                "rename one of them: JSON names that differ only in case or punctuation share a snake case Rust field",
            ),
        }
    }
}

/// Validate each of `values` against `schema` with the `jsonschema` crate
/// (draft 2020-12, formats on): `(index, JSON pointer, message)` per
/// problem, or why the schema could not be used.
pub fn schema_errors(schema: &Value, values: &[&Value]) -> Result<Vec<(usize, String, String)>, String> {
    // jsonschema is only run on schemas that passed the subset lints; the
    // guard is for anything it still chokes on.
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let validator = jsonschema::draft202012::options().should_validate_formats(true).build(schema).map_err(|e| e.to_string())?;
        let mut found = Vec::new();
        for (index, value) in values.iter().enumerate() {
            for error in validator.iter_errors(value) {
                let pointer = error.instance_path.as_str().to_string();
                // "not valid under any of the schemas listed in the 'oneOf'
                // keyword" says nothing of what to fix: for a tagged union,
                // say what the branch the tag names refuses, or that the
                // tag names none.
                let in_union = match error.kind {
                    jsonschema::error::ValidationErrorKind::OneOfNotValid { .. } => union_errors(schema, value, &pointer),
                    _ => None,
                };
                match in_union {
                    Some(errors) => found.extend(errors?.into_iter().map(|(p, e)| (index, p, e))),
                    None => found.push((index, pointer, error.to_string())),
                }
            }
        }
        Ok::<_, String>(found)
    }));
    outcome.unwrap_or_else(|_| Err("the validator failed".to_string()))
}

/// What the tagged union whose value is at `pointer` in `instance` refuses
/// (`root` is the whole schema): the errors of the branch its tag names,
/// at pointers into `instance`, or that the tag is missing or names no
/// branch; `None` when no tagged union is there.
#[allow(clippy::type_complexity)]
fn union_errors(root: &Value, instance: &Value, pointer: &str) -> Option<Result<Vec<(String, String)>, String>> {
    let schema = schema_at(root, instance, pointer)?;
    let union = crate::tagged::TaggedUnion::of(schema)?;
    let value = instance.pointer(pointer)?;
    let tags: Vec<&str> = union.branches.iter().map(|b| b.value).collect();
    let tags = one_of(&tags);
    let tag = union.tag;
    let Some(given) = value.get(tag) else {
        return Some(Ok(vec![(pointer.to_string(), format!("{value} has no `{tag}`, the tag that says which of {tags} it is"))]));
    };
    let Some(branch) = union.branch_of(value) else {
        return Some(Ok(vec![(
            format!("{pointer}/{}", escape_pointer(tag)),
            format!("{given} is not a tag of the union: expected {tags}"),
        )]));
    };
    // The branch alone, with the root's definitions for its refs.
    let mut alone = branch.schema.clone();
    if let (Value::Object(o), Some(defs)) = (&mut alone, root.get("$defs")) {
        o.insert("$defs".into(), defs.clone());
    }
    Some(schema_errors(&alone, &[value]).map(|errors| errors.into_iter().map(|(_, p, e)| (format!("{pointer}{p}"), e)).collect()))
}

/// The schema of the value at `pointer` in `instance`, following refs,
/// properties, items, map values and the union branches the tags name.
fn schema_at<'s>(root: &'s Value, instance: &Value, pointer: &str) -> Option<&'s Value> {
    let mut schema = crate::defs::resolve(root, root)?;
    let mut value = instance;
    for raw in pointer.split('/').skip(1) {
        let key = raw.replace("~1", "/").replace("~0", "~");
        if let Some(branch) = crate::tagged::TaggedUnion::of(schema).and_then(|u| u.branch_of(value).map(|b| b.schema)) {
            schema = branch;
        }
        let next = match value {
            Value::Array(items) => {
                value = items.get(key.parse::<usize>().ok()?)?;
                schema.get("items")
            }
            Value::Object(map) => {
                value = map.get(&key)?;
                schema.get("properties").and_then(|p| p.get(&key)).or_else(|| schema.get("additionalProperties"))
            }
            _ => None,
        };
        schema = crate::defs::resolve(root, next?)?;
    }
    Some(schema)
}

/// Validate each example against the event's schema with the `jsonschema`
/// crate (formats on), pointing at the offending value inside the example.
pub(crate) fn examples(ctx: &mut Ctx, event: &str, schema: &Value, examples: &[(&Node, Value)]) {
    let values: Vec<&Value> = examples.iter().map(|(_, v)| v).collect();
    // Herald's own keywords (`offset: utc-only`) as the standard ones they mean.
    let outcome = schema_errors(&crate::dialect::portable(schema), &values);
    let Some((first, _)) = examples.first() else {
        return;
    };
    match outcome {
        Ok(mut found) => {
            // JSON Schema counts `1000.0` as an integer; Herald's typed
            // decoding does not, so such an example would be rejected.
            for (index, (_, example)) in examples.iter().enumerate() {
                let mut floats = Vec::new();
                integral_floats(schema, schema, example, String::new(), &mut floats);
                for (path, value) in floats {
                    let error = format!(
                        "`{value:?}` is a float, and Herald's decoding takes an `integer` only written as one (JSON Schema alone would accept it); write `{}`",
                        value as i64
                    );
                    found.push((index, path, error));
                }
            }
            for (index, path, error) in found {
                let node = examples[index].0.at_pointer(&path);
                let at = if path.is_empty() { String::new() } else { format!(" at `{path}`") };
                ctx.error(
                    node.mark,
                    format!("example {} of `{event}` does not match its schema{at}: {error}", index + 1),
                    "fix the example or the schema",
                );
            }
        }
        Err(e) => ctx.error(first.mark, format!("cannot check the examples of `{event}`: {e}"), "simplify the schema"),
    }
}

/// Validate each `default` in the data schema against the schema it sits
/// in, reported at the default (`data` is the YAML of the schema when it
/// was written as `data:`, else the `fields:` it was desugared from).
///
/// The generated type fills an absent property in with its default, and
/// `validate()` then checks it: a default its schema refuses would make
/// every event without the property, examples included, be refused.
pub(crate) fn defaults(ctx: &mut Ctx, event: &str, schema: &Value, data: &Node) {
    let mut found = Vec::new();
    collect_defaults(schema, String::new(), &mut found);
    let defs = schema.get("$defs").cloned();
    for (pointer, node, default) in found {
        // The node alone, with the root's definitions for its refs.
        let mut alone = node.clone();
        if let (Value::Object(o), Some(defs)) = (&mut alone, &defs) {
            o.insert("$defs".into(), defs.clone());
        }
        let mark = data.at_pointer(&format!("{pointer}/default")).mark;
        let at = if pointer.is_empty() { String::new() } else { format!(" at {pointer}") };
        match schema_errors(&crate::dialect::portable(&alone), &[&default]) {
            Ok(errors) => {
                for (_, path, error) in errors {
                    let inside = if path.is_empty() { String::new() } else { format!(" at `{path}`") };
                    ctx.error(
                        mark,
                        format!("the `default` of `{event}`{at} does not match its own schema{inside}: {error}"),
                        "the generated type holds the default when the property is absent, and validation would refuse it: fix the default or remove it",
                    );
                }
            }
            Err(e) => ctx.error(mark, format!("cannot check the `default` of `{event}`{at}: {e}"), "simplify the schema"),
        }
    }
}

/// Every schema node under `node` (at `pointer`) that has a `default`.
fn collect_defaults(node: &Value, pointer: String, out: &mut Vec<(String, Value, Value)>) {
    let Value::Object(obj) = node else { return };
    if let Some(default) = obj.get("default") {
        out.push((pointer.clone(), node.clone(), default.clone()));
    }
    for key in ["properties", "$defs"] {
        if let Some(Value::Object(children)) = obj.get(key) {
            for (name, child) in children {
                collect_defaults(child, format!("{pointer}/{key}/{}", escape_pointer(name)), out);
            }
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = obj.get(key) {
            collect_defaults(child, format!("{pointer}/{key}"), out);
        }
    }
    for (i, branch) in obj.get("oneOf").and_then(Value::as_array).into_iter().flatten().enumerate() {
        collect_defaults(branch, format!("{pointer}/oneOf/{i}"), out);
    }
}

/// The integral floats (`1000.0`, `1e3`) in `value` where `schema` wants an
/// `integer`, with their JSON pointers.
fn integral_floats(root: &Value, schema: &Value, value: &Value, pointer: String, out: &mut Vec<(String, f64)>) {
    let Some(schema) = crate::defs::resolve(root, schema) else { return };
    match value {
        Value::Number(n) if n.is_f64() && schema.get("type").and_then(Value::as_str) == Some("integer") => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0) {
                out.push((pointer, f));
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    integral_floats(root, item_schema, item, format!("{pointer}/{i}"), out);
                }
            }
        }
        Value::Object(map) => {
            // A union's properties are those of the branch its tag names.
            let schema = match crate::tagged::TaggedUnion::of(schema).and_then(|u| u.branch_of(value).map(|b| b.schema)) {
                Some(branch) => branch,
                None => schema,
            };
            for (key, item) in map {
                let sub = schema.get("properties").and_then(|p| p.get(key)).or_else(|| schema.get("additionalProperties"));
                if let Some(sub) = sub.filter(|s| s.is_object()) {
                    integral_floats(root, sub, item, format!("{pointer}/{}", escape_pointer(key)), out);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_floats_are_found_where_integers_are_wanted() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "n": {"type": "integer"},
                "x": {"type": "number"},
                "list": {"type": "array", "items": {"$ref": "#/$defs/I"}},
                "map": {"type": "object", "additionalProperties": {"type": "integer"}},
            },
            "$defs": {"I": {"type": "integer"}},
        });
        let example = serde_json::json!({"n": 1000.0, "x": 2.0, "list": [1, 3.0], "map": {"a/b": 4.0, "c": 5}});
        let mut found = Vec::new();
        integral_floats(&schema, &schema, &example, String::new(), &mut found);
        found.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(found, [("/list/1".to_string(), 3.0), ("/map/a~1b".to_string(), 4.0), ("/n".to_string(), 1000.0)]);
    }
}
