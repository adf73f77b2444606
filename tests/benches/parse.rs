//! Throughput of Herald's ingest front half — structured envelope parse,
//! registry lookup, typed `data` decode and generated validation — against
//! floors measured in the same run over the same corpus:
//!
//! - `herald`: `Catalog::parse_event`, one pass (`data` decoded into its
//!   type while the envelope is read, since `type` comes first);
//! - `batch100`: the same events in `application/cloudevents-batch+json`
//!   bodies of 100, through `Catalog::parse_batch_events`;
//! - `herald_two_pass`: `Envelope::parse` + `Catalog::decode` (the envelope
//!   pass skips `data`, then the decode parses it again);
//! - `typed_struct`: serde_json into a derived envelope struct with borrowed
//!   strings and `data` as `&RawValue`, no rules at all: the floor for "read
//!   this envelope with serde_json";
//! - `serde_json_value`: `serde_json::from_slice::<Value>` (a DOM parse, no
//!   validation at all);
//! - `jsonschema`: DOM parse, look up the type's pre-built `jsonschema`
//!   validator, `is_valid(&value["data"])` (the usual dynamic approach; it
//!   does not check the envelope);
//! - `batch100_two_pass`: the same events in
//!   `application/cloudevents-batch+json` bodies of 100, through
//!   `parse_batch` + `Catalog::decode` per element.
//!
//! The corpus (`tests/support/corpus.rs`): 100,000 worker-like envelopes of
//! about 550 B, the legacy `extensions` object on 40% of them, 10% invalid.
//!
//! Run: `cargo bench -p herald-tests --bench parse`; results in
//! `BENCHMARKS.md`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use herald::envelope::parse_batch;
use herald::{Envelope, EventCatalog};
use herald_tests::events::Catalog;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

#[allow(dead_code)]
#[path = "../tests/support/instances.rs"]
mod instances;

#[allow(dead_code)]
#[path = "../tests/support/corpus.rs"]
mod corpus;

/// Number of events in the corpus (`HERALD_BENCH_EVENTS` overrides it, to
/// profile on a small corpus under callgrind).
const EVENTS: usize = 100_000;
/// Events per batch body.
const BATCH: usize = 100;

fn herald_two_pass(corpus: &[Vec<u8>]) -> (usize, usize) {
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

fn herald(corpus: &[Vec<u8>]) -> (usize, usize) {
    let (mut ok, mut err) = (0, 0);
    for bytes in corpus {
        match Catalog::parse_event(black_box(bytes)) {
            Ok(parsed) => match parsed.event {
                Ok(event) => {
                    black_box((&parsed.envelope, &event));
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

fn batch(bodies: &[Vec<u8>]) -> (usize, usize) {
    let (mut ok, mut err) = (0, 0);
    for body in bodies {
        let Ok(results) = Catalog::parse_batch_events(black_box(body), BATCH) else {
            err += BATCH;
            continue;
        };
        for result in results {
            match result.map(|parsed| parsed.event.map(black_box)) {
                Ok(Ok(_)) => ok += 1,
                _ => err += 1,
            }
        }
    }
    (ok, err)
}

/// One line per event: its verdict, error code, attribute, message and
/// pointers, the canonical envelope and the typed event.
fn outcome(bytes: &[u8]) -> String {
    match Envelope::parse(bytes, Catalog::ENVELOPE) {
        Err(e) => format!("envelope {} {:?} {e}", e.code(), e.attribute()),
        Ok(envelope) => match Catalog::decode(&envelope) {
            Ok(event) => format!("ok {} {event:?}", envelope.to_json()),
            Err(e) => format!("data {:?} {e}", e.pointers()),
        },
    }
}

/// FNV-1a over the outcomes of `events`: compared with the digest of the
/// build before a change, it shows that no verdict moved.
fn digest(events: &[Vec<u8>]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for e in events {
        for b in outcome(e).bytes().chain([b'\n']) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn batch_two_pass(bodies: &[Vec<u8>]) -> (usize, usize) {
    let (mut ok, mut err) = (0, 0);
    for body in bodies {
        let Ok(results) = parse_batch(black_box(body), Catalog::ENVELOPE) else {
            err += BATCH;
            continue;
        };
        for result in results {
            match result.map(|envelope| Catalog::decode(&envelope).map(black_box)) {
                Ok(Ok(_)) => ok += 1,
                _ => err += 1,
            }
        }
    }
    (ok, err)
}

/// The legacy nested `extensions` object, as the floor reads it.
#[derive(Deserialize)]
#[allow(dead_code)]
struct FloorExtensions<'a> {
    seq: Option<i64>,
    #[serde(borrow)]
    traceparent: Option<Cow<'a, str>>,
}

/// A CloudEvents envelope as a plain serde struct: what "just parse it"
/// costs with serde_json, no rules checked.
#[derive(Deserialize)]
#[allow(dead_code)]
struct FloorEnvelope<'a> {
    #[serde(borrow)]
    specversion: Cow<'a, str>,
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    source: Cow<'a, str>,
    #[serde(borrow, rename = "type")]
    ty: Cow<'a, str>,
    #[serde(borrow)]
    subject: Option<Cow<'a, str>>,
    #[serde(borrow)]
    time: Option<Cow<'a, str>>,
    #[serde(borrow)]
    datacontenttype: Option<Cow<'a, str>>,
    #[serde(borrow)]
    dataschema: Option<Cow<'a, str>>,
    seq: Option<i64>,
    #[serde(borrow)]
    traceparent: Option<Cow<'a, str>>,
    #[serde(borrow)]
    extensions: Option<FloorExtensions<'a>>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

fn typed_struct(corpus: &[Vec<u8>]) -> (usize, usize) {
    let (mut ok, mut err) = (0, 0);
    for bytes in corpus {
        match serde_json::from_slice::<FloorEnvelope<'_>>(black_box(bytes)) {
            Ok(v) => {
                black_box(&v);
                ok += 1;
            }
            Err(_) => err += 1,
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
        let valid = value.get("type").and_then(Value::as_str).and_then(|t| validators.get(t)).is_some_and(|v| v.is_valid(&value["data"]));
        if valid { ok += 1 } else { err += 1 }
    }
    (ok, err)
}

fn bench(c: &mut Criterion) {
    let events = std::env::var("HERALD_BENCH_EVENTS").ok().and_then(|n| n.parse().ok()).unwrap_or(EVENTS);
    let corpus = corpus::build(events);
    // A `specversion` other than 1.0 refuses a whole batch (the body is not
    // a batch of CloudEvents v1.0), so batches hold the other events.
    let batched: Vec<Vec<u8>> = corpus.events.iter().filter(|e| !e.windows(19).any(|w| w == br#""specversion":"0.3""#)).cloned().collect();
    let bodies = corpus::batches(&batched, BATCH);
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

    let (ok, err) = herald_two_pass(&corpus.events);
    let (js_ok, js_err) = with_jsonschema(&corpus.events, &validators);
    println!(
        "corpus: {n} events ({} in batches), {} bytes ({:.1} MB, {:.0} B/event), {} with the legacy `extensions` object, \
         {} generated invalid ({:.1}%); herald accepts {ok} / rejects {err}; \
         jsonschema (data only) accepts {js_ok} / rejects {js_err}",
        batched.len(),
        corpus.bytes,
        corpus.bytes as f64 / 1e6,
        corpus.bytes as f64 / n as f64,
        corpus.legacy,
        corpus.invalid,
        corpus.invalid as f64 * 100.0 / n as f64,
    );
    if let Ok(path) = std::env::var("HERALD_BENCH_OUTCOMES") {
        let lines: Vec<String> = corpus.events.iter().map(|e| outcome(e)).collect();
        std::fs::write(path, lines.join("\n")).expect("outcomes written");
    }
    println!("outcome digest: first 20000 {:#018x}, all {:#018x}", digest(&corpus.events[..n.min(20_000)]), digest(&corpus.events));
    println!("sample event: {}", String::from_utf8_lossy(&corpus.events[0]));
    assert_eq!(ok + corpus.invalid, n, "Herald rejects exactly the events generated invalid");
    assert_eq!(batch_two_pass(&bodies), herald_two_pass(&batched), "batches give the same verdicts");
    assert_eq!(herald(&corpus.events), (ok, err), "one pass gives the same verdicts");
    assert_eq!(batch(&bodies), herald_two_pass(&batched), "one-pass batches give the same verdicts");

    let mut group = c.benchmark_group("parse");
    group.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("herald", |b| b.iter(|| herald(&corpus.events)));
    group.bench_function("herald_two_pass", |b| b.iter(|| herald_two_pass(&corpus.events)));
    group.bench_function("typed_struct", |b| b.iter(|| typed_struct(&corpus.events)));
    group.bench_function("serde_json_value", |b| b.iter(|| serde_json_value(&corpus.events)));
    group.bench_function("jsonschema", |b| b.iter(|| with_jsonschema(&corpus.events, &validators)));
    group.finish();

    // The batch corpus is a little smaller: its own throughput.
    let mut group = c.benchmark_group("parse_batch");
    group.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(batched.len() as u64));
    group.bench_function("batch100", |b| b.iter(|| batch(&bodies)));
    group.bench_function("batch100_two_pass", |b| b.iter(|| batch_two_pass(&bodies)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
