//! Reading `events.yaml` into the [IR](crate::ir).
//!
//! # The catalog format
//!
//! ```yaml
//! prefix: ai                              # required; lower snake case
//! naming: "{prefix}.{domain}.{action}"    # optional, informational; must be exactly this
//! compatibility: BACKWARD                 # optional (default BACKWARD): what `herald check
//!                                         # --baseline` allows; FORWARD, FULL, each also
//!                                         # `_TRANSITIVE`, or NONE
//! version: 1                              # optional (default 1): version of the catalog-wide
//!                                         # rules (envelope, extensions, lifecycle statuses);
//!                                         # raise it to let `herald check --baseline` pass a
//!                                         # deliberate breaking change to them
//! base_uri: https://schemas.example.com/events/   # optional: `$id` base of the JSON Schema
//!                                         # export (`herald export --base-uri` overrides it)
//! envelope:                               # optional: envelope rules, enforced by the runtime
//!                                         # and stated by every export
//!   legacy_extensions_object: true        # optional (default false): accept a nested
//!                                         # "extensions": {...} object in envelopes
//!   required: [subject, time, datacontenttype]   # optional: attributes every event must carry
//!                                         # (any of subject, time, datacontenttype, dataschema)
//!   datacontenttype: application/json     # optional: the one (JSON) media type of `data`;
//!                                         # case and parameters ignored, as for media types
//!   subject_matches_template: true        # optional (default false; `herald new` turns it on):
//!                                         # `subject` must be the type's template filled from
//!                                         # `data`, else 422 with pointer `/subject`
//! extensions:                             # optional: extension attributes → typed accessors
//!   seq: {type: integer, format: int64, description: "Per-run event sequence number"}
//!   traceparent: {type: string, description: "W3C trace context"}
//! events:
//!   ai.myfeature.started:                 # the CloudEvents `type`: {prefix}.{domain}.{action}
//!     description: A feature began.       # required, non-empty
//!     version: 1                          # required, integer >= 1
//!     subject: "run/{run_id}"             # optional; each {placeholder} is a required data property
//!     stream_key: run_id                  # optional (default run_id); a required data property,
//!                                         # or `none`: the event belongs to no run (stored and
//!                                         # dispatched, never sequenced; no lifecycle transition)
//!     compatibility: FULL                 # optional: overrides the catalog's mode for this type
//!     fields:                             # EITHER the shorthand (see `crate::shorthand`) ...
//!       run_id: uuid                      #   `name` is required, `name?` optional
//!       config?: object
//!       progress: {type: number, minimum: 0, maximum: 1}   # a mapping is inline JSON Schema
//!     # data: {type: object, properties: {...}}   ... OR a full JSON Schema (never both)
//!     examples:                           # required, at least one; each must match the schema, and be accepted by the generated code
//!       - {run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10, progress: 0.5}
//! lifecycle:                              # optional: the run status state machine
//!   description: Status of a run.         # optional; doc comment of the generated `RunStatus`
//!   states: [queued, running, completed, failed, canceled]   # required, lower snake case, unique
//!   initial: queued                       # required; the status before any event
//!   terminal: [completed, failed, canceled]                  # optional; final, no transition leaves them
//!   transitions:                          # required; `from` may also be a single state
//!     - {on: ai.run.started, from: [queued], to: running}
//!     - {on: ai.run.completed, when: {result: success}, from: [running], to: completed}
//!     - {on: ai.run.completed, when: {result: failure}, from: [running], to: failed}
//! ```
//!
//! `lifecycle` generates `RunStatus` (one variant per state, serialized as
//! the state name), `RunTransition` and `Event::transition()`, which says
//! which transition an event makes (`None` for events that move no status).
//! Each transition's `on` is an event type of the catalog; `when` (optional)
//! maps required string, enum or boolean properties of that event's data to
//! the value they must have, all of which must hold. Two transitions of one
//! event must not be able to match the same data (give them `when`s that
//! exclude each other; an event moves a run to one state whatever its
//! current state, so list every state it is legal from under one `from:`).
//! Every state but `initial` must be reachable, and every state not in
//! `terminal` must have a way out.
//!
//! Extensions take `type: string | integer | boolean` and an optional
//! `description`; their names are lower-case letters and digits (CloudEvents).
//! An integer extension is 32-bit, as CloudEvents says, unless it also
//! says `format: int64` (a 64-bit integer, e.g. a sequence number that
//! must not wrap).
//!
//! With `subject_matches_template`, every placeholder of a `subject:`
//! template must be a string property (a `uuid`, a `string`…), so that
//! "filled from the data" means the same text in every language.
//! JSON Schemas (under `data:` or inline in `fields:`) are limited to the
//! subset `crate::lint` lists, with `$ref`s only to `#/$defs/Name`.
//!
//! # Errors
//!
//! Nothing stops at the first problem: the YAML layer (`syntax`), the
//! format reader here, the shorthand and the lints all push into one
//! `Ctx`, and [`parse`] returns every diagnostic, sorted by position.

mod event;
mod lifecycle;

use std::collections::BTreeMap;
use std::path::Path;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::ir::{Catalog, Compatibility, EnvelopeOptions, ExtensionDecl, ExtensionKind, REQUIRABLE};
use crate::syntax::{Ctx, Mark, Node, yaml};
use crate::text::{did_you_mean, is_lower_snake, one_of, suggestion};
use crate::{check, defs, lint, schema};

/// Top-level keys of a catalog.
const CATALOG_KEYS: &[&str] =
    &["prefix", "naming", "compatibility", "version", "base_uri", "envelope", "extensions", "events", "lifecycle"];
/// The only naming rule Herald knows.
const NAMING: &str = "{prefix}.{domain}.{action}";
/// CloudEvents context attributes an extension must not shadow.
const CONTEXT_ATTRIBUTES: &[&str] = &["id", "source", "specversion", "type", "datacontenttype", "dataschema", "subject", "time", "data"];

/// Parse a catalog from YAML text and run every lint.
///
/// `file_name` is what diagnostics show. On success the catalog is
/// normalized (events and extensions sorted); on failure every problem
/// found is returned, sorted by line and column.
pub fn parse(file_name: &str, text: &str) -> Result<Catalog, Diagnostics> {
    let mut ctx = Ctx::new(file_name);
    let parsed = yaml::parse(text);
    for problem in &parsed.problems {
        ctx.yaml_problem(problem);
    }
    let catalog = match &parsed.root {
        Some(root) if root.value != yaml::Value::Null => read_catalog(&mut ctx, root),
        _ => {
            if ctx.count() == 0 {
                ctx.error(Mark { line: 1, column: 1 }, "the catalog is empty", "start with `prefix: ai` and an `events:` mapping");
            }
            None
        }
    };
    ctx.finish(catalog)
}

/// Read and parse the catalog at `path`; diagnostics name the file as
/// `path.display()` shows it.
pub fn load(path: &Path) -> Result<Catalog, Diagnostics> {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&name, &text),
        Err(e) => Err(Diagnostics(vec![
            Diagnostic::new(&name, 0, 0, format!("cannot read the catalog: {e}"))
                .with_help("check the path given to herald (relative paths start at the crate root in build.rs)"),
        ])),
    }
}

fn read_catalog(ctx: &mut Ctx, root: &Node) -> Option<Catalog> {
    if root.entries().is_none() {
        ctx.error(
            root.mark,
            format!("the catalog must be a mapping, found {}", root.kind()),
            "start with `prefix: ai` and an `events:` mapping",
        );
        return None;
    }
    lint::unknown_keys(ctx, root, CATALOG_KEYS, "the catalog");

    let prefix = match root.get("prefix") {
        None => {
            ctx.error(root.mark, "the catalog has no `prefix`", "add `prefix: ai` (the first segment of every event type)");
            None
        }
        Some(e) => ctx.string(&e.value, "`prefix`").and_then(|p| {
            let ok = is_lower_snake(p);
            if !ok {
                let help = suggestion(p).map_or("use lower snake case, e.g. `ai`".to_string(), |s| format!("rename it to `{s}`"));
                ctx.error(e.value.mark, format!("prefix `{p}` is not lower snake case (`[a-z][a-z0-9_]*`)"), help);
            }
            ok.then(|| p.to_string())
        }),
    };

    if let Some(e) = root.get("naming")
        && ctx.string(&e.value, "`naming`").is_some_and(|n| n != NAMING)
    {
        ctx.error(
            e.value.mark,
            format!("`naming` must be `{NAMING}`"),
            format!("Herald enforces this one rule: write `naming: \"{NAMING}\"` or remove the line"),
        );
    }

    let compatibility = root.get("compatibility").and_then(|e| read_compatibility(ctx, &e.value)).unwrap_or_default();
    // Absent is 1, like a catalog written before the key existed.
    let version = root.get("version").map_or(Some(1), |e| read_version(ctx, &e.value, "the catalog"));
    let mut type_compatibility = BTreeMap::new();

    let base_uri = root.get("base_uri").and_then(|e| read_base_uri(ctx, &e.value));
    let mut envelope = root.get("envelope").map(|e| read_envelope(ctx, &e.value)).unwrap_or_default();
    let (extensions, int64_extensions) = root.get("extensions").map(|e| read_extensions(ctx, &e.value)).unwrap_or_default();
    envelope.int64_extensions = int64_extensions;

    let mut events = Vec::new();
    match root.get("events") {
        None => ctx.error(root.mark, "the catalog has no `events`", "add an `events:` mapping from event type to its declaration"),
        Some(e) => match e.value.entries() {
            Some([]) => ctx.error(e.key_mark, "`events` is empty", "declare at least one event type"),
            Some(entries) => {
                for entry in entries {
                    let named = lint::type_name(ctx, prefix.as_deref(), &entry.key, entry.key_mark);
                    if let Some(mode) = entry.value.get("compatibility").and_then(|c| read_compatibility(ctx, &c.value)) {
                        type_compatibility.insert(entry.key.clone(), mode);
                    }
                    if let Some(event) = event::read(ctx, entry) {
                        events.push((event, named));
                    }
                }
            }
            None => ctx.error(
                e.value.mark,
                format!("`events` must be a mapping, found {}", e.value.kind()),
                "map each event type to its declaration: `ai.run.started: {description: …}`",
            ),
        },
    }
    check_rust_names(ctx, &events);
    let events: Vec<_> = events.into_iter().map(|(e, _)| e).collect();
    check_shared_defs(ctx, root, &events);
    if envelope.subject_matches_template {
        check_subject_placeholders(ctx, &events);
    }

    let lifecycle = root.get("lifecycle").and_then(|entry| {
        let declared: Vec<&str> =
            root.get("events").and_then(|e| e.value.entries()).unwrap_or_default().iter().map(|e| e.key.as_str()).collect();
        lifecycle::read(ctx, entry, &declared, &events)
    });

    Some(Catalog {
        source_name: ctx.file().to_string(),
        prefix: prefix.unwrap_or_default(),
        envelope,
        extensions,
        events,
        lifecycle,
        compatibility,
        type_compatibility,
        version: version?,
        base_uri,
    })
}

/// `base_uri:`: an absolute URI (`https://…`); a missing trailing `/` is
/// added, so `{base_uri}{type}.json` is always a path below it.
fn read_base_uri(ctx: &mut Ctx, node: &Node) -> Option<String> {
    let uri = ctx.string(node, "`base_uri`")?;
    let scheme = uri.split_once(':').map(|(s, _)| s).unwrap_or_default();
    let absolute = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !uri.contains(char::is_whitespace);
    if !absolute {
        ctx.error(
            node.mark,
            format!("`base_uri` `{uri}` is not an absolute URI"),
            "write the full URI the schemas are published under, e.g. `https://schemas.example.com/events/`",
        );
        return None;
    }
    Some(format!("{}/", uri.trim_end_matches('/')))
}

/// With `subject_matches_template`, each placeholder is a string property:
/// the subject is text, and a number's text differs between languages
/// (`1.0` is `1` in JavaScript).
fn check_subject_placeholders(ctx: &mut Ctx, events: &[crate::ir::EventType]) {
    for event in events {
        let Some(template) = &event.subject else { continue };
        let mark = match &event.origin {
            crate::ir::Origin::Yaml { line, column, .. } => Mark { line: *line, column: *column },
            _ => Mark::default(),
        };
        for name in crate::subject::placeholders(template) {
            let schema = event.schema.get("properties").and_then(|p| p.get(name)).and_then(|s| defs::resolve(&event.schema, s));
            let is_string = schema.is_some_and(|s| {
                s.get("type").and_then(serde_json::Value::as_str) == Some("string") || (s.get("type").is_none() && s.get("enum").is_some())
            });
            if schema.is_some() && !is_string {
                ctx.error(
                    mark,
                    format!("the `subject` of `{}` uses `{{{name}}}`, which is not a string property, but `envelope.subject_matches_template` compares text", event.type_name),
                    format!("make `{name}` a string (e.g. `uuid` or `string`), or turn `subject_matches_template` off"),
                );
            }
        }
    }
}

/// A `compatibility:` value: one of [`Compatibility::NAMES`].
fn read_compatibility(ctx: &mut Ctx, node: &Node) -> Option<Compatibility> {
    let name = ctx.string(node, "`compatibility`")?;
    let mode = Compatibility::from_name(name);
    if mode.is_none() {
        let upper = name.trim().to_ascii_uppercase().replace(['-', ' '], "_");
        let help = match Compatibility::from_name(&upper).map(Compatibility::as_str).or_else(|| did_you_mean(&upper, &Compatibility::NAMES))
        {
            Some(s) => format!("did you mean `{s}`? the modes are {}", one_of(&Compatibility::NAMES)),
            None => format!("use one of {}", one_of(&Compatibility::NAMES)),
        };
        ctx.error(node.mark, format!("unknown compatibility mode `{name}`"), help);
    }
    mode
}

/// A `version:` value (of an event type, or of the catalog's own rules):
/// an integer from 1 up. `whose` names the owner in the message
/// (`` `ai.run.started` ``, `the catalog`).
pub(crate) fn read_version(ctx: &mut Ctx, node: &Node, whose: &str) -> Option<u32> {
    let problem = match &node.value {
        yaml::Value::Int(i) => match check::version(whose, *i) {
            Ok(v) => return Some(v),
            Err(problem) => problem,
        },
        _ => check::version_problem(whose, node.kind()),
    };
    ctx.error(node.mark, problem.message, problem.help);
    None
}

/// `ai.run_stage.started` and `ai.run.stage_started` would both become
/// `RunStageStarted`: the generated code could not compile.
fn check_rust_names(ctx: &mut Ctx, events: &[(crate::ir::EventType, bool)]) {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (event, named) in events {
        if !named {
            continue; // a bad name is already reported; its Rust name means little
        }
        let rust = event.rust_name();
        if let Some(first) = seen.get(&rust) {
            let mark = match &event.origin {
                crate::ir::Origin::Yaml { line, column, .. } => Mark { line: *line, column: *column },
                _ => Mark::default(),
            };
            ctx.error(
                mark,
                format!("event types `{first}` and `{}` both become the Rust type `{rust}`", event.type_name),
                "rename one of them",
            );
        } else {
            seen.insert(rust, &event.type_name);
        }
    }
}

/// The `$defs` of all events become Rust types of one module, so a name
/// declared by two events must have one schema.
fn check_shared_defs(ctx: &mut Ctx, root: &Node, events: &[crate::ir::EventType]) {
    let declared = |event: &str, name: &str| -> Mark {
        let entry = root.get("events").and_then(|e| e.value.get(event)).and_then(|e| e.value.get("data"));
        entry.and_then(|d| d.value.get("$defs")).and_then(|d| d.value.get(name)).map_or_else(Mark::default, |e| e.key_mark)
    };
    let entries = events.iter().flat_map(|event| {
        defs::defs(&event.schema).map(|(name, schema)| schema::DefEntry {
            event: &event.type_name,
            name,
            schema,
            at: declared(&event.type_name, name),
        })
    });
    let (_, conflicts) = schema::pool_defs(entries);
    for conflict in conflicts {
        let first = Diagnostic::new(ctx.file(), conflict.first.line, conflict.first.column, "").location();
        ctx.error(conflict.at, format!("{} (declared at {first})", conflict.message), schema::DefsConflict::<Mark>::HELP);
    }
}

fn read_envelope(ctx: &mut Ctx, node: &Node) -> EnvelopeOptions {
    let mut options = EnvelopeOptions::default();
    if node.entries().is_none() {
        ctx.error(
            node.mark,
            format!("`envelope` must be a mapping, found {}", node.kind()),
            "write `envelope: {legacy_extensions_object: true}` or remove it",
        );
        return options;
    }
    lint::unknown_keys(ctx, node, &["legacy_extensions_object", "required", "datacontenttype", "subject_matches_template"], "`envelope`");
    let mut flag = |key: &str| match node.get(key) {
        None => false,
        Some(e) => match e.value.value {
            yaml::Value::Bool(b) => b,
            _ => {
                ctx.error(e.value.mark, format!("`{key}` must be `true` or `false`, found {}", e.value.kind()), "write `true` or `false`");
                false
            }
        },
    };
    options.legacy_extensions_object = flag("legacy_extensions_object");
    options.subject_matches_template = flag("subject_matches_template");
    if let Some(e) = node.get("required") {
        options.required = read_required(ctx, &e.value);
    }
    if let Some(e) = node.get("datacontenttype")
        && let Some(ct) = ctx.string(&e.value, "`envelope.datacontenttype`")
    {
        let essence = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        let json = essence == "application/json" || essence == "text/json" || (essence.ends_with("+json") && essence.contains('/'));
        if !json || ct.contains(';') {
            ctx.error(
                e.value.mark,
                format!("`envelope.datacontenttype` `{ct}` is not a JSON media type without parameters"),
                "event data is JSON: write `datacontenttype: application/json` (or another `+json` type)",
            );
        } else {
            options.datacontenttype = Some(essence);
        }
    }
    options
}

/// `envelope.required`: a list of [`REQUIRABLE`] attributes, each once.
fn read_required(ctx: &mut Ctx, node: &Node) -> Vec<String> {
    let Some(items) = node.items() else {
        ctx.error(node.mark, format!("`envelope.required` must be a list, found {}", node.kind()), "write `required: [subject, time]`");
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let Some(name) = ctx.string(item, "an `envelope.required` entry") else { continue };
        if ["id", "source", "specversion", "type"].contains(&name) {
            ctx.error(
                item.mark,
                format!("`{name}` is always required by CloudEvents"),
                format!("remove `{name}`; list only {}", one_of(&REQUIRABLE)),
            );
        } else if !REQUIRABLE.contains(&name) {
            let help = match did_you_mean(name, &REQUIRABLE) {
                Some(s) => format!("did you mean `{s}`? the optional attributes are {}", one_of(&REQUIRABLE)),
                None => format!("list only optional CloudEvents attributes: {}", one_of(&REQUIRABLE)),
            };
            ctx.error(item.mark, format!("`{name}` is not an optional CloudEvents attribute"), help);
        } else if out.iter().any(|n| n == name) {
            ctx.error(item.mark, format!("`{name}` is listed twice in `envelope.required`"), "list it once");
        } else {
            out.push(name.to_string());
        }
    }
    out.sort();
    out
}

/// The declared extensions, and the names of those that are 64-bit
/// integers (`format: int64`), sorted.
fn read_extensions(ctx: &mut Ctx, node: &Node) -> (Vec<ExtensionDecl>, Vec<String>) {
    let Some(entries) = node.entries() else {
        ctx.error(
            node.mark,
            format!("`extensions` must be a mapping, found {}", node.kind()),
            "map each extension name to `{type: string, description: …}`",
        );
        return (Vec::new(), Vec::new());
    };
    let mut out = Vec::new();
    let mut int64 = Vec::new();
    for entry in entries {
        let name = &entry.key;
        let what = format!("extension `{name}`");
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
            let fixed: String = name.to_ascii_lowercase().chars().filter(char::is_ascii_alphanumeric).collect();
            let help = if fixed.is_empty() { "use lower-case letters and digits".to_string() } else { format!("rename it to `{fixed}`") };
            ctx.error(entry.key_mark, format!("extension name `{name}` must be lower-case letters and digits only (CloudEvents)"), help);
        } else if CONTEXT_ATTRIBUTES.contains(&name.as_str()) {
            ctx.error(entry.key_mark, format!("extension `{name}` has the name of a CloudEvents context attribute"), "choose another name");
        }
        if entry.value.entries().is_none() {
            ctx.error(
                entry.value.mark,
                format!("{what} must be a mapping, found {}", entry.value.kind()),
                "write `{type: string, description: …}`",
            );
            continue;
        }
        lint::unknown_keys(ctx, &entry.value, &["type", "format", "description"], &what);
        let kind = match entry.value.get("type") {
            None => {
                ctx.error(entry.key_mark, format!("{what} has no `type`"), "add `type: string`, `type: integer` or `type: boolean`");
                None
            }
            Some(t) => match ctx.string(&t.value, "an extension `type`") {
                Some("string") => Some(ExtensionKind::String),
                Some("integer") => Some(ExtensionKind::Integer),
                Some("boolean") => Some(ExtensionKind::Boolean),
                Some(other) => {
                    let kinds = ["string", "integer", "boolean"];
                    let alias = match other {
                        "int" | "i32" | "number" => Some("integer"),
                        "bool" => Some("boolean"),
                        "str" | "text" => Some("string"),
                        _ => None,
                    };
                    let help = match did_you_mean(other, &kinds).or(alias) {
                        Some(s) => format!("did you mean `{s}`? CloudEvents extensions are `string`, `integer` or `boolean`"),
                        None => "CloudEvents extensions are `string`, `integer` or `boolean`".to_string(),
                    };
                    ctx.error(t.value.mark, format!("{what} has unsupported type `{other}`"), help);
                    None
                }
                None => None,
            },
        };
        let description = match entry.value.get("description") {
            Some(d) => ctx.string(&d.value, "an extension `description`").unwrap_or_default().to_string(),
            None => String::new(),
        };
        if let Some(f) = entry.value.get("format") {
            match ctx.string(&f.value, "an extension `format`") {
                Some("int64") if kind == Some(ExtensionKind::Integer) => int64.push(name.clone()),
                Some("int32") if kind == Some(ExtensionKind::Integer) => {}
                Some(_) if kind.is_some() && kind != Some(ExtensionKind::Integer) => ctx.error(
                    f.value.mark,
                    format!("{what} has a `format`, but only integer extensions have one"),
                    "remove `format`, or make it `type: integer`",
                ),
                Some(other) if kind == Some(ExtensionKind::Integer) => ctx.error(
                    f.value.mark,
                    format!("{what} has unknown integer format `{other}`"),
                    "write `format: int64` for a 64-bit integer (the default, `int32`, is CloudEvents' Integer)",
                ),
                _ => {}
            }
        }
        if let Some(kind) = kind {
            out.push(ExtensionDecl { name: name.clone(), kind, description });
        }
    }
    int64.sort();
    (out, int64)
}
