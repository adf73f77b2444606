//! Round trip between Herald's two front-ends: events declared on Rust
//! structs (`#[cloud_event]`) and the same events declared in YAML
//! (`roundtrip.yaml`, compiled by `include_events!`) must have the same JSON
//! Schema, and typed decoding + generated validation must accept and reject
//! the same instances — checked on the `support::instances` generator's
//! valid instances and their single-mutation variants, with the
//! `jsonschema` crate as a third opinion.

mod support;

use herald::registry::decode_data;
use herald::{DataError, EventCatalog, EventData};
use serde_json::Value;
use support::instances::{Generator, Rng, write_json};

/// The YAML declarations.
mod yaml {
    herald::include_events!("tests/roundtrip.yaml");
}

/// The struct declarations.
mod structs {
    use std::collections::BTreeMap;

    /// A probe reading was recorded.
    #[herald::cloud_event("rt.probe.recorded", version = 3, subject = "run/{run_id}")]
    pub struct Recorded {
        pub run_id: uuid::Uuid,
        /// Which feature was probed.
        #[serde(rename = "feature_name")]
        #[herald(min_length = 1, max_length = 40)]
        pub name: String,
        /// How far along.
        #[herald(range(min = 0.0, max = 1.0))]
        pub progress: f64,
        pub attempts: u32,
        #[herald(range(min = -5, max = 5), multiple_of = 1)]
        pub level: i8,
        #[herald(format = "email")]
        pub owner: Option<String>,
        #[herald(pattern = "^[0-9a-f]{8}$")]
        pub digest: Option<String>,
        #[herald(min_items = 1, max_items = 4, unique_items)]
        pub tags: Vec<String>,
        #[herald(max_properties = 3)]
        pub scores: Option<BTreeMap<String, f64>>,
        pub at: Option<chrono::DateTime<chrono::Utc>>,
        pub config: Option<serde_json::Map<String, serde_json::Value>>,
        pub payload: Option<serde_json::Value>,
        #[serde(default)]
        pub retries: u16,
    }

    /// The probe was closed.
    #[herald::cloud_event("rt.probe.closed")]
    pub struct Closed {
        pub run_id: uuid::Uuid,
        pub reason: Option<String>,
    }

    herald::registry! {
        pub mod registry {
            Recorded,
            Closed,
        }
    }
}

fn schema_of(text: &str) -> Value {
    serde_json::from_str(text).expect("schema is JSON")
}

#[test]
fn struct_and_yaml_declarations_have_the_same_schema() {
    assert_eq!(
        schema_of(structs::Recorded::SCHEMA),
        schema_of(yaml::ProbeRecorded::SCHEMA),
        "struct schema:\n{}\nyaml schema:\n{}",
        structs::Recorded::SCHEMA,
        yaml::ProbeRecorded::SCHEMA
    );
    assert_eq!(schema_of(structs::Closed::SCHEMA), schema_of(yaml::ProbeClosed::SCHEMA));
    // And the same registry rows.
    for (s, y) in structs::registry::Catalog::TYPES.iter().zip(yaml::Catalog::TYPES) {
        assert_eq!(
            (s.type_name, s.version, s.description, s.subject, s.stream_key, s.handler_method),
            (y.type_name, y.version, y.description, y.subject, y.stream_key, y.handler_method)
        );
    }
    assert_eq!(structs::registry::Catalog::TYPES.len(), yaml::Catalog::TYPES.len());
}

fn verdict<T: EventData>(bytes: &[u8]) -> Result<(), DataError> {
    decode_data::<T>(bytes).map(|_| ())
}

/// Decode every instance with both declarations; the verdicts must agree,
/// with each other and with the oracle.
fn agree<S: EventData, Y: EventData>(type_name: &str, schema_text: &str) {
    let schema = schema_of(schema_text);
    let oracle = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .expect("oracle compiles the schema");
    let generator = Generator::new(&schema);
    let mut rng = Rng::new(0x2011_7e57 ^ type_name.len() as u64);
    let mut spelling = Rng::new(7);
    let (mut accepted, mut rejected) = (0, 0);
    let mut disagreements = Vec::new();
    for _ in 0..300 {
        let valid = generator.valid(&mut rng);
        let mut instances = vec![valid.clone()];
        for _ in 0..3 {
            if let Some((_, mutated)) = generator.mutate(&valid, &mut rng) {
                instances.push(mutated);
            }
        }
        for instance in instances {
            let text = write_json(&instance, &mut spelling);
            let sent: Value = serde_json::from_str(&text).expect("write_json writes JSON");
            let s = verdict::<S>(text.as_bytes());
            let y = verdict::<Y>(text.as_bytes());
            let o = oracle.is_valid(&sent);
            if s.is_ok() != y.is_ok() || s.is_ok() != o {
                disagreements.push(format!("{sent}\n  struct: {s:?}\n  yaml:   {y:?}\n  oracle: {o}"));
            }
            if let (Err(se), Err(ye)) = (&s, &y) {
                // Same problems found at the same places.
                let (mut sp, mut yp) = (se.pointers(), ye.pointers());
                sp.sort_unstable();
                yp.sort_unstable();
                if sp != yp {
                    disagreements.push(format!("{sent}\n  struct pointers: {sp:?}\n  yaml pointers:   {yp:?}"));
                }
            }
            if s.is_ok() { accepted += 1 } else { rejected += 1 }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements on `{type_name}`:\n{}",
        disagreements.len(),
        disagreements[..disagreements.len().min(10)].join("\n")
    );
    // Not vacuous: plenty of both verdicts.
    assert!(accepted >= 300 && rejected >= 300, "accepted {accepted}, rejected {rejected}");
}

#[test]
fn struct_and_yaml_declarations_accept_and_reject_the_same_instances() {
    agree::<structs::Recorded, yaml::ProbeRecorded>("rt.probe.recorded", yaml::ProbeRecorded::SCHEMA);
    agree::<structs::Closed, yaml::ProbeClosed>("rt.probe.closed", yaml::ProbeClosed::SCHEMA);
}

#[test]
fn wire_shape_details_match() {
    let run = "0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f";
    let cases = [
        // Optional means absent or a value, never null.
        (format!(r#"{{"run_id":"{run}","reason":null}}"#), false),
        (format!(r#"{{"run_id":"{run}"}}"#), true),
        // uuid::Uuid alone would take these; the schema does not.
        (r#"{"run_id":"0b7f6e0e5d2c4c1a9f3e2a1b3c4d5e6f"}"#.to_string(), false),
        (r#"{"run_id":"urn:uuid:0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f"}"#.to_string(), false),
    ];
    for (data, ok) in cases {
        assert_eq!(verdict::<structs::Closed>(data.as_bytes()).is_ok(), ok, "struct on {data}");
        assert_eq!(verdict::<yaml::ProbeClosed>(data.as_bytes()).is_ok(), ok, "yaml on {data}");
    }
    // Serialising leaves absent optionals out, so output validates too.
    let closed = structs::Closed { run_id: run.parse().unwrap(), reason: None };
    assert_eq!(serde_json::to_string(&closed).unwrap(), format!(r#"{{"run_id":"{run}"}}"#));
}
