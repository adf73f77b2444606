//! `herald new`: a clean append, refusals, and the file's bytes kept.

use super::*;

const SMALL: &str = "\
# My catalog. Comments and layout must survive `herald new`.
prefix: ai

events:
    # ── runs ──
    ai.run.started:
        description: A run began.   # trailing comment
        version: 1
        subject: \"run/{run_id}\"
        fields:
            run_id: uuid
        examples:
            - {run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10}

# ── statuses ──
lifecycle:
    states: [queued, running]
    terminal: [running]
    initial: queued
    transitions:
        - {on: ai.run.started, from: [queued], to: running}
";

#[test]
fn a_clean_append_keeps_every_byte_and_lints() {
    let added = add_event("events.yaml", SMALL, "ai.run.paused", "reason?: string, attempts: integer, tags?: list<string>").unwrap();
    // Everything before and after the new entry is byte for byte the same.
    let split = SMALL.find("\n\n# ── statuses ──").unwrap() + 1;
    assert!(added.text.starts_with(&SMALL[..split]));
    assert!(added.text.ends_with(&SMALL[split..]));
    let entry = &added.text[split..added.text.len() - (SMALL.len() - split)];
    assert_eq!(
        entry,
        "\n    ai.run.paused:\n        description: \"TODO: say when this event is sent.\"\n        version: 1\n        subject: \"run/{run_id}\"\n        fields:\n            run_id: uuid\n            reason?: string\n            attempts: integer\n            tags?: list<string>\n        examples:\n            - run_id: \"0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10\"\n              reason: \"example\"\n              attempts: 1\n              tags: [\"example\"]\n"
    );
    assert_eq!(added.line, 15);
    assert_eq!(added.text.lines().nth(14), Some("    ai.run.paused:"));
    assert_eq!(added.notes, vec!["added `run_id: uuid`, the stream key every event carries".to_string()]);
    assert!(added.handler.starts_with("async fn on_run_paused(&self, ctx: &EventContext<'_>, data: RunPaused)"));
    let catalog = crate::catalog::parse("events.yaml", &added.text).unwrap();
    assert_eq!(catalog.event("ai.run.paused").unwrap().version, 1);
}

#[test]
fn the_generated_handler_trait_asks_for_the_new_method() {
    let added = add_event("events.yaml", SMALL, "ai.run.paused", "run_id: uuid").unwrap();
    let catalog = crate::catalog::parse("events.yaml", &added.text).unwrap();
    let code = crate::emit::emit_catalog(&catalog, &crate::emit::EmitOptions::default()).unwrap().to_string();
    assert!(code.contains("fn on_run_paused"), "{code}");
}

#[test]
fn appends_at_the_end_when_events_is_last_and_to_the_project_catalog() {
    let text = "prefix: ai\nevents:\n  ai.run.started:\n    description: d\n    version: 1\n    fields: {run_id: uuid}\n    examples: [{run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10}]";
    let added = add_event("events.yaml", text, "ai.run.paused", "").unwrap();
    assert!(added.text.starts_with(text));
    assert!(added.text.contains("\n\n  ai.run.paused:\n    description:"), "{}", added.text);
    assert!(crate::catalog::parse("events.yaml", &added.text).is_ok());

    let project = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../events.yaml")).unwrap();
    let added = add_event("events.yaml", &project, "ai.myfeature.paused", "run_id: uuid, feature_name: string, at?: datetime").unwrap();
    let catalog = crate::catalog::parse("events.yaml", &added.text).unwrap();
    let before = crate::catalog::parse("events.yaml", &project).unwrap();
    assert_eq!(catalog.events.len(), before.events.len() + 1);
    // The entry lands after the last event, before the lifecycle's comment.
    let at = added.text.find("  ai.myfeature.paused:").unwrap();
    assert!(at < added.text.find("# ── run status").unwrap());
    assert!(at > added.text.find("ai.validation.auto_completed:").unwrap());
}

#[test]
fn refuses_a_bad_name_a_duplicate_and_bad_fields() {
    let err = |name: &str, fields: &str| add_event("events.yaml", SMALL, name, fields).unwrap_err().join("\n");
    assert_eq!(
        err("ai.Run.Paused", ""),
        "event type `ai.Run.Paused` breaks the naming rule `{prefix}.{domain}.{action}`: segments must be lower snake case; rename it to `ai.run.paused`"
    );
    assert!(err("ml.run.paused", "").contains("the first segment must be the catalog prefix `ai`"));
    assert_eq!(err("ai.run.started", ""), "`ai.run.started` already exists at events.yaml:6:5; choose another name, or edit that entry");
    assert_eq!(err("ai.run.paused", "run_id: uuidd"), "unknown type `uuidd` for field `run_id`; did you mean `uuid`?");
    assert_eq!(
        err("ai.run.paused", "2fa: string, note, x: string, x: integer, fooBar: string, foo_bar: string"),
        "field name `2fa` cannot be given in `--fields`: use letters, digits, `_` and `-`, starting with a letter \
         (or add the property to the entry by hand: any JSON name works in the catalog)\n\
         `--fields` item `note` has no type; write it as `note: string`\n\
         field `x` is listed twice in `--fields`; keep one\n\
         fields `fooBar` and `foo_bar` would both become the Rust field `foo_bar`; keep one"
    );
    assert!(err("ai.run.paused", "run_id?: uuid").contains("`run_id?` cannot be optional"));
}

/// JSON names that are not Rust field names are properties like any
/// other: the entry keeps them, and the catalog lints.
#[test]
fn takes_camel_case_keyword_and_dashed_field_names() {
    let added = add_event("events.yaml", SMALL, "ai.run.paused", "type: string, pausedBy: string, dash-name?: integer").unwrap();
    assert!(added.text.contains("type: string\n            pausedBy: string\n            dash-name?: integer\n"), "{}", added.text);
    let catalog = crate::catalog::parse("events.yaml", &added.text).unwrap();
    let event = catalog.event("ai.run.paused").unwrap();
    assert!(event.schema["properties"].get("pausedBy").is_some() && event.schema["properties"].get("type").is_some());
}

#[test]
fn refuses_a_catalog_that_does_not_lint_or_uses_flow_style() {
    let broken = add_event("events.yaml", "prefix: ai\nevents: {}\n", "ai.run.paused", "").unwrap_err();
    assert!(broken.last().unwrap().contains("does not lint; fix it before adding"), "{broken:?}");
    let flow = "prefix: ai\nevents: {ai.run.started: {description: d, version: 1, fields: {run_id: uuid}, examples: [{run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10}]}}\n";
    let err = add_event("events.yaml", flow, "ai.run.paused", "").unwrap_err();
    assert!(err[0].contains("not a block mapping"), "{err:?}");
}

#[test]
fn fields_split_at_top_level_commas_only() {
    let f = parse_fields("a: map<list<string>>, b?: number,").unwrap();
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].ty, "map<list<string>>");
    assert!(!f[1].required);
}

#[test]
fn the_trybuild_fixture_is_what_herald_new_writes() {
    // tests/ui/handler/new_event.rs compiles a handler against this file and
    // expects the compiler to ask for `on_run_paused`.
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/ui/macros/fixtures/");
    let base = std::fs::read_to_string(format!("{fixtures}small.yaml")).unwrap();
    let after = std::fs::read_to_string(format!("{fixtures}small_after_new.yaml")).unwrap();
    let added = add_event("small.yaml", &base, "ai.run.paused", "reason?: string").unwrap();
    assert_eq!(added.text, after);
    assert!(added.handler.starts_with("async fn on_run_paused("));
}

#[test]
fn crlf_files_keep_their_line_endings() {
    let crlf = SMALL.replace('\n', "\r\n");
    let added = add_event("events.yaml", &crlf, "ai.run.paused", "").unwrap();
    assert!(!added.text.replace("\r\n", "").contains('\n'), "a bare LF was written");
    assert!(crate::catalog::parse("events.yaml", &added.text).is_ok());
}

proptest::proptest! {
    /// Whatever `--fields` holds, the parser answers without panicking.
    #[test]
    fn any_fields_text_is_parsed_or_refused(spec in ".{0,80}") {
        let _ = parse_fields(&spec);
    }

    /// Any type name and fields on a real catalog: an entry that lints, or
    /// messages — never a panic, never a half-written file.
    #[test]
    fn any_name_is_added_or_refused(name in "[a-z.A-Z_]{0,20}", spec in "[a-z?:<>, ]{0,30}") {
        if let Ok(added) = add_event("events.yaml", SMALL, &name, &spec) {
            proptest::prop_assert!(crate::catalog::parse("events.yaml", &added.text).is_ok());
        }
    }
}
