//! The reference corpus of the parse benchmark (`benches/parse.rs`), shared
//! with the test that holds the one-pass parser to the two-pass verdicts
//! (`tests/one_pass.rs`).
//!
//! It looks like what a worker fleet sends: the orchestrator's event types
//! in a worker-like mix (run progress and metrics dominate), about 550 B per
//! envelope, uuid ids, the legacy nested `extensions` object on part of it,
//! `type` before `data` as every producer writes it, and about 10% invalid
//! across envelope, data and unknown-type cases. Built deterministically
//! from the catalog's examples, with uuids, numbers and date-times varied.

use herald::EventCatalog;
use herald_tests::events::Catalog;
use serde_json::{Value, json};

use super::instances::{self, Generator, Mutation, Rng};

/// One in `INVALID_EVERY` events is invalid.
const INVALID_EVERY: u64 = 10;
/// The corpus seed ("HERALD").
pub const SEED: u64 = 0x4845_5241_4c44;

/// The types the corpus draws from and how often each occurs, out of the
/// sum of the weights: workers report progress and metrics all the time and
/// lifecycle events once per run or stage. In the order of the generated
/// `Catalog::TYPES` when the digest of `tests/one_pass.rs` was recorded.
/// A fixed list, not the catalog's: a type added to `events.yaml` leaves
/// the corpus, that digest and the parse benchmark's figures as they were.
/// Each type must be in the catalog.
const MIX: &[(&str, u64)] = &[
    ("ai.artifact.failed", 1),
    ("ai.artifact.registered", 1),
    ("ai.myfeature.completed", 1),
    ("ai.myfeature.progress", 16),
    ("ai.myfeature.started", 1),
    ("ai.node.completed", 8),
    ("ai.node.created", 8),
    ("ai.node.executing", 10),
    ("ai.paper.generated", 1),
    ("ai.paper.started", 1),
    ("ai.run.canceled", 1),
    ("ai.run.completed", 1),
    ("ai.run.error", 1),
    ("ai.run.failed", 1),
    ("ai.run.metric", 50),
    ("ai.run.progress", 60),
    ("ai.run.stage_completed", 4),
    ("ai.run.stage_progress", 20),
    ("ai.run.stage_started", 4),
    ("ai.run.started", 1),
    ("ai.validation.auto_completed", 1),
    ("ai.validation.auto_started", 1),
];

/// The corpus, and what it holds.
pub struct Corpus {
    /// Each event as its own buffer, as on the wire.
    pub events: Vec<Vec<u8>>,
    /// Total bytes.
    pub bytes: usize,
    /// How many events were generated invalid.
    pub invalid: usize,
    /// How many carry the legacy `extensions` object.
    pub legacy: usize,
}

/// Replace the values that vary between real events (uuids, date-times,
/// numbers) with fresh valid ones; keep everything else of the example.
fn vary(generator: &Generator<'_>, root: &Value, schema: &Value, value: &Value, rng: &mut Rng) -> Value {
    let schema = instances::resolve(root, schema);
    let varies = schema.get("format").is_some() || matches!(schema.get("type").and_then(Value::as_str), Some("number" | "integer"));
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
fn envelope_text(attrs: &[(&str, String)], data: &Value) -> Vec<u8> {
    let mut out = String::from("{");
    for (name, value) in attrs {
        out.push_str(&quote(name));
        out.push(':');
        out.push_str(value);
        out.push(',');
    }
    out.push_str("\"data\":");
    out.push_str(&serde_json::to_string(data).expect("data serialises"));
    out.push('}');
    out.into_bytes()
}

/// An index into [`MIX`], drawn by weight.
fn pick_type(rng: &mut Rng) -> usize {
    let total: u64 = MIX.iter().map(|(_, w)| w).sum();
    let mut x = rng.below(total);
    for (t, (_, w)) in MIX.iter().enumerate() {
        if x < *w {
            return t;
        }
        x -= w;
    }
    0
}

/// Build `n` events.
pub fn build(n: usize) -> Corpus {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events.yaml");
    let ir = herald_codegen::__private::catalog::load(&path).unwrap_or_else(|e| panic!("events.yaml does not load:\n{e}"));
    let infos: Vec<_> = MIX
        .iter()
        .map(|(name, _)| {
            Catalog::TYPES
                .iter()
                .find(|i| i.type_name == *name)
                .unwrap_or_else(|| panic!("`{name}` of the corpus mix is not in events.yaml"))
        })
        .collect();
    let schemas: Vec<Value> = infos.iter().map(|i| serde_json::from_str(i.schema).expect("schema is JSON")).collect();
    let examples: Vec<&[Value]> = infos.iter().map(|i| ir.event(i.type_name).expect("type in catalog").examples.as_slice()).collect();
    const { assert!(Catalog::ENVELOPE.legacy_extensions_object, "the corpus sends the legacy `extensions` object") };

    let mut rng = Rng::new(SEED);
    let mut events = Vec::with_capacity(n);
    let (mut invalid, mut legacy) = (0, 0);
    for _ in 0..n {
        let t = pick_type(&mut rng);
        let info = infos[t];
        let root = &schemas[t];
        let generator = Generator::new(root);
        let example = rng.pick(examples[t]);
        let mut data = vary(&generator, root, root, example, &mut rng);
        if let Some(key) = info.stream_key.and_then(|k| data.get_mut(k)) {
            *key = json!(rng.uuid());
        }
        let run = info.stream_key.and_then(|k| data.get(k)).and_then(Value::as_str).unwrap_or("none").to_string();
        let worker = rng.below(64);
        let mut attrs: Vec<(&str, String)> = vec![
            ("specversion", quote("1.0")),
            ("id", quote(&rng.uuid())),
            ("source", quote(&format!("//orchestrator.example.com/pools/gpu-{}/workers/worker-{worker:02}", worker % 4))),
            ("type", quote(info.type_name)),
            ("subject", quote(&format!("run/{run}"))),
            (
                "time",
                quote(&format!(
                    "2024-05-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                    1 + rng.below(28),
                    rng.below(24),
                    rng.below(60),
                    rng.below(60),
                    rng.below(1_000_000)
                )),
            ),
            ("datacontenttype", quote("application/json")),
            ("dataschema", quote(&format!("https://schemas.example.com/{}/v1.json", info.type_name.replace('.', "/")))),
        ];
        let seq = (1 + rng.below(10_000)).to_string();
        let traceparent = quote(&format!("00-{}-{}-01", rng.hex(32), rng.hex(16)));
        let nested = rng.chance(0.4);
        if nested {
            legacy += 1;
            attrs.push(("extensions", format!("{{\"seq\":{seq},\"traceparent\":{traceparent}}}")));
        } else {
            attrs.push(("seq", seq));
            attrs.push(("traceparent", traceparent));
        }

        if rng.below(INVALID_EVERY) == 0 {
            invalid += 1;
            match rng.below(3) {
                // A bad envelope attribute.
                0 => match rng.below(8) {
                    0 => attrs.retain(|(k, _)| *k != "id"),
                    1 => attrs[0].1 = quote("0.3"),
                    2 => attrs[2].1 = quote(""),
                    3 => attrs[5].1 = quote("2024-13-01T00:00:00Z"),
                    4 => attrs.push(("SeQ", "1".into())),
                    5 => attrs.push(("retries", quote("abc\u{1}"))),
                    6 => attrs[7].1 = quote("schemas/v1.json"),
                    _ if nested => attrs.last_mut().expect("extensions").1 = "{\"seq\":1.5}".into(),
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
                        Mutation::NullOptional,
                        Mutation::Fraction,
                    ];
                    let mut mutated = false;
                    for _ in 0..50 {
                        if let Some((kind, bad)) = generator.mutate(&data, &mut rng)
                            && wanted.contains(&kind)
                        {
                            data = bad;
                            mutated = true;
                            break;
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
        events.push(envelope_text(&attrs, &data));
    }
    let bytes = events.iter().map(Vec::len).sum();
    Corpus { events, bytes, invalid, legacy }
}

/// `events` grouped into `application/cloudevents-batch+json` bodies of
/// `size` events each (the last may be shorter).
pub fn batches(events: &[Vec<u8>], size: usize) -> Vec<Vec<u8>> {
    events
        .chunks(size)
        .map(|chunk| {
            let mut body = Vec::with_capacity(chunk.iter().map(|e| e.len() + 1).sum::<usize>() + 2);
            body.push(b'[');
            for (i, event) in chunk.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(event);
            }
            body.push(b']');
            body
        })
        .collect()
}
