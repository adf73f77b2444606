//! Rules for the JSON Schema of `data`: what a change to one schema node
//! does to the set of events each side accepts.
//!
//! Old and new nodes are walked together. `$ref`s (always `#/$defs/Name`
//! in the IR) are followed in each side's own root, so a change inside a
//! `$defs` entry is reported at the property that uses it. A pair of refs
//! already being compared is not entered again, which bounds recursive
//! definitions; nesting is also capped at [`MAX_DEPTH`].

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Change, Impact, Scope};

mod object;
mod union;

pub(crate) use union::parse_branch_segment;

/// Deepest schema nesting compared (the YAML loader caps nesting lower).
const MAX_DEPTH: usize = 64;

/// Bounds: keyword, and whether it is a lower bound (raising it tightens).
const BOUNDS: &[(&str, bool, &str)] = &[
    ("minimum", true, "values"),
    ("exclusiveMinimum", true, "values"),
    ("maximum", false, "values"),
    ("exclusiveMaximum", false, "values"),
    ("minLength", true, "strings"),
    ("maxLength", false, "strings"),
    ("minItems", true, "arrays"),
    ("maxItems", false, "arrays"),
    ("minProperties", true, "objects"),
    ("maxProperties", false, "objects"),
];

/// Compare the data schemas of one event type; push a [`Change`] per
/// difference that changes which events are accepted.
pub(crate) fn compare(type_name: &str, old: &Value, new: &Value, out: &mut Vec<Change>) {
    let mut walk = Walk { type_name, old_root: old, new_root: new, seen: BTreeSet::new(), out };
    walk.node(old, new, &mut Vec::new(), 0);
}

struct Walk<'a> {
    type_name: &'a str,
    old_root: &'a Value,
    new_root: &'a Value,
    seen: BTreeSet<(String, String)>,
    out: &'a mut Vec<Change>,
}

/// `#/$defs/Name` → the definition in `root`, following chains of refs.
fn resolve<'v>(root: &'v Value, mut node: &'v Value) -> (&'v Value, Option<&'v str>) {
    let mut name = None;
    for _ in 0..MAX_DEPTH {
        let Some(r) = node.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let Some(def) = r.strip_prefix("#/$defs/").and_then(|n| root.get("$defs")?.get(n)) else {
            break;
        };
        name = Some(r);
        node = def;
    }
    (node, name)
}

/// The `type` keyword as a set; `None` when absent (any type).
fn types(node: &Value) -> Option<BTreeSet<&str>> {
    match node.get("type")? {
        Value::String(s) => Some(BTreeSet::from([s.as_str()])),
        Value::Array(a) => Some(a.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

/// Whether every value of a type in `inner` is also of a type in `outer`
/// (an integer is a number).
fn covers(outer: &BTreeSet<&str>, inner: &BTreeSet<&str>) -> bool {
    inner.iter().all(|t| outer.contains(t) || (*t == "integer" && outer.contains("number")))
}

fn show_types(t: &Option<BTreeSet<&str>>) -> String {
    match t {
        None => "any type".to_string(),
        Some(set) => set.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(" or "),
    }
}

fn show(v: &Value) -> String {
    format!("`{v}`")
}

/// `metrics.duration_ms`, `tags[]`, `labels.*`, `target[kind=file].path`.
pub(crate) fn display_path(path: &[String]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg.as_str() {
            "[]" => s.push_str("[]"),
            branch if parse_branch_segment(branch).is_some() => s.push_str(branch),
            _ => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(seg);
            }
        }
    }
    s
}

impl Walk<'_> {
    fn push(&mut self, path: &[String], keyword: Option<&str>, what: String, backward: Impact, forward: Impact, fix: &str) {
        self.out.push(Change {
            type_name: self.type_name.to_string(),
            scope: Scope::Type,
            path: path.to_vec(),
            keyword: keyword.map(str::to_string),
            what,
            backward,
            forward,
            fix: fix.to_string(),
        });
    }

    /// `field `a.b`` or `the data` for the top level.
    fn subject(path: &[String]) -> String {
        if path.is_empty() { "the data".to_string() } else { format!("field `{}`", display_path(path)) }
    }

    fn node(&mut self, old: &Value, new: &Value, path: &mut Vec<String>, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let (old, old_ref) = resolve(self.old_root, old);
        let (new, new_ref) = resolve(self.new_root, new);
        let pair = (old_ref.is_some() || new_ref.is_some())
            .then(|| (old_ref.unwrap_or_default().to_string(), new_ref.unwrap_or_default().to_string()));
        if let Some(pair) = &pair
            && !self.seen.insert(pair.clone())
        {
            return; // a recursive definition, already being compared further up
        }
        self.resolved(old, new, path, depth);
        if let Some(pair) = &pair {
            self.seen.remove(pair);
        }
    }

    fn resolved(&mut self, old: &Value, new: &Value, path: &mut Vec<String>, depth: usize) {
        // A union has no keyword but its `oneOf` (the lints see to it): its
        // own rules say it all, also when one side is not a union.
        if crate::tagged::TaggedUnion::of(old).is_some() || crate::tagged::TaggedUnion::of(new).is_some() {
            self.union(old, new, path, depth);
            return;
        }
        if !self.types(old, new, path) {
            return; // unrelated types: the rest would only repeat it
        }
        self.bounds(old, new, path);
        self.values(old, new, path);
        self.strings(old, new, path);
        self.offset(old, new, path);
        self.object(old, new, path, depth);
        if let (Some(o), Some(n)) = (old.get("items"), new.get("items")) {
            path.push("[]".to_string());
            self.node(o, n, path, depth + 1);
            path.pop();
        } else {
            self.loosened_or_tightened(old.get("items"), new.get("items"), path, "items", "an item schema");
        }
    }

    /// A keyword holding a schema that appeared or disappeared.
    fn loosened_or_tightened(&mut self, old: Option<&Value>, new: Option<&Value>, path: &[String], keyword: &str, what: &str) {
        let subject = Self::subject(path);
        match (old, new) {
            (None, Some(_)) => self.push(
                path,
                Some(keyword),
                format!("{subject}: {what} (`{keyword}`) added"),
                Impact::breaks(format!("events the old catalog accepted may not match the new `{keyword}`")),
                Impact::None,
                "drop the new constraint, or raise `version`",
            ),
            (Some(_), None) => self.push(
                path,
                Some(keyword),
                format!("{subject}: {what} (`{keyword}`) removed"),
                Impact::None,
                Impact::breaks(format!("new events may not match the old `{keyword}`")),
                "keep the constraint, or raise `version`",
            ),
            _ => {}
        }
    }

    /// `type`; returns false when the types have nothing in common.
    fn types(&mut self, old: &Value, new: &Value, path: &[String]) -> bool {
        let (o, n) = (types(old), types(new));
        if o == n {
            return true;
        }
        let subject = Self::subject(path);
        let what = format!("{subject}: type changed from {} to {}", show_types(&o), show_types(&n));
        let widened = match (&o, &n) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(o), Some(n)) => covers(n, o),
        };
        let narrowed = match (&o, &n) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(o), Some(n)) => covers(o, n),
        };
        let back = Impact::breaks(format!("old events with {} values are rejected", show_types(&o)));
        let fwd = Impact::breaks(format!("new events with {} values are rejected by the old catalog", show_types(&n)));
        match (widened, narrowed) {
            (true, _) => {
                self.push(path, Some("type"), format!("{what} (a widening)"), Impact::None, fwd, "keep the old type, or raise `version`")
            }
            (false, true) => {
                self.push(path, Some("type"), format!("{what} (a narrowing)"), back, Impact::None, "keep the old type, or raise `version`")
            }
            (false, false) => {
                self.push(path, Some("type"), what, back, fwd, "add a new field with the new type instead, or raise `version`");
                return false;
            }
        }
        true
    }

    fn bounds(&mut self, old: &Value, new: &Value, path: &[String]) {
        let subject = Self::subject(path);
        for &(keyword, lower, kind) in BOUNDS {
            let (o, n) = (old.get(keyword).and_then(Value::as_f64), new.get(keyword).and_then(Value::as_f64));
            let tightened = match (o, n) {
                (None, None) => continue,
                (Some(a), Some(b)) if a == b => continue,
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some(a), Some(b)) => (b > a) == lower,
            };
            let from_to = match (old.get(keyword), new.get(keyword)) {
                (Some(a), Some(b)) => format!("`{keyword}` changed from {a} to {b}"),
                (None, Some(b)) => format!("`{keyword}: {b}` added"),
                (Some(a), None) => format!("`{keyword}: {a}` removed"),
                (None, None) => continue,
            };
            if tightened {
                self.push(
                    path,
                    Some(keyword),
                    format!("{subject}: {from_to} (tightened)"),
                    Impact::breaks(format!("old events with {kind} outside the new bound are rejected")),
                    Impact::None,
                    "keep the old bound, or raise `version`",
                );
            } else {
                self.push(
                    path,
                    Some(keyword),
                    format!("{subject}: {from_to} (loosened)"),
                    Impact::None,
                    Impact::breaks(format!("new events with {kind} outside the old bound are rejected by the old catalog")),
                    "keep the old bound, or raise `version`",
                );
            }
        }
        let (o, n) = (old.get("multipleOf").and_then(Value::as_f64), new.get("multipleOf").and_then(Value::as_f64));
        let divides = |a: f64, b: f64| b != 0.0 && (a / b).fract() == 0.0;
        let change = match (o, n) {
            (Some(a), Some(b)) if a == b => None,
            (None, None) => None,
            (None, Some(_)) => Some((true, false)),
            (Some(_), None) => Some((false, true)),
            (Some(a), Some(b)) => Some((!divides(a, b), !divides(b, a))),
        };
        if let Some((tight, loose)) = change {
            let back = Impact::breaks_if(tight, || "old values that are not multiples of the new `multipleOf` are rejected".into());
            let fwd = Impact::breaks_if(loose, || {
                "new values that are not multiples of the old `multipleOf` are rejected by the old catalog".into()
            });
            self.push(
                path,
                Some("multipleOf"),
                format!("{subject}: `multipleOf` changed from {} to {}", opt(old.get("multipleOf")), opt(new.get("multipleOf"))),
                back,
                fwd,
                "keep the old `multipleOf`, or raise `version`",
            );
        }
        let unique = |v: &Value| v.get("uniqueItems").and_then(Value::as_bool).unwrap_or(false);
        match (unique(old), unique(new)) {
            (false, true) => self.push(
                path,
                Some("uniqueItems"),
                format!("{subject}: `uniqueItems` turned on"),
                Impact::breaks("old events with repeated items are rejected"),
                Impact::None,
                "leave `uniqueItems` off, or raise `version`",
            ),
            (true, false) => self.push(
                path,
                Some("uniqueItems"),
                format!("{subject}: `uniqueItems` turned off"),
                Impact::None,
                Impact::breaks("new events with repeated items are rejected by the old catalog"),
                "keep `uniqueItems: true`, or raise `version`",
            ),
            _ => {}
        }
    }

    /// `enum` and `const`.
    fn values(&mut self, old: &Value, new: &Value, path: &[String]) {
        let subject = Self::subject(path);
        let set = |v: &Value| -> Option<Vec<Value>> {
            if let Some(c) = v.get("const") {
                return Some(vec![c.clone()]);
            }
            v.get("enum").and_then(Value::as_array).cloned()
        };
        let keyword = if new.get("const").is_some() || old.get("const").is_some() { "const" } else { "enum" };
        match (set(old), set(new)) {
            (None, None) => {}
            (None, Some(n)) => self.push(
                path,
                Some(keyword),
                format!("{subject}: restricted to {}", list(&n)),
                Impact::breaks("old events with other values are rejected"),
                Impact::None,
                "drop the restriction, or raise `version`",
            ),
            (Some(o), None) => self.push(
                path,
                Some(keyword),
                format!("{subject}: no longer restricted to {}", list(&o)),
                Impact::None,
                Impact::breaks("new events with other values are rejected by the old catalog"),
                "keep the restriction, or raise `version`",
            ),
            (Some(o), Some(n)) => {
                let added: Vec<Value> = n.iter().filter(|v| !o.contains(v)).cloned().collect();
                let removed: Vec<Value> = o.iter().filter(|v| !n.contains(v)).cloned().collect();
                if !added.is_empty() {
                    self.push(
                        path,
                        Some(keyword),
                        format!("{subject}: value {} added to `enum`", list(&added)),
                        Impact::None,
                        Impact::breaks(format!("new events with {} are rejected by the old catalog", list(&added))),
                        "upgrade the consumers before producers send it, or raise `version`",
                    );
                }
                if !removed.is_empty() {
                    self.push(
                        path,
                        Some(keyword),
                        format!("{subject}: value {} removed from `enum`", list(&removed)),
                        Impact::breaks(format!("old events with {} are rejected", list(&removed))),
                        Impact::None,
                        "keep the value (document it as deprecated), or raise `version`",
                    );
                }
            }
        }
    }

    /// `pattern` and `format`.
    fn strings(&mut self, old: &Value, new: &Value, path: &[String]) {
        let subject = Self::subject(path);
        for keyword in ["pattern", "format"] {
            match (old.get(keyword), new.get(keyword)) {
                (None, None) => {}
                (Some(a), Some(b)) if a == b => {}
                (None, Some(b)) => self.push(
                    path,
                    Some(keyword),
                    format!("{subject}: `{keyword}` {b} added"),
                    Impact::breaks(format!("old events whose value does not match {b} are rejected")),
                    Impact::None,
                    &format!("drop the `{keyword}`, or raise `version`"),
                ),
                (Some(a), None) => self.push(
                    path,
                    Some(keyword),
                    format!("{subject}: `{keyword}` {a} removed"),
                    Impact::None,
                    Impact::breaks(format!("new events whose value does not match {a} are rejected by the old catalog")),
                    &format!("keep the `{keyword}`, or raise `version`"),
                ),
                (Some(a), Some(b)) => {
                    let possibly = keyword == "pattern";
                    let (back, fwd) = if possibly {
                        (
                            Impact::possibly(format!("old values matching {a} may not match {b} (patterns are compared as text)")),
                            Impact::possibly(format!("new values matching {b} may not match {a}")),
                        )
                    } else {
                        (
                            Impact::breaks(format!("old values in format {a} are rejected")),
                            Impact::breaks(format!("new values in format {b} are rejected by the old catalog")),
                        )
                    };
                    self.push(
                        path,
                        Some(keyword),
                        format!("{subject}: `{keyword}` changed from {a} to {b}"),
                        back,
                        fwd,
                        &format!("keep the old `{keyword}`, or raise `version`"),
                    );
                }
            }
        }
    }
}

impl Walk<'_> {
    /// `offset: utc-only` on a `date-time` (absent means `any`: every RFC
    /// 3339 offset). Compared only when both sides are date-times: a
    /// `format` change is reported on its own.
    fn offset(&mut self, old: &Value, new: &Value, path: &[String]) {
        let date_time = |v: &Value| v.get("format").and_then(Value::as_str) == Some("date-time");
        if !date_time(old) || !date_time(new) {
            return;
        }
        let utc_only = |v: &Value| v.get("offset").and_then(Value::as_str) == Some("utc-only");
        let subject = Self::subject(path);
        match (utc_only(old), utc_only(new)) {
            (false, true) => self.push(
                path,
                Some("offset"),
                format!("{subject}: `offset: utc-only` added (a narrowing: only `Z`)"),
                Impact::breaks("old events with a date-time at another offset (`+02:00`) are rejected"),
                Impact::None,
                "keep `offset: any` (the default), or raise `version`",
            ),
            (true, false) => self.push(
                path,
                Some("offset"),
                format!("{subject}: `offset: utc-only` removed (a widening: any RFC 3339 offset)"),
                Impact::None,
                Impact::breaks("new events with a date-time at another offset than `Z` are rejected by the old catalog"),
                "keep `offset: utc-only`, or raise `version`",
            ),
            _ => {}
        }
    }
}

fn opt(v: Option<&Value>) -> String {
    v.map_or("none".to_string(), show)
}

fn list(values: &[Value]) -> String {
    values.iter().map(show).collect::<Vec<_>>().join(", ")
}
