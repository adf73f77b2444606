//! Object rules: properties added, removed, made required or optional,
//! and `additionalProperties`, each property followed into its schema.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Impact, Walk, display_path, show};

impl Walk<'_> {
    pub(super) fn object(&mut self, old: &Value, new: &Value, path: &mut Vec<String>, depth: usize) {
        let empty = serde_json::Map::new();
        let props = |v: &Value| v.get("properties").and_then(Value::as_object).unwrap_or(&empty).clone();
        let required = |v: &Value| -> BTreeSet<String> {
            v.get("required")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default()
        };
        let (op, np) = (props(old), props(new));
        let (or, nr) = (required(old), required(new));
        // `additionalProperties`: absent or `true` is open.
        let closed = |v: &Value| v.get("additionalProperties") == Some(&Value::Bool(false));
        let ap_schema = |v: &Value| v.get("additionalProperties").filter(|a| a.is_object()).cloned();
        let (old_closed, new_closed) = (closed(old), closed(new));
        let names: BTreeSet<&String> = op.keys().chain(np.keys()).chain(or.iter()).chain(nr.iter()).collect();
        for name in names {
            path.push(name.clone());
            let field = format!("field `{}`", display_path(path));
            let (was_req, is_req) = (or.contains(name), nr.contains(name));
            match (op.get(name), np.get(name)) {
                (None, None) => {}
                (None, Some(_)) => {
                    let back = Impact::breaks_if(is_req, || format!("old events lack `{name}` and are rejected"));
                    let fwd = if old_closed {
                        Impact::breaks(format!("the old catalog forbids unknown properties and rejects new events carrying `{name}`"))
                    } else if ap_schema(old).is_some() {
                        Impact::possibly(format!(
                            "the old catalog checks unknown properties against its `additionalProperties` schema, which `{name}` may not match"
                        ))
                    } else {
                        Impact::None
                    };
                    let (what, fix) = if is_req {
                        (format!("{field} added as required"), format!("make it optional (`{name}?`), or raise `version`"))
                    } else {
                        (format!("{field} added as optional"), "upgrade the consumers first, or raise `version`".to_string())
                    };
                    self.push(path, None, what, back, fwd, &fix);
                }
                (Some(_), None) => {
                    let back = Impact::breaks_if(new_closed, || {
                        format!("the new catalog forbids unknown properties and rejects old events carrying `{name}`")
                    });
                    let fwd = Impact::breaks_if(was_req, || format!("new events lack `{name}`, which the old catalog requires"));
                    let fix = if was_req {
                        "keep it (optional at least, once every consumer accepts that), or raise `version`"
                    } else {
                        "keep declaring it, or raise `version`"
                    };
                    self.push(path, None, format!("{field} removed"), back, fwd, fix);
                }
                (Some(o), Some(n)) => {
                    match (was_req, is_req) {
                        (false, true) => self.push(
                            path,
                            Some("required"),
                            format!("{field} became required"),
                            Impact::breaks(format!("old events without `{name}` are rejected")),
                            Impact::None,
                            &format!("keep it optional (`{name}?`), or raise `version`"),
                        ),
                        (true, false) => self.push(
                            path,
                            Some("required"),
                            format!("{field} became optional"),
                            Impact::None,
                            Impact::breaks(format!("new events without `{name}` are rejected by the old catalog")),
                            " keep it required, or raise `version`".trim_start(),
                        ),
                        _ => {}
                    }
                    self.node(o, n, path, depth + 1);
                }
            }
            path.pop();
        }
        let subject = Self::subject(path);
        match (old.get("additionalProperties"), new.get("additionalProperties")) {
            (a, b) if a == b => {}
            (Some(o), Some(n)) if o.is_object() && n.is_object() => {
                path.push("*".to_string());
                self.node(o, n, path, depth + 1);
                path.pop();
            }
            (a, b) => {
                let rank = |v: Option<&Value>| match v {
                    None | Some(Value::Bool(true)) => 2, // anything
                    Some(Value::Bool(false)) => 0,       // nothing
                    Some(_) => 1,                        // values matching a schema
                };
                let show_ap = |v: Option<&Value>| v.map_or("absent (any)".to_string(), show);
                let what = format!("{subject}: `additionalProperties` changed from {} to {}", show_ap(a), show_ap(b));
                if rank(b) < rank(a) {
                    self.push(
                        path,
                        Some("additionalProperties"),
                        what,
                        Impact::breaks("old events with properties the new catalog does not declare are rejected"),
                        Impact::None,
                        "keep the old `additionalProperties`, or raise `version`",
                    );
                } else {
                    self.push(
                        path,
                        Some("additionalProperties"),
                        what,
                        Impact::None,
                        Impact::breaks("new events with undeclared properties are rejected by the old catalog"),
                        "keep the old `additionalProperties`, or raise `version`",
                    );
                }
            }
        }
    }
}
