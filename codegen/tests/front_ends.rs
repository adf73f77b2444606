//! Both front-ends run the same checks: the same mistakes, declared once in
//! `events.yaml` and once on a `#[cloud_event]` struct (through the
//! `rust_front` API the macro calls), give the same diagnostics text.

use herald_codegen::__private::catalog;
use herald_codegen::__private::rust_front::{StreamKey, StructEvent, StructField, StructProblem};
use serde_json::json;

/// One event `ai.run.started` with a required `run_id` and an optional
/// `note`, declared in YAML with `extra` keys added to its entry.
fn yaml_problems(extra: &str) -> Vec<String> {
    let yaml = format!(
        "prefix: ai\nevents:\n  ai.run.started:\n    description: d\n{extra}    fields: {{run_id: uuid, note?: string}}\n    examples: [{{run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10}}]\n"
    );
    match catalog::parse("e.yaml", &yaml) {
        Ok(_) => Vec::new(),
        Err(diags) => diags.0.iter().map(|d| format!("{}; {}", d.message, d.help.clone().unwrap_or_default())).collect(),
    }
}

/// The same event as a struct.
fn struct_problems(edit: impl FnOnce(&mut StructEvent)) -> Vec<String> {
    let field = |name: &str, schema, required| StructField {
        rust_name: name.into(),
        wire_name: name.into(),
        schema,
        required,
        is_option: !required,
    };
    let mut event = StructEvent {
        ident: "RunStarted".into(),
        type_name: "ai.run.started".into(),
        description: "d".into(),
        version: 1,
        subject: None,
        stream_key: StreamKey::Default,
        deny_unknown_fields: false,
        fields: vec![field("run_id", json!({"type": "string", "format": "uuid"}), true), field("note", json!({"type": "string"}), false)],
    };
    edit(&mut event);
    event.check().into_iter().map(|StructProblem::Attribute(m)| m).collect()
}

#[test]
fn an_unbalanced_subject_is_rejected_by_both() {
    let yaml = yaml_problems("    version: 1\n    subject: \"run/{run_id\"\n");
    let rust = struct_problems(|e| e.subject = Some("run/{run_id".into()));
    assert_eq!(
        yaml,
        ["the `subject` of `ai.run.started` has unbalanced braces: `run/{run_id`; write placeholders as `{property}`, e.g. `run/{run_id}`"]
    );
    assert_eq!(rust, yaml);
}

#[test]
fn subject_placeholders_and_stream_keys_get_the_same_diagnostics() {
    let yaml = yaml_problems("    version: 1\n    subject: \"run/{runid}/{note}\"\n    stream_key: note\n");
    let rust = struct_problems(|e| {
        e.subject = Some("run/{runid}/{note}".into());
        e.stream_key = StreamKey::Field("note".into());
    });
    assert_eq!(yaml.len(), 3, "{yaml:?}");
    assert_eq!(rust, yaml);

    let yaml = yaml_problems("    version: 1\n    stream_key: runid\n");
    let rust = struct_problems(|e| e.stream_key = StreamKey::Field("runid".into()));
    assert_eq!(yaml, ["`stream_key` `runid` of `ai.run.started` is not a property of its data; did you mean `run_id`?"]);
    assert_eq!(rust, yaml);
}

#[test]
fn a_zero_version_gets_the_same_diagnostic() {
    let yaml = yaml_problems("    version: 0\n");
    let rust = struct_problems(|e| e.version = 0);
    assert_eq!(yaml, ["the `version` of `ai.run.started` must be a positive integer, found 0; start at `version: 1` and count up"]);
    assert_eq!(rust, yaml);
}
