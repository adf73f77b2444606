//! `herald export` checked by the real tools, and the same verdict everywhere.
//!
//! 1. The exports of `events.yaml`, `examples/events.yaml`, the
//!    every-construct fixture (`tests/catalogs/constructs.yaml`) and the
//!    producers' payloads fixture (`tests/catalogs/payloads.yaml`: camelCase,
//!    keyword and dashed property names, an event without a run) and the
//!    tagged unions fixture (`tests/catalogs/unions.yaml`) pass
//!    `tsc --strict`, `mypy --strict` and the official AsyncAPI parser; the
//!    JSON Schema documents pass Python `jsonschema`'s metaschema check.
//! 2. A differential test feeds one case set per catalog through Herald's
//!    generated decoding and validation, the exported JSON Schema (the
//!    `jsonschema` crate, formats asserted), the exported Zod schemas (node)
//!    and the exported pydantic models (python). The cases: the catalog's
//!    examples, generated valid instances each mutated (the generator of
//!    `differential.rs`), and edge cases per constraint (integers written
//!    `1.0` / `1e3`, bounds at and past each limit, every enum value and one
//!    outside, patterns, format edge cases, lengths in astral characters,
//!    array sizes, absent vs `null` optionals, unknown keys, wrong JSON
//!    types). Every case gets the same verdict from all four, or its
//!    disagreement is a row of [`DEVIATIONS`] — the table in the README
//!    ("Exports") — and every row of the table must show up: the test
//!    asserts exactly that table.
//!
//! The tools come from `scripts/test.sh` (see `support::toolchain`).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use herald::EventCatalog;
use herald_codegen::__private::export::{self, Options};
use herald_codegen::__private::ir::Catalog;
use serde_json::{Value, json};
use support::instances::{Generator, Rng, resolve, write_json};
use support::toolchain::{Toolchain, text};

/// The catalogs under test: path from the workspace root, and a short name.
const CATALOGS: [(&str, &str); 5] = [
    ("events.yaml", "events"),
    ("examples/events.yaml", "shop"),
    ("tests/catalogs/constructs.yaml", "constructs"),
    ("tests/catalogs/payloads.yaml", "payloads"),
    ("tests/catalogs/unions.yaml", "unions"),
];

/// Valid instances generated per event type (each mutated 3 times).
const VALID_PER_TYPE: usize = 40;

fn load(path: &str) -> Catalog {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    herald_codegen::__private::catalog::load(&full).unwrap_or_else(|e| panic!("{path} must load:\n{e}"))
}

/// Write the TypeScript and Python exports of a catalog into `dir`.
fn write_exports(dir: &Path, name: &str, catalog: &Catalog) -> (PathBuf, PathBuf) {
    let options = Options::default();
    let ts = dir.join(format!("{name}.ts"));
    let py = dir.join(format!("{name}.py"));
    std::fs::write(&ts, export::typescript::export(catalog, &options)).unwrap();
    std::fs::write(&py, export::python::export(catalog, &options)).unwrap();
    (ts, py)
}

#[test]
fn real_tools_accept_the_exports() {
    let tools = Toolchain::from_env();
    let dir = tools.scratch("tools");
    let options = Options::default();
    let mut ts_files = Vec::new();
    for (path, name) in CATALOGS {
        let catalog = load(path);
        let (ts, py) = write_exports(&dir, name, &catalog);
        ts_files.push(ts.file_name().unwrap().to_string_lossy().into_owned());

        let mypy = tools.python(&dir, &["-m", "mypy", "--strict", "--no-incremental", py.to_str().unwrap()]);
        assert!(mypy.status.success(), "mypy --strict rejects the Python export of {path}:\n{}", text(&mypy));

        let yaml = dir.join(format!("{name}.asyncapi.yaml"));
        std::fs::write(&yaml, export::asyncapi::export(&catalog, &options)).unwrap();
        let parser = tools.node_script(&dir, "validate-asyncapi.mjs", &[&yaml]);
        assert!(parser.status.success(), "the AsyncAPI parser rejects the export of {path}:\n{}", text(&parser));
        assert!(!text(&parser).contains("warning"), "AsyncAPI parser warnings on {path}:\n{}", text(&parser));

        let schemas = dir.join(format!("{name}-schemas"));
        std::fs::create_dir_all(&schemas).unwrap();
        for (file, body) in export::jsonschema::export(&catalog, &options) {
            std::fs::write(schemas.join(file), body).unwrap();
        }
        let check = tools.python(
            &schemas,
            &[
                "-c",
                "import glob, json, jsonschema\nfor f in sorted(glob.glob('*.json')):\n    jsonschema.Draft202012Validator.check_schema(json.load(open(f)))\n",
            ],
        );
        assert!(check.status.success(), "Python jsonschema rejects a JSON Schema export of {path}:\n{}", text(&check));
    }
    let mut args = vec!["--strict", "--noEmit", "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext"];
    args.extend(ts_files.iter().map(String::as_str));
    let tsc = tools.tsc(&dir, &args);
    assert!(tsc.status.success(), "tsc --strict rejects the TypeScript exports:\n{}", text(&tsc));
}

#[test]
fn python_parse_event_points_at_the_failure_and_build_event_fills_the_envelope() {
    let tools = Toolchain::from_env();
    let dir = tools.scratch("python-api");
    write_exports(&dir, "events", &load("events.yaml"));
    let script = r#"
import json
from events import EventError, RunProgressData, RunProgressEvent, build_event, parse_event

event = {"specversion": "1.0", "id": "1", "source": "/w", "type": "ai.run.progress",
         "subject": "run/d4a4b7db-8a88-45c1-84bf-a633dab24a25", "time": "2024-05-01T12:30:00Z",
         "datacontenttype": "application/json",
         "data": {"run_id": "d4a4b7db-8a88-45c1-84bf-a633dab24a25", "progress": 0.5}}
parsed = parse_event(json.dumps(event).encode())
assert isinstance(parsed, RunProgressEvent) and parsed.data.progress == 0.5, parsed

for data, pointer in [({"run_id": "d4a4b7db-8a88-45c1-84bf-a633dab24a25", "progress": 2}, "/data/progress"),
                      ({"progress": 0.5}, "/data/run_id"),
                      ({"run_id": "nope", "progress": 0.5}, "/data/run_id"),
                      ({"run_id": "d4a4b7db-8a88-45c1-84bf-a633dab24a25", "progress": 0.5, "iteration": None}, "/data/iteration")]:
    try:
        parse_event(dict(event, data=data))
    except EventError as e:
        assert e.pointer == pointer, (e.pointer, pointer, str(e))
    else:
        raise AssertionError(f"accepted {data}")
without_time = {k: v for k, v in event.items() if k != "time"}
for bad, pointer in [(dict(event, type="ai.nope"), "/type"), (dict(event, specversion="0.3"), "/specversion"), (b"[1]", ""), (b"{", ""),
                     (dict(event, subject="run/641ef1c3-152e-45b3-ace7-a1f374add988"), "/subject"),
                     (without_time, "/time"), (dict(event, datacontenttype="text/json"), "/datacontenttype"),
                     (dict(event, seq=2**63), "/seq")]:
    try:
        parse_event(bad)
    except EventError as e:
        assert e.pointer == pointer, (e.pointer, pointer)
    else:
        raise AssertionError(f"accepted {bad!r}")

assert parse_event(dict(event, seq=2**63 - 1)).seq == 2**63 - 1, "seq is a 64-bit integer"

built = build_event(RunProgressData(run_id="d4a4b7db-8a88-45c1-84bf-a633dab24a25", progress=0.25), source="/worker", seq=2**40)
assert isinstance(built, RunProgressEvent)
assert built.subject == "run/d4a4b7db-8a88-45c1-84bf-a633dab24a25", built.subject
assert built.seq == 2**40 and built.datacontenttype == "application/json" and built.time.endswith("Z"), built
assert parse_event(built.model_dump_json(exclude_none=True)) == built
print(built.model_dump_json(exclude_none=True))
"#;
    let run = tools.python(&dir, &["-c", script]);
    assert!(run.status.success(), "{}", text(&run));
    // What a producer sends, Herald accepts: envelope rules, subject and all.
    use herald::EventCatalog as _;
    let sent = run.stdout.trim_ascii();
    let envelope = herald::Envelope::parse(sent, herald_tests::events::Catalog::ENVELOPE).expect("Herald accepts the built envelope");
    herald_tests::events::Catalog::decode(&envelope).expect("Herald accepts the built event");
}

// ── the differential test ────────────────────────────────────────────────

/// One data instance of one event type.
#[derive(Debug, Clone)]
struct Case {
    type_name: String,
    /// What the case is: `example`, `valid`, a mutation, or an edge
    /// (`edge integer-as-float /count`); deviations match on it.
    label: String,
    /// The JSON text every judge parses.
    text: String,
    /// A whole structured-mode event (judged by Herald's envelope parser and
    /// `Catalog::decode`, the index schema, `CloudEventZ`, `parse_event`),
    /// rather than the `data` of `type_name`.
    envelope: bool,
}

/// The four judges, in this order.
const JUDGES: [&str; 4] = ["herald", "jsonschema", "zod", "pydantic"];

/// A documented difference: on the cases it matches (given the case's
/// label, the type's data schema and the instance), the judges give these
/// verdicts (`true` = accept) instead of agreeing.
struct Deviation {
    name: &'static str,
    matches: fn(&str, &Value, &Value) -> bool,
    verdicts: [bool; 4],
}

/// The table of the README's "Exports" section, row for row.
const DEVIATIONS: &[Deviation] = &[
    Deviation {
        // JSON Schema counts 1.0 as an integer and JavaScript cannot tell 1.0
        // from 1; Herald's typed decoding and strict pydantic refuse a float.
        name: "integer written as 1.0 or 1e3",
        matches: |label, _, _| label.starts_with("edge integer-as-float"),
        verdicts: [false, true, true, false],
    },
    Deviation {
        // The same for an integer extension (`"seq": 3.0`): only JavaScript
        // cannot tell it from 3 (the JSON Schema's `["integer", "null"]`
        // refuses it in jsonschema 0.33, unlike a lone `integer`).
        name: "integer extension written as 3.0",
        matches: |label, _, _| label.starts_with("envelope ") && label.ends_with(" integral float"),
        verdicts: [false, false, true, false],
    },
    Deviation {
        // Herald decodes `data_base64` and reads the bytes as the JSON data
        // they hold (as it reads a binary-mode body); the exports describe
        // JSON `data` only, so they want `data`.
        name: "JSON data sent as data_base64",
        matches: |label, _, _| label == "envelope data sent as data_base64",
        verdicts: [true, false, false, false],
    },
    Deviation {
        // A JSON number past 2^63 - 1 is 2^63 to JavaScript, which cannot
        // tell it from 2^63 - 1 (the text form is checked exactly, with BigInt).
        name: "64-bit integer extension written past 2^63 - 1",
        matches: |label, _, _| label.starts_with("envelope ") && label.ends_with(" past i64 max"),
        verdicts: [false, false, true, false],
    },
    Deviation {
        // JSON Schema cannot compare one value with another filled into a
        // template (`envelope.subject_matches_template`); the envelope
        // schema's `subject` description says so.
        name: "subject not the template filled from data",
        matches: |label, _, _| label.starts_with("envelope ") && label.ends_with(" not from template"),
        verdicts: [false, true, false, false],
    },
    Deviation {
        // jsonschema 0.33 computes `multipleOf` with a fractional divisor so
        // that no negative number passes (`-2.5` is "not a multiple of 0.5").
        name: "negative number under a fractional multipleOf",
        matches: |_, schema, instance| {
            any_value(schema, schema, instance, &|s, v| {
                s.get("multipleOf").and_then(Value::as_f64).is_some_and(|m| m.fract() != 0.0) && v.as_f64().is_some_and(|x| x < 0.0)
            })
        },
        verdicts: [true, false, true, true],
    },
];

/// Whether some value in `instance` (reached through `properties`, `items`
/// and `additionalProperties`) satisfies `test` with its schema.
fn any_value(root: &Value, schema: &Value, instance: &Value, test: &dyn Fn(&Value, &Value) -> bool) -> bool {
    let schema = resolve(root, schema);
    if test(schema, instance) {
        return true;
    }
    match instance {
        Value::Object(map) => map.iter().any(|(k, v)| {
            let sub =
                schema.get("properties").and_then(|p| p.get(k)).or_else(|| schema.get("additionalProperties").filter(|s| s.is_object()));
            sub.is_some_and(|sub| any_value(root, sub, v, test))
        }),
        Value::Array(items) => schema.get("items").is_some_and(|sub| items.iter().any(|v| any_value(root, sub, v, test))),
        _ => false,
    }
}

fn verdict_row(v: [bool; 4]) -> String {
    JUDGES.iter().zip(v).map(|(j, ok)| format!("{j} {}", if ok { "accepts" } else { "rejects" })).collect::<Vec<_>>().join(", ")
}

/// Herald's verdicts through a generated registry.
fn herald_verdicts<C: EventCatalog>(cases: &[Case]) -> Vec<bool> {
    cases
        .iter()
        .map(|c| {
            if c.envelope {
                return herald::Envelope::parse(c.text.as_bytes(), C::ENVELOPE).is_ok_and(|e| C::decode(&e).is_ok());
            }
            let info = C::lookup(&c.type_name).unwrap_or_else(|| panic!("`{}` not in the generated registry", c.type_name));
            (info.decode)(c.text.as_bytes()).is_ok()
        })
        .collect()
}

fn jsonschema_verdicts(catalog: &Catalog, cases: &[Case]) -> Vec<bool> {
    let options = Options::default();
    let compile =
        |file: &str| export::jsonschema::validator(catalog, &options, file).unwrap_or_else(|e| panic!("the JSON Schema export: {e}"));
    let data: BTreeMap<&str, jsonschema::Validator> =
        catalog.events.iter().map(|e| (e.type_name.as_str(), compile(&format!("{}.json", e.type_name)))).collect();
    let index = compile("index.json");
    cases
        .iter()
        .map(|c| {
            let instance = serde_json::from_str::<Value>(&c.text).expect("case is JSON");
            if c.envelope { index.is_valid(&instance) } else { data[c.type_name.as_str()].is_valid(&instance) }
        })
        .collect()
}

/// Verdicts of one of the toolchain's runner scripts on the cases file.
fn runner_verdicts(output: std::process::Output, who: &str, n: usize) -> Vec<bool> {
    assert!(output.status.success(), "{who} runner failed:\n{}", text(&output));
    let verdicts: Vec<Value> =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{who} runner output: {e}\n{}", text(&output)));
    assert_eq!(verdicts.len(), n, "{who} judged {} of {n} cases", verdicts.len());
    verdicts.iter().map(|v| v["ok"] == json!(true)).collect()
}

#[test]
fn every_export_gives_herald_s_verdict() {
    let tools = Toolchain::from_env();
    let dir = tools.scratch("differential");
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for (path, name) in CATALOGS {
        let catalog = load(path);
        let cases = case_set(&catalog);
        let (ts, py) = write_exports(&dir, name, &catalog);
        let cases_file = dir.join(format!("{name}.cases.json"));
        let listed: Vec<Value> = cases.iter().map(|c| json!({"type": c.type_name, "text": c.text, "envelope": c.envelope})).collect();
        std::fs::write(&cases_file, serde_json::to_vec(&listed).unwrap()).unwrap();

        let js_dir = dir.join(format!("{name}-js"));
        let tsc = tools.tsc(
            &dir,
            &[
                "--strict",
                "--target",
                "es2022",
                "--module",
                "nodenext",
                "--moduleResolution",
                "nodenext",
                "--noEmitOnError",
                "--outDir",
                js_dir.to_str().unwrap(),
                ts.to_str().unwrap(),
            ],
        );
        assert!(tsc.status.success(), "tsc on {path}:\n{}", text(&tsc));
        let js = js_dir.join(format!("{name}.js"));

        let herald = match name {
            "events" => herald_verdicts::<herald_tests::events::Catalog>(&cases),
            "shop" => herald_verdicts::<herald_tests::shop::Catalog>(&cases),
            "payloads" => herald_verdicts::<herald_tests::payloads::Catalog>(&cases),
            "unions" => herald_verdicts::<herald_tests::unions::Catalog>(&cases),
            _ => herald_verdicts::<herald_tests::constructs::Catalog>(&cases),
        };
        let schema = jsonschema_verdicts(&catalog, &cases);
        let zod = runner_verdicts(tools.node_script(&dir, "verdicts.mjs", &[&js, &cases_file]), "zod", cases.len());
        let pydantic = runner_verdicts(
            tools.python(
                &dir,
                &[
                    support::toolchain::toolchain_dir().join("verdicts.py").to_str().unwrap(),
                    py.to_str().unwrap(),
                    cases_file.to_str().unwrap(),
                ],
            ),
            "pydantic",
            cases.len(),
        );

        let mut rejected = 0;
        let mut by_kind: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for (i, case) in cases.iter().enumerate() {
            let v = [herald[i], schema[i], zod[i], pydantic[i]];
            let kind = case.label.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
            let tally = by_kind.entry(kind).or_default();
            tally.0 += 1;
            if !v[0] {
                rejected += 1;
                tally.1 += 1;
            }
            if case.label == "example" && v != [true; 4] {
                failures.push(format!(
                    "{path} `{}`: an example is not accepted by all: {}\n    {}",
                    case.type_name,
                    verdict_row(v),
                    case.text
                ));
                continue;
            }
            if v.iter().all(|x| *x == v[0]) {
                continue;
            }
            let schema = catalog.event(&case.type_name).map_or(&Value::Null, |e| &e.schema);
            let instance: Value = serde_json::from_str(&case.text).expect("case is JSON");
            match DEVIATIONS.iter().find(|d| (d.matches)(&case.label, schema, &instance)) {
                Some(d) if d.verdicts == v => *seen.entry(d.name).or_default() += 1,
                Some(d) => failures.push(format!(
                    "{path} `{}` [{}]: {} — the documented deviation `{}` says {}\n    {}",
                    case.type_name,
                    case.label,
                    verdict_row(v),
                    d.name,
                    verdict_row(d.verdicts),
                    case.text
                )),
                None => failures.push(format!("{path} `{}` [{}]: {}\n    {}", case.type_name, case.label, verdict_row(v), case.text)),
            }
        }
        println!("{path}: {} cases ({rejected} rejected by Herald), each judged by {}", cases.len(), JUDGES.join(", "));
        for (kind, (n, r)) in &by_kind {
            println!("  {kind:<40} {n:>5} cases, {r:>5} rejected");
        }
        assert!(rejected * 4 >= cases.len(), "{path}: only {rejected} of {} cases are invalid; the case set is too weak", cases.len());
    }
    for d in DEVIATIONS {
        println!("documented deviation `{}`: {} cases ({})", d.name, seen.get(d.name).copied().unwrap_or(0), verdict_row(d.verdicts));
        if !seen.contains_key(d.name) {
            failures.push(format!("documented deviation `{}` never happened: remove it from the table (and the README)", d.name));
        }
    }
    if !failures.is_empty() {
        let shown: Vec<&String> = failures.iter().take(60).collect();
        panic!(
            "{} disagreements between Herald and its exports:\n{}",
            failures.len(),
            shown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
        );
    }
}

/// Examples, generated valid and mutated instances, and edge cases.
fn case_set(catalog: &Catalog) -> Vec<Case> {
    let mut cases = Vec::new();
    for event in &catalog.events {
        let schema = &event.schema;
        let mut push = |label: &str, text: String| {
            cases.push(Case { type_name: event.type_name.clone(), label: label.to_string(), text, envelope: false })
        };
        let mut rng = Rng::new(seed_for(&event.type_name));
        for example in &event.examples {
            push("example", example.to_string());
            for (label, text) in edges(schema, example) {
                push(&label, text);
            }
        }
        let generator = Generator::new(schema);
        for _ in 0..VALID_PER_TYPE {
            let valid = generator.valid(&mut rng);
            push("valid", write_json(&valid, &mut rng));
            for _ in 0..3 {
                if let Some((kind, mutated)) = generator.mutate(&valid, &mut rng) {
                    push(&format!("mutation {kind:?}"), write_json(&mutated, &mut rng));
                }
            }
        }
    }
    cases.extend(envelope_cases(catalog));
    cases
}

/// Whole events: each attribute and declared extension valid, absent,
/// `null`, empty or of the wrong type, around a valid event of every type.
fn envelope_cases(catalog: &Catalog) -> Vec<Case> {
    let mut cases = Vec::new();
    let rules = &catalog.envelope;
    for event in &catalog.events {
        let example = &event.examples[0];
        let mut base = json!({
            "specversion": "1.0",
            "id": "evt-1",
            "source": "/workers/7",
            "type": event.type_name,
            "data": example,
        });
        // Valid under the catalog's envelope rules.
        let filled = event.subject.as_deref().and_then(|t| export::asyncapi::fill_subject(t, example));
        if let Some(subject) = &filled {
            base["subject"] = json!(subject);
        } else if rules.requires("subject") {
            base["subject"] = json!("anything");
        }
        if rules.requires("time") {
            base["time"] = json!("2024-05-01T12:30:00Z");
        }
        if rules.requires("datacontenttype") || rules.datacontenttype.is_some() {
            base["datacontenttype"] = json!("application/json");
        }
        let mut push = |label: &str, value: Value| {
            cases.push(Case {
                type_name: event.type_name.clone(),
                label: format!("envelope {label}"),
                text: value.to_string(),
                envelope: true,
            });
        };
        let with = |key: &str, value: Value| {
            let mut e = base.clone();
            e[key] = value;
            e
        };
        let without = |key: &str| {
            let mut e = base.clone();
            e.as_object_mut().expect("an object").remove(key);
            e
        };
        push("valid", base.clone());
        // Binary data in structured mode: Herald reads `data_base64` that
        // holds JSON as the JSON it holds; the exports take JSON `data` only.
        {
            use base64::Engine as _;
            let mut binary = without("data");
            binary["data_base64"] = json!(base64::engine::general_purpose::STANDARD.encode(example.to_string()));
            push("data sent as data_base64", binary);
        }
        for key in ["specversion", "id", "source", "type", "data"] {
            push(&format!("absent {key}"), without(key));
            push(&format!("null {key}"), with(key, Value::Null));
            push(&format!("number {key}"), with(key, json!(1)));
        }
        push("specversion 0.3", with("specversion", json!("0.3")));
        push("empty id", with("id", json!("")));
        push("empty source", with("source", json!("")));
        push("unknown type", with("type", json!(format!("{}.nope", catalog.prefix))));
        for key in ["subject", "time", "datacontenttype", "dataschema"] {
            push(&format!("absent {key}"), without(key));
            push(&format!("null {key}"), with(key, Value::Null));
            push(&format!("number {key}"), with(key, json!(1)));
            push(&format!("empty {key}"), with(key, json!("")));
        }
        for (label, key, value) in [
            ("subject not from template", "subject", json!("run/42")),
            (
                "subject of another run not from template",
                "subject",
                json!(filled.as_deref().unwrap_or("x").replace(|c: char| c.is_ascii_hexdigit() && c.is_ascii_digit(), "7")),
            ),
            ("time utc with +00:00", "time", json!("2024-05-01T12:30:00+00:00")),
            ("time utc", "time", json!("2024-05-01T12:30:00Z")),
            ("time offset", "time", json!("2024-05-01T12:30:00.5+02:00")),
            ("time lowercase", "time", json!("2024-05-01t12:30:00z")),
            ("time without offset", "time", json!("2024-05-01T12:30:00")),
            ("time leap second", "time", json!("2016-12-31T23:59:60Z")),
            ("time bad day", "time", json!("2023-02-29T00:00:00Z")),
            ("datacontenttype json", "datacontenttype", json!("application/json")),
            ("datacontenttype text", "datacontenttype", json!("text/plain")),
            ("datacontenttype text/json", "datacontenttype", json!("text/json")),
            ("datacontenttype json+suffix", "datacontenttype", json!("application/cloudevents+json")),
            ("datacontenttype json with parameters", "datacontenttype", json!("Application/JSON; charset=utf-8")),
            ("datacontenttype json with spaces", "datacontenttype", json!(" application/json ")),
            ("dataschema uri", "dataschema", json!("https://example.com/s.json")),
            ("dataschema relative", "dataschema", json!("s.json")),
            ("data_base64 beside data", "data_base64", json!("e30=")),
            ("source with a space", "source", json!("a b")),
            ("unknown extension", "zzext", json!("x")),
            ("unknown extension integer", "zzext", json!(7)),
            ("unknown extension boolean", "zzext", json!(true)),
            ("unknown extension float", "zzext", json!(1.5)),
            ("unknown extension past i32", "zzext", json!(2_147_483_648_i64)),
            ("unknown extension object", "zzext", json!({})),
            ("unknown extension null", "zzext", Value::Null),
            ("extension name with capitals", "ZzExt", json!("x")),
            ("extension name with underscore", "zz_ext", json!("x")),
        ] {
            push(label, with(key, value));
        }
        for ext in &catalog.extensions {
            let name = ext.name.as_str();
            let int64: &[(&str, Value)] = &[
                ("at i64 max", json!(i64::MAX)),
                ("at i64 min", json!(i64::MIN)),
                ("past i64 max", json!(i64::MAX as u64 + 1)),
                ("text at i64 max", json!(i64::MAX.to_string())),
                ("text at i64 min", json!(i64::MIN.to_string())),
                ("text past i64 max", json!("9223372036854775808")),
                ("text past i64 min", json!("-9223372036854775809")),
            ];
            // On a 32-bit extension these are refused by all four.
            let int64 = if ext.kind == herald_codegen::__private::ir::ExtensionKind::Integer { int64 } else { &[] };
            let values: &[(&str, Value)] = match ext.kind {
                herald_codegen::__private::ir::ExtensionKind::Integer => &[
                    ("valid", json!(3)),
                    ("negative", json!(-3)),
                    ("at i32 max", json!(i32::MAX)),
                    ("past i32 max", json!(i64::from(i32::MAX) + 1)),
                    ("float", json!(3.5)),
                    ("integral float", json!(3.0)),
                    ("text", json!("3")),
                    ("text -0", json!("-0")),
                    ("text at i32 min", json!("-2147483648")),
                    ("text past i32 max", json!("2147483648")),
                    ("text with plus", json!("+3")),
                    ("text with leading zero", json!("03")),
                    ("text with space", json!(" 3")),
                    ("text not a number", json!("three")),
                    ("boolean", json!(true)),
                ],
                herald_codegen::__private::ir::ExtensionKind::String => {
                    &[("valid", json!("00-ab-01")), ("number", json!(5)), ("empty", json!(""))]
                }
                herald_codegen::__private::ir::ExtensionKind::Boolean => {
                    &[("valid", json!(true)), ("text", json!("false")), ("text capitalised", json!("True")), ("number", json!(1))]
                }
            };
            for (label, value) in values.iter().chain(int64) {
                push(&format!("extension {name} {label}"), with(name, value.clone()));
                if catalog.envelope.legacy_extensions_object {
                    push(&format!("legacy extension {name} {label}"), with("extensions", json!({name: value})));
                }
            }
            push(&format!("extension {name} null"), with(name, Value::Null));
        }
        if catalog.envelope.legacy_extensions_object {
            for (label, value) in [
                ("empty", json!({})),
                ("null", Value::Null),
                ("not an object", json!("seq=3")),
                ("unknown member", json!({"zzext": "x"})),
                ("unknown member float", json!({"zzext": 1.5})),
                ("member name with capitals", json!({"ZzExt": "x"})),
            ] {
                push(&format!("legacy extensions {label}"), with("extensions", value));
            }
        }
    }
    cases
}

fn seed_for(type_name: &str) -> u64 {
    type_name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Edge cases around every constraint reachable in `instance`: each is the
/// instance with one value replaced, as JSON text (so that `1e3` stays
/// spelled as written).
fn edges(root: &Value, instance: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(root, root, instance, "", &mut out, instance);
    out
}

/// The instance with the value at `pointer` replaced by the JSON text `raw`.
fn replaced(instance: &Value, pointer: &str, raw: &str) -> String {
    const MARK: &str = "\u{1}herald-edge\u{1}";
    let mut copy = instance.clone();
    match copy.pointer_mut(pointer) {
        Some(slot) => *slot = json!(MARK),
        None => return instance.to_string(),
    }
    copy.to_string().replace(&json!(MARK).to_string(), raw)
}

/// The instance without the property at `pointer`.
fn removed(instance: &Value, pointer: &str) -> String {
    let mut copy = instance.clone();
    let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    if let Some(Value::Object(map)) = copy.pointer_mut(parent) {
        map.remove(&key.replace("~1", "/").replace("~0", "~"));
    }
    copy.to_string()
}

fn walk(root: &Value, schema: &Value, value: &Value, pointer: &str, out: &mut Vec<(String, String)>, instance: &Value) {
    let schema = resolve(root, schema);
    let mut edge = |what: &str, raw: String| out.push((format!("edge {what} {pointer}"), replaced(instance, pointer, &raw)));
    let num = |k: &str| schema.get(k).and_then(Value::as_f64);
    let uint = |k: &str| schema.get(k).and_then(Value::as_u64);
    match schema.get("type").and_then(Value::as_str) {
        Some(t @ ("integer" | "number")) => {
            let integer = t == "integer";
            let n = |x: f64| if integer && x.fract() == 0.0 { format!("{}", x as i64) } else { format!("{x}") };
            if integer {
                if let Some(i) = value.as_i64() {
                    edge("integer-as-float", format!("{i}.0"));
                    if i != 0 && i % 10 == 0 {
                        edge("integer-as-float", format!("{}e1", i / 10));
                    }
                }
                edge("fraction", "0.5".into());
            }
            let step = if integer { 1.0 } else { 0.001 };
            for (key, inside) in [("minimum", true), ("maximum", true), ("exclusiveMinimum", false), ("exclusiveMaximum", false)] {
                if let Some(b) = num(key) {
                    edge(&format!("at-{key}"), n(b));
                    let past = if key.ends_with("inimum") { b - step } else { b + step };
                    edge(&format!("past-{key}"), n(past));
                    let within = if key.ends_with("inimum") { b + step } else { b - step };
                    if !inside {
                        edge(&format!("within-{key}"), n(within));
                    }
                }
            }
            if let Some(m) = num("multipleOf") {
                edge("multiple", n(m * 3.0));
                edge("not-multiple", n(m * 1.5 + if integer { 1.0 } else { 0.0 }));
            }
            edge("wrong-type-string", "\"1\"".into());
            edge("wrong-type-bool", "true".into());
        }
        Some("boolean") => {
            edge("wrong-type-number", "1".into());
            edge("wrong-type-string", "\"true\"".into());
        }
        Some("string") => {
            if let Some(Value::Array(values)) = schema.get("enum") {
                for v in values {
                    edge("enum-value", v.to_string());
                }
                edge("enum-outside", "\"SUCCESS\"".into());
            }
            if let Some(c) = schema.get("const") {
                edge("const-value", c.to_string());
                edge("const-other", "\"other\"".into());
            }
            if let Some(max) = uint("maxLength") {
                edge("astral-at-maxLength", json!("😀".repeat(max as usize)).to_string());
                edge("astral-past-maxLength", json!("😀".repeat(max as usize + 1)).to_string());
            }
            if let Some(min) = uint("minLength") {
                edge("astral-at-minLength", json!("😀".repeat(min as usize)).to_string());
                if min > 0 {
                    edge("astral-below-minLength", json!("é".repeat(min as usize - 1)).to_string());
                }
            }
            if let (Some(_), Some(s)) = (schema.get("pattern"), value.as_str()) {
                edge("pattern-trailing-newline", json!(format!("{s}\n")).to_string());
                edge("pattern-leading-space", json!(format!(" {s}")).to_string());
            }
            if let Some(format) = schema.get("format").and_then(Value::as_str) {
                for s in format_edges(format) {
                    edge(&format!("format-{format}"), json!(s).to_string());
                }
            }
            edge("wrong-type-number", "1".into());
        }
        Some("array") => {
            let items = value.as_array().cloned().unwrap_or_default();
            if let (Some(max), Some(first)) = (uint("maxItems"), items.first()) {
                edge("at-maxItems", distinct_items(first, max as usize));
                edge("past-maxItems", distinct_items(first, max as usize + 1));
            }
            if let Some(min) = uint("minItems") {
                edge("below-minItems", Value::Array(items.iter().take(min.saturating_sub(1) as usize).cloned().collect()).to_string());
            }
            if let (Some(true), Some(first)) = (schema.get("uniqueItems").and_then(Value::as_bool), items.first()) {
                edge("duplicate-items", Value::Array(vec![first.clone(), first.clone()]).to_string());
            }
            edge("wrong-type-object", "{}".into());
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate().take(1) {
                    walk(root, item_schema, item, &format!("{pointer}/{i}"), out, instance);
                }
            }
        }
        _ => {}
    }
    let Some(map) = value.as_object() else { return };
    let props = schema.get("properties").and_then(Value::as_object);
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    if props.is_some() || schema.get("additionalProperties").is_some() {
        out.push((format!("edge unknown-key {pointer}"), {
            let mut copy = instance.clone();
            if let Some(Value::Object(m)) = copy.pointer_mut(pointer) {
                m.insert("zz_unknown".into(), json!(1));
            }
            copy.to_string()
        }));
        if pointer.is_empty() || schema.get("type").is_some() {
            out.push((format!("edge wrong-type-array {pointer}"), replaced(instance, pointer, "[]")));
        }
    }
    for (key, sub) in map {
        let here = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
        match props.and_then(|p| p.get(key)) {
            Some(prop_schema) => {
                if required.contains(&key.as_str()) {
                    out.push((format!("edge absent-required {here}"), removed(instance, &here)));
                } else {
                    out.push((format!("edge absent-optional {here}"), removed(instance, &here)));
                    out.push((format!("edge null-optional {here}"), replaced(instance, &here, "null")));
                }
                walk(root, prop_schema, sub, &here, out, instance);
            }
            None => {
                if let Some(values) = schema.get("additionalProperties").filter(|s| s.is_object()) {
                    walk(root, values, sub, &here, out, instance);
                }
            }
        }
    }
}

/// `n` items like `first`, distinct where `first` is a string or number.
fn distinct_items(first: &Value, n: usize) -> String {
    let items: Vec<Value> = (0..n)
        .map(|i| match first {
            Value::String(s) => json!(format!("{s}{i}")),
            Value::Number(x) => json!(x.as_f64().unwrap_or(0.0) + i as f64),
            other => other.clone(),
        })
        .collect();
    Value::Array(items).to_string()
}

/// Strings on both sides of each format's edges (the verdict is what the
/// judges say, not what this list expects).
fn format_edges(format: &str) -> &'static [&'static str] {
    match format {
        "uuid" => &[
            "0B7F6E0E-5D2C-4C1A-9F3E-2A1B3C4D5E6F",
            "00000000-0000-0000-0000-000000000000",
            "0b7f6e0e5d2c4c1a9f3e2a1b3c4d5e6f",
            "{0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f}",
            "urn:uuid:0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f",
            "0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6g",
            " 0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f",
        ],
        "date-time" => &[
            "2024-05-01T12:30:00Z",
            "2024-05-01t12:30:00z",
            "2024-05-01T12:30:00.123456789+02:00",
            "2024-05-01T12:30:00-00:00",
            "2016-12-31T23:59:60Z",
            "2016-12-31T22:59:60-01:00",
            "2024-05-01T12:59:60Z",
            "2024-02-29T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-05-01T12:30:00",
            "2024-05-01 12:30:00Z",
            "2024-05-01T12:30:00.Z",
            "2024-05-01T12:30:00+0200",
            "2024-05-01T12:30:00+24:00",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:30Z",
            "2024-05-01",
        ],
        "date" => &["2024-02-29", "2023-02-29", "2024-13-01", "2024-1-01", "2024-01-01T00:00:00Z", "0000-01-01"],
        "time" => &["12:30:00Z", "12:30:00.5+02:00", "23:59:60Z", "12:59:60Z", "12:30:00", "24:00:00Z", "12:30Z"],
        "uri" => &[
            "https://example.com/a?b=c#d",
            "urn:isbn:0451450523",
            "mailto:ops@example.com",
            "s3://bucket/key%20x",
            "http://[::1]:8080/",
            "file:///tmp/x",
            "https://example.com/%zz",
            "http://exa mple.com",
            "/relative/path",
            "example.com",
            "https://example.com/é",
            "",
        ],
        "uri-reference" => &["../runs/42", "#frag", "", "https://example.com/x", "a b", "%zz", "/é"],
        "email" => &[
            "ops@example.com",
            "first.last+tag@sub.example.org",
            "ops@[127.0.0.1]",
            "ops@[IPv6:::1]",
            "\"quoted name\"@example.com",
            "Ops Team <ops@example.com>",
            "no-at-sign",
            "a@b@c",
            "a..b@example.com",
            "user@-bad-.com",
            "ünï@example.com",
        ],
        "hostname" => &["example.com", "a-b.example", "localhost", "-bad.com", "a..b", "example.com.", "exa_mple.com"],
        "ipv4" => &["192.168.0.1", "0.0.0.0", "256.1.1.1", "01.2.3.4", "1.2.3"],
        "ipv6" => &["::1", "2001:db8::1", "::ffff:1.2.3.4", "fe80::1%eth0", "1:2:3", "::g", "[::1]"],
        _ => &[],
    }
}
