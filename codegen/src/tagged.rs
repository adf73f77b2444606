//! Tagged unions: the one reading of a `oneOf` every layer shares.
//!
//! A catalog schema may say "one of these objects", told apart by one
//! property every branch requires with a constant string (the *tag*):
//!
//! ```yaml
//! target:
//!   oneOf:
//!     - {type: object, required: [kind, path], properties: {kind: {const: file}, path: {type: string}}}
//!     - {type: object, required: [kind, url], properties: {kind: {const: url}, url: {type: string, format: uri}}}
//!   discriminator: {propertyName: kind}   # optional (OpenAPI); must then name the tag
//! ```
//!
//! [`TaggedUnion::of`] reads such a schema (the lints, the emitters, the
//! exports and the compatibility checks all go through it), and
//! [`problems`] says why a `oneOf` is not one, for the lints. It becomes a
//! Rust enum with data, `#[serde(tag = "kind")]`, one variant per branch
//! named after its tag value ([`crate::ident::variant_name`]).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::ident;
use crate::text::escape_pointer;

/// Keywords a union schema may have beside `oneOf`.
const BESIDE: &[&str] = &["oneOf", "discriminator", "description", "title"];

/// Keywords the tag property's schema may have: a constant string, nothing
/// else (typify recognises the tag only so).
const TAG_KEYWORDS: &[&str] = &["type", "const", "enum", "description", "title"];

/// A `oneOf` of object schemas told apart by the constant value of one
/// required property, the tag.
#[derive(Debug, Clone, PartialEq)]
pub struct TaggedUnion<'a> {
    /// The tag property's JSON name (`kind`).
    pub tag: &'a str,
    /// The branches, in declared order.
    pub branches: Vec<Branch<'a>>,
}

/// One branch of a [`TaggedUnion`].
#[derive(Debug, Clone, PartialEq)]
pub struct Branch<'a> {
    /// The tag's value in this branch (`file`).
    pub value: &'a str,
    /// The branch's object schema, tag property included.
    pub schema: &'a Value,
}

impl<'a> TaggedUnion<'a> {
    /// The union `schema` declares, or `None` when it has no `oneOf` or
    /// the `oneOf` is not a tagged union (which the lints refuse).
    pub fn of(schema: &'a Value) -> Option<Self> {
        let items = schema.get("oneOf")?.as_array()?;
        let tag = tag_of(schema, items).ok()?;
        let branches = items
            .iter()
            .map(|branch| Some(Branch { value: constant(branch.get("properties")?.get(tag)?)?, schema: branch }))
            .collect::<Option<Vec<_>>>()?;
        Some(TaggedUnion { tag, branches })
    }

    /// The branch whose tag value is `value`.
    pub fn branch(&self, value: &str) -> Option<&Branch<'a>> {
        self.branches.iter().find(|b| b.value == value)
    }

    /// The branch `data` (an instance) belongs to, by its tag.
    pub fn branch_of(&self, data: &Value) -> Option<&Branch<'a>> {
        self.branch(data.get(self.tag)?.as_str()?)
    }
}

impl Branch<'_> {
    /// The Rust enum variant of this branch (`File`).
    pub fn variant(&self) -> String {
        ident::variant_name(self.value)
    }
}

/// The constant string a property schema allows: its `const`, or the one
/// value of its `enum`.
pub fn constant(schema: &Value) -> Option<&str> {
    match (schema.get("const"), schema.get("enum").and_then(Value::as_array)) {
        (Some(c), None) => c.as_str(),
        (None, Some(values)) if values.len() == 1 => values[0].as_str(),
        _ => None,
    }
}

/// The tag property of the union `schema` with branches `items`: the
/// `discriminator`'s `propertyName`, else the one property every branch
/// requires with a constant string; else why there is none, in words.
fn tag_of<'a>(schema: &'a Value, items: &'a [Value]) -> Result<&'a str, String> {
    if let Some(name) = schema.get("discriminator").and_then(|d| d.get("propertyName")).and_then(Value::as_str) {
        return Ok(name);
    }
    match common_candidates(items).as_slice() {
        [one] => Ok(one),
        [] => Err("no property is a required constant string in every branch".to_string()),
        many => Err(format!("{} are constant strings in every branch", ticked(many))),
    }
}

/// The properties every one of `items` requires with a constant string;
/// of several, those whose values tell the branches apart (as typify
/// chooses the tag: `version: {const: "1"}` in every branch is no tag).
fn common_candidates(items: &[Value]) -> Vec<&str> {
    let mut candidates: Option<Vec<&str>> = None;
    for branch in items {
        let here = tag_candidates(branch);
        candidates = Some(match candidates {
            None => here,
            Some(before) => before.into_iter().filter(|c| here.contains(c)).collect(),
        });
    }
    let common = candidates.unwrap_or_default();
    let distinct: Vec<&str> = common
        .iter()
        .copied()
        .filter(|c| {
            let values: Vec<Option<&str>> = items.iter().map(|b| b.get("properties").and_then(|p| p.get(*c)).and_then(constant)).collect();
            values.iter().enumerate().all(|(i, v)| !values[..i].contains(v))
        })
        .collect();
    if common.len() > 1 && !distinct.is_empty() { distinct } else { common }
}

/// The properties `branch` requires with a constant string value.
fn tag_candidates(branch: &Value) -> Vec<&str> {
    let required: Vec<&str> = branch.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    branch
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(k, v)| required.contains(&k.as_str()) && constant(v).is_some())
        .map(|(k, _)| k.as_str())
        .collect()
}

fn ticked(names: &[&str]) -> String {
    let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    names.join(", ")
}

/// What is wrong with a union, where (a JSON pointer relative to the union
/// schema) and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where, relative to the union's schema (`/oneOf/1/properties/kind`).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

/// What supported unions look like, for the help of every problem.
pub const SUPPORTED: &str = "Herald supports tagged unions: a `oneOf` of inline object schemas, each requiring the same tag property with a constant string (`kind: {const: file}`), optionally with `discriminator: {propertyName: kind}`";

/// Why the schema `union` (a node with `oneOf`) is not a tagged union
/// Herald supports; empty when it is one. `at` renders where a pointer
/// relative to `union` is, for messages (`` `ai.x.y` at /properties/t/oneOf/1 ``).
pub fn problems(union: &Value, at: &dyn Fn(&str) -> String) -> Vec<Problem> {
    let mut out = Vec::new();
    // A union that is not one says what unions are; a union with a fault
    // in one place says only how to fix that.
    let mut report = |pointer: String, message: String, help: &str| {
        let shape = pointer == "/oneOf" || !pointer.starts_with("/oneOf/");
        let help = if shape { format!("{help}; {SUPPORTED}") } else { help.to_string() };
        out.push(Problem { pointer, message, help });
    };
    let Some(obj) = union.as_object() else { return Vec::new() };
    for key in obj.keys().filter(|k| !BESIDE.contains(&k.as_str())) {
        report(
            format!("/{}", escape_pointer(key)),
            format!("`{key}` beside `oneOf` in {}", at("")),
            "a union stands alone: keep only `oneOf`, `discriminator`, `description` and `title` (each branch says `type: object` and its properties)",
        );
    }
    let Some(items) = obj.get("oneOf").and_then(Value::as_array) else {
        report("/oneOf".into(), format!("`oneOf` in {} must be a sequence of schemas", at("")), "list one object schema per branch");
        return out;
    };
    if items.len() < 2 {
        report("/oneOf".into(), format!("`oneOf` in {} has {} branch(es)", at(""), items.len()), "a union has at least two branches");
        return out;
    }

    // Each branch is an inline object schema typify can make a variant of.
    let mut objects = true;
    for (i, branch) in items.iter().enumerate() {
        let here = format!("/oneOf/{i}");
        if branch.get("$ref").is_some() {
            report(
                format!("{here}/$ref"),
                format!("branch {} of the union in {} is a `$ref`", i + 1, at("")),
                "write the branch inline (a `$ref` to the whole union is fine)",
            );
            objects = false;
        } else if branch.get("type").and_then(Value::as_str) != Some("object") {
            report(
                here,
                format!("branch {} of the union in {} is not an object schema", i + 1, at("")),
                "give it `type: object` and `properties`",
            );
            objects = false;
        } else {
            if let Some(extra) = branch.get("additionalProperties").filter(|a| **a != Value::Bool(false)) {
                let what = if extra.is_object() { "a schema" } else { "`true`" };
                report(
                    format!("{here}/additionalProperties"),
                    format!("`additionalProperties` in branch {} of the union in {} is {what}", i + 1, at("")),
                    "a branch may only forbid unknown properties (`additionalProperties: false`) or say nothing",
                );
            }
            for key in ["minProperties", "maxProperties"] {
                if branch.get(key).is_some() {
                    report(
                        format!("{here}/{key}"),
                        format!("`{key}` in branch {} of the union in {}", i + 1, at("")),
                        "remove it: a branch's properties are not counted",
                    );
                }
            }
        }
    }
    if !objects {
        return out;
    }
    // `additionalProperties: false` on some branches only: serde's enum
    // refuses unknown properties in all of them or none.
    let closed = items.iter().filter(|b| b.get("additionalProperties") == Some(&Value::Bool(false))).count();
    if closed != 0 && closed != items.len() {
        report(
            "/oneOf".into(),
            format!("`additionalProperties: false` is on {closed} of the {} branches of the union in {}", items.len(), at("")),
            "put it on every branch or on none",
        );
    }

    // The discriminator, when given, names the tag.
    if let Some(d) = obj.get("discriminator") {
        match d.as_object() {
            Some(d) => {
                for key in d.keys().filter(|k| *k != "propertyName") {
                    report(
                        format!("/discriminator/{}", escape_pointer(key)),
                        format!("`discriminator.{key}` in {} is not supported", at("")),
                        "keep only `propertyName`: the branches' `const` tags already map values to branches",
                    );
                }
                if d.get("propertyName").and_then(Value::as_str).is_none() {
                    report(
                        "/discriminator".into(),
                        format!("`discriminator` in {} has no `propertyName` string", at("")),
                        "write `discriminator: {propertyName: kind}` with the tag property's name",
                    );
                    return out;
                }
            }
            None => {
                report(
                    "/discriminator".into(),
                    format!("`discriminator` in {} must be a mapping", at("")),
                    "write `discriminator: {propertyName: kind}`",
                );
                return out;
            }
        }
    }
    let tag = match tag_of(union, items) {
        Ok(tag) => tag,
        Err(why) => {
            let found: Vec<String> = items
                .iter()
                .enumerate()
                .map(|(i, b)| match tag_candidates(b).as_slice() {
                    [] => format!("branch {} has none", i + 1),
                    names => format!("branch {} has {}", i + 1, ticked(names)),
                })
                .collect();
            report(
                "/oneOf".into(),
                format!("the union in {} has no tag: {why} ({})", at(""), found.join(", ")),
                "give every branch the same required tag property with its own constant, e.g. `kind: {const: file}`",
            );
            return out;
        }
    };
    let named = obj.get("discriminator").is_some();
    let common = common_candidates(items);
    if named && common.len() > 1 {
        // typify takes the first such property as the tag, whatever the
        // discriminator says.
        report(
            "/discriminator".into(),
            format!("the union in {} could be told apart by {}: each is a constant string in every branch", at(""), ticked(&common)),
            &format!("keep `{tag}` the only property that is a required constant in every branch"),
        );
    }

    let mut seen: BTreeMap<String, (usize, &str)> = BTreeMap::new();
    for (i, branch) in items.iter().enumerate() {
        let here = format!("/oneOf/{i}");
        let n = i + 1;
        let Some(tag_schema) = branch.get("properties").and_then(|p| p.get(tag)) else {
            let others = tag_candidates(branch);
            let help = match (named, others.as_slice()) {
                (true, [other]) => {
                    format!("the `discriminator` names `{tag}`, but this branch tags with `{other}`: use one tag property in every branch")
                }
                _ => format!("add `{tag}: {{const: …}}` to its `properties` and `required`"),
            };
            report(format!("{here}/properties"), format!("branch {n} of the union in {} has no tag property `{tag}`", at("")), &help);
            continue;
        };
        let tag_at = format!("{here}/properties/{}", escape_pointer(tag));
        let required = branch.get("required").and_then(Value::as_array).is_some_and(|r| r.iter().any(|x| x.as_str() == Some(tag)));
        if !required {
            report(
                here.clone(),
                format!("the tag `{tag}` of branch {n} of the union in {} is not required", at("")),
                &format!("add `{tag}` to the branch's `required`"),
            );
        }
        let Some(value) = constant(tag_schema) else {
            report(
                tag_at,
                format!("the tag `{tag}` of branch {n} of the union in {} is not a constant string", at("")),
                &format!("write `{tag}: {{const: <value>}}` (or a one-value `enum`)"),
            );
            continue;
        };
        let plain = tag_schema.as_object().is_some_and(|o| o.keys().all(|k| TAG_KEYWORDS.contains(&k.as_str())))
            && tag_schema.get("type").is_none_or(|t| t == "string");
        if !plain {
            report(
                tag_at.clone(),
                format!("the tag `{tag}` of branch {n} of the union in {} has rules besides its constant", at("")),
                &format!("write only `{tag}: {{const: {value}}}` (a `description` is fine)"),
            );
        }
        let variant = ident::variant_name(value);
        match seen.get(&variant) {
            Some((first, v)) if *v == value => report(
                tag_at,
                format!("branches {first} and {n} of the union in {} both have the tag `{tag}` = `{value}`", at("")),
                "give each branch its own tag value",
            ),
            Some((first, v)) => report(
                tag_at,
                format!(
                    "the tag values `{v}` (branch {first}) and `{value}` (branch {n}) of the union in {} both become the Rust variant `{variant}`",
                    at("")
                ),
                "rename one of them: tag values that differ only in case or punctuation share a variant",
            ),
            None => {
                seen.insert(variant, (n, value));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn branch(tag: &str, value: &str, extra: Value) -> Value {
        let mut properties = json!({ tag: {"const": value} });
        let mut required = vec![json!(tag)];
        for (k, v) in extra.as_object().unwrap() {
            properties[k] = v.clone();
            required.push(json!(k));
        }
        json!({"type": "object", "required": required, "properties": properties})
    }

    fn messages(union: &Value) -> Vec<String> {
        problems(union, &|p| format!("`t`{p}")).into_iter().map(|p| format!("{}: {}", p.pointer, p.message)).collect()
    }

    #[test]
    fn a_union_is_read_with_its_tag_and_branches() {
        let union = json!({"oneOf": [
            branch("kind", "file", json!({"path": {"type": "string"}})),
            {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string", "enum": ["by-url"]}}},
        ]});
        assert_eq!(messages(&union), Vec::<String>::new());
        let u = TaggedUnion::of(&union).unwrap();
        assert_eq!(u.tag, "kind");
        assert_eq!(
            u.branches.iter().map(|b| (b.value, b.variant())).collect::<Vec<_>>(),
            [("file", "File".into()), ("by-url", "ByUrl".into())]
        );
        assert_eq!(u.branch_of(&json!({"kind": "by-url"})).map(|b| b.value), Some("by-url"));
        assert!(TaggedUnion::of(&json!({"type": "string"})).is_none());
        // A constant every branch shares is no tag; two that each tell the
        // branches apart are ambiguous.
        let versioned = |k: &str| branch("kind", k, json!({"version": {"const": "1"}}));
        let union = json!({"oneOf": [versioned("a"), versioned("b")]});
        assert_eq!((messages(&union), TaggedUnion::of(&union).map(|u| u.tag)), (vec![], Some("kind")));
        let twice = |k: &str| branch("kind", k, json!({"type": {"const": k}}));
        assert_eq!(
            messages(&json!({"oneOf": [twice("a"), twice("b")]})),
            [
                "/oneOf: the union in `t` has no tag: `kind`, `type` are constant strings in every branch (branch 1 has `kind`, `type`, branch 2 has `kind`, `type`)"
            ]
        );
    }

    #[test]
    fn every_way_of_not_being_a_tagged_union_is_said() {
        let file = branch("kind", "file", json!({}));
        assert_eq!(messages(&json!({"oneOf": [file]})), ["/oneOf: `oneOf` in `t` has 1 branch(es)"]);
        assert_eq!(
            messages(&json!({"type": "object", "oneOf": [file, {"$ref": "#/$defs/X"}, {"type": "string"}]})),
            [
                "/type: `type` beside `oneOf` in `t`",
                "/oneOf/1/$ref: branch 2 of the union in `t` is a `$ref`",
                "/oneOf/2: branch 3 of the union in `t` is not an object schema",
            ]
        );
        assert_eq!(
            messages(&json!({"oneOf": [file, branch("type", "url", json!({}))]})),
            [
                "/oneOf: the union in `t` has no tag: no property is a required constant string in every branch (branch 1 has `kind`, branch 2 has `type`)"
            ]
        );
        assert_eq!(
            messages(&json!({"oneOf": [file, branch("type", "url", json!({})), ], "discriminator": {"propertyName": "kind"}})),
            ["/oneOf/1/properties: branch 2 of the union in `t` has no tag property `kind`"]
        );
        let loose = json!({"type": "object", "required": [], "properties": {"kind": {"type": "string"}}});
        assert_eq!(
            messages(&json!({"oneOf": [file, loose], "discriminator": {"propertyName": "kind", "mapping": {}}})),
            [
                "/discriminator/mapping: `discriminator.mapping` in `t` is not supported",
                "/oneOf/1: the tag `kind` of branch 2 of the union in `t` is not required",
                "/oneOf/1/properties/kind: the tag `kind` of branch 2 of the union in `t` is not a constant string",
            ]
        );
        assert_eq!(
            messages(&json!({"oneOf": [file, branch("kind", "file", json!({})), branch("kind", "File", json!({}))]})),
            [
                "/oneOf/1/properties/kind: branches 1 and 2 of the union in `t` both have the tag `kind` = `file`",
                "/oneOf/2/properties/kind: the tag values `file` (branch 1) and `File` (branch 3) of the union in `t` both become the Rust variant `File`",
            ]
        );
        let mut open = branch("kind", "url", json!({}));
        open["additionalProperties"] = json!(true);
        let mut closed = file.clone();
        closed["additionalProperties"] = json!(false);
        assert_eq!(
            messages(&json!({"oneOf": [closed, open]})),
            [
                "/oneOf/1/additionalProperties: `additionalProperties` in branch 2 of the union in `t` is `true`",
                "/oneOf: `additionalProperties: false` is on 1 of the 2 branches of the union in `t`",
            ]
        );
    }
}
