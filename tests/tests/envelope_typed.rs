//! End to end over the project catalog (`events.yaml`): structured
//! CloudEvents envelopes are parsed by `herald::Envelope`, their `data` is
//! decoded into the generated types by `Catalog::decode`, and the generated
//! `dispatch` routes each event to its `Handler` method.

use std::future::Future;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use herald::envelope::parse_batch;
use herald::{DataError, Envelope, EventCatalog, EventContext};
use herald_tests::events::{self, Catalog, EnvelopeExt, Event, Handler};
use serde_json::{Value, json};

// `for_each_event!($m)`: `$m! { method(Type), … }` over every type of
// `events.yaml`, written by `build.rs` from the catalog, so the `Handler`
// impl below covers exactly the catalog's types.
include!(concat!(env!("OUT_DIR"), "/for_each_event.rs"));

const RUN_ID: &str = "0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f";
const TIME: &str = "2024-05-01T12:30:00.250+02:00";
const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

fn ir_catalog() -> herald_codegen::__private::ir::Catalog {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events.yaml");
    herald_codegen::__private::catalog::load(&path).unwrap_or_else(|e| panic!("events.yaml does not load:\n{e}"))
}

/// The first example of each type, with its stream key set to `RUN_ID`.
fn examples() -> Vec<(&'static herald::EventTypeInfo<Event>, Value)> {
    let ir = ir_catalog();
    Catalog::TYPES
        .iter()
        .map(|info| {
            let event = ir.event(info.type_name).unwrap_or_else(|| panic!("`{}` not in events.yaml", info.type_name));
            let mut data = event.examples.first().cloned().unwrap_or_else(|| panic!("`{}` has no example", info.type_name));
            if let Some(key) = info.stream_key.and_then(|k| data.get_mut(k)) {
                *key = json!(RUN_ID);
            }
            (info, data)
        })
        .collect()
}

/// The stream key of a type of `events.yaml`, where every event has one.
fn run_key(info: &herald::EventTypeInfo<Event>) -> &'static str {
    info.stream_key.unwrap_or_else(|| panic!("`{}` has no stream key", info.type_name))
}

/// `run/{run_id}` with the template's fields taken from `data`.
fn subject(template: &str, data: &Value) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').map_or(rest.len(), |e| start + e);
        let field = &rest[start + 1..end];
        match &data[field] {
            Value::String(s) => out.push_str(s),
            other => out.push_str(&other.to_string()),
        }
        rest = &rest[(end + 1).min(rest.len())..];
    }
    out.push_str(rest);
    out
}

/// A full structured-mode envelope around `data`.
fn full_envelope(info: &herald::EventTypeInfo<Event>, id: &str, data: &Value) -> Value {
    let template = info.subject.unwrap_or("run/{run_id}");
    json!({
        "specversion": "1.0",
        "id": id,
        "source": "/herald/tests",
        "type": info.type_name,
        "subject": subject(template, data),
        "time": TIME,
        "datacontenttype": "application/json",
        "data": data,
    })
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("a Value always serialises")
}

fn parse_and_decode(body: &[u8]) -> Result<Event, DataError> {
    let envelope = Envelope::parse(body, Catalog::ENVELOPE).unwrap_or_else(|e| panic!("envelope rejected: {e}"));
    Catalog::decode(&envelope)
}

#[test]
fn every_type_decodes_from_a_full_envelope() {
    let examples = examples();
    assert_eq!(examples.len(), Catalog::TYPES.len());
    for (i, (info, data)) in examples.iter().enumerate() {
        let body = bytes(&full_envelope(info, &format!("evt-{i}"), data));
        let envelope = Envelope::parse(&body, Catalog::ENVELOPE).unwrap_or_else(|e| panic!("`{}`: {e}", info.type_name));
        assert_eq!(envelope.ty, info.type_name);
        assert_eq!(envelope.id, format!("evt-{i}"));
        assert_eq!(envelope.time.as_ref().map(|t| t.as_str()), Some(TIME), "time keeps its offset as sent");
        let template = info.subject.unwrap_or("run/{run_id}");
        assert_eq!(envelope.subject.as_deref(), Some(subject(template, data).as_str()));
        let event = Catalog::decode(&envelope).unwrap_or_else(|e| panic!("`{}` example rejected: {e}\n{data}", info.type_name));
        assert_eq!(event.type_name(), info.type_name);
        assert_eq!(Catalog::lookup(info.type_name).map(|i| i.rust_name), Some(info.rust_name));
    }
}

#[test]
fn decoded_data_round_trips_to_the_example() {
    // Typed data serialises back to what was sent (modulo key order and
    // number spelling): nothing is lost between the wire and the handler.
    for (info, data) in examples() {
        let event = (info.decode)(&bytes(&data)).unwrap_or_else(|e| panic!("`{}`: {e}", info.type_name));
        let back = event_data_json(&event);
        assert_json_eq(&back, &data, info.type_name);
    }
}

fn event_data_json(event: &Event) -> Value {
    // `Event` is an enum of `Serialize` data types; serialise the payload.
    macro_rules! payload {
        ($($method:ident($variant:ident)),* $(,)?) => {
            match event { $(Event::$variant(d) => serde_json::to_value(d),)* }
        };
    }
    for_each_event!(payload).expect("generated data serialises")
}

fn assert_json_eq(a: &Value, b: &Value, what: &str) {
    fn norm(v: &Value) -> Value {
        match v {
            Value::Number(n) => json!(n.as_f64()),
            Value::Array(xs) => Value::Array(xs.iter().map(norm).collect()),
            Value::Object(m) => Value::Object(m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), norm(v))).collect()),
            other => other.clone(),
        }
    }
    assert_eq!(norm(a), norm(b), "`{what}`: typed data does not round-trip");
}

#[test]
fn unknown_type_is_reported() {
    let (info, data) = examples().swap_remove(0);
    let mut env = full_envelope(info, "evt-unknown", &data);
    env["type"] = json!("ai.nosuch.thing");
    let err = parse_and_decode(&bytes(&env)).unwrap_err();
    assert_eq!(err, DataError::UnknownType { type_name: "ai.nosuch.thing".into() });
    assert!(err.to_string().contains("events.yaml"), "the message says how to fix it: {err}");
}

#[test]
fn bad_data_points_into_data() {
    for (info, data) in examples() {
        // A malformed uuid in the stream key: a shape error at its pointer.
        let key = run_key(info);
        let mut bad = data.clone();
        bad[key] = json!("your-run-uuid");
        let err = parse_and_decode(&bytes(&full_envelope(info, "evt-bad", &bad))).unwrap_err();
        match &err {
            DataError::Shape { pointer, .. } => assert_eq!(pointer, &format!("/data/{key}"), "`{}`", info.type_name),
            other => panic!("`{}`: expected a shape error, got {other:?}", info.type_name),
        }

        // `data` that is not an object at all.
        let err = parse_and_decode(&bytes(&full_envelope(info, "evt-bad", &json!([1, 2])))).unwrap_err();
        assert!(matches!(err, DataError::Shape { ref pointer, .. } if pointer.starts_with("/data")), "{err:?}");
    }

    // A number out of bounds: a validation error carrying pointer, rule and value.
    let info = Catalog::lookup("ai.myfeature.progress").expect("the seed's progress event is in the catalog");
    let data = json!({"run_id": RUN_ID, "feature_name": "f", "progress": 1.5});
    let err = parse_and_decode(&bytes(&full_envelope(info, "evt-range", &data))).unwrap_err();
    let DataError::Invalid { errors } = &err else { panic!("expected a validation error, got {err:?}") };
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].pointer, "/data/progress");
    assert_eq!(errors[0].rule, "maximum");
    assert_eq!(errors[0].value, json!(1.5));
    assert_eq!(err.pointers(), vec!["/data/progress"]);
}

#[test]
fn missing_and_non_json_data() {
    let (info, data) = examples().swap_remove(0);
    let mut env = full_envelope(info, "evt-nodata", &data);
    env.as_object_mut().expect("object").remove("data");
    let err = parse_and_decode(&bytes(&env)).unwrap_err();
    assert_eq!(err, DataError::MissingData { type_name: info.type_name.into() });

    let mut env = full_envelope(info, "evt-xml", &data);
    env["datacontenttype"] = json!("application/xml");
    env["data"] = json!("<run/>");
    // events.yaml pins `application/json`: the envelope itself is refused.
    let e = Envelope::parse(&bytes(&env), Catalog::ENVELOPE).unwrap_err();
    assert_eq!((e.code(), e.attribute()), ("invalid_datacontenttype", Some("datacontenttype")));
    // Without the pin, the catalog refuses the data as not JSON.
    let unpinned = herald::EnvelopeOptions { datacontenttype: None, ..Catalog::ENVELOPE };
    let body = bytes(&env);
    let envelope = Envelope::parse(&body, unpinned).unwrap();
    let err = Catalog::decode(&envelope).unwrap_err();
    assert!(matches!(err, DataError::NotJson { .. }), "{err:?}");

    // Media types match case-insensitively, parameters stripped.
    let mut env = full_envelope(info, "evt-charset", &data);
    env["datacontenttype"] = json!("Application/JSON; charset=utf-8");
    parse_and_decode(&bytes(&env)).expect("JSON with parameters is JSON");
}

/// The curl example from the seed SOP, with a real uuid in place of the
/// placeholder, decodes; the placeholder itself is a shape error.
#[test]
fn seed_curl_example_decodes() {
    let curl = |run_id: &str| {
        format!(
            r#"{{
    "specversion": "1.0",
    "id": "test-event-001",
    "source": "test",
    "type": "ai.myfeature.started",
    "subject": "run/{run_id}",
    "time": "2024-01-01T00:00:00Z",
    "datacontenttype": "application/json",
    "data": {{
      "run_id": "{run_id}",
      "feature_name": "test_feature"
    }}
  }}"#
        )
    };
    let body = curl(RUN_ID);
    let envelope = Envelope::parse(body.as_bytes(), Catalog::ENVELOPE).expect("the seed's envelope is valid");
    assert_eq!(envelope.subject.as_deref(), Some(format!("run/{RUN_ID}").as_str()));
    let event = Catalog::decode(&envelope).expect("the seed's data is valid");
    let Event::MyfeatureStarted(data) = &event else { panic!("wrong variant: {event:?}") };
    assert_eq!(data.run_id.to_string(), RUN_ID);
    assert_eq!(data.feature_name, "test_feature");

    let body = curl("your-run-uuid");
    let err = parse_and_decode(body.as_bytes()).unwrap_err();
    assert!(matches!(&err, DataError::Shape { pointer, .. } if pointer == "/data/run_id"), "{err:?}");
}

/// The seed orchestrator nests extensions in an `extensions` object; the
/// catalog turns on `legacy_extensions_object`, so they are lifted to the
/// top level and the typed accessors see them.
#[test]
fn legacy_extensions_object_is_accepted() {
    const { assert!(Catalog::ENVELOPE.legacy_extensions_object, "events.yaml turns the legacy object on") };
    let (info, data) = examples().swap_remove(0);
    let mut env = full_envelope(info, "evt-legacy", &data);
    env["extensions"] = json!({"seq": 3, "traceparent": TRACEPARENT});
    let body = bytes(&env);
    let envelope = Envelope::parse(&body, Catalog::ENVELOPE).expect("legacy extensions accepted");
    assert_eq!(envelope.seq(), Some(3));
    assert_eq!(envelope.traceparent(), Some(TRACEPARENT));
    assert!(envelope.extension("extensions").is_none(), "the object itself is not an extension");
    Catalog::decode(&envelope).expect("decodes");

    // The same at the top level, as CloudEvents v1.0 says.
    let mut env = full_envelope(info, "evt-top", &data);
    env["seq"] = json!(3);
    let body = bytes(&env);
    let envelope = Envelope::parse(&body, Catalog::ENVELOPE).expect("top-level extensions");
    assert_eq!(envelope.seq(), Some(3));
    Catalog::decode(&envelope).expect("decodes");

    // Without the option, the nested object is rejected.
    let body = bytes(&{
        let mut env = full_envelope(info, "evt-legacy", &data);
        env["extensions"] = json!({"seq": 3});
        env
    });
    assert!(Envelope::parse(&body, herald::EnvelopeOptions::default()).is_err());
}

/// The seed's envelope, as `events.yaml` declares it under `envelope:`:
/// `subject`, `time` and `datacontenttype` required, the media type pinned
/// to `application/json`, `seq` a 64-bit integer, and the subject the
/// template filled from the data.
#[test]
fn the_seed_envelope_rules_hold() {
    assert_eq!(
        Catalog::ENVELOPE,
        herald::EnvelopeOptions {
            legacy_extensions_object: true,
            required: &["datacontenttype", "subject", "time"],
            datacontenttype: Some("application/json"),
            int64_extensions: &["seq"],
            subject_matches_template: true,
        }
    );
    let (info, data) = examples().swap_remove(0);
    let env = full_envelope(info, "evt-rules", &data);
    Catalog::decode(&Envelope::parse(&bytes(&env), Catalog::ENVELOPE).unwrap()).expect("the full envelope is valid");
    for attribute in ["subject", "time", "datacontenttype"] {
        let mut without = env.clone();
        without.as_object_mut().unwrap().remove(attribute);
        let e = Envelope::parse(&bytes(&without), Catalog::ENVELOPE).unwrap_err();
        assert_eq!((e.code(), e.attribute()), ("missing_attribute", Some(attribute)), "{e}");
    }
    let mut text = env.clone();
    text["datacontenttype"] = json!("text/json");
    let e = Envelope::parse(&bytes(&text), Catalog::ENVELOPE).unwrap_err();
    assert_eq!(e.code(), "invalid_datacontenttype");

    // A subject of another run is a sender bug: refused, pointing at `/subject`.
    let mut other = env.clone();
    other["subject"] = json!("run/641ef1c3-152e-45b3-ace7-a1f374add988");
    let err = Catalog::decode(&Envelope::parse(&bytes(&other), Catalog::ENVELOPE).unwrap()).unwrap_err();
    assert!(matches!(&err, DataError::Subject { pointer, .. } if pointer == "/subject"), "{err:?}");
    assert_eq!(err.pointers(), ["/subject"]);
    // Decoding the data comes first: bad data is reported as such.
    let mut bad = other.clone();
    bad["data"]["run_id"] = json!("nope");
    let err = Catalog::decode(&Envelope::parse(&bytes(&bad), Catalog::ENVELOPE).unwrap()).unwrap_err();
    assert!(matches!(&err, DataError::Shape { .. }), "{err:?}");

    // `seq` past 32 bits, as JSON and as binary mode's header text.
    let mut wide = env.clone();
    wide["seq"] = json!(1_i64 << 40);
    let body = bytes(&wide);
    let envelope = Envelope::parse(&body, Catalog::ENVELOPE).unwrap();
    assert_eq!(envelope.seq(), Some(1_i64 << 40));
    Catalog::decode(&envelope).expect("a 64-bit seq is valid");
    wide["seq"] = json!(u64::MAX);
    assert_eq!(Envelope::parse(&bytes(&wide), Catalog::ENVELOPE).unwrap_err().code(), "invalid_extension_value");
}

#[test]
fn declared_extension_of_the_wrong_type_is_rejected() {
    let (info, data) = examples().swap_remove(0);
    for (place, value) in [("top", json!("abc")), ("legacy", json!("abc")), ("top", json!(true))] {
        let mut env = full_envelope(info, "evt-ext", &data);
        if place == "top" {
            env["seq"] = value;
        } else {
            env["extensions"] = json!({"seq": value});
        }
        let body = bytes(&env);
        let envelope = Envelope::parse(&body, Catalog::ENVELOPE).expect("any extension value type is a valid envelope");
        assert_eq!(envelope.seq(), None);
        let err = Catalog::decode(&envelope).unwrap_err();
        assert_eq!(err, DataError::Extension { name: "seq".into(), expected: "a 64-bit integer" });
    }

    // An integer sent as a canonical string (binary mode does that) is fine.
    let mut env = full_envelope(info, "evt-ext", &data);
    env["seq"] = json!("42");
    let body = bytes(&env);
    let envelope = Envelope::parse(&body, Catalog::ENVELOPE).expect("valid");
    assert_eq!(envelope.seq(), Some(42));
    Catalog::decode(&envelope).expect("a canonical integer string is an integer");
}

#[test]
fn batch_gives_per_index_results() {
    let examples = examples();
    let (info0, data0) = &examples[0];
    let (info1, data1) = &examples[examples.len() - 1];
    let mut missing_id = full_envelope(info0, "x", data0);
    missing_id.as_object_mut().expect("object").remove("id");
    let mut bad_data = full_envelope(info1, "evt-2", data1);
    bad_data["data"][run_key(info1)] = json!(17);
    let mut unknown = full_envelope(info0, "evt-3", data0);
    unknown["type"] = json!("ai.nosuch.thing");
    let batch = json!([full_envelope(info0, "evt-0", data0), missing_id, bad_data, unknown, full_envelope(info1, "evt-4", data1)]);
    let body = bytes(&batch);

    let results = parse_batch(&body, Catalog::ENVELOPE).expect("the body is a batch");
    assert_eq!(results.len(), 5);
    let decoded: Vec<Result<Result<Event, DataError>, &'static str>> =
        results.iter().map(|r| r.as_ref().map(Catalog::decode).map_err(|e| e.code())).collect();

    assert_eq!(decoded[0].as_ref().unwrap().as_ref().unwrap().type_name(), info0.type_name);
    assert_eq!(decoded[1].as_ref().unwrap_err(), &"missing_attribute");
    match decoded[2].as_ref().unwrap() {
        Err(DataError::Shape { pointer, .. }) => assert_eq!(pointer, &format!("/data/{}", run_key(info1))),
        other => panic!("expected a shape error at index 2, got {other:?}"),
    }
    assert!(matches!(decoded[3].as_ref().unwrap(), Err(DataError::UnknownType { .. })));
    assert_eq!(decoded[4].as_ref().unwrap().as_ref().unwrap().type_name(), info1.type_name);
    assert_eq!(results[4].as_ref().unwrap().id, "evt-4");
}

// ---------------------------------------------------------------------------
// Handler and dispatch

/// Records which method handled which event id.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<(&'static str, String)>>,
}

impl Recorder {
    fn record(&self, method: &'static str, ctx: &EventContext<'_>) -> std::future::Ready<Result<&'static str, String>> {
        self.calls.lock().expect("not poisoned").push((method, ctx.id().to_string()));
        std::future::ready(Ok(method))
    }
}

macro_rules! recording_handler {
    ($($method:ident($ty:ident)),* $(,)?) => {
        impl Handler for Recorder {
            type Output = &'static str;
            type Error = String;
            $(
                fn $method(
                    &self,
                    ctx: &EventContext<'_>,
                    _data: events::$ty,
                ) -> impl Future<Output = Result<&'static str, String>> + Send {
                    self.record(stringify!($method), ctx)
                }
            )*
        }
    };
}

for_each_event!(recording_handler);

/// Poll a future that never waits (every handler here is ready at once).
fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("the future did not complete");
}

#[test]
fn dispatch_routes_every_type_to_its_method() {
    let recorder = Recorder::default();
    let examples = examples();
    for (i, (info, data)) in examples.iter().enumerate() {
        let body = bytes(&full_envelope(info, &format!("evt-{i}"), data));
        let envelope = Envelope::parse(&body, Catalog::ENVELOPE).expect("valid envelope");
        let event = Catalog::decode(&envelope).expect("valid data");
        let ctx = EventContext::new(&envelope);
        let method = block_on(events::dispatch(&recorder, &ctx, event)).expect("recorder never fails");
        assert_eq!(method, info.handler_method, "`{}` routed to the wrong method", info.type_name);
    }
    let calls = recorder.calls.into_inner().expect("not poisoned");
    assert_eq!(calls.len(), Catalog::TYPES.len());
    for (i, ((method, id), info)) in calls.iter().zip(Catalog::TYPES).enumerate() {
        assert_eq!(*method, info.handler_method);
        assert_eq!(id, &format!("evt-{i}"), "the handler sees the envelope it came in");
    }
    let mut methods: Vec<&str> = calls.iter().map(|(m, _)| *m).collect();
    methods.sort_unstable();
    methods.dedup();
    assert_eq!(methods.len(), Catalog::TYPES.len(), "every type has its own method");
}
