//! The fuzz targets: one function per parser, taking the fuzzer's bytes.
//!
//! `fuzz/` (cargo-fuzz, libFuzzer) calls each of these from a three-line
//! `fuzz_target!`, and `tests/tests/fuzz_corpus.rs` replays the checked-in
//! corpus and every crash found so far through the same functions on plain
//! stable `cargo test`. A target "finds" something by panicking: the parsers
//! must return an error for any input, never panic, and where the crate
//! promises two ways to agree (one-pass and two-pass reading, parse and
//! `to_json`), the target asserts that they do.
//!
//! See `FUZZING.md` for how to run them and what they found.

use herald::envelope::{DEFAULT_MAX_BATCH_EVENTS, parse_batch_limited, parse_binary};
use herald::{DataError, Envelope, EnvelopeError, EnvelopeOptions, EventCatalog, Parsed};

use crate::events::{Catalog, Event};

/// A fuzz target: panics on a finding, returns on any other input.
pub type Target = fn(&[u8]);

/// Every target, by the name its fuzz binary, corpus and regression folders
/// carry (`fuzz/fuzz_targets/{name}.rs`, `fuzz/corpus/{name}/`,
/// `fuzz/regressions/{name}/`).
pub const TARGETS: &[(&str, Target)] = &[
    ("structured", structured),
    ("parse_event", parse_event),
    ("batch", batch),
    ("binary", binary),
    ("decode", decode),
    ("catalog_yaml", catalog_yaml),
];

/// Most events a fuzzed batch may hold: small, so the limit is reached and
/// its error path exercised, as a server's `--max-batch-events` would.
const FUZZ_MAX_BATCH_EVENTS: usize = 16;

/// The envelope option sets the structured target runs: none, the legacy
/// `extensions` object alone, and every catalog rule on (what
/// `events.yaml` asks for).
const ENVELOPE_OPTIONS: [EnvelopeOptions; 3] = [
    EnvelopeOptions::STANDARD,
    EnvelopeOptions { legacy_extensions_object: true, ..EnvelopeOptions::STANDARD },
    EnvelopeOptions {
        legacy_extensions_object: true,
        required: &["subject", "time", "datacontenttype"],
        datacontenttype: Some("application/json"),
        int64_extensions: &["seq"],
        subject_matches_template: true,
    },
];

/// Structured mode, each of the option sets `ENVELOPE_OPTIONS` lists: [`Envelope::parse`] refuses
/// the input or gives an envelope whose canonical JSON
/// ([`Envelope::to_json`]) parses back to the same envelope.
pub fn structured(data: &[u8]) {
    for opts in ENVELOPE_OPTIONS {
        match Envelope::parse(data, opts) {
            Err(e) => describe_envelope_error(&e),
            Ok(envelope) => {
                let json = envelope.to_json();
                let again = Envelope::parse(json.as_bytes(), opts)
                    .unwrap_or_else(|e| panic!("the canonical JSON of a parsed envelope is refused: {e}\n{json}"));
                assert_eq!(again, envelope, "to_json does not round-trip:\n{json}");
            }
        }
    }
}

/// The project catalog's one-pass reader ([`EventCatalog::parse_event`])
/// gives exactly what [`Envelope::parse`] then [`EventCatalog::decode`]
/// give: verdict, error code, attribute, message, pointers, envelope and
/// typed event.
pub fn parse_event(data: &[u8]) {
    let one = outcome(Catalog::parse_event(data));
    let two = two_pass(Envelope::parse(data, Catalog::ENVELOPE));
    assert_eq!(one, two, "one-pass and two-pass reading disagree");
}

/// Batch mode: [`EventCatalog::parse_batch_events`] and
/// [`parse_batch_limited`] refuse the same bodies with the same error, and
/// otherwise give one result per element that matches the two-pass reading
/// of that element's envelope.
pub fn batch(data: &[u8]) {
    let typed = Catalog::parse_batch_events(data, FUZZ_MAX_BATCH_EVENTS);
    let plain = parse_batch_limited(data, Catalog::ENVELOPE, FUZZ_MAX_BATCH_EVENTS);
    match (typed, plain) {
        (Err(a), Err(b)) => {
            describe_envelope_error(&a);
            assert_eq!(a.to_string(), b.to_string(), "the batch is refused with different errors");
        }
        (Ok(typed), Ok(plain)) => {
            assert_eq!(typed.len(), plain.len(), "different numbers of elements");
            assert!(typed.len() <= FUZZ_MAX_BATCH_EVENTS, "{} elements passed a limit of {FUZZ_MAX_BATCH_EVENTS}", typed.len());
            for (i, (one, two)) in typed.into_iter().zip(plain).enumerate() {
                assert_eq!(outcome(one), two_pass(two), "element {i}: one-pass and two-pass reading disagree");
            }
        }
        (a, b) => panic!(
            "one pass: {:?}, two passes: {:?}",
            a.map(|v| v.len()).map_err(|e| e.to_string()),
            b.map(|v| v.len()).map_err(|e| e.to_string())
        ),
    }
    // Without the catalog's options, and with the default limit.
    match herald::envelope::parse_batch(data, EnvelopeOptions::default()) {
        Ok(events) => assert!(events.len() <= DEFAULT_MAX_BATCH_EVENTS),
        Err(e) => describe_envelope_error(&e),
    }
}

/// Binary mode as the server reads it: [`parse_binary`] over the headers,
/// then [`EventCatalog::decode`]. The input is a header block, one
/// `name: value` per line (values are raw bytes), then an empty line and the
/// body: see [`split_binary`].
pub fn binary(data: &[u8]) {
    let (headers, body) = split_binary(data);
    let outcome = parse_binary(headers.iter().map(|&(n, v)| (n, v)), body, Catalog::ENVELOPE).map(|envelope| {
        let event = Catalog::decode(&envelope);
        Parsed { envelope, event }
    });
    let _ = self::outcome(outcome);
}

/// The generated decoding of each event type's `data`
/// ([`herald::EventTypeInfo::decode`]). The input is the event type, a
/// newline, then the `data` bytes. The catalog's streaming decoder
/// ([`EventCatalog::deserialize_data`], used by the one-pass reader) must
/// give the same verdict: the same event, the same validation errors, or
/// a shape error both ways.
pub fn decode(data: &[u8]) {
    let (type_name, bytes) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => return,
    };
    let Some(index) = std::str::from_utf8(type_name).ok().and_then(Catalog::lookup_index) else { return };
    let info = &Catalog::TYPES[index];
    let decoded = (info.decode)(bytes);
    if let Err(e) = &decoded {
        describe_data_error(e);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let streamed = Catalog::deserialize_data(index, &mut de).and_then(|d| de.end().map(|()| d));
    match (&decoded, streamed) {
        (Ok(event), Ok(Ok(other))) => {
            assert_eq!(event.type_name(), info.type_name);
            assert_eq!(event, &other, "decode and deserialize_data give different events");
        }
        (Err(a), Ok(Err(b))) => assert_eq!(a, &b, "decode and deserialize_data break different rules"),
        (Err(DataError::Shape { .. }), Err(_)) => {}
        (a, b) => panic!("decode: {a:?}\ndeserialize_data: {b:?}"),
    }
}

/// The catalog loader of herald-codegen: YAML, the catalog model and every
/// lint ([`herald_codegen::__private::catalog::parse`]), on any UTF-8 text.
pub fn catalog_yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match herald_codegen::__private::catalog::parse("fuzz.yaml", text) {
        Ok(catalog) => {
            let sorted = |names: Vec<&str>| names.windows(2).all(|w| w[0] < w[1]);
            assert!(sorted(catalog.events.iter().map(|e| e.type_name.as_str()).collect()), "events not sorted");
            assert!(sorted(catalog.extensions.iter().map(|e| e.name.as_str()).collect()), "extensions not sorted");
        }
        Err(diagnostics) => {
            assert!(!diagnostics.0.is_empty(), "a refused catalog must say why");
            let _ = diagnostics.to_string();
        }
    }
}

/// The binary target's input: lines of `name: value` up to the first empty
/// line (a name that is not UTF-8, or a line without `:`, is skipped), then
/// the body. Without an empty line, everything is headers and the body is
/// empty.
pub fn split_binary(data: &[u8]) -> (Vec<(&str, &[u8])>, &[u8]) {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &data[data.len()..]),
    };
    let headers = head
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            let name = std::str::from_utf8(&line[..colon]).ok()?;
            Some((name, &line[colon + 1..]))
        })
        .collect();
    (headers, body)
}

/// The one-line outcome of reading one event, as `tests/one_pass.rs` writes
/// it: verdict, error code, attribute, message, pointers, canonical
/// envelope, typed event.
fn outcome(parsed: Result<Parsed<'_, Event>, EnvelopeError>) -> String {
    match parsed {
        Err(e) => envelope_line(&e),
        Ok(p) => match p.event {
            Ok(event) => format!("ok {} {event:?}", p.envelope.to_json()),
            Err(e) => data_line(&e),
        },
    }
}

/// [`outcome`] for an envelope read on its own, then decoded.
fn two_pass(envelope: Result<Envelope<'_>, EnvelopeError>) -> String {
    match envelope {
        Err(e) => envelope_line(&e),
        Ok(envelope) => match Catalog::decode(&envelope) {
            Ok(event) => format!("ok {} {event:?}", envelope.to_json()),
            Err(e) => data_line(&e),
        },
    }
}

fn envelope_line(e: &EnvelopeError) -> String {
    describe_envelope_error(e);
    format!("envelope {} {:?} {e}", e.code(), e.attribute())
}

fn data_line(e: &DataError) -> String {
    describe_data_error(e);
    format!("data {:?} {e}", e.pointers())
}

/// Everything an error answer is built from must be producible for any
/// error: its code, attribute and message.
fn describe_envelope_error(e: &EnvelopeError) {
    assert!(!e.code().is_empty());
    assert!(!e.to_string().is_empty(), "an empty message for `{}`", e.code());
}

/// Every pointer of a data error is rooted at `/data`, but for the one
/// cross-check of data and envelope: a `subject` that is not the type's
/// template filled from the data points at `/subject`.
fn describe_data_error(e: &DataError) {
    for pointer in e.pointers() {
        assert!(pointer.starts_with("/data") || pointer == "/subject", "pointer `{pointer}` is not under /data ({e})");
    }
    assert!(!e.to_string().is_empty());
}
