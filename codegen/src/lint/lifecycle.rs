//! Lints of the `lifecycle:` section: what its names must mean.
//!
//! States are unique lower snake case names; every state named in
//! `initial`, `terminal`, `from` and `to` is declared; every `on` is an event
//! type of the catalog; `when` tests required string or boolean properties
//! of that event with values its schema allows; no transition leaves a
//! terminal state; two transitions of one event never match the same data;
//! every state is reachable, and only terminal states are dead ends.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::ident::state_variant;
use crate::ir::{EventType, Origin};
use crate::syntax::{Ctx, Mark, Node, YamlValue};
use crate::text::{did_you_mean, is_lower_snake, one_of, suggestion};

/// A name as written, and where.
#[derive(Debug, Clone)]
pub(crate) struct Named {
    pub name: String,
    pub mark: Mark,
}

/// `lifecycle:` with positions, as the reader (`catalog::lifecycle`)
/// hands it to these lints.
#[derive(Debug)]
pub(crate) struct Marked {
    pub description: String,
    pub states: Vec<Named>,
    pub initial: Option<Named>,
    pub terminal: Vec<Named>,
    pub transitions: Vec<MarkedTransition>,
}

/// One transition with positions.
#[derive(Debug)]
pub(crate) struct MarkedTransition {
    /// 1-based position in `transitions:`, for messages.
    pub number: usize,
    /// The transition's own node (its `- `).
    pub mark: Mark,
    pub on: Option<Named>,
    /// `field` → its value node, in source order.
    pub when: Vec<(Named, Node)>,
    /// `when` is absent or a non-empty mapping (else it was reported).
    pub when_ok: bool,
    pub from: Vec<Named>,
    pub to: Option<Named>,
}

/// Rust items the lifecycle emitter generates; no event or `$defs` type may
/// take their names.
pub(crate) const GENERATED_NAMES: &[&str] = &["RunStatus", "RunTransition", "ParseRunStatusError"];

pub(crate) fn check(ctx: &mut Ctx, lc: &Marked, declared: &[&str], events: &[EventType]) {
    let states = check_states(ctx, lc);
    let known: Vec<&str> = lc.states.iter().map(|s| s.name.as_str()).collect();
    // With no usable `states`, every reference would be "unknown": noise.
    let check_refs = !known.is_empty();
    let state_ref = |ctx: &mut Ctx, named: &Named, place: &str| {
        if check_refs && !states.contains(named.name.as_str()) {
            let help = match did_you_mean(&named.name, &known) {
                Some(s) => format!("did you mean `{s}`? expected one of {}", one_of(&known)),
                None => format!("add it to `states:`, or use one of {}", one_of(&known)),
            };
            ctx.error(named.mark, format!("unknown state `{}` in {place}", named.name), help);
        }
    };

    if let Some(initial) = &lc.initial {
        state_ref(ctx, initial, "`initial`");
    }
    let mut seen_terminal = BTreeSet::new();
    for t in &lc.terminal {
        state_ref(ctx, t, "`terminal`");
        if !seen_terminal.insert(t.name.as_str()) {
            ctx.error(t.mark, format!("state `{}` is listed twice in `terminal`", t.name), "remove one of them");
        }
    }
    let terminal = |name: &str| lc.terminal.iter().any(|t| t.name == name);
    if let Some(initial) = lc.initial.as_ref().filter(|i| terminal(&i.name)) {
        ctx.error(
            initial.mark,
            format!("the initial state `{}` is terminal, so no event could ever move a run", initial.name),
            "remove it from `terminal:` or choose another `initial:` state",
        );
    }

    // Transitions whose `when` is sound enough to compare with others.
    let mut comparable = BTreeSet::new();
    for t in &lc.transitions {
        let what = describe(t);
        let mut seen_from = BTreeSet::new();
        for from in &t.from {
            state_ref(ctx, from, &format!("`from` of {what}"));
            if !seen_from.insert(from.name.as_str()) {
                ctx.error(from.mark, format!("state `{}` is listed twice in `from` of {what}", from.name), "remove one of them");
            } else if terminal(&from.name) {
                ctx.error(
                    from.mark,
                    format!("{what} leaves the terminal state `{}`", from.name),
                    format!("terminal states are final: remove `{}` from `from:`, or from `terminal:` if runs may leave it", from.name),
                );
            }
        }
        if let Some(to) = &t.to {
            state_ref(ctx, to, &format!("`to` of {what}"));
        }
        if let Some(on) = &t.on {
            check_on(ctx, on, declared);
            if let Some(event) = events.iter().find(|e| e.type_name == on.name) {
                if event.stream_key.is_none() {
                    ctx.error(
                        on.mark,
                        format!("{what}: `{}` belongs to no run (`stream_key: none`)", on.name),
                        "a transition moves a run's status: give the event a stream key (`run_id`), or remove the transition",
                    );
                }
                let before = ctx.count();
                check_when(ctx, t, event);
                if t.when_ok && ctx.count() == before {
                    comparable.insert(t.number);
                }
            }
        }
    }

    check_overlaps(ctx, lc, &comparable);
    if check_refs && states_sound(lc, &states) {
        check_reachability(ctx, lc);
    }
    check_generated_names(ctx, events);
}

/// "transition 2 (`ai.run.started`)".
fn describe(t: &MarkedTransition) -> String {
    match &t.on {
        Some(on) => format!("transition {} (`{}`)", t.number, on.name),
        None => format!("transition {}", t.number),
    }
}

/// Names, case and uniqueness of `states:`; returns the declared names.
fn check_states<'a>(ctx: &mut Ctx, lc: &'a Marked) -> BTreeSet<&'a str> {
    let mut seen: BTreeMap<&str, &Named> = BTreeMap::new();
    let mut variants: BTreeMap<String, &Named> = BTreeMap::new();
    for state in &lc.states {
        let name = state.name.as_str();
        if let Some(first) = seen.get(name) {
            ctx.error(
                state.mark,
                format!("state `{name}` is declared twice; the first is at line {}", first.mark.line),
                "remove one of them",
            );
            continue;
        }
        seen.insert(name, state);
        if !is_lower_snake(name) {
            let help = match suggestion(name) {
                Some(s) => format!("rename it to `{s}`; states are lower snake case, as they appear on the wire"),
                None => "use lower snake case (`[a-z][a-z0-9_]*`), as states appear on the wire".to_string(),
            };
            ctx.error(state.mark, format!("state `{name}` is not lower snake case"), help);
            continue;
        }
        let variant = state_variant(name);
        if variant == "Self" {
            ctx.error(state.mark, format!("state `{name}` would become the Rust variant `Self`, a keyword"), "choose another name");
        } else if let Some(first) = variants.get(&variant) {
            ctx.error(
                state.mark,
                format!("states `{}` and `{name}` both become the Rust variant `RunStatus::{variant}`", first.name),
                "rename one of them",
            );
        } else {
            variants.insert(variant, state);
        }
    }
    seen.into_keys().collect()
}

/// Reachability only means something once the states themselves are sound.
fn states_sound(lc: &Marked, states: &BTreeSet<&str>) -> bool {
    states.len() == lc.states.len()
        && lc.states.iter().all(|s| is_lower_snake(&s.name))
        && lc.initial.as_ref().is_some_and(|i| states.contains(i.name.as_str()))
        && lc.transitions.iter().all(|t| {
            t.to.as_ref().is_some_and(|to| states.contains(to.name.as_str())) && t.from.iter().all(|f| states.contains(f.name.as_str()))
        })
}

fn check_on(ctx: &mut Ctx, on: &Named, declared: &[&str]) {
    if declared.contains(&on.name.as_str()) {
        return;
    }
    let help = match did_you_mean(&on.name, declared) {
        Some(s) => format!("did you mean `{s}`?"),
        None => "declare it under `events:` first, or name one of the catalog's event types".to_string(),
    };
    ctx.error(on.mark, format!("`on` names `{}`, which is not an event type of this catalog", on.name), help);
}

/// What a `when` property can hold.
enum Kind<'s> {
    /// A string restricted to these values.
    Enum(Vec<&'s str>),
    /// Any string the schema accepts.
    String(&'s Value),
    Boolean,
}

/// The property's schema, its `$ref`s followed into the event's `$defs`
/// (a dangling ref is reported by the schema lint; it reads as itself).
fn resolve<'s>(event: &'s EventType, schema: &'s Value) -> &'s Value {
    crate::defs::resolve(&event.schema, schema).unwrap_or(schema)
}

fn kind(schema: &Value) -> Option<Kind<'_>> {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return Some(Kind::Enum(values.iter().filter_map(Value::as_str).collect()));
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => Some(Kind::String(schema)),
        Some("boolean") => Some(Kind::Boolean),
        _ => None,
    }
}

fn check_when(ctx: &mut Ctx, t: &MarkedTransition, event: &EventType) {
    let name = event.type_name.as_str();
    let required: Vec<&str> = match event.schema.get("required").and_then(Value::as_array) {
        Some(r) => r.iter().filter_map(Value::as_str).collect(),
        None => Vec::new(),
    };
    for (field, value) in &t.when {
        let Some(schema) = event.schema.get("properties").and_then(|p| p.get(&field.name)) else {
            let help = match did_you_mean(&field.name, &required) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("test one of its required properties: {}", one_of(&required)),
            };
            ctx.error(
                field.mark,
                format!("`when` of transition {} tests `{}`, which is not a property of `{name}`", t.number, field.name),
                help,
            );
            continue;
        };
        if !required.contains(&field.name.as_str()) {
            ctx.error(
                field.mark,
                format!("`when` of transition {} tests `{}`, an optional property of `{name}`", t.number, field.name),
                format!(
                    "test a required property ({}), or make `{}` required: an absent value matches no `when`",
                    one_of(&required),
                    field.name
                ),
            );
            continue;
        }
        check_when_value(ctx, t.number, name, &field.name, value, resolve(event, schema));
    }
}

fn check_when_value(ctx: &mut Ctx, number: usize, event: &str, field: &str, value: &Node, schema: &Value) {
    let at = format!("`when` of transition {number}: `{field}` of `{event}`");
    match (kind(schema), &value.value) {
        (None, _) => {
            let found = match schema.get("type").and_then(Value::as_str) {
                Some(t) => format!("{} {t}", article(t)),
                None => "not a string or boolean".to_string(),
            };
            ctx.error(
                value.mark,
                format!("{at} is {found}; `when` can test only strings, enums and booleans"),
                "test a string, enum or boolean property, or declare a separate event type for each outcome",
            );
        }
        (Some(Kind::Enum(allowed)), YamlValue::Str(s)) => {
            if !allowed.contains(&s.as_str()) {
                let expected = format!("its values are {}", one_of(&allowed));
                let help = match did_you_mean(s, &allowed) {
                    Some(d) => format!("did you mean `{d}`? {expected}"),
                    None => expected,
                };
                ctx.error(value.mark, format!("{at} can never be `{s}`"), help);
            }
        }
        (Some(Kind::String(schema)), YamlValue::Str(s)) => {
            if let Some(problem) = schema_rejects(schema, &Value::String(s.clone())) {
                ctx.error(value.mark, format!("{at} can never be `{s}`: {problem}"), "use a value its schema allows");
            }
        }
        (Some(Kind::Boolean), YamlValue::Bool(_)) => {}
        (Some(Kind::Boolean), _) => {
            ctx.error(value.mark, format!("{at} is a boolean, but `when` gives {}", value.kind()), "write `true` or `false`")
        }
        (Some(Kind::Enum(_) | Kind::String(_)), _) => {
            ctx.error(value.mark, format!("{at} is a string, but `when` gives {}", value.kind()), "quote the value: `\"…\"`")
        }
    }
}

fn article(kind: &str) -> &'static str {
    if kind.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" }
}

/// Why `schema` rejects `value`, if it does (formats checked).
fn schema_rejects(schema: &Value, value: &Value) -> Option<String> {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let validator = jsonschema::draft202012::options().should_validate_formats(true).build(schema).ok()?;
        validator.iter_errors(value).next().map(|e| e.to_string())
    }));
    outcome.ok().flatten()
}

/// Two transitions of one event whose `when`s can both hold: `transition()`
/// could not say which applies.
/// Only `comparable` transitions (a known event, a sound `when`) take part.
fn check_overlaps(ctx: &mut Ctx, lc: &Marked, comparable: &BTreeSet<usize>) {
    let mut by_event: BTreeMap<&str, Vec<&MarkedTransition>> = BTreeMap::new();
    for t in lc.transitions.iter().filter(|t| comparable.contains(&t.number)) {
        if let Some(on) = &t.on {
            by_event.entry(on.name.as_str()).or_default().push(t);
        }
    }
    for (event, transitions) in by_event {
        for (i, later) in transitions.iter().enumerate() {
            let Some(earlier) = transitions[..i].iter().find(|e| overlap(e, later)) else { continue };
            let shared = shared_condition(earlier, later);
            ctx.error(
                later.on.as_ref().map_or(later.mark, |on| on.mark),
                format!(
                    "transitions {} and {} of `{event}` both match {shared}, so which one applies is ambiguous",
                    earlier.number, later.number
                ),
                "give them `when` conditions that exclude each other (the same property, different values); \
                 if only `from` differs, merge them into one transition listing every state under `from:`",
            );
        }
    }
}

/// Whether some data satisfies both `when`s: no property tested by both
/// with different values.
fn overlap(a: &MarkedTransition, b: &MarkedTransition) -> bool {
    a.when.iter().all(|(fa, va)| b.when.iter().filter(|(fb, _)| fb.name == fa.name).all(|(_, vb)| va.value == vb.value))
}

/// "every event" / "`result` = `success`", for the ambiguity message.
fn shared_condition(a: &MarkedTransition, b: &MarkedTransition) -> String {
    let mut conditions: BTreeMap<&str, String> = BTreeMap::new();
    for (field, value) in a.when.iter().chain(&b.when) {
        let shown = value.to_json().map_or_else(|_| "?".to_string(), |v| v.as_str().map_or_else(|| v.to_string(), str::to_string));
        conditions.insert(field.name.as_str(), format!("`{}` = `{shown}`", field.name));
    }
    if conditions.is_empty() {
        "every event".to_string()
    } else {
        format!("data with {}", conditions.into_values().collect::<Vec<_>>().join(" and "))
    }
}

/// Every state but the initial one is entered by some transition, and
/// every state but the terminal ones is left by some transition.
fn check_reachability(ctx: &mut Ctx, lc: &Marked) {
    let initial = lc.initial.as_ref().map(|i| i.name.as_str());
    for state in &lc.states {
        let name = state.name.as_str();
        let entered = lc.transitions.iter().any(|t| t.to.as_ref().is_some_and(|to| to.name == name));
        if Some(name) != initial && !entered {
            ctx.error(
                state.mark,
                format!("state `{name}` is never reached: it is not `initial` and no transition has `to: {name}`"),
                "add a transition into it, or remove the state",
            );
        }
        let terminal = lc.terminal.iter().any(|t| t.name == name);
        let left = lc.transitions.iter().any(|t| t.from.iter().any(|f| f.name == name));
        if !terminal && !left {
            ctx.error(
                state.mark,
                format!("state `{name}` is a dead end: no transition leaves it, but it is not `terminal`"),
                "add a transition out of it, or list it under `terminal:`",
            );
        }
    }
}

/// An event or `$defs` type named like a generated lifecycle item would
/// not compile.
fn check_generated_names(ctx: &mut Ctx, events: &[EventType]) {
    for event in events {
        let mark = match &event.origin {
            Origin::Yaml { line, column, .. } => Mark { line: *line, column: *column },
            _ => Mark::default(),
        };
        let mut names = vec![event.rust_name()];
        names.extend(crate::defs::defs(&event.schema).map(|(name, _)| name.to_string()));
        for name in names.iter().filter(|n| GENERATED_NAMES.contains(&n.as_str())) {
            ctx.error(
                mark,
                format!("`{}` declares the Rust type `{name}`, which `lifecycle` generates too", event.type_name),
                "rename the event type or definition",
            );
        }
    }
}
