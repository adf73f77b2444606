//! JSON Schema 2020-12 documents for a catalog.
//!
//! Per event type, `{type}.json` is the schema of its `data` (`$id`
//! `{base_uri}{type}.json`, `title`, `description` and `examples` from the
//! catalog, `$defs` kept local), and `{type}.envelope.json` the schema of
//! the whole CloudEvents event of that type: the v1.0 attributes, the
//! catalog's declared extensions, and `data` by `$ref` to the first
//! document. `index.json` accepts any event of the catalog (`oneOf` the
//! envelopes, told apart by their `type` constant).
//!
//! String formats are annotations in 2020-12: validate with format
//! assertion on (as Herald does) to get the same verdicts. A tagged union
//! is its `oneOf`, with OpenAPI's `discriminator: {propertyName: …}` (an
//! annotation to JSON Schema; OpenAPI tools use it).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::Options;
use crate::dialect::portable;
use crate::ir::{Catalog, EventType, ExtensionDecl, ExtensionKind};

/// The dialect every document declares.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// All documents: file name → pretty-printed JSON (keys sorted, trailing
/// newline).
pub fn export(catalog: &Catalog, options: &Options) -> BTreeMap<String, String> {
    let options = &options.for_catalog(catalog);
    let mut files = BTreeMap::new();
    for event in &catalog.events {
        files.insert(format!("{}.json", event.type_name), pretty(&data_schema(event, options)));
        files.insert(format!("{}.envelope.json", event.type_name), pretty(&envelope_schema(catalog, event, options)));
    }
    files.insert("index.json".to_string(), pretty(&index(catalog, options)));
    files
}

/// A validator for the exported document `file` (`ai.run.started.json`,
/// `index.json`, …), with every document of the export registered under its
/// `$id` so that references resolve offline, and formats asserted as Herald
/// checks them.
pub fn validator(catalog: &Catalog, options: &Options, file: &str) -> Result<jsonschema::Validator, String> {
    let options = &options.for_catalog(catalog);
    let docs: BTreeMap<String, Value> = export(catalog, options)
        .into_iter()
        .map(|(name, text)| serde_json::from_str(&text).map(|doc| (name, doc)).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let mut builder = jsonschema::options().with_draft(jsonschema::Draft::Draft202012).should_validate_formats(true);
    for doc in docs.values() {
        let id = doc["$id"].as_str().unwrap_or_default().to_string();
        let resource = jsonschema::Resource::from_contents(doc.clone()).map_err(|e| e.to_string())?;
        builder = builder.with_resource(id, resource);
    }
    let doc = docs.get(file).ok_or_else(|| format!("the export has no `{file}`"))?;
    builder.build(doc).map_err(|e| format!("`{file}` does not compile: {e}"))
}

/// The schema of an event's `data`, as a standalone document.
pub fn data_schema(event: &EventType, options: &Options) -> Value {
    let mut schema = portable(&event.schema);
    super::with_discriminators(&mut schema, &|tag| json!({"propertyName": tag}));
    let mut doc = schema.as_object().cloned().unwrap_or_default();
    doc.insert("$schema".into(), json!(DIALECT));
    doc.insert("$id".into(), json!(data_id(event, options)));
    doc.insert("title".into(), json!(format!("{}Data", event.rust_name())));
    doc.insert("description".into(), json!(event.description));
    if !event.examples.is_empty() {
        doc.insert("examples".into(), Value::Array(event.examples.clone()));
    }
    Value::Object(doc)
}

/// `$id` of an event's data schema.
pub fn data_id(event: &EventType, options: &Options) -> String {
    format!("{}{}.json", options.base(), event.type_name)
}

/// `$id` of an event's envelope schema.
pub fn envelope_id(event: &EventType, options: &Options) -> String {
    format!("{}{}.envelope.json", options.base(), event.type_name)
}

/// The schema of a whole CloudEvents event of one type, as Herald reads
/// one: `null` stands for an absent optional attribute, attribute names are
/// lower-case letters and digits, `datacontenttype` is a JSON media type,
/// extensions are strings, booleans or 32-bit integers (an integer or a
/// boolean also in its canonical text form, as binary mode sends it).
///
/// The catalog's envelope rules narrow it: `envelope.required` attributes
/// are required and never `null`, `envelope.datacontenttype` pins the
/// media type, `format: int64` extensions take 64-bit integers. JSON
/// Schema cannot compare `subject` with a template filled from `data`
/// (`envelope.subject_matches_template`): the description says it.
pub fn envelope_schema(catalog: &Catalog, event: &EventType, options: &Options) -> Value {
    let options = &options.for_catalog(catalog);
    let rules = &catalog.envelope;
    let mut properties = attributes();
    properties.insert("type".into(), json!({"const": event.type_name, "description": "The CloudEvents type of this event."}));
    if let Some(template) = &event.subject {
        let description = if rules.subject_matches_template {
            format!("`{template}` filled from `data` (Herald checks it, `envelope.subject_matches_template`; JSON Schema cannot).")
        } else {
            format!("By convention `{template}`, filled from `data`.")
        };
        properties["subject"]["description"] = json!(description);
    }
    if let Some(pinned) = &rules.datacontenttype {
        properties.insert(
            "datacontenttype".into(),
            json!({
                "type": ["string", "null"],
                "pattern": media_type_pattern(pinned),
                "description": format!("Media type of `data`: `{pinned}` (`envelope.datacontenttype`), case-insensitive, parameters allowed."),
            }),
        );
    }
    let mut required: Vec<&str> = vec!["data", "id", "source", "specversion", "type"];
    for attribute in &rules.required {
        if let Some(schema) = properties.get_mut(attribute.as_str()) {
            schema["type"] = json!("string");
            schema["description"] =
                json!(format!("{} Required by this catalog (`envelope.required`).", schema["description"].as_str().unwrap_or_default()));
        }
        required.push(attribute);
    }
    required.sort_unstable();
    let mut declared = Map::new();
    for ext in &catalog.extensions {
        declared.insert(ext.name.clone(), extension(ext, rules.is_int64(&ext.name)));
    }
    properties.extend(declared.clone());
    if catalog.envelope.legacy_extensions_object {
        properties.insert(
            "extensions".into(),
            json!({
                "type": ["object", "null"],
                "description": "Extensions nested the legacy way; read as if they were top-level attributes.",
                "properties": declared,
                "propertyNames": {"pattern": ATTRIBUTE_NAME},
                "additionalProperties": extension_value(),
            }),
        );
    }
    properties.insert("data".into(), json!({"$ref": data_id(event, options)}));
    json!({
        "$schema": DIALECT,
        "$id": envelope_id(event, options),
        "title": format!("{}Event", event.rust_name()),
        "description": format!("A CloudEvents v1.0 event of type `{}`: {}", event.type_name, event.description),
        "type": "object",
        "properties": properties,
        "required": required,
        "propertyNames": {"pattern": ATTRIBUTE_NAME},
        "additionalProperties": extension_value(),
    })
}

/// CloudEvents attribute names: lower-case ASCII letters and digits.
const ATTRIBUTE_NAME: &str = "^[a-z0-9]+$";

/// The CloudEvents v1.0 context attributes (all but `type` and `data`).
fn attributes() -> Map<String, Value> {
    let optional = |description: &str| json!({"type": ["string", "null"], "minLength": 1, "description": description});
    let mut map = Map::new();
    map.insert("specversion".into(), json!({"const": "1.0", "description": "CloudEvents version."}));
    map.insert("id".into(), json!({"type": "string", "minLength": 1, "description": "Identifies the event; unique per `source`."}));
    map.insert("source".into(), json!({"type": "string", "minLength": 1, "description": "Where the event happened (a URI reference)."}));
    map.insert("subject".into(), optional("What the event is about, within `source`."));
    map.insert(
        "time".into(),
        json!({"type": ["string", "null"], "format": "date-time", "description": "When the event happened (RFC 3339)."}),
    );
    map.insert(
        "datacontenttype".into(),
        json!({
            "type": ["string", "null"],
            "pattern": JSON_MEDIA_TYPE,
            "description": "Media type of `data`: JSON (`application/json`, `text/json` or `+json`), parameters allowed.",
        }),
    );
    map.insert("dataschema".into(), json!({"type": ["string", "null"], "format": "uri", "description": "Schema `data` adheres to."}));
    map
}

/// A JSON media type, case-insensitive, parameters allowed.
const JSON_MEDIA_TYPE: &str = "^\\s*(?:[Aa][Pp][Pp][Ll][Ii][Cc][Aa][Tt][Ii][Oo][Nn]/[Jj][Ss][Oo][Nn]|[Tt][Ee][Xx][Tt]/[Jj][Ss][Oo][Nn]|[^;]*\\+[Jj][Ss][Oo][Nn])\\s*(?:;[\\s\\S]*)?$";

/// `pinned`'s essence as a pattern for the attribute: ASCII case ignored,
/// whitespace around it and parameters after it allowed (as
/// [`JSON_MEDIA_TYPE`] and Herald's media type matching).
fn media_type_pattern(pinned: &str) -> String {
    let mut essence = String::new();
    for c in pinned.chars() {
        if c.is_ascii_alphabetic() {
            essence.push_str(&format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase()));
        } else if c.is_ascii_alphanumeric() || c == '/' || c == '-' || c == '_' {
            essence.push(c);
        } else {
            essence.push('\\');
            essence.push(c);
        }
    }
    format!("^\\s*{essence}\\s*(?:;[\\s\\S]*)?$")
}

fn extension(ext: &ExtensionDecl, int64: bool) -> Value {
    let mut schema = match ext.kind {
        ExtensionKind::String => json!({"type": ["string", "null"]}),
        ExtensionKind::Boolean => json!({"anyOf": [{"type": ["boolean", "null"]}, {"enum": ["true", "false"]}]}),
        ExtensionKind::Integer if int64 => json!({"anyOf": [
            {"type": ["integer", "null"], "minimum": i64::MIN, "maximum": i64::MAX},
            {"type": "string", "pattern": int_text_pattern("9223372036854775807", "9223372036854775808")},
        ]}),
        ExtensionKind::Integer => json!({"anyOf": [
            {"type": ["integer", "null"], "minimum": i32::MIN, "maximum": i32::MAX},
            {"type": "string", "pattern": int_text_pattern("2147483647", "2147483648")},
        ]}),
    };
    schema["description"] = json!(ext.description);
    schema
}

/// An undeclared extension: a string, a boolean, a 32-bit integer, or `null`.
fn extension_value() -> Value {
    json!({"anyOf": [{"type": ["string", "boolean", "null"]}, {"type": "integer", "minimum": i32::MIN, "maximum": i32::MAX}]})
}

/// The canonical decimal text (RFC 8259 `int`: no `+`, no leading zero)
/// of an integer from `-min` to `max`, both written out, as a regular
/// expression.
fn int_text_pattern(max: &str, min: &str) -> String {
    let shorter = max.len() - 2;
    format!("^(?:-?0|[1-9][0-9]{{0,{shorter}}}|{}|-(?:[1-9][0-9]{{0,{shorter}}}|{}))$", at_most(max), at_most(min))
}

/// Numbers of exactly `max.len()` digits (no leading zero) up to `max`.
fn at_most(max: &str) -> String {
    let digits: Vec<u32> = max.chars().filter_map(|c| c.to_digit(10)).collect();
    let mut alternatives = Vec::new();
    for (i, &d) in digits.iter().enumerate() {
        let low = if i == 0 { 1 } else { 0 };
        if d > low {
            let prefix: String = digits[..i].iter().map(|d| char::from_digit(*d, 10).unwrap_or('0')).collect();
            let rest = digits.len() - i - 1;
            alternatives.push(format!("{prefix}[{low}-{}][0-9]{{{rest}}}", d - 1));
        }
    }
    alternatives.push(max.to_string());
    alternatives.join("|")
}

/// Any event of the catalog.
pub fn index(catalog: &Catalog, options: &Options) -> Value {
    let options = &options.for_catalog(catalog);
    let envelopes: Vec<Value> = catalog.events.iter().map(|e| json!({"$ref": envelope_id(e, options)})).collect();
    json!({
        "$schema": DIALECT,
        "$id": format!("{}index.json", options.base()),
        "title": format!("Events of the `{}` catalog", catalog.prefix),
        "description": format!("Any event of {}; each alternative is the envelope schema of one type.", options.source(catalog)),
        "oneOf": envelopes,
    })
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}
