//! Catalog-level rules: event types added, removed or renamed, versions,
//! the lifecycle (statuses and transitions) and declared extensions. The
//! data schema of a type kept on both sides goes to [`super::schema`].

use std::collections::BTreeSet;

use super::{Change, Impact, Scope, schema};
use crate::ir::{Catalog, ExtensionKind, Transition};

/// Label of lifecycle-wide changes (statuses, initial status).
pub(crate) const LIFECYCLE: &str = "lifecycle";

/// A change to the event type `type_name`.
fn change(type_name: &str, what: String, backward: Impact, forward: Impact, fix: &str) -> Change {
    Change {
        type_name: type_name.to_string(),
        scope: Scope::Type,
        path: Vec::new(),
        keyword: None,
        what,
        backward,
        forward,
        fix: fix.to_string(),
    }
}

/// A change to the whole catalog, labelled `label` (`lifecycle`,
/// `extension seq`, `envelope`).
pub(crate) fn catalog_change(label: &str, what: String, backward: Impact, forward: Impact, fix: &str) -> Change {
    Change { scope: Scope::Catalog, ..change(label, what, backward, forward, fix) }
}

/// Types removed, added and changed.
pub(crate) fn event_types(old: &Catalog, new: &Catalog, out: &mut Vec<Change>) {
    for o in &old.events {
        let Some(n) = new.event(&o.type_name) else {
            let renamed = new.events.iter().find(|n| old.event(&n.type_name).is_none() && n.schema == o.schema);
            let what = match renamed {
                Some(n) => format!("event type removed (renamed to `{}`?)", n.type_name),
                None => "event type removed".to_string(),
            };
            out.push(change(
                &o.type_name,
                what,
                Impact::breaks(format!("producers that have not upgraded still send `{}`, which the new catalog rejects as unknown", o.type_name)),
                Impact::None,
                "keep declaring it (say it is deprecated in its `description`) until no producer sends it; a rename is a new type plus the old one kept",
            ));
            continue;
        };
        if n.version < o.version {
            out.push(Change {
                keyword: Some("version".into()),
                ..change(
                    &o.type_name,
                    format!("`version` lowered from {} to {}", o.version, n.version),
                    Impact::breaks("events of the higher version are read under an older schema"),
                    Impact::breaks("consumers already on the higher version receive events that claim an older one"),
                    &format!("versions only go up: set `version: {}` or higher", o.version),
                )
            });
        }
        subject(&o.type_name, o.subject.as_deref(), n.subject.as_deref(), out);
        stream_key(&o.type_name, o.stream_key.as_deref(), n.stream_key.as_deref(), out);
        schema::compare(&o.type_name, &o.schema, &n.schema, out);
    }
    for n in &new.events {
        if old.event(&n.type_name).is_none() {
            out.push(change(&n.type_name, format!("new event type (version {})", n.version), Impact::None, Impact::None, "nothing to do"));
        }
    }
}

/// The `subject` template. The server stores any subject (the attribute
/// is optional and not checked against the template), so validation is
/// unaffected either way; what changes is routing: subscriptions and
/// consumers that match `subject` against the template they know miss
/// events of the other shape. Herald cannot see those consumers, so a
/// change is *possibly* breaking: both ways when the template changes,
/// forward when it is removed (upgraded producers stop setting it),
/// backward when it is added (producers that have not upgraded send none).
/// Templates are compared as text.
fn subject(type_name: &str, old: Option<&str>, new: Option<&str>, out: &mut Vec<Change>) {
    let at = |what: String, backward: Impact, forward: Impact, fix: &str| Change {
        keyword: Some("subject".into()),
        ..change(type_name, what, backward, forward, fix)
    };
    match (old, new) {
        (Some(o), Some(n)) if o != n => out.push(at(
            format!("`subject` template changed from `{o}` to `{n}`"),
            Impact::possibly(format!(
                "the server stores either shape, but consumers on the new catalog that route by `{n}` miss events from producers that have not upgraded, which still send `{o}`"
            )),
            Impact::possibly(format!(
                "the server stores either shape, but consumers on the old catalog that route by `{o}` miss events from upgraded producers, which send `{n}`"
            )),
            "keep the template; to change it, raise `version` and have consumers match both shapes until every producer has upgraded",
        )),
        (Some(o), None) => out.push(at(
            format!("`subject` template `{o}` removed"),
            Impact::None,
            Impact::possibly(format!(
                "upgraded producers send no subject, so consumers on the old catalog that route by `{o}` miss their events"
            )),
            "keep the template; to drop it, raise `version` once no consumer routes by it",
        )),
        (None, Some(n)) => out.push(at(
            format!("`subject` template `{n}` added"),
            Impact::possibly(format!(
                "producers that have not upgraded send no subject, so consumers that route by `{n}` miss their events"
            )),
            Impact::None,
            "raise `version`, and route by `type` until every producer sets the subject",
        )),
        _ => {}
    }
}

/// The stream key: the data property whose value names the run an event
/// belongs to (`none`: no run). Events still validate after a change, but
/// a server sorts them into runs, and sequences and moves those runs, by
/// its own catalog's key, so the same event lands in a different run (or
/// in none) depending on which catalog the server has. That breaks both
/// directions.
fn stream_key(type_name: &str, old: Option<&str>, new: Option<&str>, out: &mut Vec<Change>) {
    if old == new {
        return;
    }
    let show = |k: Option<&str>| k.map_or_else(|| "none".to_string(), |k| format!("`{k}`"));
    let runs = |k: Option<&str>| match k {
        Some(k) => format!("into the runs named by `{k}`"),
        None => "into no run (not sequenced, no lifecycle transition)".to_string(),
    };
    out.push(Change {
        keyword: Some("stream_key".into()),
        ..change(
            type_name,
            format!("`stream_key` changed from {} to {}", show(old), show(new)),
            Impact::breaks(format!(
                "a server on the new catalog sorts events from producers that have not upgraded {}, not {} as they were sent",
                runs(new),
                runs(old)
            )),
            Impact::breaks(format!("a server on the old catalog sorts events from upgraded producers {}, not {}", runs(old), runs(new))),
            &format!(
                "keep `stream_key: {}`; to key these events differently, declare a new event type and retire this one",
                old.unwrap_or("none")
            ),
        )
    });
}

/// Lifecycle: statuses removed or added, the initial status, transitions
/// removed, added or changed in their `from` statuses.
pub(crate) fn lifecycle(old: &Catalog, new: &Catalog, out: &mut Vec<Change>) {
    let (o, n) = match (&old.lifecycle, &new.lifecycle) {
        (None, None) => return,
        (Some(_), None) => {
            out.push(catalog_change(
                LIFECYCLE,
                "lifecycle removed".to_string(),
                Impact::breaks("stored runs have statuses the new catalog no longer knows, and their events stop moving them"),
                Impact::None,
                "keep the `lifecycle:` section, or raise the catalog's `version`",
            ));
            return;
        }
        (None, Some(_)) => {
            out.push(catalog_change(LIFECYCLE, "lifecycle added".to_string(), Impact::None, Impact::None, "nothing to do"));
            return;
        }
        (Some(o), Some(n)) => (o, n),
    };
    for s in o.states.iter().filter(|s| !n.states.contains(s)) {
        out.push(catalog_change(
            LIFECYCLE,
            format!("status `{s}` removed"),
            Impact::breaks(format!("runs stored in status `{s}`, and the events that moved them there, are no longer understood")),
            Impact::None,
            "keep the status (with no transition into it, if it is retired), or raise the catalog's `version`",
        ));
    }
    for s in n.states.iter().filter(|s| !o.states.contains(s)) {
        out.push(catalog_change(
            LIFECYCLE,
            format!("status `{s}` added"),
            Impact::None,
            Impact::breaks(format!("consumers on the old catalog do not know status `{s}`")),
            "upgrade the consumers before any event moves a run there, or raise the catalog's `version`",
        ));
    }
    if o.initial != n.initial {
        out.push(catalog_change(
            LIFECYCLE,
            format!("initial status changed from `{}` to `{}`", o.initial, n.initial),
            Impact::breaks("existing runs started in the old initial status, from which the new transitions may not lead"),
            Impact::breaks("consumers on the old catalog start runs in another status"),
            "keep the initial status, or raise the catalog's `version`",
        ));
    }
    let key = |t: &Transition| (t.on.clone(), serde_json::to_string(&t.when).unwrap_or_default(), t.to.clone());
    let show = |t: &Transition| {
        let when = if t.when.is_empty() { String::new() } else { format!(" when {}", serde_json::to_string(&t.when).unwrap_or_default()) };
        format!("`{}`{when} → `{}`", t.on, t.to)
    };
    for ot in &o.transitions {
        let from_old: BTreeSet<&String> = ot.from.iter().collect();
        match n.transitions.iter().find(|nt| key(nt) == key(ot)) {
            None => out.push(change(
                &ot.on,
                format!("lifecycle transition {} removed", show(ot)),
                Impact::breaks(format!("`{}` events that moved a run to `{}` no longer do", ot.on, ot.to)),
                Impact::None,
                "keep the transition",
            )),
            Some(nt) => {
                let from_new: BTreeSet<&String> = nt.from.iter().collect();
                let lost: Vec<String> = from_old.difference(&from_new).map(|s| format!("`{s}`")).collect();
                let gained: Vec<String> = from_new.difference(&from_old).map(|s| format!("`{s}`")).collect();
                if !lost.is_empty() {
                    out.push(change(
                        &ot.on,
                        format!("lifecycle transition {} no longer allowed from {}", show(ot), lost.join(", ")),
                        Impact::breaks(format!("`{}` events sent while a run is {} become illegal transitions", ot.on, lost.join(" or "))),
                        Impact::None,
                        "keep the `from` statuses",
                    ));
                }
                if !gained.is_empty() {
                    out.push(change(
                        &ot.on,
                        format!("lifecycle transition {} now also allowed from {}", show(ot), gained.join(", ")),
                        Impact::None,
                        Impact::breaks(format!("a server on the old catalog stores such `{}` events but does not move the run", ot.on)),
                        "upgrade the consumers first",
                    ));
                }
            }
        }
    }
    for nt in n.transitions.iter().filter(|nt| !o.transitions.iter().any(|ot| key(ot) == key(nt))) {
        out.push(change(
            &nt.on,
            format!("lifecycle transition {} added", show(nt)),
            Impact::None,
            Impact::breaks(format!("a server on the old catalog stores `{}` events but does not move the run to `{}`", nt.on, nt.to)),
            "upgrade the consumers first",
        ));
    }
}

/// Declared extensions: a changed value type breaks both ways, and so
/// does a change between `string`, `integer` and `boolean`; between a
/// 32-bit and a 64-bit integer (`format: int64`) it is a widening (FORWARD:
/// a server on the old catalog refuses values beyond 32 bits) or a
/// narrowing (BACKWARD). Added and removed extensions are noted
/// (undeclared extensions are still accepted).
pub(crate) fn extensions(old: &Catalog, new: &Catalog, out: &mut Vec<Change>) {
    let kind = |c: &Catalog, name: &str, k: ExtensionKind| match k {
        ExtensionKind::String => "`string`",
        ExtensionKind::Integer if c.envelope.is_int64(name) => "`integer` (`format: int64`)",
        ExtensionKind::Integer => "`integer`",
        ExtensionKind::Boolean => "`boolean`",
    };
    for o in &old.extensions {
        let label = format!("extension {}", o.name);
        let Some(n) = new.extensions.iter().find(|n| n.name == o.name) else {
            out.push(catalog_change(&label, "declared extension removed".to_string(), Impact::None, Impact::None, "nothing to do"));
            continue;
        };
        let (was, is) = (kind(old, &o.name, o.kind), kind(new, &n.name, n.kind));
        if was == is {
            continue;
        }
        let what = format!("extension type changed from {was} to {is}");
        let int64 = |c: &Catalog| c.envelope.is_int64(&o.name);
        let found = if o.kind == ExtensionKind::Integer && n.kind == ExtensionKind::Integer {
            // Only `format: int64` differs: one side holds the other.
            let widened = int64(new) && !int64(old);
            Change {
                keyword: Some("format".into()),
                ..catalog_change(
                    &label,
                    if widened {
                        "`format: int64` added (a widening to 64-bit integers)".to_string()
                    } else {
                        "`format: int64` removed (a narrowing to 32-bit integers)".to_string()
                    },
                    Impact::breaks_if(!widened, || {
                        format!("old events may carry `{}` beyond 32 bits, which the new catalog refuses", o.name)
                    }),
                    Impact::breaks_if(widened, || {
                        format!("new events may carry `{}` beyond 32 bits, which a server on the old catalog refuses", o.name)
                    }),
                    if widened {
                        "upgrade the servers (consumers) before producers send values beyond 32 bits, or raise the catalog's `version`"
                    } else {
                        "keep `format: int64`, or raise the catalog's `version`"
                    },
                )
            }
        } else {
            Change {
                keyword: Some("type".into()),
                ..catalog_change(
                    &label,
                    what,
                    Impact::breaks(format!("old events carry `{}` as {was}, which the new catalog reads as {is}", o.name)),
                    Impact::breaks(format!("new events carry `{}` as {is}, which the old catalog reads as {was}", o.name)),
                    "declare a new extension with the new type instead, or raise the catalog's `version`",
                )
            }
        };
        out.push(found);
    }
    for n in new.extensions.iter().filter(|n| !old.extensions.iter().any(|o| o.name == n.name)) {
        out.push(catalog_change(
            &format!("extension {}", n.name),
            "extension declared".to_string(),
            Impact::None,
            Impact::None,
            "nothing to do",
        ));
    }
}
