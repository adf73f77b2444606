//! The catalog loader and its lints, end to end: one fixture per lint in
//! `tests/catalogs/`, each asserting the exact rendered diagnostics
//! (`file:line:col: problem — fix`), plus the project's own `events.yaml`.

use std::path::PathBuf;

use herald_codegen::__private::catalog;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/catalogs")
}

fn project_catalog() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events.yaml")
}

/// Every diagnostic of a fixture, rendered, with the bare file name (so
/// expectations don't depend on where the repository lives).
fn problems(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(fixture_dir().join(name)).expect("fixture exists");
    match catalog::parse(name, &text) {
        Ok(_) => panic!("{name} should not pass the lints"),
        Err(diags) => diags.0.iter().map(ToString::to_string).collect(),
    }
}

fn assert_problems(name: &str, expected: &[&str]) {
    let actual = problems(name);
    assert_eq!(actual, expected, "\nactual:\n{}\n", actual.join("\n"));
}

/// The help shared by every unsupported-keyword diagnostic.
const SUBSET: &str = "Herald supports `type`, `properties`, `required`, `additionalProperties`, `items`, `enum` (of strings), \
    `const`, `format` (with `offset: utc-only` on a `date-time`), `pattern`, `minimum`/`maximum` (and exclusive), `multipleOf`, length, item and property counts, \
    `uniqueItems`, `$ref` to `#/$defs/Name`, `$defs`, tagged unions (`oneOf` of objects with a `const` tag property) and annotations (`description`, `title`, `default`, `examples`)";

#[test]
fn the_project_catalog_passes_every_lint() {
    let catalog = catalog::load(&project_catalog()).unwrap_or_else(|e| panic!("events.yaml must load:\n{e}"));
    assert_eq!(catalog.prefix, "ai");
    // Every type under `events:` is loaded (counted by the YAML parser
    // alone, so adding a type to events.yaml needs no edit here).
    let yaml = std::fs::read_to_string(project_catalog()).unwrap();
    let doc = &yaml_rust2::YamlLoader::load_from_str(&yaml).unwrap()[0];
    assert_eq!(catalog.events.len(), doc["events"].as_hash().map_or(0, |h| h.len()));
    assert!(catalog.events.len() > 20, "the orchestrator catalog");
    assert!(catalog.envelope.legacy_extensions_object);
    let names: Vec<&str> = catalog.extensions.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["seq", "traceparent"]);
    // Normalized: sorted by type.
    let types: Vec<&str> = catalog.events.iter().map(|e| e.type_name.as_str()).collect();
    let mut sorted = types.clone();
    sorted.sort();
    assert_eq!(types, sorted);
    for event in &catalog.events {
        assert_eq!(event.stream_key.as_deref(), Some("run_id"));
        assert_eq!(event.subject.as_deref(), Some("run/{run_id}"));
        assert!(!event.examples.is_empty(), "{}", event.type_name);
        assert_eq!(event.schema["type"], "object", "{}", event.type_name);
    }
    // The SOP's worked example, exactly as its Zod schema.
    let started = catalog.event("ai.myfeature.started").unwrap();
    assert_eq!(
        started.schema,
        serde_json::json!({
            "type": "object",
            "properties": {
                "run_id": {"type": "string", "format": "uuid"},
                "feature_name": {"type": "string"},
                "config": {"type": "object"},
                "timestamp": {"type": "string", "format": "date-time"}
            },
            "required": ["run_id", "feature_name"]
        })
    );
    // The `data:` form keeps its `$defs`.
    let completed = catalog.event("ai.run.completed").unwrap();
    assert_eq!(completed.schema["properties"]["metrics"]["$ref"], "#/$defs/RunMetrics");
    assert_eq!(completed.schema["$defs"]["RunMetrics"]["required"], serde_json::json!(["duration_ms", "items_processed"]));
}

#[test]
fn bad_type_name() {
    assert_problems(
        "bad_type_name.yaml",
        &[
            "bad_type_name.yaml:3:3: event type `ai.MyFeature.started` breaks the naming rule `{prefix}.{domain}.{action}`: segments must be lower snake case — rename it to `ai.my_feature.started`",
            "bad_type_name.yaml:10:3: event type `ml.run.started` breaks the naming rule `{prefix}.{domain}.{action}`: the first segment must be the catalog prefix `ai` — rename it to `ai.run.started`",
            "bad_type_name.yaml:17:3: event type `ai.run.stage.started` breaks the naming rule `{prefix}.{domain}.{action}`: it has 4 segments, not 3 — rename it to `ai.run.stage_started`",
        ],
    );
}

#[test]
fn duplicate_type() {
    assert_problems(
        "duplicate_type.yaml",
        &[
            "duplicate_type.yaml:10:3: duplicate event type `ai.run.started`; it is already declared at line 3 — remove or rename one of the two declarations",
            "duplicate_type.yaml:15:7: duplicate key `run_id` in `events/ai.run.started/fields`; the first is at line 14 — YAML keeps only one of them: remove or rename the other",
        ],
    );
}

#[test]
fn unknown_shorthand() {
    let types = "shorthand types are `string`, `integer`, `number`, `boolean`, `uuid`, `datetime`, `date`, `uri`, `email`, `object`, `any`, `map<T>`, `list<T>`, or an inline JSON Schema mapping";
    let expected = [
        format!(
            "unknown_shorthand.yaml:7:15: unknown shorthand type `uuidd` for field `run_id` of `ai.run.started` — did you mean `uuid`? {types}"
        ),
        format!(
            "unknown_shorthand.yaml:8:17: unknown shorthand type `int` for field `attempts` of `ai.run.started` — did you mean `integer`? {types}"
        ),
        format!(
            "unknown_shorthand.yaml:9:16: unknown shorthand type `strng` for field `checks` of `ai.run.started` — did you mean `list<string>`? {types}"
        ),
        format!("unknown_shorthand.yaml:10:16: unknown shorthand type `frobnicate` for field `config` of `ai.run.started` — {types}"),
    ];
    assert_eq!(problems("unknown_shorthand.yaml"), expected);
}

#[test]
fn conflicting_defs() {
    assert_problems(
        "conflicting_defs.yaml",
        &["conflicting_defs.yaml:28:9: `$defs/Window` of `ai.run.resumed` differs from the `$defs/Window` of `ai.run.paused` \
           (declared at conflicting_defs.yaml:15:9) \
           — the definitions of all events share one namespace (each becomes one Rust type): give one of them another name, or make them identical"],
    );
}

#[test]
fn external_ref() {
    assert_problems(
        "external_ref.yaml",
        &[
            "external_ref.yaml:10:25: external `$ref` `metrics.json#/Metrics` in `ai.run.completed` at /properties/metrics — Herald resolves only local refs of the form `#/$defs/Name`: copy the definition under `$defs` at the top of the data schema",
            "external_ref.yaml:11:25: `$ref` in `ai.run.completed` at /properties/summary points to `#/$defs/Sumary`, which is not defined — did you mean `#/$defs/Summary`?",
        ],
    );
}

#[test]
fn unsupported_keyword() {
    let expected = [
        format!("unsupported_keyword.yaml:11:11: unsupported JSON Schema keyword `anyOf` in `ai.run.completed` at /properties/result — {SUBSET}; model alternatives as a tagged union (a `oneOf` of objects that each require a tag property with its own `const`, e.g. `kind: {{const: file}}`), an `enum`, or separate event types"),
        "unsupported_keyword.yaml:14:22: a list of types in `ai.run.completed` at /properties/note is not supported — use a single type; for an optional value, leave the property out of `required` (`name?:` in the shorthand) instead of allowing `null`".to_string(),
        // `type` is fine (the field is `type_`); `runId` alone would be too.
        "unsupported_keyword.yaml:15:9: properties `run_id` and `runId` in `ai.run.completed` at /properties/runId both become the Rust field `run_id` — rename one of them: JSON names that differ only in case or punctuation share a snake case Rust field".to_string(),
        "unsupported_keyword.yaml:17:41: `pattern` in `ai.run.completed` at /properties/digest does not compile: Unbalanced bracket — write an ECMAScript regular expression, e.g. `^[0-9a-f]{64}$`".to_string(),
        "unsupported_keyword.yaml:18:38: unsupported format `datetime` in `ai.run.completed` at /properties/when — did you mean `date-time`? Herald checks `date-time`, `date`, `time`, `email`, `hostname`, `ipv4`, `ipv6`, `uri`, `uri-reference` or `uuid`".to_string(),
        format!("unsupported_keyword.yaml:19:31: unsupported JSON Schema keyword `maxLenght` in `ai.run.completed` at /properties/size — {SUBSET}; did you mean `maxLength`?"),
        "unsupported_keyword.yaml:20:26: `required` in `ai.run.completed` lists `reslt`, which is not a declared property — did you mean `result`?".to_string(),
        format!("unsupported_keyword.yaml:21:7: unsupported JSON Schema keyword `definitions` in `ai.run.completed` — {SUBSET}; use `$defs` and refs of the form `#/$defs/Name`"),
    ];
    assert_eq!(problems("unsupported_keyword.yaml"), expected);
}

#[test]
fn bad_example() {
    assert_problems(
        "bad_example.yaml",
        &[
            "bad_example.yaml:13:17: example 2 of `ai.run.progress` does not match its schema at `/run_id`: \"not-a-uuid\" is not a \"uuid\" — fix the example or the schema",
            "bad_example.yaml:14:19: example 2 of `ai.run.progress` does not match its schema at `/progress`: 1.5 is greater than the maximum of 1 — fix the example or the schema",
            "bad_example.yaml:15:9: example 3 of `ai.run.progress` does not match its schema: \"run_id\" is a required property — fix the example or the schema",
            "bad_example.yaml:15:9: example 3 of `ai.run.progress` does not match its schema: \"progress\" is a required property — fix the example or the schema",
            "bad_example.yaml:15:15: example 3 of `ai.run.progress` does not match its schema at `/step`: 3 is not of type \"string\" — fix the example or the schema",
        ],
    );
}

/// A `default` is what the generated type holds for an absent property:
/// one its schema refuses would make every event without the property be
/// refused (it used to pass `check`, then fail the build or every event).
#[test]
fn bad_default() {
    const HELP: &str =
        "the generated type holds the default when the property is absent, and validation would refuse it: fix the default or remove it";
    assert_problems(
        "bad_default.yaml",
        &[
            &format!(
                "bad_default.yaml:13:68: the `default` of `ai.job.queued` at /properties/priority does not match its own schema: 1 is less than the minimum of 5 — {HELP}"
            ),
            &format!(
                "bad_default.yaml:26:77: the `default` of `ai.job.labeled` at /properties/labels does not match its own schema at `/0`: \"a\" is shorter than 2 characters — {HELP}"
            ),
        ],
    );
}

/// The lints pass, and the examples match their schemas; the generated
/// code would still refuse one (see the fixture), so generating refuses
/// the catalog, naming the example and the value the type holds.
#[test]
fn an_example_the_generated_code_refuses_fails_generation() {
    let path = fixture_dir().join("refused_example.yaml");
    catalog::load(&path).unwrap_or_else(|e| {
        panic!(
            "the lints pass:
{e}"
        )
    });
    let diags = herald_codegen::generate_file(&path).expect_err("generation refuses the catalog");
    let rendered: Vec<String> =
        diags.0.iter().map(|d| d.to_string().replace(&path.display().to_string(), "refused_example.yaml")).collect();
    assert_eq!(
        rendered,
        ["refused_example.yaml:7:3: example 1 of `ai.job.queued` is refused by the generated code: \
             {\"retries\":3,\"run_id\":\"0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f\",\"tags\":[\"a\"]} has more than 2 properties \
             (`/retries` is absent, and the generated type holds its default `3` there) \
             — the object's rules count the properties its type holds: remove the property's `default`, or allow for it in those rules"]
    );
}

#[test]
fn unknown_key() {
    let keys = "expected one of `description`, `version`, `subject`, `stream_key`, `compatibility`, `fields`, `data` or `examples`";
    let expected = [
        "unknown_key.yaml:2:1: unknown key `prefx` in the catalog — did you mean `prefix`? expected one of `prefix`, `naming`, `compatibility`, `version`, `base_uri`, `envelope`, `extensions`, `events` or `lifecycle`".to_string(),
        format!("unknown_key.yaml:6:5: unknown key `verison` in event `ai.run.started` — did you mean `version`? {keys}"),
        format!("unknown_key.yaml:10:5: unknown key `example` in event `ai.run.started` — did you mean `examples`? {keys}"),
    ];
    assert_eq!(problems("unknown_key.yaml"), expected);
}

#[test]
fn yaml_syntax() {
    assert_problems(
        "yaml_syntax.yaml",
        &[
            "yaml_syntax.yaml:7:13: YAML syntax error: while parsing a flow mapping, did not find expected ',' or '}' — fix the YAML here (check indentation, quotes and brackets)",
        ],
    );
}

#[test]
fn missing_examples() {
    assert_problems(
        "missing_examples.yaml",
        &[
            "missing_examples.yaml:3:3: event `ai.run.started` has no `examples` — add `examples:` with at least one realistic `data` payload",
            "missing_examples.yaml:13:15: `examples` of `ai.run.failed` is empty — list at least one realistic `data` payload under `examples:` (`- run_id: …`)",
        ],
    );
}

#[test]
fn every_problem_of_a_file_is_reported_in_source_order() {
    assert_problems(
        "structural.yaml",
        &[
            "structural.yaml:1:1: the catalog has no `prefix` — add `prefix: ai` (the first segment of every event type)",
            "structural.yaml:1:9: `naming` must be `{prefix}.{domain}.{action}` — Herald enforces this one rule: write `naming: \"{prefix}.{domain}.{action}\"` or remove the line",
            "structural.yaml:3:29: `legacy_extensions_object` must be `true` or `false`, found a string — write `true` or `false`",
            "structural.yaml:5:3: extension name `trace_parent` must be lower-case letters and digits only (CloudEvents) — rename it to `traceparent`",
            "structural.yaml:6:3: extension `time` has the name of a CloudEvents context attribute — choose another name",
            "structural.yaml:7:15: extension `seq` has unsupported type `int` — did you mean `integer`? CloudEvents extensions are `string`, `integer` or `boolean`",
            "structural.yaml:10:18: the `description` of `ai.run.started` is empty — say when the event is sent",
            "structural.yaml:11:14: the `version` of `ai.run.started` must be a positive integer, found 0 — start at `version: 1` and count up",
            "structural.yaml:17:5: event `ai.run.started` has both `fields` and `data` — keep one: the `fields:` shorthand or a full `data:` JSON Schema",
            "structural.yaml:20:3: event `ai.run.failed` has no `description` — add `description:` saying when the event is sent",
            "structural.yaml:20:3: the default stream key `run_id` of `ai.run.failed` is not a property of its data — add a required `run_id` property, set the stream key to one of `error_message`, or declare the stream key `none` for an event that belongs to no run",
            "structural.yaml:21:14: the `version` of `ai.run.failed` must be a positive integer, found a string — start at `version: 1` and count up",
            "structural.yaml:26:3: event `ai.run.canceled` has neither `fields` nor `data` — describe its data with `fields:` (e.g. `run_id: uuid`) or a `data:` JSON Schema",
            "structural.yaml:31:3: key `1` is an integer, not a string — quote it: `\"1\"`",
            "structural.yaml:31:3: event type `1` breaks the naming rule `{prefix}.{domain}.{action}`: it has 1 segment, not 3 — name it `{prefix}.{domain}.{action}` with lower snake case segments, e.g. `ai.run.started`",
            "structural.yaml:31:6: event `1` must be a mapping, found a string — give it `description`, `version`, `fields` (or `data`) and `examples`",
        ],
    );
}

#[test]
fn subject_and_stream_key_must_name_required_properties() {
    let yaml = "prefix: ai\nevents:\n  ai.run.started:\n    description: d\n    version: 1\n    subject: \"run/{runid}/{note}\"\n    stream_key: note\n    fields: {run_id: uuid, note?: string}\n    examples: [{run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10}]\n";
    let diags = catalog::parse("s.yaml", yaml).unwrap_err();
    let lines: Vec<String> = diags.0.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "s.yaml:6:14: the `subject` of `ai.run.started` uses `{runid}`, which is not a property of its data — did you mean `{run_id}`?",
            "s.yaml:6:14: the `subject` of `ai.run.started` uses `{note}`, but `note` is optional — make it required so every event has a subject",
            "s.yaml:7:17: `stream_key` `note` of `ai.run.started` is an optional property — make it required (the event names the run it belongs to), or declare the stream key `none` for an event that belongs to no run",
        ]
    );
}

/// `stream_key: none`: an event that belongs to no run needs no `run_id`,
/// but cannot move a run's status.
#[test]
fn an_event_may_belong_to_no_run() {
    let event = "  ai.user.signed_up:\n    description: d\n    version: 1\n    stream_key: none\n    fields: {user_id: string}\n    examples: [{user_id: u1}]\n";
    let catalog = catalog::parse("s.yaml", &format!("prefix: ai\nevents:\n{event}")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(catalog.events[0].stream_key, None);

    let lifecycle = "lifecycle:\n  states: [new, active]\n  initial: new\n  terminal: [active]\n  transitions:\n    - {on: ai.user.signed_up, from: [new], to: active}\n";
    let diags = catalog::parse("s.yaml", &format!("prefix: ai\nevents:\n{event}{lifecycle}")).unwrap_err();
    let lines: Vec<String> = diags.0.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "s.yaml:14:12: transition 1 (`ai.user.signed_up`): `ai.user.signed_up` belongs to no run (`stream_key: none`) — a transition moves a run's status: give the event a stream key (`run_id`), or remove the transition"
        ]
    );
}

/// Any JSON property name is accepted (camelCase, keywords, dashes); only
/// names that share a Rust field after the mapping are refused, naming
/// both JSON names and the field, wherever the object is: the shorthand,
/// a nested object, a `$defs` entry, beside typify's `extra` field.
#[test]
fn only_property_names_sharing_a_rust_field_are_refused() {
    let fine = "prefix: ai\nevents:\n  ai.run.named:\n    description: d\n    version: 1\n    stream_key: runId\n    subject: \"run/{runId}\"\n    \
                fields: {runId: uuid, type: string, self?: string, match?: integer, dash-name?: string, HTTPStatus?: integer}\n    \
                examples: [{runId: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10, type: t}]\n";
    let catalog = catalog::parse("n.yaml", fine).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(catalog.events[0].stream_key.as_deref(), Some("runId"));

    let clashing = "prefix: ai\nevents:\n  ai.run.clashing:\n    description: d\n    version: 1\n    data:\n      type: object\n      \
                    properties:\n        run_id: {type: string}\n        nested:\n          type: object\n          \
                    properties: {fooBar: {type: string}, foo-bar: {type: string}}\n        \
                    open: {type: object, properties: {extra: {type: string}}, additionalProperties: {type: string}}\n        \
                    item: {$ref: \"#/$defs/Item\"}\n      required: [run_id]\n      \
                    $defs:\n        Item: {type: object, properties: {self: {type: string}, Self: {type: string}}}\n    \
                    examples: [{run_id: r}]\n  ai.run.short:\n    description: d\n    version: 1\n    \
                    fields: {run_id: string, runId?: string}\n    examples: [{run_id: r}]\n";
    let diags = catalog::parse("c.yaml", clashing).unwrap_err();
    let lines: Vec<String> = diags.0.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "c.yaml:12:48: properties `fooBar` and `foo-bar` in `ai.run.clashing` at /properties/nested/properties/foo-bar both become the Rust field `foo_bar` — rename one of them: JSON names that differ only in case or punctuation share a snake case Rust field",
            "c.yaml:13:43: property `extra` in `ai.run.clashing` at /properties/open/properties/extra becomes the Rust field `extra`, which holds the undeclared properties (`additionalProperties`) — rename the property",
            "c.yaml:17:65: properties `self` and `Self` in `ai.run.clashing` at /$defs/Item/properties/Self both become the Rust field `self_` — rename one of them: JSON names that differ only in case or punctuation share a snake case Rust field",
            "c.yaml:22:30: properties `run_id` and `runId` in `ai.run.short` at /properties/runId both become the Rust field `run_id` — rename one of them: JSON names that differ only in case or punctuation share a snake case Rust field",
        ]
    );
}

#[test]
fn load_names_the_file_as_given() {
    let path = fixture_dir().join("yaml_syntax.yaml");
    let diags = catalog::load(&path).unwrap_err();
    assert!(diags.0[0].to_string().starts_with(&format!("{}:7:13: ", path.display())), "{diags}");

    let missing = PathBuf::from("/nonexistent/events.yaml");
    let diags = catalog::load(&missing).unwrap_err();
    assert_eq!(diags.0.len(), 1);
    assert!(diags.0[0].to_string().starts_with("/nonexistent/events.yaml: cannot read the catalog:"), "{diags}");
}

#[test]
fn empty_and_non_mapping_files_are_diagnosed() {
    for (text, expected) in [
        ("", "e.yaml:1:1: the catalog is empty — start with `prefix: ai` and an `events:` mapping"),
        ("# only a comment\n", "e.yaml:1:1: the catalog is empty — start with `prefix: ai` and an `events:` mapping"),
        ("- a\n- b\n", "e.yaml:1:1: the catalog must be a mapping, found a sequence — start with `prefix: ai` and an `events:` mapping"),
    ] {
        let diags = catalog::parse("e.yaml", text).unwrap_err();
        assert_eq!(diags.to_string(), expected);
    }
}

/// A tiny deterministic generator, so the fuzz-ish inputs are reproducible.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn must_not_panic(text: &str) {
    let result = std::panic::catch_unwind(|| catalog::parse("fuzz.yaml", text));
    match result {
        Ok(Ok(_)) => {}
        Ok(Err(diags)) => assert!(!diags.0.is_empty()),
        Err(_) => panic!("parse panicked on {text:?}"),
    }
}

#[test]
fn broken_input_gives_diagnostics_not_panics() {
    let text = std::fs::read_to_string(project_catalog()).unwrap();
    // Truncations: at every line end and at a stride inside lines.
    let cuts = text.char_indices().filter(|(i, c)| *c == '\n' || i % 17 == 0).map(|(i, _)| i);
    for cut in cuts {
        must_not_panic(&text[..cut]);
    }
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    // Random strings over YAML's syntax characters.
    let alphabet = b"{}[]:-,?&*!|>'\"#%@`\\ \n\t.~0123456789abcxyzAI_<>$/";
    for _ in 0..400 {
        let len = (rng.next() % 200) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| alphabet[(rng.next() % alphabet.len() as u64) as usize]).collect();
        must_not_panic(&String::from_utf8_lossy(&bytes));
    }
    // Random byte mutations of the real catalog.
    let base = text.as_bytes();
    for _ in 0..150 {
        let mut bytes = base.to_vec();
        for _ in 0..(1 + rng.next() % 4) {
            let at = (rng.next() % bytes.len() as u64) as usize;
            bytes[at] = (rng.next() % 256) as u8;
        }
        must_not_panic(&String::from_utf8_lossy(&bytes));
    }
}

// ── lifecycle ──────────────────────────────────────────────────────────────

/// Every state named in `initial`, `terminal`, `from` and `to` must be declared in `states`.
#[test]
fn lifecycle_unknown_state() {
    assert_problems(
        "lifecycle_unknown_state.yaml",
        &[
            "lifecycle_unknown_state.yaml:24:12: unknown state `queud` in `initial` — did you mean `queued`? expected one of `queued`, `running`, `completed` or `canceled`",
            "lifecycle_unknown_state.yaml:25:25: unknown state `cancelled` in `terminal` — did you mean `canceled`? expected one of `queued`, `running`, `completed` or `canceled`",
            "lifecycle_unknown_state.yaml:25:36: unknown state `archived` in `terminal` — add it to `states:`, or use one of `queued`, `running`, `completed` or `canceled`",
            "lifecycle_unknown_state.yaml:27:48: unknown state `runing` in `to` of transition 1 (`ai.run.started`) — did you mean `running`? expected one of `queued`, `running`, `completed` or `canceled`",
            "lifecycle_unknown_state.yaml:28:46: unknown state `paused` in `from` of transition 2 (`ai.run.completed`) — add it to `states:`, or use one of `queued`, `running`, `completed` or `canceled`",
        ],
    );
}

/// `on` must name an event type of the catalog.
#[test]
fn lifecycle_unknown_event() {
    assert_problems(
        "lifecycle_unknown_event.yaml",
        &[
            "lifecycle_unknown_event.yaml:27:12: `on` names `ai.run.start`, which is not an event type of this catalog — did you mean `ai.run.started`?",
            "lifecycle_unknown_event.yaml:28:12: `on` names `ai.job.finished`, which is not an event type of this catalog — declare it under `events:` first, or name one of the catalog's event types",
        ],
    );
}

/// Terminal states are final: no transition may list one under `from`.
#[test]
fn lifecycle_transition_out_of_a_terminal_state() {
    assert_problems(
        "lifecycle_terminal.yaml",
        &[
            "lifecycle_terminal.yaml:27:43: transition 1 (`ai.run.started`) leaves the terminal state `canceled` — terminal states are final: remove `canceled` from `from:`, or from `terminal:` if runs may leave it",
            "lifecycle_terminal.yaml:30:31: transition 3 (`ai.run.canceled`) leaves the terminal state `completed` — terminal states are final: remove `completed` from `from:`, or from `terminal:` if runs may leave it",
        ],
    );
}

/// `when` must test required string, enum or boolean properties of the event, with values their schema allows.
#[test]
fn lifecycle_when_tests_required_string_or_boolean_properties() {
    assert_problems(
        "lifecycle_when.yaml",
        &[
            "lifecycle_when.yaml:27:35: `when` of transition 1 tests `run_ud`, which is not a property of `ai.run.started` — did you mean `run_id`?",
            "lifecycle_when.yaml:28:45: `when` of transition 2: `result` of `ai.run.completed` can never be `succes` — did you mean `success`? its values are `success` or `failure`",
            "lifecycle_when.yaml:29:45: `when` of transition 3: `result` of `ai.run.completed` is a string, but `when` gives an integer — quote the value: `\"…\"`",
            "lifecycle_when.yaml:30:37: `when` of transition 4 tests `passed`, an optional property of `ai.run.completed` — test a required property (`run_id`, `result` or `attempts`), or make `passed` required: an absent value matches no `when`",
            "lifecycle_when.yaml:31:47: `when` of transition 5: `attempts` of `ai.run.completed` is an integer; `when` can test only strings, enums and booleans — test a string, enum or boolean property, or declare a separate event type for each outcome",
            "lifecycle_when.yaml:32:45: `when` of transition 6: `run_id` of `ai.run.completed` can never be `not-a-uuid`: \"not-a-uuid\" is not a \"uuid\" — use a value its schema allows",
        ],
    );
}

/// Two transitions of one event must not both match the same data, whatever their `from`.
#[test]
fn lifecycle_ambiguous_transitions() {
    assert_problems(
        "lifecycle_ambiguous.yaml",
        &[
            "lifecycle_ambiguous.yaml:28:12: transitions 1 and 2 of `ai.run.started` both match every event, so which one applies is ambiguous — give them `when` conditions that exclude each other (the same property, different values); if only `from` differs, merge them into one transition listing every state under `from:`",
            "lifecycle_ambiguous.yaml:31:12: transitions 3 and 5 of `ai.run.completed` both match data with `result` = `success`, so which one applies is ambiguous — give them `when` conditions that exclude each other (the same property, different values); if only `from` differs, merge them into one transition listing every state under `from:`",
            "lifecycle_ambiguous.yaml:33:12: transitions 6 and 7 of `ai.run.canceled` both match data with `run_id` = `0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10`, so which one applies is ambiguous — give them `when` conditions that exclude each other (the same property, different values); if only `from` differs, merge them into one transition listing every state under `from:`",
        ],
    );
}

/// States are unique lower snake case names that make distinct Rust variants.
#[test]
fn lifecycle_state_names() {
    assert_problems(
        "lifecycle_state_names.yaml",
        &[
            "lifecycle_state_names.yaml:23:20: state `Running` is not lower snake case — rename it to `running`; states are lower snake case, as they appear on the wire",
            "lifecycle_state_names.yaml:23:29: state `in-review` is not lower snake case — rename it to `in_review`; states are lower snake case, as they appear on the wire",
            "lifecycle_state_names.yaml:23:40: state `queued` is declared twice; the first is at line 23 — remove one of them",
            "lifecycle_state_names.yaml:23:48: state `self` would become the Rust variant `Self`, a keyword — choose another name",
            "lifecycle_state_names.yaml:23:62: states `step_1` and `step1` both become the Rust variant `RunStatus::Step1` — rename one of them",
        ],
    );
}

/// An empty `states` is reported once, without a follow-on report for every state named elsewhere.
#[test]
fn lifecycle_empty_states() {
    assert_problems(
        "lifecycle_empty_states.yaml",
        &[
            "lifecycle_empty_states.yaml:23:11: `states` of `lifecycle` is empty — list the statuses a run can be in, e.g. `states: [queued, running, completed]`",
        ],
    );
}

/// Every state is reachable, only terminal states are dead ends, and the initial state is not terminal.
#[test]
fn lifecycle_reachability() {
    assert_problems(
        "lifecycle_reachability.yaml",
        &[
            "lifecycle_reachability.yaml:24:29: state `paused` is never reached: it is not `initial` and no transition has `to: paused` — add a transition into it, or remove the state",
            "lifecycle_reachability.yaml:24:29: state `paused` is a dead end: no transition leaves it, but it is not `terminal` — add a transition out of it, or list it under `terminal:`",
            "lifecycle_reachability.yaml:24:48: state `canceled` is never reached: it is not `initial` and no transition has `to: canceled` — add a transition into it, or remove the state",
            "lifecycle_reachability.yaml:25:12: the initial state `queued` is terminal, so no event could ever move a run — remove it from `terminal:` or choose another `initial:` state",
            "lifecycle_reachability.yaml:28:35: transition 1 (`ai.run.started`) leaves the terminal state `queued` — terminal states are final: remove `queued` from `from:`, or from `terminal:` if runs may leave it",
        ],
    );
}

/// The shape of `lifecycle:`: required keys, YAML kinds and unknown keys.
#[test]
fn lifecycle_structure() {
    assert_problems(
        "lifecycle_structure.yaml",
        &[
            "lifecycle_structure.yaml:22:1: `lifecycle` has no `initial` state — add `initial: queued`: the status of a run before any event",
            "lifecycle_structure.yaml:23:3: unknown key `descripton` in `lifecycle` — did you mean `description`? expected one of `description`, `states`, `initial`, `terminal` or `transitions`",
            "lifecycle_structure.yaml:25:13: `terminal` of `lifecycle` must be a sequence of state names, found a string — write a list, e.g. `[queued, running]`",
            "lifecycle_structure.yaml:27:7: transition 1 of `lifecycle` must be a mapping, found a string — write `{on: ai.run.started, from: [queued], to: running}`",
            "lifecycle_structure.yaml:28:34: `from` of transition 2 is empty — list the states the transition is legal from, e.g. `from: [queued]`",
            "lifecycle_structure.yaml:28:51: unknown key `unless` in transition 2 — expected one of `on`, `when`, `from` or `to`",
            "lifecycle_structure.yaml:29:7: transition 3 has no `to` — add `to:` naming the state the transition moves a run to, e.g. `to: running`",
            "lifecycle_structure.yaml:29:36: `when` of transition 3 must be a mapping, found a sequence — name a property and the value it must have, e.g. `when: {result: success}`",
            "lifecycle_structure.yaml:30:36: `when` of transition 4 is empty — name a property and the value it must have, e.g. `when: {result: success}`, or remove `when`",
            "lifecycle_structure.yaml:30:61: `to` of transition 4 must be a string, found a sequence — write it as text (quote it if needed)",
        ],
    );
}

/// A catalog from the shared events of the lifecycle fixtures plus `tail`.
fn with_events(tail: &str) -> String {
    let base = std::fs::read_to_string(fixture_dir().join("lifecycle_terminal.yaml")).expect("fixture exists");
    let events = &base[..base.find("lifecycle:").expect("the fixture has a lifecycle")];
    format!("{events}{tail}")
}

fn inline_problems(text: &str) -> Vec<String> {
    match catalog::parse("l.yaml", text) {
        Ok(_) => panic!("should not pass the lints:\n{text}"),
        Err(diags) => diags.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn lifecycle_must_be_a_mapping_with_states_and_transitions() {
    assert_eq!(
        inline_problems(&with_events("lifecycle: [queued]\n")),
        [
            "l.yaml:22:12: `lifecycle` must be a mapping, found a sequence — give it `states`, `initial`, `terminal` and `transitions` (see the catalog format)"
        ]
    );
    assert_eq!(
        inline_problems(&with_events("lifecycle:\n  initial: queued\n")),
        [
            "l.yaml:22:1: `lifecycle` has no `states` — list the statuses a run can be in, e.g. `states: [queued, running, completed]`",
            "l.yaml:22:1: `lifecycle` has no `transitions` — list which event moves a run from which states to which: `- {on: ai.run.started, from: [queued], to: running}`",
        ]
    );
}

#[test]
fn lifecycle_names_must_not_clash_with_generated_types() {
    let yaml = "prefix: ai\nevents:\n  ai.run.status:\n    description: d\n    version: 1\n    fields: {run_id: uuid}\n    examples: [{run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10}]\n\
        lifecycle:\n  states: [queued, done]\n  initial: queued\n  terminal: [done]\n  transitions:\n    - {on: ai.run.status, from: queued, to: done}\n";
    assert_eq!(
        inline_problems(yaml),
        [
            "l.yaml:3:3: `ai.run.status` declares the Rust type `RunStatus`, which `lifecycle` generates too — rename the event type or definition"
        ]
    );
}

#[test]
fn a_sound_lifecycle_reaches_the_ir() {
    let yaml = with_events(
        "lifecycle:\n  states: [queued, running, done, dropped]\n  initial: queued\n  terminal: [done, dropped]\n  transitions:\n\
         \x20   - {on: ai.run.started, from: queued, to: running}\n\
         \x20   - {on: ai.run.completed, when: {result: success}, from: [running], to: done}\n\
         \x20   - {on: ai.run.completed, when: {result: failure}, from: [running], to: dropped}\n\
         \x20   - {on: ai.run.canceled, from: [queued, running], to: dropped}\n",
    );
    let catalog = catalog::parse("l.yaml", &yaml).unwrap_or_else(|e| panic!("{e}"));
    let lc = catalog.lifecycle.expect("the lifecycle is read");
    assert_eq!(lc.description, "Status of a run.", "the default description");
    assert_eq!(lc.states, ["queued", "running", "done", "dropped"]);
    assert_eq!(lc.initial, "queued");
    assert_eq!(lc.terminal, ["done", "dropped"]);
    assert_eq!(lc.transitions.len(), 4);
    assert_eq!(lc.transitions[0].from, ["queued"], "a single `from` state may be a scalar");
    assert_eq!(lc.transitions[1].when, [("result".to_string(), serde_json::json!("success"))].into_iter().collect());
    assert!(lc.is_terminal("dropped") && !lc.is_terminal("running"));
    assert_eq!(lc.transitions_on("ai.run.completed").count(), 2);
}

#[test]
fn the_project_catalog_declares_the_run_lifecycle() {
    let catalog = catalog::load(&project_catalog()).unwrap_or_else(|e| panic!("events.yaml must load:\n{e}"));
    let lc = catalog.lifecycle.expect("events.yaml declares a lifecycle");
    assert_eq!(lc.states, ["queued", "running", "completed", "failed", "canceled"]);
    assert_eq!(lc.initial, "queued");
    assert_eq!(lc.terminal, ["completed", "failed", "canceled"]);
    let moves: Vec<(&str, Option<&str>, Vec<&str>, &str)> = lc
        .transitions
        .iter()
        .map(|t| {
            let when = t.when.get("result").and_then(|v| v.as_str());
            (t.on.as_str(), when, t.from.iter().map(String::as_str).collect(), t.to.as_str())
        })
        .collect();
    assert_eq!(
        moves,
        [
            ("ai.run.started", None, vec!["queued"], "running"),
            ("ai.run.completed", Some("success"), vec!["running"], "completed"),
            ("ai.run.completed", Some("failure"), vec!["running"], "failed"),
            ("ai.run.failed", None, vec!["queued", "running"], "failed"),
            ("ai.run.canceled", None, vec!["queued", "running"], "canceled"),
        ]
    );
}

#[test]
fn lifecycle_states_listed_twice() {
    let yaml = with_events(
        "lifecycle:\n  states: [queued, running, done]\n  initial: queued\n  terminal: [done, done]\n  transitions:\n\
         \x20   - {on: ai.run.started, from: [queued, queued], to: running}\n\
         \x20   - {on: ai.run.completed, from: [running], to: done}\n",
    );
    assert_eq!(
        inline_problems(&yaml),
        [
            "l.yaml:25:20: state `done` is listed twice in `terminal` — remove one of them",
            "l.yaml:27:43: state `queued` is listed twice in `from` of transition 1 (`ai.run.started`) — remove one of them",
        ]
    );
}

/// A `pattern` or length on a `date-time` or `uuid` string was silently
/// dropped (the value decodes into a typed value): `+02:00` passed
/// `pattern: 'Z$'`. Now a lint; other formats keep their rules.
#[test]
fn typed_format_rules() {
    let help = |format: &str, key: &str| {
        format!(
            "Herald decodes `{format}` into a typed value and does not check its text; remove `{key}`, or remove `format` and keep `{key}` (then the value is a plain string)"
        )
    };
    let expected = [
        format!(
            "typed_format_rules.yaml:7:44: `pattern` on a `format: uuid` string in `ai.run.started` at /properties/run_id would not be checked — {}",
            help("uuid", "pattern")
        ),
        format!(
            "typed_format_rules.yaml:8:45: `pattern` on a `format: date-time` string in `ai.run.started` at /properties/at would not be checked — {}",
            help("date-time", "pattern")
        ),
        format!(
            "typed_format_rules.yaml:8:60: `maxLength` on a `format: date-time` string in `ai.run.started` at /properties/at would not be checked — {}",
            help("date-time", "maxLength")
        ),
    ];
    assert_eq!(problems("typed_format_rules.yaml"), expected);
}

/// `1000.0` or `1e3` for an `integer`: JSON Schema accepts it, Herald's
/// decoding does not, so `herald check` must refuse the example.
#[test]
fn integral_float_example() {
    let msg = |line: usize, col: usize, n: usize, at: &str, float: &str, int: &str| {
        format!(
            "integral_float_example.yaml:{line}:{col}: example {n} of `ai.run.stage_started` does not match its schema at `{at}`: `{float}` is a float, and Herald's decoding takes an `integer` only written as one (JSON Schema alone would accept it); write `{int}` — fix the example or the schema"
        )
    };
    let expected = [
        msg(12, 79, 1, "/stage_index", "1000.0", "1000"),
        msg(13, 79, 2, "/stage_index", "1000.0", "1000"),
        msg(13, 95, 2, "/sizes/1", "2.0", "2"),
    ];
    assert_eq!(problems("integral_float_example.yaml"), expected);
}

/// One event type with `data_fields` (the `fields:` shorthand, flow style)
/// and `example`, under the catalog-level `head`.
fn one_event(head: &str, subject: &str, data_fields: &str, example: &str) -> String {
    format!(
        "prefix: ai\n{head}events:\n  ai.run.started:\n    description: d\n    version: 1\n    subject: \"{subject}\"\n    fields: {data_fields}\n    examples: [{example}]\n"
    )
}

const RUN: &str = "run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10";

#[test]
fn envelope_rules_are_read_and_linted() {
    let good = one_event(
        "envelope:\n  required: [time, subject]\n  datacontenttype: Application/JSON\n  subject_matches_template: true\nextensions:\n  seq: {type: integer, format: int64}\n  n: {type: integer, format: int32}\n",
        "run/{run_id}",
        "{run_id: uuid}",
        &format!("{{{RUN}}}"),
    );
    let c = catalog::parse("e.yaml", &good).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.envelope.required, ["subject", "time"], "sorted");
    assert_eq!(c.envelope.datacontenttype.as_deref(), Some("application/json"), "as its essence");
    assert!(c.envelope.subject_matches_template);
    assert_eq!(c.envelope.int64_extensions, ["seq"]);
    let plain = catalog::parse("e.yaml", &one_event("", "run/{run_id}", "{run_id: uuid}", &format!("{{{RUN}}}"))).unwrap();
    assert_eq!(plain.envelope, herald_codegen::__private::ir::EnvelopeOptions::default(), "all off unless written");

    let bad = one_event(
        "envelope:\n  required: [id, subjet, time, time]\n  datacontenttype: text/plain\n  subject_matches_template: yes\nextensions:\n  seq: {type: integer, format: int128}\n  tag: {type: string, format: int64}\n",
        "run/{run_id}",
        "{run_id: uuid}",
        &format!("{{{RUN}}}"),
    );
    assert_eq!(
        inline_problems_named("e.yaml", &bad),
        [
            "e.yaml:3:14: `id` is always required by CloudEvents — remove `id`; list only `datacontenttype`, `dataschema`, `subject` or `time`",
            "e.yaml:3:18: `subjet` is not an optional CloudEvents attribute — did you mean `subject`? the optional attributes are `datacontenttype`, `dataschema`, `subject` or `time`",
            "e.yaml:3:32: `time` is listed twice in `envelope.required` — list it once",
            "e.yaml:4:20: `envelope.datacontenttype` `text/plain` is not a JSON media type without parameters — event data is JSON: write `datacontenttype: application/json` (or another `+json` type)",
            "e.yaml:5:29: `subject_matches_template` must be `true` or `false`, found a string — write `true` or `false`",
            "e.yaml:7:32: extension `seq` has unknown integer format `int128` — write `format: int64` for a 64-bit integer (the default, `int32`, is CloudEvents' Integer)",
            "e.yaml:8:31: extension `tag` has a `format`, but only integer extensions have one — remove `format`, or make it `type: integer`",
        ]
    );
}

#[test]
fn subject_check_needs_string_placeholders() {
    let head = "envelope: {subject_matches_template: true}\n";
    assert_eq!(
        inline_problems_named("e.yaml", &one_event(head, "run/{n}", "{run_id: uuid, n: integer}", &format!("{{{RUN}, n: 3}}"))),
        [
            "e.yaml:4:3: the `subject` of `ai.run.started` uses `{n}`, which is not a string property, but `envelope.subject_matches_template` compares text — make `n` a string (e.g. `uuid` or `string`), or turn `subject_matches_template` off"
        ]
    );
    // Off, a number is fine; on, strings and string enums are.
    catalog::parse("e.yaml", &one_event("", "run/{n}", "{run_id: uuid, n: integer}", &format!("{{{RUN}, n: 3}}"))).unwrap();
    catalog::parse(
        "e.yaml",
        &one_event(head, "run/{run_id}/{k}", "{run_id: uuid, k: {type: string, enum: [a, b]}}", &format!("{{{RUN}, k: a}}")),
    )
    .unwrap();
}

#[test]
fn base_uri_must_be_absolute() {
    let c = catalog::parse(
        "e.yaml",
        &one_event("base_uri: https://schemas.example.com/v1\n", "run/{run_id}", "{run_id: uuid}", &format!("{{{RUN}}}")),
    )
    .unwrap();
    assert_eq!(c.base_uri.as_deref(), Some("https://schemas.example.com/v1/"), "one trailing slash");
    assert_eq!(
        inline_problems_named("e.yaml", &one_event("base_uri: schemas/v1\n", "run/{run_id}", "{run_id: uuid}", &format!("{{{RUN}}}"))),
        [
            "e.yaml:2:11: `base_uri` `schemas/v1` is not an absolute URI — write the full URI the schemas are published under, e.g. `https://schemas.example.com/events/`"
        ]
    );
}

#[test]
fn utc_only_date_times() {
    let fields = "{run_id: uuid, at: utc_datetime, also: {type: string, format: date-time, offset: utc-only}}";
    let c = catalog::parse(
        "e.yaml",
        &one_event("", "run/{run_id}", fields, &format!("{{{RUN}, at: \"2024-05-01T12:00:00Z\", also: \"2024-05-01t12:00:00z\"}}")),
    )
    .unwrap();
    let props = &c.events[0].schema["properties"];
    assert_eq!(props["at"], serde_json::json!({"type": "string", "format": "date-time", "offset": "utc-only"}));
    // An example with an offset is refused: the generated decoder would refuse it.
    let problems = inline_problems_named(
        "e.yaml",
        &one_event("", "run/{run_id}", fields, &format!("{{{RUN}, at: \"2024-05-01T12:00:00+00:00\", also: \"2024-05-01T12:00:00Z\"}}")),
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("/at"), "{problems:?}");
    // `offset` only on a date-time, and only its two values.
    assert_eq!(
        inline_problems_named(
            "e.yaml",
            &one_event(
                "",
                "run/{run_id}",
                "{run_id: uuid, d: {type: string, format: date, offset: utc-only}, t: {type: string, format: date-time, offset: local}}",
                &format!("{{{RUN}}}")
            )
        ),
        [
            "e.yaml:7:60: `offset` in `ai.run.started` at /properties/d applies to `format: date-time` strings only — add `format: date-time`, or remove `offset`",
            "e.yaml:7:124: unknown `offset` `local` in `ai.run.started` at /properties/t — write `offset: utc-only` (only `Z`, as Zod's `z.iso.datetime()`), or `offset: any` (the default: any RFC 3339 offset)",
        ]
    );
}

fn inline_problems_named(name: &str, text: &str) -> Vec<String> {
    match catalog::parse(name, text) {
        Ok(_) => panic!("should not pass the lints:\n{text}"),
        Err(diags) => diags.0.iter().map(ToString::to_string).collect(),
    }
}

/// `$ref`s are followed to their end (one resolver, `defs::resolve`): a
/// placeholder whose ref leads through another definition to a string is a
/// string property.
#[test]
fn subject_check_follows_ref_chains() {
    let yaml = "prefix: ai\nenvelope: {subject_matches_template: true}\nevents:\n  ai.run.started:\n    description: d\n    version: 1\n    subject: \"run/{run_id}\"\n    data:\n      type: object\n      required: [run_id]\n      properties: {run_id: {$ref: \"#/$defs/RunId\"}}\n      $defs:\n        RunId: {$ref: \"#/$defs/Uuid\"}\n        Uuid: {type: string, format: uuid}\n    examples: [{run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10}]\n";
    if let Err(e) = catalog::parse("r.yaml", yaml) {
        panic!("{e}");
    }
}

/// Every way a `oneOf` can fail to be a tagged union, each said with its
/// JSON pointer (`tagged::problems`), and `anyOf` refused with what is
/// supported.
#[test]
fn tagged_unions() {
    const UNIONS: &str = "Herald supports tagged unions: a `oneOf` of inline object schemas, each requiring the same tag property with a constant string (`kind: {const: file}`), optionally with `discriminator: {propertyName: kind}`";
    let expected = [
        format!("unions.yaml:12:17: `type` beside `oneOf` in `ai.job.queued` at /properties/target — a union stands alone: keep only `oneOf`, `discriminator`, `description` and `title` (each branch says `type: object` and its properties); {UNIONS}"),
        "unions.yaml:15:67: branches 1 and 2 of the union in `ai.job.queued` at /properties/target both have the tag `kind` = `file` — give each branch its own tag value".to_string(),
        "unions.yaml:16:67: the tag values `file` (branch 1) and `File` (branch 3) of the union in `ai.job.queued` at /properties/target both become the Rust variant `File` — rename one of them: tag values that differ only in case or punctuation share a variant".to_string(),
        "unions.yaml:18:85: branch 2 of the union in `ai.job.queued` at /properties/mixed is not an object schema — give it `type: object` and `properties`".to_string(),
        format!("unions.yaml:21:13: the union in `ai.job.queued` at /properties/source has no tag: no property is a required constant string in every branch (branch 1 has `kind`, branch 2 has `type`) — give every branch the same required tag property with its own constant, e.g. `kind: {{const: file}}`; {UNIONS}"),
        "unions.yaml:27:60: branch 2 of the union in `ai.job.queued` at /properties/sink has no tag property `kind` — the `discriminator` names `kind`, but this branch tags with `type`: use one tag property in every branch".to_string(),
        "unions.yaml:28:15: the tag `kind` of branch 3 of the union in `ai.job.queued` at /properties/sink is not required — add `kind` to the branch's `required`".to_string(),
        "unions.yaml:28:49: the tag `kind` of branch 3 of the union in `ai.job.queued` at /properties/sink has rules besides its constant — write only `kind: {const: c}` (a `description` is fine)".to_string(),
        "unions.yaml:29:67: the tag `kind` of branch 4 of the union in `ai.job.queued` at /properties/sink is not a constant string — write `kind: {const: <value>}` (or a one-value `enum`)".to_string(),
        "unions.yaml:29:106: `additionalProperties` in branch 4 of the union in `ai.job.queued` at /properties/sink is `true` — a branch may only forbid unknown properties (`additionalProperties: false`) or say nothing".to_string(),
        format!("unions.yaml:30:18: unsupported JSON Schema keyword `anyOf` in `ai.job.queued` at /properties/either — {SUBSET}; model alternatives as a tagged union (a `oneOf` of objects that each require a tag property with its own `const`, e.g. `kind: {{const: file}}`), an `enum`, or separate event types"),
        format!("unions.yaml:31:18: `discriminator` in `ai.job.queued` at /properties/lonely is not beside a `oneOf` — {UNIONS}; remove it, or add the `oneOf` it names the tag of"),
        format!("unions.yaml:34:13: `oneOf` in `ai.job.queued` at /properties/single has 1 branch(es) — a union has at least two branches; {UNIONS}"),
        "unions.yaml:38:22: branch 1 of the union in `ai.job.queued` at /$defs/Step is a `$ref` — write the branch inline (a `$ref` to the whole union is fine)".to_string(),
        "unions.yaml:39:87: unknown type `integr` in `ai.job.queued` at /$defs/Step/oneOf/1/properties/n — did you mean `integer`? supported types are `object`, `string`, `number`, `integer`, `boolean` or `array`".to_string(),
    ];
    assert_problems("unions.yaml", &expected.iter().map(String::as_str).collect::<Vec<_>>());
}

/// A sound union, inline or under `$defs`, with or without a
/// `discriminator`, passes and reaches the IR as written.
#[test]
fn a_tagged_union_reaches_the_ir() {
    let yaml = r##"prefix: ai
events:
  ai.job.queued:
    description: d
    version: 1
    stream_key: none
    data:
      type: object
      required: [target]
      properties:
        target:
          description: Where the job reads from.
          oneOf:
            - {type: object, required: [kind, path], properties: {kind: {const: file}, path: {type: string, minLength: 1}}}
            - {type: object, required: [kind], properties: {kind: {type: string, enum: [none]}}}
        step: {$ref: "#/$defs/Step"}
      $defs:
        Step:
          discriminator: {propertyName: op}
          oneOf:
            - {type: object, required: [op, n], properties: {op: {const: add}, n: {type: integer}}, additionalProperties: false}
            - {type: object, required: [op], properties: {op: {const: stop, description: Stops.}}, additionalProperties: false}
    examples:
      - target: {kind: file, path: /tmp/x}
        step: {op: add, n: 2}
      - target: {kind: none}
"##;
    let catalog = catalog::parse("u.yaml", yaml).unwrap_or_else(|e| panic!("{e}"));
    let schema = &catalog.events[0].schema;
    assert_eq!(schema["properties"]["target"]["oneOf"][1]["properties"]["kind"], serde_json::json!({"type": "string", "enum": ["none"]}));
    assert_eq!(schema["$defs"]["Step"]["discriminator"], serde_json::json!({"propertyName": "op"}));
    // An example whose tag names no branch, or whose branch breaks a rule,
    // is refused like any other.
    let bad = yaml.replace("{kind: none}", "{kind: nothing}").replace("path: /tmp/x", "path: \"\"");
    // (jsonschema says only that no branch matched: the lint says what the
    // branch the tag names refuses, or that it names none.)
    assert_eq!(
        inline_problems_named("u.yaml", &bad),
        [
            "u.yaml:24:36: example 1 of `ai.job.queued` does not match its schema at `/target/path`: \"\" is shorter than 1 character — fix the example or the schema",
            "u.yaml:26:24: example 2 of `ai.job.queued` does not match its schema at `/target/kind`: \"nothing\" is not a tag of the union: expected `file` or `none` — fix the example or the schema",
        ]
    );
    let untagged = yaml.replace("{kind: none}", "{path: /a}").replace("{op: add, n: 2}", "{op: add, n: 2, m: 3}");
    assert_eq!(
        inline_problems_named("u.yaml", &untagged),
        [
            "u.yaml:25:15: example 1 of `ai.job.queued` does not match its schema at `/step`: Additional properties are not allowed ('m' was unexpected) — fix the example or the schema",
            "u.yaml:26:17: example 2 of `ai.job.queued` does not match its schema at `/target`: {\"path\":\"/a\"} has no `kind`, the tag that says which of `file` or `none` it is — fix the example or the schema",
        ]
    );
}
