//! The `lifecycle:` section → a [`Lifecycle`].
//!
//! This reader checks the shape (which keys, which YAML kinds) and keeps
//! every name with its position; what the names must mean (declared states,
//! catalog events, required properties, no ambiguity) is checked by
//! `lint::lifecycle` on the result.

use std::collections::BTreeMap;

use crate::ir::{EventType, Lifecycle, Transition};
use crate::lint::{self, Marked, MarkedTransition, Named};
use crate::syntax::{Ctx, Entry, Node, yaml};

/// Keys of the `lifecycle:` mapping.
const LIFECYCLE_KEYS: &[&str] = &["description", "states", "initial", "terminal", "transitions"];
/// Keys of one transition.
const TRANSITION_KEYS: &[&str] = &["on", "when", "from", "to"];
/// The doc comment of the generated enum when the catalog gives none.
const DEFAULT_DESCRIPTION: &str = "Status of a run.";

/// Read `lifecycle:` and lint it against the catalog's events. `declared`
/// holds every event type key in `events:` (also those that had errors);
/// `events` the ones read successfully. Returns `None` when anything was
/// reported.
pub(super) fn read(ctx: &mut Ctx, entry: &Entry, declared: &[&str], events: &[EventType]) -> Option<Lifecycle> {
    let before = ctx.count();
    let marked = read_marked(ctx, entry)?;
    lint::lifecycle(ctx, &marked, declared, events);
    if ctx.count() != before {
        return None;
    }
    Some(Lifecycle {
        description: marked.description,
        states: marked.states.into_iter().map(|s| s.name).collect(),
        initial: marked.initial?.name,
        terminal: marked.terminal.into_iter().map(|s| s.name).collect(),
        transitions: marked
            .transitions
            .into_iter()
            .map(|t| {
                Some(Transition {
                    on: t.on?.name,
                    when: t
                        .when
                        .iter()
                        .map(|(field, value)| Some((field.name.clone(), value.to_json().ok()?)))
                        .collect::<Option<BTreeMap<_, _>>>()?,
                    from: t.from.into_iter().map(|s| s.name).collect(),
                    to: t.to?.name,
                })
            })
            .collect::<Option<Vec<_>>>()?,
    })
}

fn read_marked(ctx: &mut Ctx, entry: &Entry) -> Option<Marked> {
    let node = &entry.value;
    if node.entries().is_none() {
        ctx.error(
            node.mark,
            format!("`lifecycle` must be a mapping, found {}", node.kind()),
            "give it `states`, `initial`, `terminal` and `transitions` (see the catalog format)",
        );
        return None;
    }
    lint::unknown_keys(ctx, node, LIFECYCLE_KEYS, "`lifecycle`");

    let description = match node.get("description") {
        None => DEFAULT_DESCRIPTION.to_string(),
        Some(d) => match ctx.string(&d.value, "the `description` of `lifecycle`") {
            Some(s) if s.trim().is_empty() => {
                ctx.error(
                    d.value.mark,
                    "the `description` of `lifecycle` is empty",
                    "say what the status means, e.g. `Status of a run.`, or remove the line",
                );
                String::new()
            }
            Some(s) => s.trim().to_string(),
            None => String::new(),
        },
    };

    let states = match node.get("states") {
        None => {
            ctx.error(
                entry.key_mark,
                "`lifecycle` has no `states`",
                "list the statuses a run can be in, e.g. `states: [queued, running, completed]`",
            );
            Vec::new()
        }
        Some(s) => match s.value.items() {
            Some([]) => {
                ctx.error(
                    s.value.mark,
                    "`states` of `lifecycle` is empty",
                    "list the statuses a run can be in, e.g. `states: [queued, running, completed]`",
                );
                Vec::new()
            }
            _ => names(ctx, &s.value, "`states` of `lifecycle`", false),
        },
    };

    let initial = match node.get("initial") {
        None => {
            let help = match states.first() {
                Some(first) => format!("add `initial: {}`: the status of a run before any event", first.name),
                None => "add `initial:` naming the status of a run before any event".to_string(),
            };
            ctx.error(entry.key_mark, "`lifecycle` has no `initial` state", help);
            None
        }
        Some(i) => ctx.string(&i.value, "`initial` of `lifecycle`").map(|name| Named { name: name.to_string(), mark: i.value.mark }),
    };

    let terminal = match node.get("terminal") {
        None => Vec::new(),
        Some(t) => names(ctx, &t.value, "`terminal` of `lifecycle`", false),
    };

    let transitions = match node.get("transitions") {
        None => {
            ctx.error(
                entry.key_mark,
                "`lifecycle` has no `transitions`",
                "list which event moves a run from which states to which: `- {on: ai.run.started, from: [queued], to: running}`",
            );
            Vec::new()
        }
        Some(t) => match t.value.items() {
            Some(items) => items.iter().enumerate().filter_map(|(i, item)| read_transition(ctx, i + 1, item)).collect(),
            None => {
                ctx.error(
                    t.value.mark,
                    format!("`transitions` of `lifecycle` must be a sequence, found {}", t.value.kind()),
                    "list them: `- {on: ai.run.started, from: [queued], to: running}`",
                );
                Vec::new()
            }
        },
    };

    Some(Marked { description, states, initial, terminal, transitions })
}

fn read_transition(ctx: &mut Ctx, number: usize, node: &Node) -> Option<MarkedTransition> {
    let what = format!("transition {number}");
    if node.entries().is_none() {
        ctx.error(
            node.mark,
            format!("{what} of `lifecycle` must be a mapping, found {}", node.kind()),
            "write `{on: ai.run.started, from: [queued], to: running}`",
        );
        return None;
    }
    lint::unknown_keys(ctx, node, TRANSITION_KEYS, &what);

    let mut required = |key: &str, help: &str| {
        let found = node.get(key);
        if found.is_none() {
            ctx.error(node.mark, format!("{what} has no `{key}`"), help);
        }
        found
    };
    let on = required("on", "add `on:` naming the event type that makes the transition, e.g. `on: ai.run.started`");
    let from = required("from", "add `from:` listing the states the transition is legal from, e.g. `from: [queued]`");
    let to = required("to", "add `to:` naming the state the transition moves a run to, e.g. `to: running`");

    let on =
        on.and_then(|e| ctx.string(&e.value, &format!("`on` of {what}")).map(|name| Named { name: name.to_string(), mark: e.value.mark }));
    let from = match from {
        Some(e) => {
            let list = names(ctx, &e.value, &format!("`from` of {what}"), true);
            if e.value.items().is_some_and(<[Node]>::is_empty) {
                ctx.error(
                    e.value.mark,
                    format!("`from` of {what} is empty"),
                    "list the states the transition is legal from, e.g. `from: [queued]`",
                );
            }
            list
        }
        None => Vec::new(),
    };
    let to =
        to.and_then(|e| ctx.string(&e.value, &format!("`to` of {what}")).map(|name| Named { name: name.to_string(), mark: e.value.mark }));

    let mut when_ok = true;
    let when = match node.get("when") {
        None => Vec::new(),
        Some(w) => match w.value.entries() {
            Some([]) => {
                ctx.error(
                    w.value.mark,
                    format!("`when` of {what} is empty"),
                    "name a property and the value it must have, e.g. `when: {result: success}`, or remove `when`",
                );
                when_ok = false;
                Vec::new()
            }
            Some(entries) => entries.iter().map(|e| (Named { name: e.key.clone(), mark: e.key_mark }, e.value.clone())).collect(),
            None => {
                ctx.error(
                    w.value.mark,
                    format!("`when` of {what} must be a mapping, found {}", w.value.kind()),
                    "name a property and the value it must have, e.g. `when: {result: success}`",
                );
                when_ok = false;
                Vec::new()
            }
        },
    };

    Some(MarkedTransition { number, mark: node.mark, on, when, when_ok, from, to })
}

/// A sequence of state names (or, when `scalar_ok`, a single name).
fn names(ctx: &mut Ctx, node: &Node, what: &str, scalar_ok: bool) -> Vec<Named> {
    match &node.value {
        yaml::Value::Seq(items) => items
            .iter()
            .filter_map(|item| {
                ctx.string(item, &format!("a state in {what}")).map(|name| Named { name: name.to_string(), mark: item.mark })
            })
            .collect(),
        yaml::Value::Str(name) if scalar_ok => vec![Named { name: name.clone(), mark: node.mark }],
        _ => {
            ctx.error(
                node.mark,
                format!("{what} must be a sequence of state names, found {}", node.kind()),
                "write a list, e.g. `[queued, running]`",
            );
            Vec::new()
        }
    }
}
