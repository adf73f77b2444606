#![deny(warnings)]

//! Nested data on the struct route: `#[herald::data]` structs, string
//! enums and tagged unions held by a `#[cloud_event]` struct. Their
//! schemas reach the event as `$defs` (its `SCHEMA`, and the IR the
//! registry collects), its `validate()` descends into them with the right
//! pointers, and the IR is the one the same event declared in YAML gets
//! (`tests/data/nested.yaml`), with the same verdicts.

use std::convert::Infallible;

use herald::{DataError, Envelope, EventCatalog, EventContext, EventData};
use serde_json::{Value, json};

mod model {
    /// Where the output goes.
    #[herald::data]
    #[derive(serde::Serialize, serde::Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum Target {
        File {
            #[herald(min_length = 1)]
            path: String,
        },
        #[serde(rename = "url")]
        Remote { url: String },
    }

    /// How far the job got.
    #[herald::data]
    #[derive(serde::Serialize, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Status {
        Queued,
        Running,
        Done,
    }

    /// One step's detail.
    #[herald::data]
    pub struct Detail {
        #[herald(range(min = 0, max = 10))]
        pub level: u8,
        pub note: Option<String>,
    }
}

mod events {
    use super::model::{self, Detail};

    /// A job was queued.
    #[herald::cloud_event("ai.job.queued")]
    pub struct JobQueued {
        pub run_id: uuid::Uuid,
        pub target: model::Target,
        pub status: model::Status,
        pub detail: Option<Detail>,
        pub history: Vec<Detail>,
    }
}

/// Types may be declared after the types that hold them, and an event's
/// struct may be held like a data type.
mod later {
    /// A job was retried.
    #[herald::cloud_event("ai.job.retried", stream_key = none)]
    pub struct JobRetried {
        pub attempt: Attempt,
        pub original: Option<crate::events::JobQueued>,
    }

    /// One attempt.
    #[herald::data]
    pub struct Attempt {
        #[herald(minimum = 1)]
        pub number: u32,
        pub previous: Option<Box<crate::model::Detail>>,
        pub steps: Vec<Step>,
    }

    /// What an attempt did: a union whose variant holds a data type.
    #[herald::data]
    #[serde(tag = "type", rename_all = "kebab-case", rename_all_fields = "camelCase")]
    pub enum Step {
        WaitFor { wait_seconds: u32 },
        CheckDetail { the_detail: crate::model::Detail },
    }
}

herald::registry! {
    pub mod app {
        events::JobQueued,
        later::JobRetried,
    }
}

/// The same event from events.yaml.
mod yaml {
    herald::include_events!("tests/data/nested.yaml");
}

use events::JobQueued;
use model::{Detail, Status, Target};

fn valid() -> Value {
    json!({
        "run_id": "0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10",
        "target": {"kind": "file", "path": "/tmp/out"},
        "status": "running",
        "detail": {"level": 3, "note": "ok"},
        "history": [{"level": 0}, {"level": 10}, {"level": 1}],
    })
}

/// `data` with `pointer` set to `value`.
fn with(pointer: &str, value: Value) -> Value {
    let mut data = valid();
    *data.pointer_mut(pointer).expect("pointer into the valid event") = value;
    data
}

/// The pointers a catalog's decode refuses `data` with (empty: accepted).
fn refusals<C: EventCatalog>(data: &Value) -> Vec<String> {
    let info = C::lookup("ai.job.queued").expect("type in the catalog");
    match (info.decode)(&serde_json::to_vec(data).unwrap()) {
        Ok(_) => Vec::new(),
        Err(e) => e.pointers().into_iter().map(str::to_string).collect(),
    }
}

fn invalid_cases() -> Vec<(Value, &'static str)> {
    vec![
        (with("/detail/level", json!(11)), "/data/detail/level"),
        (with("/history/2/level", json!(42)), "/data/history/2/level"),
        (with("/target/path", json!("")), "/data/target/path"),
        (with("/target", json!({"kind": "ftp"})), "/data/target/kind"),
        (with("/status", json!("lost")), "/data/status"),
        (with("/detail/note", Value::Null), "/data/detail/note"),
        (with("/history/0", json!({"note": "no level"})), "/data/history/0"),
    ]
}

#[test]
fn nested_data_decodes_into_the_users_types() {
    let info = app::Catalog::lookup("ai.job.queued").unwrap();
    let Ok(app::Event::JobQueued(data)) = (info.decode)(&serde_json::to_vec(&valid()).unwrap()) else { panic!("refused") };
    assert_eq!(data.target, Target::File { path: "/tmp/out".into() });
    assert_eq!(data.status, Status::Running);
    assert_eq!(data.detail, Some(Detail { level: 3, note: Some("ok".into()) }));
    assert_eq!(data.history.len(), 3);
    let remote = with("/target", json!({"kind": "url", "url": "https://example.com"}));
    assert!(refusals::<app::Catalog>(&remote).is_empty());
    assert_eq!(serde_json::to_value(&data).unwrap(), valid());
}

#[test]
fn invalid_nested_fields_are_refused_at_their_pointer() {
    for (data, pointer) in invalid_cases() {
        assert_eq!(refusals::<app::Catalog>(&data), [pointer], "{data}");
    }
}

#[test]
fn the_schema_holds_every_definition_and_the_registry_has_it() {
    let schema: Value = serde_json::from_str(JobQueued::SCHEMA).unwrap();
    let defs: Vec<&String> = schema["$defs"].as_object().expect("$defs").keys().collect();
    assert_eq!(defs, ["Detail", "Status", "Target"]);
    assert_eq!(schema["properties"]["history"]["items"], json!({"$ref": "#/$defs/Detail"}));
    assert_eq!(app::Catalog::lookup("ai.job.queued").unwrap().schema, JobQueued::SCHEMA);
}

#[test]
fn definitions_travel_transitively_whatever_the_order() {
    let schema: Value = serde_json::from_str(later::JobRetried::SCHEMA).unwrap();
    let defs: Vec<&String> = schema["$defs"].as_object().expect("$defs").keys().collect();
    assert_eq!(defs, ["Attempt", "Detail", "JobQueued", "Status", "Step", "Target"]);
    assert_eq!(schema["$defs"]["Step"]["oneOf"][1]["properties"]["type"], json!({"const": "check-detail"}));
    assert_eq!(schema["$defs"]["Step"]["oneOf"][1]["properties"]["theDetail"], json!({"$ref": "#/$defs/Detail"}));
    // The held event is its data schema, its own definitions pooled.
    assert!(schema["$defs"]["JobQueued"].get("$defs").is_none());
    let steps = json!([{"type": "wait-for", "waitSeconds": 3}, {"type": "check-detail", "theDetail": {"level": 99}}]);
    let retried =
        json!({"attempt": {"number": 2, "previous": {"level": 12}, "steps": steps}, "original": with("/history/1/level", json!(11))});
    let info = app::Catalog::lookup("ai.job.retried").unwrap();
    let refused = (info.decode)(&serde_json::to_vec(&retried).unwrap()).unwrap_err();
    assert_eq!(
        refused.pointers(),
        ["/data/attempt/previous/level", "/data/attempt/steps/1/theDetail/level", "/data/original/history/1/level"]
    );
    let oracle = jsonschema::draft202012::options().build(&schema).unwrap();
    assert!(!oracle.is_valid(&retried));
    let retried = json!({"attempt": {"number": 1, "steps": [{"type": "wait-for", "waitSeconds": 3}]}});
    assert!((info.decode)(&serde_json::to_vec(&retried).unwrap()).is_ok());
    assert!(oracle.is_valid(&retried));
}

/// The handler of the end-to-end test: what it was given.
struct Jobs;

impl app::Handler for Jobs {
    type Output = String;
    type Error = Infallible;

    async fn on_job_queued(&self, _: &EventContext<'_>, data: JobQueued) -> Result<String, Infallible> {
        Ok(format!("{:?} {:?} {}", data.target, data.status, data.history.len()))
    }

    async fn on_job_retried(&self, _: &EventContext<'_>, data: later::JobRetried) -> Result<String, Infallible> {
        Ok(data.attempt.number.to_string())
    }
}

/// A CloudEvents envelope carrying `data`, parsed, decoded by the
/// registry and dispatched to [`Jobs`].
fn ingest(data: &Value) -> Result<String, DataError> {
    let body = json!({"specversion": "1.0", "id": "1", "source": "/jobs", "type": "ai.job.queued", "data": data});
    let body = serde_json::to_vec(&body).unwrap();
    let envelope = Envelope::parse(&body, app::Catalog::ENVELOPE).expect("a valid envelope");
    let event = app::Catalog::decode(&envelope)?;
    let ctx = EventContext::new(&envelope);
    Ok(block_on(<app::Catalog as herald::Dispatch<Jobs>>::dispatch(&Jobs, &ctx, event)).unwrap())
}

#[test]
fn end_to_end_nested_data_is_handled_and_bad_nested_fields_refused() {
    assert_eq!(ingest(&valid()).unwrap(), "File { path: \"/tmp/out\" } Running 3");
    let refused = ingest(&with("/history/2/level", json!(42))).unwrap_err();
    assert_eq!(refused.pointers(), ["/data/history/2/level"]);
    let refused = ingest(&with("/target", json!({"kind": "file", "path": ""}))).unwrap_err();
    assert_eq!(refused.pointers(), ["/data/target/path"]);
}

/// Polls `f` to completion: the handlers here never wait.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

#[test]
fn the_struct_route_ir_is_the_yaml_routes() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nested.yaml");
    let catalog = herald_codegen::__private::catalog::load(&path).unwrap();
    let from_struct: Value = serde_json::from_str(JobQueued::SCHEMA).unwrap();
    assert_eq!(from_struct, catalog.events[0].schema);
    assert_eq!(<yaml::JobQueued as EventData>::SCHEMA, JobQueued::SCHEMA);

    // Every export reads the IR's schema: the YAML event with the struct's
    // schema exports the same files, in every format.
    use herald_codegen::__private::export::{Format, Options, export};
    let mut struct_route = catalog.clone();
    struct_route.events[0].schema = from_struct;
    for format in [Format::JsonSchema, Format::TypeScript, Format::Python, Format::AsyncApi] {
        assert_eq!(export(&struct_route, format, &Options::default()), export(&catalog, format, &Options::default()), "{format:?}");
    }
}

#[test]
fn both_routes_and_the_json_schema_give_the_same_verdicts() {
    let schema: Value = serde_json::from_str(JobQueued::SCHEMA).unwrap();
    let oracle = jsonschema::draft202012::options().should_validate_formats(true).build(&schema).unwrap();
    let mut cases: Vec<Value> = invalid_cases().into_iter().map(|(data, _)| data).collect();
    cases.push(valid());
    cases.push(with("/target", json!({"kind": "url", "url": "https://example.com"})));
    cases.push(with("/history", json!([])));
    for data in &cases {
        let from_struct = refusals::<app::Catalog>(data);
        assert_eq!(from_struct, refusals::<yaml::Catalog>(data), "{data}");
        assert_eq!(from_struct.is_empty(), oracle.is_valid(data), "{data}");
    }
}
