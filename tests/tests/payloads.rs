//! Payloads as producers already send them (`tests/catalogs/payloads.yaml`).
//! JSON property names that are not Rust field names (camelCase, keywords,
//! dashes): snake case fields, the JSON names unchanged on the wire, and
//! every rule still checked under its JSON name. An event without a stream
//! key: registered, decoded and dispatched like any other.

use herald::EventCatalog;
use herald_tests::payloads::{Catalog, Event, NamesFields, NamesSent, NamesSentType, UserSignedUp};
use serde_json::{Value, json};

fn sent() -> Value {
    json!({
        "runId": "0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f",
        "type": "a",
        "self": "me",
        "match": 3,
        "fooBar": true,
        "dash-name": ["x"],
        "HTTPStatus": 404,
        "nested": {"innerValue": 0.5, "fn": "f"},
    })
}

fn json(value: &impl serde::Serialize) -> Value {
    serde_json::to_value(value).unwrap()
}

fn decode(type_name: &str, data: &Value) -> Result<Event, Vec<String>> {
    let info = Catalog::lookup(type_name).expect("type in the catalog");
    (info.decode)(&serde_json::to_vec(data).unwrap()).map_err(|e| e.pointers().into_iter().map(str::to_string).collect())
}

#[test]
fn fields_are_snake_case_and_the_wire_keeps_the_json_names() {
    let Ok(Event::NamesSent(data)) = decode("kit.names.sent", &sent()) else { panic!("the full example decodes") };
    // The fields, by their Rust names (the types are typify's choice).
    let NamesSent { run_id, type_, self_, match_, foo_bar, dash_name, http_status, nested } = &data;
    assert_eq!(json(run_id), json!("0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f"));
    assert_eq!(*type_, NamesSentType::A);
    assert_eq!((json(self_), json(match_), *foo_bar), (json!("me"), json!(3), Some(true)));
    assert_eq!((json(dash_name), json(http_status)), (json!(["x"]), json!(404)));
    let nested = nested.as_ref().expect("nested was sent");
    assert_eq!((nested.inner_value, json(&nested.fn_)), (0.5, json!("f")));
    // Round trip: the same JSON names come back.
    assert_eq!(serde_json::to_value(&data).unwrap(), sent());

    let Ok(Event::NamesFields(NamesFields { run_id: _, class, camel_case })) =
        decode("kit.names.fields", &json!({"runId": "0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f", "class": "x", "camelCase": 2}))
    else {
        panic!("the shorthand event decodes")
    };
    assert_eq!((class.as_str(), camel_case), ("x", Some(2)));
}

/// The generated `validate()` finds each rule's field by the JSON name's
/// Rust field, and points at the JSON name.
#[test]
fn rules_are_checked_on_renamed_fields() {
    let with = |key: &str, value: Value| {
        let mut data = sent();
        data[key] = value;
        decode("kit.names.sent", &data).map(|_| ())
    };
    assert_eq!(with("self", json!("x")), Err(vec!["/data/self".to_string()]));
    assert_eq!(with("match", json!(0)), Err(vec!["/data/match".to_string()]));
    assert_eq!(with("dash-name", json!([])), Err(vec!["/data/dash-name".to_string()]));
    assert_eq!(with("HTTPStatus", json!(600)), Err(vec!["/data/HTTPStatus".to_string()]));
    assert_eq!(with("nested", json!({"innerValue": 2})), Err(vec!["/data/nested/innerValue".to_string()]));
    // The snake case names are not the wire names.
    let mut snake = sent();
    let object = snake.as_object_mut().unwrap();
    let value = object.remove("runId").unwrap();
    object.insert("run_id".into(), value);
    assert_eq!(decode("kit.names.sent", &snake).map(|_| ()), Err(vec!["/data".to_string()]));
}

/// The registry keeps the JSON names (stream key, subject, schema).
#[test]
fn the_registry_speaks_json_names() {
    let info = Catalog::lookup("kit.names.sent").unwrap();
    assert_eq!(info.subject, Some("kit/{runId}"));
    let schema: Value = serde_json::from_str(info.schema).unwrap();
    assert!(schema["properties"].get("dash-name").is_some() && schema["properties"].get("fooBar").is_some(), "{schema}");
}

/// `stream_key: none`: the registry says so; the event decodes and
/// dispatches as any other.
#[test]
fn an_event_may_belong_to_no_run() {
    assert_eq!(Catalog::lookup("kit.names.sent").unwrap().stream_key, Some("runId"));
    let info = Catalog::lookup("kit.user.signed_up").unwrap();
    assert_eq!(info.stream_key, None);
    let data = json!({"userId": "u-42", "email": "ada@example.com"});
    let Ok(Event::UserSignedUp(UserSignedUp { user_id, email })) = decode("kit.user.signed_up", &data) else { panic!("the event decodes") };
    assert_eq!((user_id.as_str(), email.as_str()), ("u-42", "ada@example.com"));
    assert_eq!(decode("kit.user.signed_up", &json!({"userId": "u-42", "email": "nope"})).map(|_| ()), Err(vec!["/data/email".to_string()]));
}

/// What the schema says is an object is read from a JSON object only, and a
/// string enum from a JSON string only, through both readers (the registry's
/// `decode` of `data` alone, and the one pass over a whole event). serde's
/// derive took more: an array's elements as the fields by position, and an
/// enum in serde's externally tagged form `{"a": null}`.
#[test]
fn objects_and_string_enums_read_only_their_json_shapes() {
    let whole = |data: &Value| -> Result<(), Vec<String>> {
        let event = json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "kit.names.sent", "subject": "kit/0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f", "data": data});
        let bytes = serde_json::to_vec(&event).unwrap();
        let parsed = Catalog::parse_event(&bytes).expect("the envelope is valid");
        parsed.event.map(|_| ()).map_err(|e| e.pointers().into_iter().map(str::to_string).collect())
    };
    let with = |key: &str, value: Value| {
        let mut data = sent();
        data[key] = value;
        data
    };
    assert_eq!(whole(&sent()), Ok(()));
    // The values of `sent()` in every order a positional read could want.
    let values: Vec<Value> = sent().as_object().unwrap().values().cloned().collect();
    for (data, pointer) in [
        (Value::Array(values.clone()), "/data"),
        (Value::Array(values.into_iter().rev().collect()), "/data"),
        (with("nested", json!([0.5, "f"])), "/data/nested"),
        (with("type", json!({"a": null})), "/data/type"),
        (with("type", json!(["a"])), "/data/type"),
    ] {
        assert_eq!(decode("kit.names.sent", &data).map(|_| ()), Err(vec![pointer.to_string()]), "{data}");
        assert_eq!(whole(&data), Err(vec![pointer.to_string()]), "{data}");
    }
}
