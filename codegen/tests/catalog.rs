//! The catalog loader and its lints, end to end: one fixture per lint in
//! `tests/catalogs/`, each asserting the exact rendered diagnostics
//! (`file:line:col: problem — fix`), plus the project's own `events.yaml`.

use std::path::PathBuf;

use herald_codegen::catalog;

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
    `const`, `format`, `pattern`, `minimum`/`maximum` (and exclusive), `multipleOf`, length, item and property counts, \
    `uniqueItems`, `$ref` to `#/$defs/Name`, `$defs` and annotations (`description`, `title`, `default`, `examples`)";

#[test]
fn the_project_catalog_passes_every_lint() {
    let catalog =
        catalog::load(&project_catalog()).unwrap_or_else(|e| panic!("events.yaml must load:\n{e}"));
    assert_eq!(catalog.prefix, "ai");
    assert_eq!(catalog.events.len(), 22);
    assert!(catalog.envelope.legacy_extensions_object);
    let names: Vec<&str> = catalog.extensions.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["seq", "traceparent"]);
    // Normalized: sorted by type.
    let types: Vec<&str> = catalog
        .events
        .iter()
        .map(|e| e.type_name.as_str())
        .collect();
    let mut sorted = types.clone();
    sorted.sort();
    assert_eq!(types, sorted);
    for event in &catalog.events {
        assert_eq!(event.stream_key, "run_id");
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
    assert_eq!(
        completed.schema["properties"]["metrics"]["$ref"],
        "#/$defs/RunMetrics"
    );
    assert_eq!(
        completed.schema["$defs"]["RunMetrics"]["required"],
        serde_json::json!(["duration_ms", "items_processed"])
    );
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
        format!(
            "unknown_shorthand.yaml:10:16: unknown shorthand type `frobnicate` for field `config` of `ai.run.started` — {types}"
        ),
    ];
    assert_eq!(problems("unknown_shorthand.yaml"), expected);
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
        format!("unsupported_keyword.yaml:11:11: unsupported JSON Schema keyword `oneOf` in `ai.run.completed` at /properties/result — {SUBSET}; model alternatives as separate event types or an `enum`"),
        "unsupported_keyword.yaml:14:22: a list of types in `ai.run.completed` at /properties/note is not supported — use a single type; for an optional value, leave the property out of `required` (`name?:` in the shorthand) instead of allowing `null`".to_string(),
        "unsupported_keyword.yaml:15:9: property `runId` in `ai.run.completed` at /properties/runId is not lower snake case — rename it to `run_id` so the generated Rust field has the same name as the JSON property".to_string(),
        "unsupported_keyword.yaml:16:9: property `type` in `ai.run.completed` at /properties/type is a Rust keyword — rename it (e.g. to `kind`) so the generated Rust field has the same name as the JSON property".to_string(),
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

#[test]
fn unknown_key() {
    let keys = "expected one of `description`, `version`, `subject`, `stream_key`, `fields`, `data` or `examples`";
    let expected = [
        "unknown_key.yaml:2:1: unknown key `prefx` in the catalog — did you mean `prefix`? expected one of `prefix`, `naming`, `envelope`, `extensions` or `events`".to_string(),
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
            "structural.yaml:20:3: the default stream key `run_id` of `ai.run.failed` is not a property of its data — add a required `run_id` property, or set `stream_key:` to one of `error_message`",
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
            "s.yaml:7:17: `stream_key` `note` of `ai.run.started` is an optional property — make it required: every event must name the run stream it belongs to",
        ]
    );
}

#[test]
fn load_names_the_file_as_given() {
    let path = fixture_dir().join("yaml_syntax.yaml");
    let diags = catalog::load(&path).unwrap_err();
    assert!(
        diags.0[0]
            .to_string()
            .starts_with(&format!("{}:7:13: ", path.display())),
        "{diags}"
    );

    let missing = PathBuf::from("/nonexistent/events.yaml");
    let diags = catalog::load(&missing).unwrap_err();
    assert_eq!(diags.0.len(), 1);
    assert!(
        diags.0[0]
            .to_string()
            .starts_with("/nonexistent/events.yaml: cannot read the catalog:"),
        "{diags}"
    );
}

#[test]
fn empty_and_non_mapping_files_are_diagnosed() {
    for (text, expected) in [
        (
            "",
            "e.yaml:1:1: the catalog is empty — start with `prefix: ai` and an `events:` mapping",
        ),
        (
            "# only a comment\n",
            "e.yaml:1:1: the catalog is empty — start with `prefix: ai` and an `events:` mapping",
        ),
        (
            "- a\n- b\n",
            "e.yaml:1:1: the catalog must be a mapping, found a sequence — start with `prefix: ai` and an `events:` mapping",
        ),
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
    let cuts = text
        .char_indices()
        .filter(|(i, c)| *c == '\n' || i % 17 == 0)
        .map(|(i, _)| i);
    for cut in cuts {
        must_not_panic(&text[..cut]);
    }
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    // Random strings over YAML's syntax characters.
    let alphabet = b"{}[]:-,?&*!|>'\"#%@`\\ \n\t.~0123456789abcxyzAI_<>$/";
    for _ in 0..400 {
        let len = (rng.next() % 200) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| alphabet[(rng.next() % alphabet.len() as u64) as usize])
            .collect();
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
