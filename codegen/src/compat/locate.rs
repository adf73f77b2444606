//! Where a change sits in the new catalog's text.
//!
//! The IR keeps only the position of each event type; a change inside its
//! data is placed by walking the YAML tree of the new file along the
//! change's property path (`fields:` shorthand or `data:` schema, inline
//! `properties`, `items`, `additionalProperties`), stopping at the deepest
//! node that exists. A removed type points at the `events:` key, a removed
//! field at the `fields:` (or `data:`) key it was under; [`Locator::exact`]
//! finds such a removed node in the old file, so the message can say where
//! it was.

use super::Change;
use super::envelope::{CATALOG, ENVELOPE};
use super::rules::LIFECYCLE;
use crate::ir::{Catalog, Origin};
use crate::syntax::{Mark, Node, parse_yaml};

/// Positions in one catalog file.
#[derive(Debug, Clone)]
pub struct Locator {
    file: String,
    root: Option<Node>,
}

impl Locator {
    /// A locator for the file named `file` (as messages show it) with the
    /// given text; without text, only event positions from the IR are used.
    pub fn new(file: impl Into<String>, text: Option<&str>) -> Locator {
        let root = text.and_then(|t| parse_yaml(t).root);
        Locator { file: file.into(), root }
    }

    /// The file name messages show.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// 1-based line and column of `change` in `new`; `(0, 0)` when unknown.
    pub fn locate(&self, new: &Catalog, change: &Change) -> (usize, usize) {
        let mark = self.in_tree(change).map(|(m, _)| m).or_else(|| match new.event(&change.type_name).map(|e| &e.origin) {
            Some(Origin::Yaml { line, column, .. }) => Some(Mark { line: *line, column: *column }),
            _ => None,
        });
        mark.map_or((0, 0), |m| (m.line, m.column))
    }

    /// Where `change` sits when this file has the very node it is about
    /// (the field, keyword, type or extension); `None` when only a parent
    /// of it exists here. For a removed field this is where it was in the
    /// old file.
    pub fn exact(&self, change: &Change) -> Option<(usize, usize)> {
        match self.in_tree(change)? {
            (m, true) => Some((m.line, m.column)),
            (_, false) => None,
        }
    }

    /// The deepest node of `change` in the tree, and whether it is the
    /// node itself rather than a parent.
    fn in_tree(&self, change: &Change) -> Option<(Mark, bool)> {
        let root = self.root.as_ref()?;
        if change.type_name == LIFECYCLE || change.what.starts_with("lifecycle") {
            let lifecycle = root.get("lifecycle")?;
            // A transition of the type still there: point at its item.
            let item = lifecycle
                .value
                .get("transitions")
                .and_then(|t| t.value.items())
                .and_then(|items| items.iter().find(|i| i.get("on").and_then(|on| on.value.as_str()) == Some(&change.type_name)));
            if let Some(item) = item.filter(|_| change.what.contains("transition")) {
                return Some((item.mark, true));
            }
            let key = if change.what.contains("transition") { "transitions" } else { "states" };
            // Statuses are a list: their key is as close as it gets.
            return Some(lifecycle.value.get(key).map_or((lifecycle.key_mark, false), |e| (e.key_mark, key == "states")));
        }
        if let Some(name) = change.type_name.strip_prefix("extension ") {
            let extensions = root.get("extensions")?;
            let Some(extension) = extensions.value.get(name) else {
                return Some((extensions.key_mark, false));
            };
            // `format: int64` or `type`: that key, else the extension's.
            let keyword = change.keyword.as_deref().and_then(|k| extension.value.get(k));
            return Some(keyword.map_or((extension.key_mark, change.keyword.is_none()), |k| (k.key_mark, true)));
        }
        // Catalog settings sit at the top, envelope rules under `envelope:`.
        if change.type_name == CATALOG || change.type_name == ENVELOPE {
            let (holder, mark) = if change.type_name == CATALOG {
                (root, None)
            } else {
                let envelope = root.get(ENVELOPE)?;
                (&envelope.value, Some(envelope.key_mark))
            };
            let found = change.keyword.as_deref().and_then(|k| holder.get(k));
            return found.map(|e| (e.key_mark, true)).or(mark.map(|m| (m, false)));
        }
        let events = root.get("events")?;
        let Some(event) = events.value.get(&change.type_name) else {
            return Some((events.key_mark, false));
        };
        let mut mark = event.key_mark;
        let mut node = &event.value;
        let mut path = change.path.iter();
        // The first segment names a property under `fields:` (as `name` or
        // `name?`) or under `data: {properties: …}`.
        if let Some(first) = path.next() {
            // A property not there (removed): the `fields:` or `data:` key
            // it was under.
            let holder = event.value.get("fields").map(|f| (f, true)).or_else(|| event.value.get("data").map(|d| (d, false)));
            let found = match holder {
                Some((fields, true)) => fields.value.get(first).or_else(|| fields.value.get(&format!("{first}?"))),
                Some((data, false)) => step(&data.value, first),
                None => None,
            };
            let Some(entry) = found else {
                return Some((holder.map_or(mark, |(h, _)| h.key_mark), false));
            };
            mark = entry.key_mark;
            node = &entry.value;
        } else {
            match change.keyword.as_deref() {
                // The type itself (added, version lowered): its key or `version:`.
                None => return Some((mark, true)),
                // An attribute of the type: its key, or the type's when
                // it was removed.
                Some(key @ ("version" | "subject" | "stream_key" | "compatibility")) => {
                    return Some(event.value.get(key).map_or((mark, false), |v| (v.key_mark, true)));
                }
                // A keyword on the data schema's top level.
                Some(_) => {
                    if let Some(data) = event.value.get("fields").or_else(|| event.value.get("data")) {
                        mark = data.key_mark;
                        node = &data.value;
                    }
                }
            }
        }
        let defs = event.value.get("data").and_then(|d| d.value.get("$defs"));
        for seg in path {
            // Follow `$ref: "#/$defs/Name"` into the definition.
            let target = node.get("$ref").and_then(|r| r.value.as_str()).and_then(|r| r.strip_prefix("#/$defs/"));
            if let Some(def) = target.and_then(|name| defs?.value.get(name)) {
                node = &def.value;
            }
            // A union's branch (`[kind=file]`): the `oneOf` item with that tag.
            if let Some((tag, value)) = super::schema::parse_branch_segment(seg) {
                let branch = node.get("oneOf").and_then(|o| o.value.items()).and_then(|items| {
                    items.iter().find(|b| {
                        let tag = b.get("properties").and_then(|p| p.value.get(tag));
                        tag.and_then(|t| t.value.to_json().ok()).is_some_and(|t| crate::tagged::constant(&t) == Some(value))
                    })
                });
                let Some(branch) = branch else {
                    return Some((mark, false));
                };
                mark = branch.mark;
                node = branch;
                continue;
            }
            let Some(entry) = step(node, seg) else {
                return Some((mark, false));
            };
            mark = entry.key_mark;
            node = &entry.value;
        }
        match &change.keyword {
            Some(keyword) => match node.get(keyword) {
                Some(entry) => Some((entry.key_mark, true)),
                None => Some((mark, false)),
            },
            None => Some((mark, true)),
        }
    }
}

/// One step down a schema node: `[]` is `items`, `*` is
/// `additionalProperties`, a name is under `properties`.
fn step<'n>(node: &'n Node, seg: &str) -> Option<&'n crate::syntax::Entry> {
    match seg {
        "[]" => node.get("items"),
        "*" => node.get("additionalProperties"),
        name => node.get("properties")?.value.get(name),
    }
}
