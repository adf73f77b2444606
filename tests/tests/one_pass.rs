//! `EventCatalog::parse_event` (one pass: `data` decoded while the envelope
//! is read) against `Envelope::parse` + `Catalog::decode` (two passes):
//! the same verdict, error code, attribute, message, pointers, envelope and
//! typed event for every input, whatever the member order.
//!
//! The corpus test also pins the outcomes to those the parser gave before
//! the one-pass reader existed (a digest recorded from that build).

mod support;

use herald::envelope::{DEFAULT_MAX_BATCH_EVENTS, parse_batch};
use herald::{Envelope, EventCatalog};
use herald_tests::events::Catalog;
use proptest::prelude::*;
use serde_json::{Value, json};
use support::corpus;
use support::instances::{Generator, Rng};

/// The outcome digest of the corpus's first 20,000 events, printed by the
/// parse benchmark built from the commit before the one-pass reader
/// (`outcome digest: first 20000 …`) was `0xcf84_e985_df2b_bd4f`. Issue 17
/// made a string with `pattern` a plain `String` checked by `validate()`
/// (no typify newtype): the lines of 94 events changed, none in verdict or
/// pointers — 93 typed events print `sha256: Some("…")` instead of
/// `Some(ArtifactRegisteredSha256("…"))`, and the one bad `sha256` reads
/// "string does not match the pattern … (rule `pattern`)" instead of
/// serde's "doesn't match pattern … at line 1 column 192". This is the
/// digest with those lines, every other line as before (`0xe678_f8e4_1405_8076`).
/// Then the data types' own `Deserialize` (`__private::de`) changed the lines
/// of 4 refused events, none in verdict: 3 whose `data` is an array now say
/// "invalid type: sequence, expected struct RunMetric" at `/data` (serde's
/// derive had read the array's elements as the struct's fields, and failed
/// at `/data/0`), and a non-string `result` says "expected `success` or
/// `failure`" where serde_json said "expected value".
const BEFORE_DIGEST_20K: u64 = 0x5c04_96ed_e5eb_3933;

/// One line per event: its verdict, error code, attribute, message and
/// pointers, the canonical envelope and the typed event.
fn two_pass(bytes: &[u8]) -> String {
    match Envelope::parse(bytes, Catalog::ENVELOPE) {
        Err(e) => format!("envelope {} {:?} {e}", e.code(), e.attribute()),
        Ok(envelope) => match Catalog::decode(&envelope) {
            Ok(event) => format!("ok {} {event:?}", envelope.to_json()),
            Err(e) => format!("data {:?} {e}", e.pointers()),
        },
    }
}

/// [`two_pass`]'s line for the one-pass result.
fn line(parsed: Result<herald::Parsed<'_, herald_tests::events::Event>, herald::EnvelopeError>) -> String {
    match parsed {
        Err(e) => format!("envelope {} {:?} {e}", e.code(), e.attribute()),
        Ok(p) => match p.event {
            Ok(event) => format!("ok {} {event:?}", p.envelope.to_json()),
            Err(e) => format!("data {:?} {e}", e.pointers()),
        },
    }
}

fn one_pass(bytes: &[u8]) -> String {
    line(Catalog::parse_event(bytes))
}

/// FNV-1a over the lines, as the benchmark computes it.
fn digest(lines: impl Iterator<Item = String>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for l in lines {
        for b in l.bytes().chain([b'\n']) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[test]
fn corpus_outcomes_are_those_of_before() {
    let corpus = corpus::build(20_000);
    let mut kinds = [0usize; 3];
    for (i, event) in corpus.events.iter().enumerate() {
        let (a, b) = (two_pass(event), one_pass(event));
        assert_eq!(a, b, "event {i}: {}", String::from_utf8_lossy(event));
        kinds[usize::from(a.starts_with("envelope")) + 2 * usize::from(a.starts_with("data"))] += 1;
    }
    // Every kind of outcome is there in numbers, or the digest proves little.
    assert!(kinds.iter().all(|&k| k > 500), "{kinds:?}");
    assert_eq!(digest(corpus.events.iter().map(|e| one_pass(e))), BEFORE_DIGEST_20K);
}

#[test]
fn batches_give_each_event_its_single_outcome() {
    let corpus = corpus::build(3_000);
    let mut refused = 0;
    for body in corpus::batches(&corpus.events, 100) {
        let elements: Vec<&[u8]> = {
            let values: Vec<&serde_json::value::RawValue> = serde_json::from_slice(&body).unwrap();
            values.iter().map(|v| v.get().as_bytes()).collect()
        };
        let (batch, envelopes) = match (Catalog::parse_batch_events(&body, DEFAULT_MAX_BATCH_EVENTS), parse_batch(&body, Catalog::ENVELOPE))
        {
            (Ok(batch), Ok(envelopes)) => (batch, envelopes),
            // A `specversion` other than 1.0 refuses the whole body, both ways.
            (Err(a), Err(b)) => {
                assert_eq!(a.to_string(), b.to_string());
                refused += 1;
                continue;
            }
            (a, b) => panic!("one pass: {:?}, two passes: {:?}", a.map(|v| v.len()), b.map(|v| v.len())),
        };
        assert_eq!(batch.len(), elements.len());
        for ((result, element), envelope) in batch.into_iter().zip(&elements).zip(envelopes) {
            let single = one_pass(element);
            assert_eq!(line(result), single);
            let two = match envelope {
                Err(e) => format!("envelope {} {:?} {e}", e.code(), e.attribute()),
                Ok(env) => match Catalog::decode(&env) {
                    Ok(event) => format!("ok {} {event:?}", env.to_json()),
                    Err(e) => format!("data {:?} {e}", e.pointers()),
                },
            };
            assert_eq!(two, single);
        }
    }
    assert!(refused < 20, "{refused} of 30 batches refused whole");
}

#[test]
fn batch_bodies_refused_whole_as_before() {
    let good =
        r#"{"specversion":"1.0","id":"1","source":"s","type":"ai.run.canceled","data":{"run_id":"0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f"}}"#;
    for body in [
        format!("[{good},]"),
        format!("[{good}"),
        format!("[{good}] x"),
        format!("[{good},1]"),
        format!("[{good},{}]", good.replace("1.0", "0.3")),
        good.to_string(),
        "[".to_owned(),
        format!("[{good},{good},{good}]"),
    ] {
        let typed = Catalog::parse_batch_events(body.as_bytes(), 2).map(|v| v.len());
        let plain = herald::envelope::parse_batch_limited(body.as_bytes(), Catalog::ENVELOPE, 2).map(|v| v.len());
        assert_eq!(typed.map_err(|e| e.to_string()), plain.map_err(|e| e.to_string()), "{body}");
    }
    assert_eq!(Catalog::parse_batch_events(b" [ ] ", 2).unwrap().len(), 0);
}

const RUN: &str = "0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f";

/// An envelope around `data`, members in the given order.
fn event(members: &[(&str, &str)]) -> String {
    let body: Vec<String> = members.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    format!("{{{}}}", body.join(","))
}

#[test]
fn edge_cases_agree() {
    let data = format!(r#"{{"run_id":"{RUN}","progress":0.5,"current_step":"x"}}"#);
    let subject = format!("\"run/{RUN}\"");
    let base = [
        ("specversion", "\"1.0\""),
        ("id", "\"e1\""),
        ("source", "\"/w\""),
        ("type", "\"ai.run.progress\""),
        ("data", data.as_str()),
        // The seed's envelope rules of events.yaml.
        ("subject", &subject),
        ("time", "\"2024-05-01T12:00:00Z\""),
        ("datacontenttype", "\"application/json\""),
    ];
    let mut cases: Vec<String> = vec![event(&base)];
    let with = |extra: &[(&str, &str)]| {
        let mut m = base.to_vec();
        m.extend_from_slice(extra);
        event(&m)
    };
    let bad_data = format!(r#"{{"run_id":"{RUN}","progress":2}}"#);
    let shape = format!(r#"{{"run_id":"{RUN}","progress":"x"}}"#);
    for extra in [
        vec![("seq", "3")],
        vec![("s\\u0065q", "3")],
        vec![("datacontenttype", "\"text/plain\"")],
        vec![("data_base64", "\"aGk=\"")],
        vec![("type", "\"ai.run.metric\"")],
        vec![("extensions", r#"{"seq":4,"traceparent":"00-x"}"#)],
        vec![("extensions", r#"{"seq":"four"}"#)],
        vec![("seq", "\"x\"")],
        vec![("time", "\"2024-13-01T00:00:00Z\"")],
        vec![("Bad", "1")],
    ] {
        cases.push(with(&extra));
    }
    let mut swapped = base.to_vec();
    swapped.swap(3, 4);
    cases.push(event(&swapped));
    for d in ["null", "{}", "[]", "1", bad_data.as_str(), shape.as_str(), "{\"run_id\":1"] {
        let mut m = base.to_vec();
        m[4].1 = d;
        cases.push(event(&m));
    }
    // Whitespace everywhere, an escaped `data` key, an escaped key after it.
    let spaced = format!(
        " {{ \"specversion\" : \"1.0\" , \"id\":\"e\", \"source\":\"s\", \"subject\": {subject} , \"time\":\"2024-05-01T12:00:00Z\",\"datacontenttype\" : \"application/json\", \"type\" :\"ai.run.progress\" ,\n\"data\"\t: {data} \r\n, \"tr\\u0061ce\" : \"t\" }} "
    );
    cases.push(spaced.clone());
    cases.push(format!(r#"{{"specversion":"1.0","id":"e","source":"s","type":"ai.run.progress","d\u0061ta":{data}}}"#));
    cases.push(format!(r#"{{"specversion":"1.0","id":"e","source":"s","type":"ai.run.progress","data":{data} , "x":1}}"#));
    cases.push(format!(r#"{{"specversion":"1.0","id":"e","source":"s","type":"ai.run.progress","data":{data}}} x"#));
    cases.push(format!(r#"{{"specversion":"1.0","id":"e","source":"s","type":"ai.run.progress","data":{data}"#));
    cases.push(format!(
        r#"{{"specversion":"1.0","id":"e","source":"s","type":"ai.run.started","data":{{"run_id":"{RUN}","config":{}}}}}"#,
        "[".repeat(200) + &"]".repeat(200)
    ));
    cases.push(format!("{{\"specversion\":\"1.0\",\"id\":\"\u{e9}\",\"source\":\"s\",\"type\":\"ai.run.progress\",\"data\":{data}}}"));
    let mut invalid_utf8 = event(&base).into_bytes();
    invalid_utf8.splice(20..20, [0xff]);
    for case in &cases {
        assert_eq!(one_pass(case.as_bytes()), two_pass(case.as_bytes()), "{case}");
    }
    assert_eq!(one_pass(&invalid_utf8), two_pass(&invalid_utf8));
    // The raw `data` kept in the envelope is exactly the member's text.
    for text in [&spaced, &event(&base)] {
        let parsed = Catalog::parse_event(text.as_bytes()).unwrap();
        assert!(parsed.event.is_ok());
        assert_eq!(parsed.envelope.data.unwrap().as_bytes(), data.as_bytes());
    }
}

/// The catalog's types, with a generator and an example each.
fn types() -> Vec<(&'static str, Value)> {
    Catalog::TYPES.iter().map(|i| (i.type_name, serde_json::from_str(i.schema).unwrap())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The same event with `data` before or after `type` (and anywhere
    /// else among the members) gets the same outcome, which is the
    /// two-pass one.
    #[test]
    fn member_order_does_not_change_the_outcome(
        t in 0..Catalog::TYPES.len(),
        seed in any::<u64>(),
        mutate in any::<bool>(),
        data_at in 0usize..8,
        legacy in any::<bool>(),
    ) {
        let types = types();
        let (type_name, schema) = &types[t];
        let generator = Generator::new(schema);
        let mut rng = Rng::new(seed);
        let mut data = generator.valid(&mut rng);
        if mutate
            && let Some((_, bad)) = generator.mutate(&data, &mut rng) {
                data = bad;
            }
        let data = serde_json::to_string(&data).unwrap();
        let ty = json!(type_name).to_string();
        let ext = if legacy { ("extensions", r#"{"seq":7,"traceparent":"00-ab"}"#) } else { ("seq", "7") };
        let mut members = vec![("specversion", "\"1.0\""), ("id", "\"e1\""), ("source", "\"/w\""), ("type", ty.as_str()), ("time", "\"2024-05-01T12:00:00Z\""), ext];
        let before = { let mut m = members.clone(); m.insert(0, ("data", data.as_str())); event(&m) };
        members.insert(data_at.min(members.len()), ("data", data.as_str()));
        let anywhere = event(&members);
        members.retain(|(k, _)| *k != "data");
        members.push(("data", data.as_str()));
        let after = event(&members);
        let expected = two_pass(after.as_bytes());
        prop_assert_eq!(&one_pass(after.as_bytes()), &expected);
        prop_assert_eq!(&one_pass(before.as_bytes()), &expected);
        prop_assert_eq!(&one_pass(anywhere.as_bytes()), &expected);
        prop_assert_eq!(&two_pass(before.as_bytes()), &expected);
    }
}

/// The subject check (`envelope.subject_matches_template`, `run/{run_id}`)
/// gives the two-pass verdict and error whether the one pass settles it
/// from the values it recorded while decoding `data` or leaves it to the
/// check that reads `data` again: the value compares as sent (case,
/// escapes), wherever it is among the members and however it is spaced.
#[test]
fn subject_checks_agree() {
    let upper = RUN.to_uppercase();
    // `data`, and the subjects to try with it.
    let escaped_value = format!(r#"{{"run_id":"\u0030{}","progress":0.5}}"#, &RUN[1..]);
    let cases: Vec<(String, Vec<String>)> = vec![
        (
            format!(r#"{{"run_id":"{RUN}","progress":0.5}}"#),
            vec![format!("run/{RUN}"), format!("run/{upper}"), format!("run/{RUN}/"), "run/".into()],
        ),
        (format!(r#"{{"run_id":"{upper}","progress":0.5}}"#), vec![format!("run/{upper}"), format!("run/{RUN}")]),
        (format!(r#"{{"progress":0.5,"current_step":"x", "run_id" : "{RUN}" }}"#), vec![format!("run/{RUN}"), format!("job/{RUN}")]),
        (escaped_value, vec![format!("run/{RUN}"), format!("run/\\u0030{}", &RUN[1..])]),
        (format!(r#"{{"run\u005fid":"{RUN}","progress":0.5}}"#), vec![format!("run/{RUN}"), format!("run/{upper}")]),
        (format!(r#"{{"run_id":"{RUN}","run_id":"{RUN}","progress":0.5}}"#), vec![format!("run/{RUN}")]),
        (r#"{"run_id":7,"progress":0.5}"#.into(), vec!["run/7".into()]),
        (r#"{"run_id":{"a":1},"progress":0.5}"#.into(), vec![r#"run/{"a":1}"#.into()]),
        (r#"{"progress":0.5}"#.into(), vec!["run/".into()]),
    ];
    for (data, subjects) in &cases {
        for subject in subjects {
            let subject = json!(subject).to_string();
            let mut members = vec![
                ("specversion", "\"1.0\""),
                ("id", "\"e1\""),
                ("source", "\"/w\""),
                ("type", "\"ai.run.progress\""),
                ("data", data.as_str()),
                ("subject", subject.as_str()),
                ("time", "\"2024-05-01T12:00:00Z\""),
                ("datacontenttype", "\"application/json\""),
            ];
            let after = event(&members);
            members.swap(3, 4);
            let before = event(&members);
            let expected = two_pass(after.as_bytes());
            assert_eq!(one_pass(after.as_bytes()), expected, "{after}");
            assert_eq!(one_pass(before.as_bytes()), expected, "{before}");
            let body = format!("[{after},{before}]");
            for element in Catalog::parse_batch_events(body.as_bytes(), 2).unwrap() {
                assert_eq!(line(element), expected, "{body}");
            }
        }
    }
    // The cases hold both verdicts of the check.
    let outcome = |data: &str, subject: &str| {
        let members = [("specversion", "\"1.0\""), ("id", "\"e\""), ("source", "\"/w\""), ("type", "\"ai.run.progress\""), ("data", data)];
        let subject = json!(subject).to_string();
        let mut members = members.to_vec();
        members.extend([("subject", subject.as_str()), ("time", "\"2024-05-01T12:00:00Z\""), ("datacontenttype", "\"application/json\"")]);
        one_pass(event(&members).as_bytes())
    };
    let data = &cases[0].0;
    assert!(outcome(data, &format!("run/{RUN}")).starts_with("ok "));
    assert!(outcome(data, &format!("run/{upper}")).starts_with(r#"data ["/subject"]"#), "a uuid compares as sent");
    assert!(outcome(&cases[1].0, &format!("run/{upper}")).starts_with("ok "));
}
