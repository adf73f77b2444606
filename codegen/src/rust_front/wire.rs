//! Struct events as JSON text, for the trip from `#[cloud_event]` to the
//! registry macro.
//!
//! A proc macro cannot see other items, so `#[cloud_event]` leaves its
//! event's IR behind as a string inside a tiny `macro_rules!` next to the
//! struct; `registry!` calls those macros in turn and each hands the string
//! back. This module is both ends of that string.
//!
//! `#[herald::data]` types hand on their definitions the same way, to the
//! types and events that hold them: as a JSON object of `$defs`, their own
//! and every one they refer to, transitively.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::ir::{DataSource, EventType, Origin};

/// The IR of a struct event as compact JSON.
pub fn event_to_json(event: &EventType) -> String {
    let ident = match &event.origin {
        Origin::Rust { ident } => ident.clone(),
        _ => event.rust_name(),
    };
    json!({
        "type": event.type_name,
        "description": event.description,
        "version": event.version,
        "subject": event.subject,
        "stream_key": event.stream_key,
        "schema": event.schema,
        "examples": event.examples,
        "ident": ident,
    })
    .to_string()
}

/// Read back what [`event_to_json`] wrote; the data type is named by the
/// struct's ident until the registry sets the path.
pub fn event_from_json(text: &str) -> Result<EventType, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string).ok_or_else(|| format!("missing `{k}`"));
    let ident = s("ident")?;
    Ok(EventType {
        type_name: s("type")?,
        description: s("description")?,
        version: v.get("version").and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()).ok_or("missing `version`")?,
        subject: v.get("subject").and_then(Value::as_str).map(str::to_string),
        stream_key: v.get("stream_key").and_then(Value::as_str).map(str::to_string),
        schema: v.get("schema").cloned().ok_or("missing `schema`")?,
        examples: v.get("examples").and_then(Value::as_array).cloned().unwrap_or_default(),
        data: DataSource::External(ident.clone()),
        origin: Origin::Rust { ident },
    })
}

/// Definitions (name → schema) as compact JSON.
pub fn defs_to_json(defs: &BTreeMap<String, Value>) -> String {
    serde_json::to_string(defs).unwrap_or_else(|_| "{}".to_string())
}

/// Read back what [`defs_to_json`] wrote.
pub fn defs_from_json(text: &str) -> Result<BTreeMap<String, Value>, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// `schema` (an object schema) with `defs` as its `$defs`, where its
/// `$ref`s find them; unchanged when there are none.
pub fn with_defs(schema: &Value, defs: &BTreeMap<String, Value>) -> Value {
    let mut schema = schema.clone();
    if !defs.is_empty()
        && let Value::Object(obj) = &mut schema
    {
        obj.insert("$defs".into(), Value::Object(defs.iter().map(|(k, v)| (k.clone(), v.clone())).collect()));
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let e = EventType {
            type_name: "ai.x.y".into(),
            description: "d".into(),
            version: 2,
            subject: Some("run/{run_id}".into()),
            stream_key: Some("run_id".into()),
            schema: json!({"type": "object"}),
            examples: vec![json!({"a": 1})],
            data: DataSource::External("X".into()),
            origin: Origin::Rust { ident: "X".into() },
        };
        assert_eq!(event_from_json(&event_to_json(&e)).unwrap(), e);
    }
}
