//! One entry of `events:` → an [`EventType`].

use serde_json::Value as Json;

use crate::ir::{DataSource, EventType, Origin};
use crate::shorthand;
use crate::syntax::{Ctx, Entry, Mark, Node};
use crate::{check, lint};

/// Keys an event declaration may have.
const EVENT_KEYS: &[&str] = &["description", "version", "subject", "stream_key", "compatibility", "fields", "data", "examples"];

/// The stream key of an event that does not say.
const DEFAULT_STREAM_KEY: &str = "run_id";
/// `stream_key: none`: the event belongs to no run.
const NO_STREAM: &str = "none";

/// Read one event declaration. Returns `None` when anything about it was
/// reported (the whole catalog fails then anyway).
pub(super) fn read(ctx: &mut Ctx, entry: &Entry) -> Option<EventType> {
    let before = ctx.count();
    let name = entry.key.as_str();
    let node = &entry.value;
    if node.entries().is_none() {
        ctx.error(
            node.mark,
            format!("event `{name}` must be a mapping, found {}", node.kind()),
            "give it `description`, `version`, `fields` (or `data`) and `examples`",
        );
        return None;
    }
    lint::unknown_keys(ctx, node, EVENT_KEYS, &format!("event `{name}`"));

    let description = match node.get("description") {
        None => {
            ctx.error(entry.key_mark, format!("event `{name}` has no `description`"), "add `description:` saying when the event is sent");
            None
        }
        Some(d) => ctx.string(&d.value, "`description`").map(|s| {
            if s.trim().is_empty() {
                ctx.error(d.value.mark, format!("the `description` of `{name}` is empty"), "say when the event is sent");
            }
            s.trim().to_string()
        }),
    };

    let version = match node.get("version") {
        None => {
            ctx.error(entry.key_mark, format!("event `{name}` has no `version`"), "add `version: 1`");
            None
        }
        Some(v) => super::read_version(ctx, &v.value, &format!("`{name}`")),
    };

    let subject = node.get("subject").and_then(|s| ctx.string(&s.value, "`subject`").map(|t| (t.to_string(), s)));
    // `stream_key: none`: the event belongs to no run.
    let stream_key = node.get("stream_key").and_then(|s| ctx.string(&s.value, "`stream_key`").map(|t| (t.to_string(), s)));
    let no_stream = stream_key.as_ref().is_some_and(|(key, _)| key == NO_STREAM);

    let schema = match (node.get("fields"), node.get("data")) {
        (Some(_), Some(data)) => {
            ctx.error(
                data.key_mark,
                format!("event `{name}` has both `fields` and `data`"),
                "keep one: the `fields:` shorthand or a full `data:` JSON Schema",
            );
            None
        }
        (None, None) => {
            ctx.error(
                entry.key_mark,
                format!("event `{name}` has neither `fields` nor `data`"),
                "describe its data with `fields:` (e.g. `run_id: uuid`) or a `data:` JSON Schema",
            );
            None
        }
        (Some(fields), None) => shorthand::desugar(ctx, name, fields),
        (None, Some(data)) => data_schema(ctx, name, &data.value),
    };

    if let Some(schema) = &schema {
        if let Some((template, at)) = &subject {
            report(ctx, at.value.mark, check::subject(name, template, schema));
        }
        match &stream_key {
            Some(_) if no_stream => {}
            Some((key, at)) => report(ctx, at.value.mark, check::stream_key(name, key, schema, true)),
            None if node.get("stream_key").is_none() => {
                report(ctx, entry.key_mark, check::stream_key(name, DEFAULT_STREAM_KEY, schema, false))
            }
            None => {}
        }
    }

    let examples = match node.get("examples") {
        None => {
            ctx.error(
                entry.key_mark,
                format!("event `{name}` has no `examples`"),
                "add `examples:` with at least one realistic `data` payload",
            );
            Vec::new()
        }
        Some(e) => match e.value.items() {
            Some([]) => {
                ctx.error(
                    e.value.mark,
                    format!("`examples` of `{name}` is empty"),
                    "list at least one realistic `data` payload under `examples:` (`- run_id: …`)",
                );
                Vec::new()
            }
            None => {
                ctx.error(
                    e.value.mark,
                    format!("`examples` of `{name}` must be a sequence, found {}", e.value.kind()),
                    "list at least one realistic `data` payload under `examples:` (`- run_id: …`)",
                );
                Vec::new()
            }
            Some(items) => items.iter().filter_map(|n| ctx.json(n).map(|j| (n, j))).collect(),
        },
    };
    if let Some(schema) = &schema
        && ctx.count() == before
    {
        // Positions inside `data:`; a `fields:` shorthand is reported at
        // its key (its nodes are not where the desugared schema has them).
        let data = node.get("data").or_else(|| node.get("fields")).map_or(&entry.value, |d| &d.value);
        lint::defaults(ctx, name, schema, data);
        lint::examples(ctx, name, schema, &examples);
    }

    if ctx.count() != before {
        return None;
    }
    Some(EventType {
        type_name: name.to_string(),
        description: description?,
        version: version?,
        subject: subject.map(|(s, _)| s),
        stream_key: match stream_key {
            _ if no_stream => None,
            Some((key, _)) => Some(key),
            None => Some(DEFAULT_STREAM_KEY.to_string()),
        },
        schema: schema?,
        examples: examples.into_iter().map(|(_, j)| j).collect(),
        data: DataSource::Generated,
        origin: Origin::Yaml { file: ctx.file().to_string(), line: entry.key_mark.line, column: entry.key_mark.column },
    })
}

/// A `data:` JSON Schema: lint every node, then convert.
fn data_schema(ctx: &mut Ctx, event: &str, node: &Node) -> Option<Json> {
    let before = ctx.count();
    lint::schema(ctx, event, node);
    let json = ctx.json(node)?;
    (ctx.count() == before).then_some(json)
}

/// Report the problems of one shared check at `mark`.
fn report(ctx: &mut Ctx, mark: Mark, problems: impl IntoIterator<Item = check::Problem>) {
    for problem in problems {
        ctx.error(mark, problem.message, problem.help);
    }
}
