//! Regressions found by the export differential test (`exports.rs`) on the
//! every-construct catalog, `tests/catalogs/constructs.yaml`.

use herald::EventCatalog;
use herald_tests::constructs::Catalog;
use serde_json::{Value, json};

/// Herald's verdict on `data` for `type_name`: `Ok`, or the pointers.
fn decode(type_name: &str, data: &Value) -> Result<(), Vec<String>> {
    let info = Catalog::lookup(type_name).expect("type in the catalog");
    (info.decode)(&serde_json::to_vec(data).unwrap()).map(|_| ()).map_err(|e| {
        let mut pointers: Vec<String> = e.pointers().into_iter().map(str::to_string).collect();
        pointers.dedup();
        pointers
    })
}

/// `format: date` used to decode through chrono, which also takes
/// `2024-1-01`; JSON Schema (and every export) wants `YYYY-MM-DD`.
#[test]
fn date_format_is_exactly_full_date() {
    let at = "2024-05-01T12:30:00Z";
    let run_id = "0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f";
    for good in ["2024-02-29", "2000-02-29", "2099-12-31"] {
        assert_eq!(decode("kit.shape.formats", &json!({"run_id": run_id, "at": at, "day": good})), Ok(()), "{good}");
    }
    for bad in ["2024-1-01", "2024-01-1", "2023-02-29", "2024-01-01T00:00:00Z", "2024-01-01 "] {
        assert_eq!(
            decode("kit.shape.formats", &json!({"run_id": run_id, "at": at, "day": bad})),
            Err(vec!["/data/day".to_string()]),
            "{bad}"
        );
    }
}

/// `minProperties`/`maxProperties` on an object with declared properties
/// and `additionalProperties`: the undeclared keys used to count as one
/// property (typify's flattened map), so `{}` passed `minProperties: 1`
/// and four keys passed `maxProperties: 3`.
#[test]
fn property_counts_include_undeclared_keys() {
    let base = json!({
        "run_id": "0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f",
        "tags": ["a"],
        "window": {"from": "2024-01-01T00:00:00Z"},
    });
    let with = |options: Value| {
        let mut data = base.clone();
        data["options"] = options;
        decode("kit.shape.collections", &data)
    };
    assert_eq!(with(json!({"retries": 1})), Ok(()));
    assert_eq!(with(json!({"verbose": true, "a": 1, "b": 2})), Ok(()));
    assert_eq!(with(json!({})), Err(vec!["/data/options".to_string()]));
    assert_eq!(with(json!({"verbose": true, "a": 1, "b": 2, "c": 3})), Err(vec!["/data/options".to_string()]));
    assert_eq!(with(json!({"a": 1, "b": 2, "c": 3, "d": 4})), Err(vec!["/data/options".to_string()]));
    // An absent optional list is not counted, a present one is, even empty
    // (it used to be an empty `Vec` either way, counted as present).
    assert_eq!(with(json!({"a": 1, "b": 2, "c": 3})), Ok(()));
    assert_eq!(with(json!({"notes": [], "a": 1, "b": 2})), Ok(()));
    assert_eq!(with(json!({"notes": []})), Ok(()));
    assert_eq!(with(json!({"notes": ["x"], "a": 1, "b": 2, "c": 3})), Err(vec!["/data/options".to_string()]));
}

/// An absent property with a `default` holds the default (which the
/// catalog lint holds to the property's schema), in a domain module: its
/// `#[serde(default = "defaults::…")]` names the root's `defaults` module.
#[test]
fn an_absent_property_holds_its_default() {
    use herald_tests::constructs::ShapeScalars;
    let ir = herald_codegen::__private::catalog::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("catalogs/constructs.yaml"))
        .unwrap();
    let example = &ir.event("kit.shape.scalars").unwrap().examples[1];
    assert!(example.get("priority").is_none(), "the second example leaves `priority` out");
    assert_eq!(decode("kit.shape.scalars", example), Ok(()));
    let typed: ShapeScalars = serde_json::from_value(example.clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap()["priority"], json!(5));
}

/// An optional array with `minItems` (and an optional map with
/// `minProperties`) used to be a plain collection defaulting to empty, so
/// leaving it out broke the minimum: the catalog's own example was refused.
/// Absent is fine; present, the minimum holds.
#[test]
fn optional_collections_with_a_minimum_may_be_absent() {
    let base = json!({
        "run_id": "0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f",
        "tags": ["a"],
        "window": {"from": "2024-01-01T00:00:00Z"},
    });
    let with = |key: &str, value: Value| {
        let mut data = base.clone();
        data[key] = value;
        decode("kit.shape.collections", &data)
    };
    assert_eq!(decode("kit.shape.collections", &base), Ok(()));
    assert_eq!(with("reviewers", json!(["alice"])), Ok(()));
    assert_eq!(with("reviewers", json!([])), Err(vec!["/data/reviewers".to_string()]));
    assert_eq!(with("reviewers", Value::Null), Err(vec!["/data/reviewers".to_string()]));
    assert_eq!(with("weights", json!({"a": 1})), Ok(()));
    assert_eq!(with("weights", json!({})), Err(vec!["/data/weights".to_string()]));
}

/// Absent optional collections stay absent when the data is serialized
/// again (not `null`, which the schema does not allow).
#[test]
fn absent_optional_collections_serialize_as_absent() {
    use herald_tests::constructs::ShapeCollections;
    let data = json!({
        "run_id": "0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f",
        "tags": ["a"],
        "window": {"from": "2024-01-01T00:00:00Z"},
    });
    let typed: ShapeCollections = serde_json::from_value(data).unwrap();
    assert_eq!(typed.reviewers, None);
    let back = serde_json::to_value(&typed).unwrap();
    assert!(back.get("reviewers").is_none() && back.get("weights").is_none(), "{back}");
}

/// The examples of a catalog that the generated code `C` refuses, as
/// `file: example N of `type`: why`.
fn refused_examples<C: EventCatalog>(path: &str) -> Vec<String> {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    let ir = herald_codegen::__private::catalog::load(&full).unwrap_or_else(|e| panic!("{path} must load:\n{e}"));
    let mut refused = Vec::new();
    for event in &ir.events {
        let info = C::lookup(&event.type_name).unwrap_or_else(|| panic!("`{}` is not generated", event.type_name));
        for (i, example) in event.examples.iter().enumerate() {
            if let Err(e) = (info.decode)(&serde_json::to_vec(example).unwrap()) {
                refused.push(format!("{path}: example {} of `{}`: {e}", i + 1, event.type_name));
            }
        }
    }
    refused
}

/// `herald check` validates every example against its schema, so the
/// generated code must accept every one of them too.
#[test]
fn every_example_decodes() {
    let mut refused = refused_examples::<herald_tests::events::Catalog>("events.yaml");
    refused.extend(refused_examples::<herald_tests::shop::Catalog>("examples/events.yaml"));
    refused.extend(refused_examples::<Catalog>("tests/catalogs/constructs.yaml"));
    refused.extend(refused_examples::<herald_tests::payloads::Catalog>("tests/catalogs/payloads.yaml"));
    assert!(refused.is_empty(), "examples refused by the generated code:\n{}", refused.join("\n"));
}
