//! `herald export`: determinism, snapshots of the project catalog's exports
//! and the JSON Schema documents checked by the `jsonschema` crate.
//!
//! The other languages' tools (tsc, mypy, the AsyncAPI parser) and the
//! differential test against Herald's own validation run in `herald-tests`
//! (`tests/tests/exports.rs`), where `scripts/test.sh` provides node and
//! Python.

use std::collections::BTreeMap;
use std::path::PathBuf;

use herald_codegen::__private::export::{self, Format, Options};
use herald_codegen::__private::ir::Catalog;
use serde_json::Value;

const FORMATS: [Format; 4] = [Format::JsonSchema, Format::TypeScript, Format::Python, Format::AsyncApi];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The catalogs every export is tested on.
fn catalogs() -> Vec<(&'static str, Catalog)> {
    ["events.yaml", "examples/events.yaml", "tests/catalogs/constructs.yaml", "tests/catalogs/unions.yaml"]
        .into_iter()
        .map(|path| {
            let catalog = herald_codegen::__private::catalog::load(&root().join(path)).unwrap_or_else(|e| panic!("{path} must load:\n{e}"));
            (path, catalog)
        })
        .collect()
}

#[test]
fn exports_are_deterministic() {
    for (path, catalog) in catalogs() {
        for format in FORMATS {
            let a = export::export(&catalog, format, &Options::default());
            let b = export::export(&catalog, format, &Options::default());
            assert_eq!(a, b, "{path}: {format:?} differs between two runs");
            // Nothing in the output names where the workspace lives.
            let root = root().display().to_string();
            assert!(a.values().all(|text| !text.contains(&root)), "{path}: {format:?} output contains {root}");
        }
    }
}

/// The exports of `events.yaml` under `tests/golden/export/`: on a change the
/// snapshot is rewritten and the test fails (unless `HERALD_BLESS=1`: see
/// `golden.rs`), so `git diff` shows the change.
#[test]
fn project_catalog_snapshots() {
    let catalog = herald_codegen::__private::catalog::load(&root().join("events.yaml")).unwrap();
    let options = Options { source_name: Some("events.yaml".into()), ..Options::default() };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/export");
    let mut changed = Vec::new();
    for format in FORMATS {
        for (name, text) in export::export(&catalog, format, &options) {
            let path = if format.is_directory() { dir.join("jsonschema").join(&name) } else { dir.join(&name) };
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &text).unwrap();
                changed.push(path.display().to_string());
            }
        }
    }
    let blessing = std::env::var_os("HERALD_BLESS").is_some_and(|v| v == "1");
    assert!(changed.is_empty() || blessing, "exports changed; the snapshots were updated — review `git diff`:\n{}", changed.join("\n"));
}

/// Every exported document is a schema the `jsonschema` crate compiles (cross-
/// document `$ref`s resolved), every example passes its data schema and, in a
/// minimal envelope, its envelope schema and the index.
#[test]
fn json_schema_documents_compile_and_accept_the_examples() {
    for (path, catalog) in catalogs() {
        let options = Options::default();
        let docs: BTreeMap<String, Value> = export::jsonschema::export(&catalog, &options)
            .into_iter()
            .map(|(name, text)| (name, serde_json::from_str(&text).expect("JSON")))
            .collect();
        let compile = |file: &str| export::jsonschema::validator(&catalog, &options, file).unwrap_or_else(|e| panic!("{path}: {e}"));
        let index = compile("index.json");
        for event in &catalog.events {
            let data = compile(&format!("{}.json", event.type_name));
            let envelope = compile(&format!("{}.envelope.json", event.type_name));
            for example in &event.examples {
                assert!(data.is_valid(example), "{path}: example of `{}` rejected: {example}", event.type_name);
                // A minimal event under the catalog's envelope rules.
                let mut event_json = serde_json::json!({
                    "specversion": "1.0", "id": "1", "source": "/test", "type": event.type_name, "data": example,
                });
                for attribute in &catalog.envelope.required {
                    event_json[attribute.as_str()] = match attribute.as_str() {
                        "subject" => event
                            .subject
                            .as_deref()
                            .and_then(|t| export::asyncapi::fill_subject(t, example))
                            .unwrap_or_else(|| "s".into())
                            .into(),
                        "time" => "2024-05-01T12:30:00Z".into(),
                        "datacontenttype" => "application/json".into(),
                        _ => "https://example.com/schema.json".into(),
                    };
                }
                assert!(envelope.is_valid(&event_json), "{path}: envelope of `{}` rejected: {event_json}", event.type_name);
                assert!(index.is_valid(&event_json), "{path}: index rejects `{}`: {event_json}", event.type_name);
                let mut wrong = event_json.clone();
                wrong["specversion"] = "0.3".into();
                assert!(!envelope.is_valid(&wrong) && !index.is_valid(&wrong), "{path}: specversion 0.3 accepted");
            }
            let meta = docs[&format!("{}.json", event.type_name)].clone();
            assert_eq!(meta["$schema"], export::jsonschema::DIALECT);
            assert_eq!(meta["description"], event.description.as_str());
        }
    }
}

/// Property names that are not Rust field names (`tests/catalogs/payloads.yaml`)
/// keep their JSON names in every export: only the Rust fields change.
#[test]
fn exports_keep_json_property_names() {
    let catalog = herald_codegen::__private::catalog::load(&root().join("tests/catalogs/payloads.yaml")).unwrap_or_else(|e| panic!("{e}"));
    for format in FORMATS {
        // File name → contents; one text is enough to search.
        let text: String = export::export(&catalog, format, &Options::default()).into_values().collect();
        for name in ["runId", "fooBar", "dash-name", "HTTPStatus", "innerValue", "camelCase"] {
            assert!(text.contains(name), "{format:?} lost `{name}`:\n{text}");
        }
        if format != Format::Python {
            // Python attributes are identifiers (`dash_name`, aliased); the
            // others never name a Rust field.
            for field in ["foo_bar", "http_status", "inner_value", "type_", "self_"] {
                assert!(!text.contains(field), "{format:?} has the Rust field `{field}`:\n{text}");
            }
        }
    }
}

/// A tagged union in each format: JSON Schema keeps the `oneOf` and adds
/// OpenAPI's `discriminator`, AsyncAPI its own (a property name), Zod a
/// `z.discriminatedUnion` of one object per branch with its tag a literal,
/// pydantic a model per branch in a union discriminated on the tag.
#[test]
fn tagged_unions_in_every_format() {
    let catalog = herald_codegen::__private::catalog::load(&root().join("tests/catalogs/unions.yaml")).unwrap();
    let event = &catalog.events[0];
    let schema = export::jsonschema::data_schema(event, &Options::default());
    assert_eq!(schema["properties"]["target"]["discriminator"], serde_json::json!({"propertyName": "kind"}));
    assert_eq!(schema["properties"]["target"]["oneOf"].as_array().map(Vec::len), Some(3));
    assert_eq!(schema["$defs"]["Step"]["discriminator"], serde_json::json!({"propertyName": "op"}));

    let asyncapi = export::asyncapi::document(&catalog, &Options::default());
    let messages = asyncapi["components"]["messages"].as_object().unwrap();
    let payload = &messages.values().find(|m| m["name"] == "kit.job.queued").unwrap()["payload"];
    assert_eq!(payload["properties"]["target"]["discriminator"], "kind");
    assert_eq!(asyncapi["components"]["schemas"]["JobQueuedStep"]["discriminator"], "op");

    let ts = export::typescript::export(&catalog, &Options::default());
    assert!(
        ts.contains("export const JobQueuedStepZ = z.discriminatedUnion(\"op\", [\n  z.strictObject({\n    op: z.literal(\"add\"),"),
        "{ts}"
    );
    assert!(
        ts.contains(
            "  target: z.discriminatedUnion(\"kind\", [\n    /** A local file. */\n    z.looseObject({\n      kind: z.literal(\"file\"),"
        ),
        "{ts}"
    );

    let py = export::python::export(&catalog, &Options::default());
    assert!(py.contains("class HeraldVariant(BaseModel):"), "{py}");
    assert!(
        py.contains("class JobQueuedDataTargetFile(HeraldVariant):\n    \"\"\"A local file.\"\"\"\n\n    kind: Literal[\"file\"]\n"),
        "{py}"
    );
    assert!(
        py.contains("    target: Annotated[Union[JobQueuedDataTargetFile, JobQueuedDataTargetUrl, JobQueuedDataTargetNone], Field(discriminator=\"kind\")]\n"),
        "{py}"
    );
    // A catalog without unions has no use for the branches' base.
    let plain = herald_codegen::__private::catalog::load(&root().join("events.yaml")).unwrap();
    assert!(!export::python::export(&plain, &Options::default()).contains("HeraldVariant"));
}
