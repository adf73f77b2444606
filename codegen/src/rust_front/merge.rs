//! One catalog from a YAML catalog and struct events, rejecting a type
//! declared twice.

use crate::ir::{Catalog, DataSource, EventType, Origin};

/// A struct event listed in a registry, with the path it was listed as.
#[derive(Debug, Clone)]
pub struct StructEntry {
    /// The event (from `#[cloud_event]`).
    pub event: EventType,
    /// The data type's path as seen from the generated code.
    pub path: String,
}

/// A problem with one registry entry (`entry` indexes the struct list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeError {
    /// The struct entry at fault.
    pub entry: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Add `structs` to `base` (a YAML catalog, or an empty one). Every entry
/// is checked: its type against the prefix and every earlier declaration,
/// and the names it generates (`Event` variant, handler method) against
/// the others'.
pub fn merge(mut base: Catalog, structs: Vec<StructEntry>) -> Result<Catalog, Vec<MergeError>> {
    let mut errors = Vec::new();
    if base.prefix.is_empty()
        && let Some(first) = structs.first()
    {
        base.prefix = first.event.type_name.split('.').next().unwrap_or_default().to_string();
    }
    for (i, entry) in structs.into_iter().enumerate() {
        let mut event = entry.event;
        event.data = DataSource::External(entry.path);
        let prefix = event.type_name.split('.').next().unwrap_or_default();
        if prefix != base.prefix {
            errors.push(MergeError {
                entry: i,
                message: format!(
                    "`{}` declares `{}`, but this registry's prefix is `{}`; every type in a catalog is `{}.{{domain}}.{{action}}`",
                    event.rust_name(),
                    event.type_name,
                    base.prefix,
                    base.prefix
                ),
            });
            continue;
        }
        let clash = base.events.iter().find_map(|other| {
            if other.type_name == event.type_name {
                Some(format!(
                    "event type `{}` is declared twice: by `{}` and by {}; remove one of the two declarations",
                    event.type_name,
                    event.rust_name(),
                    describe(other)
                ))
            } else if other.rust_name() == event.rust_name() {
                Some(format!(
                    "`{}` (`{}`) and {} would both be the `Event::{}` variant; rename the struct",
                    event.rust_name(),
                    event.type_name,
                    describe(other),
                    event.rust_name()
                ))
            } else if other.handler_method() == event.handler_method() {
                Some(format!(
                    "`{}` and `{}` would both be handled by `{}`; rename one of the types",
                    event.type_name,
                    other.type_name,
                    event.handler_method()
                ))
            } else {
                None
            }
        });
        match clash {
            Some(message) => errors.push(MergeError { entry: i, message }),
            None => base.events.push(event),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    base.normalize();
    Ok(base)
}

fn describe(e: &EventType) -> String {
    match &e.origin {
        Origin::Yaml { file, line, .. } => format!("`{}` in {file}:{line}", e.type_name),
        Origin::Rust { ident } => format!("`{ident}`"),
        Origin::Synthetic => format!("`{}`", e.type_name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(t: &str, ident: &str) -> EventType {
        EventType {
            type_name: t.into(),
            description: String::new(),
            version: 1,
            subject: None,
            stream_key: Some("run_id".into()),
            schema: json!({"type": "object"}),
            examples: vec![],
            data: DataSource::External(ident.into()),
            origin: Origin::Rust { ident: ident.into() },
        }
    }

    #[test]
    fn rejects_a_type_declared_twice() {
        let mut yaml = Catalog::new("events.yaml", "ai");
        let mut y = event("ai.run.started", "RunStarted");
        y.data = DataSource::Generated;
        y.origin = Origin::Yaml { file: "events.yaml".into(), line: 7, column: 3 };
        yaml.events.push(y);
        let err = merge(
            yaml,
            vec![
                StructEntry { event: event("ai.run.started", "Started"), path: "super::Started".into() },
                StructEntry { event: event("ai.a.b", "A"), path: "A".into() },
                StructEntry { event: event("ai.a.b", "B"), path: "B".into() },
                StructEntry { event: event("zz.a.c", "C"), path: "C".into() },
            ],
        )
        .unwrap_err();
        assert_eq!(err.iter().map(|e| e.entry).collect::<Vec<_>>(), vec![0, 2, 3]);
        assert!(err[0].message.contains("by `Started` and by `ai.run.started` in events.yaml:7"), "{}", err[0].message);
        assert!(err[1].message.contains("by `B` and by `A`"), "{}", err[1].message);
        assert!(err[2].message.contains("prefix is `ai`"), "{}", err[2].message);
    }

    #[test]
    fn sorts_and_sets_paths() {
        let c = merge(
            Catalog::new("<registry>", ""),
            vec![
                StructEntry { event: event("ai.b.x", "B"), path: "super::B".into() },
                StructEntry { event: event("ai.a.x", "A"), path: "crate::A".into() },
            ],
        )
        .unwrap();
        assert_eq!(c.prefix, "ai");
        assert_eq!(c.events[0].data, DataSource::External("crate::A".into()));
        assert_eq!(c.events[1].type_name, "ai.b.x");
    }
}
