//! Throughput of Herald's ingest front half — structured envelope parse,
//! registry lookup, typed `data` decode and generated validation — against
//! two baselines over the same corpus:
//!
//! - `herald_full`: `Envelope::parse` + `Catalog::decode`;
//! - `serde_json_value`: `serde_json::from_slice::<Value>` (a DOM parse,
//!   no validation at all: the floor for "read the JSON");
//! - `jsonschema`: DOM parse, look up the type's pre-built `jsonschema`
//!   validator, `is_valid(&value["data"])` (the usual dynamic approach;
//!   it does not even check the envelope).
//!
//! The corpus: ≥ 100,000 events generated deterministically from the
//! catalog's examples (ids, uuids, numbers and date-times varied), about
//! 10% invalid (bad envelope attributes, data out of bounds or of the wrong
//! format, unknown types). Each event is its own `Vec<u8>`, as on the wire.
//!
//! Run: `cargo bench -p herald-tests --bench parse`; results in
//! `BENCHMARKS.md`.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use herald::{Envelope, EventCatalog};
use herald_tests::events::Catalog;
use serde_json::{Value, json};

#[allow(dead_code)]
#[path = "../tests/support/instances.rs"]
mod instances;

use instances::{Generator, Mutation, Rng};

/// Number of events in the corpus.
const EVENTS: usize = 100_000;
/// One in `INVALID_EVERY` events is invalid.
const INVALID_EVERY: u64 = 10;
const SEED: u64 = 0x4845_5241_4c44; // "HERALD"

/// The corpus, and what it holds.
struct Corpus {
    events: Vec<Vec<u8>>,
    bytes: usize,
    invalid: usize,
}

/// Replace the values that vary between real events (uuids, date-times,
/// numbers) with fresh valid ones; keep everything else of the example.
fn vary(generator: &Generator<'_>, root: &Value, schema: &Value, value: &Value, rng: &mut Rng) -> Value {
    let schema = instances::resolve(root, schema);
    let varies = schema.get("format").is_some()
        || matches!(schema.get("type").and_then(Value::as_str), Some("number" | "integer"));
    if varies && schema.get("enum").is_none() && schema.get("const").is_none() {
        return generator.value(schema, rng, 1);
    }
    match value {
        Value::Object(map) => {
            let props = schema.get("properties");
            Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let sub = props.and_then(|p| p.get(k)).or_else(|| schema.get("additionalProperties").filter(|s| s.is_object()));
                        let v = match sub {
                            Some(sub) => vary(generator, root, sub, v, rng),
                            None => v.clone(),
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            )
        }
        Value::Array(items) => match schema.get("items").filter(|s| s.is_object()) {
            Some(sub) => Value::Array(items.iter().map(|v| vary(generator, root, sub, v, rng)).collect()),
            None => value.clone(),
        },
        other => other.clone(),
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

/// An envelope as senders write it: `specversion` first, `data` last.
fn envelope_text(attrs: &[(&str, String)], data: Option<&Value>) -> Vec<u8> {
    let mut out = String::from("{");
    for (i, (name, value)) in attrs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&quote(name));
        out.push(':');
        out.push_str(value);
    }
    if let Some(data) = data {
        out.push_str(",\"data\":");
        out.push_str(&serde_json::to_string(data).expect("data serialises"));
    }
    out.push('}');
    out.into_bytes()
}

fn build_corpus() -> Corpus {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events.yaml");
    let ir = herald_codegen::catalog::load(&path).unwrap_or_else(|e| panic!("events.yaml does not load:\n{e}"));
    let schemas: Vec<Value> = Catalog::TYPES.iter().map(|i| serde_json::from_str(i.schema).expect("schema is JSON")).collect();
    let examples: Vec<&[Value]> =
        Catalog::TYPES.iter().map(|i| ir.event(i.type_name).expect("type in catalog").examples.as_slice()).collect();

    let mut rng = Rng::new(SEED);
    let mut events = Vec::with_capacity(EVENTS);
    let mut invalid = 0;
    for n in 0..EVENTS {
        let t = rng.below(Catalog::TYPES.len() as u64) as usize;
        let info = &Catalog::TYPES[t];
        let root = &schemas[t];
        let generator = Generator::new(root);
        let example = rng.pick(examples[t]);
        let mut data = vary(&generator, root, root, example, &mut rng);
        if let Some(key) = data.get_mut(info.stream_key) {
            *key = json!(rng.uuid());
        }
        let run = data.get(info.stream_key).and_then(Value::as_str).unwrap_or("none").to_string();
        let mut attrs: Vec<(&str, String)> = vec![
            ("specversion", quote("1.0")),
            ("id", quote(&format!("evt-{n:07}-{}", rng.hex(8)))),
            ("source", quote(&format!("/workers/{}", rng.below(64)))),
            ("type", quote(info.type_name)),
            ("subject", quote(&format!("run/{run}"))),
            ("time", quote(&format!("2024-05-{:02}T{:02}:{:02}:{:02}.{:03}Z", 1 + rng.below(28), rng.below(24), rng.below(60), rng.below(60), rng.below(1000)))),
            ("datacontenttype", quote("application/json")),
        ];
        if rng.chance(0.7) {
            attrs.push(("seq", (1 + rng.below(10_000)).to_string()));
        }
        if rng.chance(0.3) {
            attrs.push(("traceparent", quote(&format!("00-{}-{}-01", rng.hex(32), rng.hex(16)))));
        }

        if rng.below(INVALID_EVERY) == 0 {
            invalid += 1;
            match rng.below(3) {
                // A bad envelope attribute.
                0 => match rng.below(6) {
                    0 => attrs.retain(|(k, _)| *k != "id"),
                    1 => attrs[0].1 = quote("0.3"),
                    2 => attrs[2].1 = quote(""),
                    3 => attrs[5].1 = quote("2024-13-01T00:00:00Z"),
                    4 => attrs.push(("SeQ", "1".into())),
                    _ => attrs.push(("seq", quote("abc"))),
                },
                // Data out of bounds, of a bad format, or of the wrong shape.
                1 => {
                    let wanted = [
                        Mutation::BelowMinimum,
                        Mutation::AboveMaximum,
                        Mutation::BadFormat,
                        Mutation::BreakPattern,
                        Mutation::UnknownEnum,
                        Mutation::WrongType,
                        Mutation::RemoveRequired,
                        Mutation::TooManyItems,
                    ];
                    let mut mutated = false;
                    for _ in 0..50 {
                        if let Some((kind, bad)) = generator.mutate(&data, &mut rng) {
                            // Not `null` for an optional field: Herald accepts that
                            // (a known bug, see tests/differential.rs).
                            if wanted.contains(&kind) && instances::null_in_optional_property(root, &bad).is_none() {
                                data = bad;
                                mutated = true;
                                break;
                            }
                        }
                    }
                    if !mutated {
                        attrs[3].1 = quote("ai.unknown.event");
                    }
                }
                // A type the catalog does not have.
                _ => attrs[3].1 = quote(&format!("ai.unknown.event{}", rng.below(5))),
            }
        }
        events.push(envelope_text(&attrs, Some(&data)));
    }
    let bytes = events.iter().map(Vec::len).sum();
    Corpus { events, bytes, invalid }
}

fn herald_full(corpus: &[Vec<u8>]) -> (usize, usize) {
    let (mut ok, mut err) = (0, 0);
    for bytes in corpus {
        match Envelope::parse(black_box(bytes), Catalog::ENVELOPE) {
            Ok(envelope) => match Catalog::decode(&envelope) {
                Ok(event) => {
                    black_box(&event);
                    ok += 1;
                }
                Err(e) => {
                    black_box(&e);
                    err += 1;
                }
            },
            Err(e) => {
                black_box(&e);
                err += 1;
            }
        }
    }
    (ok, err)
}

fn serde_json_value(corpus: &[Vec<u8>]) -> (usize, usize) {
    let (mut ok, mut err) = (0, 0);
    for bytes in corpus {
        match serde_json::from_slice::<Value>(black_box(bytes)) {
            Ok(v) => {
                black_box(&v);
                ok += 1;
            }
            Err(_) => err += 1,
        }
    }
    (ok, err)
}

fn with_jsonschema(corpus: &[Vec<u8>], validators: &HashMap<&str, jsonschema::Validator>) -> (usize, usize) {
    let (mut ok, mut err) = (0, 0);
    for bytes in corpus {
        let Ok(value) = serde_json::from_slice::<Value>(black_box(bytes)) else {
            err += 1;
            continue;
        };
        let valid = value
            .get("type")
            .and_then(Value::as_str)
            .and_then(|t| validators.get(t))
            .is_some_and(|v| v.is_valid(&value["data"]));
        if valid { ok += 1 } else { err += 1 }
    }
    (ok, err)
}

fn bench(c: &mut Criterion) {
    let corpus = build_corpus();
    let n = corpus.events.len();
    let validators: HashMap<&str, jsonschema::Validator> = Catalog::TYPES
        .iter()
        .map(|info| {
            let schema: Value = serde_json::from_str(info.schema).expect("schema is JSON");
            let v = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .build(&schema)
                .expect("schema compiles");
            (info.type_name, v)
        })
        .collect();

    let (ok, err) = herald_full(&corpus.events);
    let (js_ok, js_err) = with_jsonschema(&corpus.events, &validators);
    println!(
        "corpus: {n} events, {} bytes ({:.1} MB, {:.0} B/event), {} generated invalid ({:.1}%); \
         herald accepts {ok} / rejects {err}; jsonschema (data only) accepts {js_ok} / rejects {js_err}",
        corpus.bytes,
        corpus.bytes as f64 / 1e6,
        corpus.bytes as f64 / n as f64,
        corpus.invalid,
        corpus.invalid as f64 * 100.0 / n as f64,
    );
    println!("sample event: {}", String::from_utf8_lossy(&corpus.events[0]));
    assert_eq!(ok + corpus.invalid, n, "Herald rejects exactly the events generated invalid");

    for (name, throughput) in [("events", Throughput::Elements(n as u64)), ("bytes", Throughput::Bytes(corpus.bytes as u64))] {
        let mut group = c.benchmark_group(format!("parse_{name}"));
        group.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(10));
        group.throughput(throughput);
        group.bench_function("herald_full", |b| b.iter(|| herald_full(&corpus.events)));
        group.bench_function("serde_json_value", |b| b.iter(|| serde_json_value(&corpus.events)));
        group.bench_function("jsonschema", |b| b.iter(|| with_jsonschema(&corpus.events, &validators)));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
