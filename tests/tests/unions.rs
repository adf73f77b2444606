//! Tagged unions (`tests/catalogs/unions.yaml`): a `oneOf` of objects told
//! apart by a `const` tag is a Rust enum with data, `#[serde(tag = "…")]`,
//! one struct variant per branch; each branch's fields are checked like any
//! object's, and every verdict agrees with the JSON Schema (the `jsonschema`
//! crate, as the differential tests hold all generated code to).

use herald::EventCatalog;
use herald_tests::unions::{Catalog, Event, JobQueued, JobQueuedNotify, JobQueuedTarget, JobQueuedTargetMode, Step};
use serde_json::{Value, json};

fn decode(data: &Value) -> Result<JobQueued, Vec<String>> {
    let info = Catalog::lookup("kit.job.queued").expect("type in the catalog");
    match (info.decode)(&serde_json::to_vec(data).unwrap()) {
        Ok(Event::JobQueued(data)) => Ok(data),
        Err(e) => Err(e.pointers().into_iter().map(str::to_string).collect()),
    }
}

/// The JSON Schema's verdict on `data`.
fn schema_accepts(data: &Value) -> bool {
    let schema: Value = serde_json::from_str(<JobQueued as herald::EventData>::SCHEMA).unwrap();
    jsonschema::draft202012::options().should_validate_formats(true).build(&schema).unwrap().is_valid(data)
}

#[test]
fn each_branch_is_a_variant_with_its_fields() {
    let data = decode(&json!({
        "target": {"kind": "file", "path": "/tmp/a"},
        "steps": [{"op": "add", "value": 2}, {"op": "set-name", "value": "total"}],
    }))
    .unwrap();
    // Absent `mode` holds its default, as in any struct.
    assert_eq!(data.target, JobQueuedTarget::File { path: "/tmp/a".into(), mode: JobQueuedTargetMode::Read });
    assert_eq!(data.steps, [Step::Add { value: 2 }, Step::SetName { value: "total".into() }]);
    let data = decode(&json!({"target": {"kind": "url", "url": "https://example.com/x", "retries": 1}})).unwrap();
    let JobQueuedTarget::Url { url, retries, headers } = &data.target else { panic!("{:?}", data.target) };
    assert_eq!((url.as_str(), *retries, headers.len()), ("https://example.com/x", Some(1), 0));
    assert_eq!(decode(&json!({"target": {"kind": "none"}})).unwrap().target, JobQueuedTarget::None);
    // An optional union is an `Option` of its enum.
    let with = decode(&json!({"target": {"kind": "none"}, "notify": {"channel": "email", "address": "a@example.com"}})).unwrap();
    assert_eq!(with.notify, Some(JobQueuedNotify::Email { address: "a@example.com".into() }));
    assert_eq!(decode(&json!({"target": {"kind": "none"}})).unwrap().notify, None);
    // On the wire again: the tag is a property of the object.
    assert_eq!(serde_json::to_value(&data).unwrap(), json!({"target": {"kind": "url", "url": "https://example.com/x", "retries": 1}}));
}

#[test]
fn unknown_or_missing_tags_and_invalid_fields_are_refused_with_pointers() {
    let cases = [
        // The tag: unknown, absent, not a string, no object at all.
        (json!({"target": {"kind": "ftp", "path": "/a"}}), "/data/target/kind"),
        (json!({"target": {"path": "/a"}}), "/data/target"),
        (json!({"target": {"kind": 1}}), "/data/target/kind"),
        (json!({"target": "file"}), "/data/target"),
        // A branch's own rules, at the field (or at the branch, when its
        // shape is wrong and serde's buffered enum content hides where).
        (json!({"target": {"kind": "file", "path": ""}}), "/data/target/path"),
        (json!({"target": {"kind": "file", "path": "x".repeat(65)}}), "/data/target/path"),
        (json!({"target": {"kind": "file", "path": "/a", "mode": "append"}}), "/data/target"),
        (json!({"target": {"kind": "url", "url": "not a uri"}}), "/data/target/url"),
        (json!({"target": {"kind": "url", "url": "https://a.example", "retries": 6}}), "/data/target/retries"),
        (json!({"target": {"kind": "url"}}), "/data/target"),
        (json!({"target": {"kind": "url", "url": "https://a.example", "headers": {"a": 1}}}), "/data/target"),
        // Optional: absent is fine, `null` and a bad branch are not.
        (json!({"target": {"kind": "none"}, "notify": null}), "/data/notify"),
        (json!({"target": {"kind": "none"}, "notify": {"channel": "email", "address": "nope"}}), "/data/notify/address"),
        (
            json!({"target": {"kind": "none"}, "notify": {"channel": "webhook", "url": "https://a.example", "secret": "short"}}),
            "/data/notify/secret",
        ),
        // Under `$defs`, in an array, closed (`additionalProperties: false`).
        (json!({"target": {"kind": "none"}, "steps": [{"op": "add", "value": 1001}]}), "/data/steps/0/value"),
        (json!({"target": {"kind": "none"}, "steps": [{"op": "add", "value": -1}]}), "/data/steps/0/value"),
        (
            json!({"target": {"kind": "none"}, "steps": [{"op": "add", "value": 1}, {"op": "set-name", "value": "ABC"}]}),
            "/data/steps/1/value",
        ),
        (json!({"target": {"kind": "none"}, "steps": [{"op": "add", "value": 1, "extra": true}]}), "/data/steps/0"),
        (json!({"target": {"kind": "none"}, "steps": [{"op": "set-name", "value": 3}]}), "/data/steps/0"),
    ];
    for (data, pointer) in cases {
        assert_eq!(decode(&data).map(|_| ()), Err(vec![pointer.to_string()]), "{data}");
        assert!(!schema_accepts(&data), "the schema accepts {data}");
    }
    // A tag-only branch takes other properties, as any open object does.
    for data in [json!({"target": {"kind": "none", "path": "/a"}}), json!({"target": {"kind": "file", "path": "/a", "extra": 1}})] {
        assert!(decode(&data).is_ok(), "{data}");
        assert!(schema_accepts(&data), "{data}");
    }
}

#[test]
fn the_catalog_examples_decode() {
    let catalog = herald_codegen::__private::catalog::load(concat!(env!("CARGO_MANIFEST_DIR"), "/catalogs/unions.yaml").as_ref()).unwrap();
    for example in &catalog.events[0].examples {
        decode(example).unwrap_or_else(|e| panic!("{example}: {e:?}"));
    }
}
