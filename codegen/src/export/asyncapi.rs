//! An AsyncAPI 3.0 document for a catalog.
//!
//! The Herald server's ingest endpoint (`POST /api/ingest/event`) is the one
//! channel; each event type is a message whose payload is its `data` schema
//! (with the catalog's examples), sent in CloudEvents HTTP binary mode: the
//! `ce-*` headers are described per message (`ce-type` pinned to the type).
//! The `receiveEvent` operation replies with the server's answers: the
//! ingest result (200, or 202 for an event parked until its `seq` turn) or
//! an RFC 9457 problem document (4xx, 503). `$defs` of a data schema become
//! `components/schemas` entries named `{Event}{Def}`. A tagged union is its
//! `oneOf` with AsyncAPI's `discriminator: kind`.

use serde_json::{Map, Value, json};
use yaml_rust2::{Yaml, YamlEmitter, yaml::Hash};

use super::Options;
use crate::ir::{Catalog, EventType, ExtensionKind};
use crate::subject::Piece;

/// The path of the server's ingest endpoint.
pub const INGEST_PATH: &str = "/api/ingest/event";

/// The document as YAML text.
pub fn export(catalog: &Catalog, options: &Options) -> String {
    let mut text = super::header("#", catalog, options);
    let mut yaml = String::new();
    let mut emitter = YamlEmitter::new(&mut yaml);
    // Emitting into a String cannot fail.
    let _ = emitter.dump(&to_yaml(&document(catalog, options)));
    text.push_str(yaml.trim_start_matches("---\n"));
    text.push('\n');
    text
}

/// The document as a JSON value (the same content as [`export`]).
pub fn document(catalog: &Catalog, options: &Options) -> Value {
    let mut messages = Map::new();
    let mut channel_messages = Map::new();
    let mut operation_messages = Vec::new();
    let mut schemas = Map::new();
    for event in &catalog.events {
        let name = event.rust_name();
        messages.insert(name.clone(), message(catalog, event, &mut schemas));
        channel_messages.insert(name.clone(), json!({"$ref": format!("#/components/messages/{name}")}));
        operation_messages.push(json!({"$ref": format!("#/channels/ingest/messages/{name}")}));
    }
    messages.insert("IngestResult".into(), ingest_result());
    messages.insert("Problem".into(), problem());
    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": format!("`{}` events", catalog.prefix),
            "version": "1.0.0",
            "description": format!(
                "The CloudEvents a Herald server ingests, generated from {}. Each message is one event type, in \
                 CloudEvents HTTP binary mode (`ce-*` headers, `data` as the body); structured mode \
                 (`application/cloudevents+json`) and batches carry the same `data` inside the envelope.",
                options.source(catalog)
            ),
        },
        "servers": {
            "herald": {
                "host": "localhost:8080",
                "protocol": "http",
                "description": "A Herald server (`herald-server`); replace the host with yours.",
            }
        },
        "channels": {
            "ingest": {
                "address": INGEST_PATH,
                "title": "Event ingest",
                "description": "POST one event; the answer says whether it was stored and applied.",
                "servers": [{"$ref": "#/servers/herald"}],
                "messages": channel_messages,
            },
            "ingestReply": {
                "address": null,
                "description": "The HTTP response to an ingest request.",
                "messages": {
                    "IngestResult": {"$ref": "#/components/messages/IngestResult"},
                    "Problem": {"$ref": "#/components/messages/Problem"},
                },
            }
        },
        "operations": {
            "receiveEvent": {
                "action": "receive",
                "title": "Ingest an event",
                "summary": "The server validates, deduplicates on (source, id), stores and applies the event.",
                "channel": {"$ref": "#/channels/ingest"},
                "messages": operation_messages,
                "bindings": {"http": {"method": "POST", "bindingVersion": "0.3.0"}},
                "reply": {
                    "channel": {"$ref": "#/channels/ingestReply"},
                    "messages": [
                        {"$ref": "#/channels/ingestReply/messages/IngestResult"},
                        {"$ref": "#/channels/ingestReply/messages/Problem"},
                    ],
                },
            }
        },
        "components": {"messages": messages, "schemas": schemas},
    })
}

fn message(catalog: &Catalog, event: &EventType, schemas: &mut Map<String, Value>) -> Value {
    let name = event.rust_name();
    let mut payload = crate::dialect::portable(&event.schema);
    // AsyncAPI's Schema Object names a union's tag with a plain string.
    super::with_discriminators(&mut payload, &|tag| json!(tag));
    if let Some(defs) = payload.as_object_mut().and_then(|o| o.remove("$defs")).and_then(|d| d.as_object().cloned()) {
        for (def, mut schema) in defs {
            rewrite_refs(&mut schema, &name);
            schemas.insert(format!("{name}{def}"), schema);
        }
    }
    rewrite_refs(&mut payload, &name);
    let examples: Vec<Value> = event
        .examples
        .iter()
        .enumerate()
        .map(|(i, data)| {
            let mut headers = json!({
                "ce-specversion": "1.0",
                "ce-id": format!("example-{}", i + 1),
                "ce-source": "/example/producer",
                "ce-type": event.type_name,
            });
            if let Some(subject) = event.subject.as_deref().and_then(|t| fill_subject(t, data)) {
                headers["ce-subject"] = json!(subject);
            }
            if catalog.envelope.requires("time") {
                headers["ce-time"] = json!("2024-05-01T12:30:00Z");
            }
            if catalog.envelope.requires("datacontenttype") {
                headers["content-type"] = json!(catalog.envelope.datacontenttype.as_deref().unwrap_or("application/json"));
            }
            json!({"name": format!("example{}", i + 1), "headers": headers, "payload": data})
        })
        .collect();
    json!({
        "name": event.type_name,
        "title": name,
        "summary": event.description,
        "contentType": "application/json",
        "headers": headers(catalog, event),
        "payload": payload,
        "examples": examples,
    })
}

/// The CloudEvents binary-mode headers of one event type.
fn headers(catalog: &Catalog, event: &EventType) -> Value {
    let mut properties = Map::new();
    let mut header = |name: &str, schema: Value| {
        properties.insert(name.to_string(), schema);
    };
    header("ce-specversion", json!({"const": "1.0", "description": "CloudEvents version."}));
    header("ce-id", json!({"type": "string", "minLength": 1, "description": "Identifies the event; unique per source."}));
    header("ce-source", json!({"type": "string", "minLength": 1, "description": "Where the event happened (URI reference)."}));
    header("ce-type", json!({"const": event.type_name, "description": "The CloudEvents type."}));
    let rules = &catalog.envelope;
    let subject = match &event.subject {
        Some(t) if rules.subject_matches_template => {
            format!("What the event is about: `{t}` filled from the body; any other subject is refused (422, pointer `/subject`).")
        }
        Some(t) => format!("What the event is about, by convention `{t}`."),
        None => "What the event is about.".to_string(),
    };
    header("ce-subject", json!({"type": "string", "description": subject}));
    header("ce-time", json!({"type": "string", "format": "date-time", "description": "When it happened (RFC 3339)."}));
    header("ce-dataschema", json!({"type": "string", "format": "uri", "description": "Schema of the body."}));
    for ext in &catalog.extensions {
        let kind = match ext.kind {
            ExtensionKind::String => "a string",
            ExtensionKind::Integer if rules.is_int64(&ext.name) => "a 64-bit integer, in decimal",
            ExtensionKind::Integer => "a 32-bit integer, in decimal",
            ExtensionKind::Boolean => "`true` or `false`",
        };
        header(&format!("ce-{}", ext.name), json!({"type": "string", "description": format!("{} ({kind})", ext.description)}));
    }
    let content_type = match &rules.datacontenttype {
        Some(ct) => format!("Media type of the body (`data`): `{ct}`, as this catalog requires (`envelope.datacontenttype`)."),
        None => "Media type of the body (`data`).".to_string(),
    };
    header("content-type", json!({"const": rules.datacontenttype.as_deref().unwrap_or("application/json"), "description": content_type}));
    let mut required = vec!["ce-id".to_string(), "ce-source".into(), "ce-specversion".into(), "ce-type".into()];
    for attribute in &rules.required {
        // Binary mode carries `datacontenttype` as `Content-Type`.
        required.push(if attribute == "datacontenttype" { "content-type".to_string() } else { format!("ce-{attribute}") });
    }
    required.sort();
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
    })
}

fn ingest_result() -> Value {
    reply(
        "IngestResult",
        "Ingest result",
        "The event is stored durably: 200 (applied, a duplicate, stale, or an illegal status move), 202 (parked until \
         its `seq` turn).",
        "application/json",
        json!({
            "id": {"type": "string"},
            "source": {"type": "string"},
            "run_id": {"type": "string"},
            "status": {
                "type": "string",
                "enum": ["applied", "duplicate", "parked", "stale", "illegal_transition"],
                "description": "What happened to the event.",
            },
        }),
        &["id", "source", "status"],
    )
}

fn problem() -> Value {
    reply(
        "Problem",
        "Problem document",
        "The event was refused (400 malformed, 413 too large, 415 media type, 422 invalid data with a JSON pointer) \
         or the store is unavailable (503 with Retry-After).",
        "application/problem+json",
        json!({
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "code": {"type": "string", "description": "Stable machine-readable code."},
            "detail": {"type": "string"},
        }),
        &["type", "title", "status"],
    )
}

/// A message of the reply channel.
fn reply(name: &str, title: &str, summary: &str, content_type: &str, properties: Value, required: &[&str]) -> Value {
    json!({
        "name": name,
        "title": title,
        "summary": summary,
        "contentType": content_type,
        "payload": {"type": "object", "properties": properties, "required": required},
    })
}

/// `#/$defs/Name` → `#/components/schemas/{Event}Name`, everywhere in `schema`.
fn rewrite_refs(schema: &mut Value, event: &str) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match (key.as_str(), value.as_str().and_then(|r| r.strip_prefix(crate::defs::REF_PREFIX))) {
                    ("$ref", Some(def)) => *value = json!(format!("#/components/schemas/{event}{def}")),
                    _ => rewrite_refs(value, event),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, event)),
        _ => {}
    }
}

/// The subject template filled from `data` (`run/{run_id}` → `run/42`),
/// or `None` when a placeholder has no string or number to fill it.
pub fn fill_subject(template: &str, data: &Value) -> Option<String> {
    let mut out = String::new();
    for piece in crate::subject::parse(template).ok()? {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Placeholder(key) => match data.get(key)? {
                Value::String(s) => out.push_str(s),
                Value::Number(n) => out.push_str(&n.to_string()),
                _ => return None,
            },
        }
    }
    Some(out)
}

fn to_yaml(value: &Value) -> Yaml {
    match value {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Boolean(*b),
        Value::Number(n) if n.is_f64() => Yaml::Real(n.to_string()),
        Value::Number(n) => n.as_i64().map_or_else(|| Yaml::Real(n.to_string()), Yaml::Integer),
        Value::String(s) => Yaml::String(s.clone()),
        Value::Array(items) => Yaml::Array(items.iter().map(to_yaml).collect()),
        Value::Object(map) => {
            let mut hash = Hash::new();
            for (k, v) in map {
                hash.insert(Yaml::String(k.clone()), to_yaml(v));
            }
            Yaml::Hash(hash)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_filled_from_data() {
        let data = json!({"run_id": "r1", "n": 3, "o": {}});
        assert_eq!(fill_subject("run/{run_id}", &data).as_deref(), Some("run/r1"));
        assert_eq!(fill_subject("n/{n}/x", &data).as_deref(), Some("n/3/x"));
        assert_eq!(fill_subject("o/{o}", &data), None);
        assert_eq!(fill_subject("m/{missing}", &data), None);
    }
}
