//! The run status state machine generated from the `lifecycle:` of the
//! project's `events.yaml`: real CloudEvents envelopes are parsed and
//! decoded through the generated `Catalog`, and `Event::transition()` and
//! `RunStatus` are checked against what the catalog declares.

use herald::{Envelope, EventCatalog};
use herald_tests::events::{Catalog, Event, ParseRunStatusError, RunStatus, RunTransition};
use serde_json::{Value, json};

const RUN_ID: &str = "0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f";

fn ir_catalog() -> herald_codegen::__private::ir::Catalog {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events.yaml");
    herald_codegen::__private::catalog::load(&path).unwrap_or_else(|e| panic!("events.yaml does not load:\n{e}"))
}

/// Parse a structured-mode envelope carrying `data` and decode it.
fn decode(type_name: &str, data: Value) -> Event {
    let body = serde_json::to_vec(&json!({
        "specversion": "1.0",
        "id": format!("evt-{type_name}"),
        "source": "/orchestrator/worker-1",
        "type": type_name,
        "subject": format!("run/{}", data.get("run_id").and_then(Value::as_str).unwrap_or(RUN_ID)),
        "time": "2024-05-01T12:30:00Z",
        "datacontenttype": "application/json",
        "data": data,
    }))
    .expect("a Value serialises");
    let envelope = Envelope::parse(&body, Catalog::ENVELOPE).unwrap_or_else(|e| panic!("`{type_name}`: envelope rejected: {e}"));
    Catalog::decode(&envelope).unwrap_or_else(|e| panic!("`{type_name}`: data rejected: {e}"))
}

fn transition(type_name: &str, data: Value) -> Option<RunTransition> {
    decode(type_name, data).transition()
}

#[test]
fn run_events_move_the_status_as_declared() {
    use RunStatus::*;
    let started = transition("ai.run.started", json!({"run_id": RUN_ID, "pipeline": "paper-generation"}));
    assert_eq!(started, Some(RunTransition { from: &[Queued], to: Running }));

    let failed = transition("ai.run.failed", json!({"run_id": RUN_ID, "error_message": "CUDA out of memory"}));
    assert_eq!(failed, Some(RunTransition { from: &[Queued, Running], to: Failed }));

    let canceled = transition("ai.run.canceled", json!({"run_id": RUN_ID, "reason": "superseded"}));
    assert_eq!(canceled, Some(RunTransition { from: &[Queued, Running], to: Canceled }));
}

#[test]
fn run_completed_moves_by_its_result() {
    use RunStatus::*;
    let success = transition(
        "ai.run.completed",
        json!({"run_id": RUN_ID, "result": "success", "metrics": {"duration_ms": 84213.5, "items_processed": 42}}),
    );
    assert_eq!(success, Some(RunTransition { from: &[Running], to: Completed }));

    let failure = transition(
        "ai.run.completed",
        json!({"run_id": RUN_ID, "result": "failure", "error_message": "worker lost connection to the model API"}),
    );
    assert_eq!(failure, Some(RunTransition { from: &[Running], to: Failed }));
}

#[test]
fn other_events_do_not_move_the_status() {
    // Same `result` values as `ai.run.completed`, but a different event.
    let stage = json!({"run_id": RUN_ID, "stage": "literature_review", "result": "success"});
    assert_eq!(transition("ai.run.stage_completed", stage), None);
    assert_eq!(transition("ai.run.progress", json!({"run_id": RUN_ID, "progress": 0.4})), None);
    assert_eq!(transition("ai.run.error", json!({"run_id": RUN_ID, "error_type": "RateLimited", "error_message": "429"})), None);
}

/// Every transition the IR declares, checked against the generated code:
/// the event's first example with the `when` properties set, decoded, must
/// make exactly that transition; every event no transition names makes none.
#[test]
fn generated_transitions_match_the_catalog() {
    let ir = ir_catalog();
    let lifecycle = ir.lifecycle.as_ref().expect("events.yaml declares a lifecycle");
    for t in &lifecycle.transitions {
        let event = ir.event(&t.on).expect("`on` is a catalog event");
        let mut data = event.examples[0].clone();
        for (field, value) in &t.when {
            data[field] = value.clone();
        }
        let got = transition(&t.on, data).unwrap_or_else(|| panic!("`{}` {:?} makes no transition", t.on, t.when));
        let from: Vec<&str> = got.from.iter().map(|s| s.as_str()).collect();
        assert_eq!(from, t.from, "`{}` {:?}", t.on, t.when);
        assert_eq!(got.to.as_str(), t.to, "`{}` {:?}", t.on, t.when);
    }
    for event in &ir.events {
        if lifecycle.transitions_on(&event.type_name).next().is_none() {
            for example in &event.examples {
                assert_eq!(transition(&event.type_name, example.clone()), None, "`{}`", event.type_name);
            }
        }
    }
}

/// Apply a sequence of events the way the server does: a transition the
/// current status does not accept is refused and leaves the status alone.
fn run(events: &[(&str, Value)]) -> (RunStatus, Vec<&'static str>) {
    let mut status = RunStatus::INITIAL;
    let mut refused = Vec::new();
    for (type_name, data) in events {
        let event = decode(type_name, data.clone());
        if let Some(t) = event.transition() {
            if status.accepts(&t) {
                status = t.to;
            } else {
                refused.push(event.type_name());
            }
        }
    }
    (status, refused)
}

#[test]
fn legal_sequences_reach_their_terminal_state() {
    let started = ("ai.run.started", json!({"run_id": RUN_ID}));
    let progress = ("ai.run.progress", json!({"run_id": RUN_ID, "progress": 0.5}));
    let success = ("ai.run.completed", json!({"run_id": RUN_ID, "result": "success"}));
    let failure = ("ai.run.completed", json!({"run_id": RUN_ID, "result": "failure"}));
    let canceled = ("ai.run.canceled", json!({"run_id": RUN_ID}));
    let failed = ("ai.run.failed", json!({"run_id": RUN_ID, "error_message": "boom"}));

    assert_eq!(run(&[started.clone(), progress.clone(), success.clone()]), (RunStatus::Completed, vec![]));
    assert_eq!(run(&[started.clone(), failure.clone()]), (RunStatus::Failed, vec![]));
    assert_eq!(run(std::slice::from_ref(&canceled)), (RunStatus::Canceled, vec![]), "a queued run can be canceled");
    assert_eq!(run(std::slice::from_ref(&failed)), (RunStatus::Failed, vec![]), "a queued run can fail");
    assert_eq!(run(std::slice::from_ref(&progress)), (RunStatus::Queued, vec![]), "progress does not move the status");

    // Illegal from here: completing a run that never started.
    assert_eq!(run(std::slice::from_ref(&success)), (RunStatus::Queued, vec!["ai.run.completed"]));
    // Terminal states are final: nothing moves a run out of them.
    assert_eq!(
        run(&[started.clone(), success.clone(), canceled.clone(), failed.clone(), started.clone(), failure.clone()]),
        (RunStatus::Completed, vec!["ai.run.canceled", "ai.run.failed", "ai.run.started", "ai.run.completed"])
    );
    assert_eq!(run(&[canceled, started]), (RunStatus::Canceled, vec!["ai.run.started"]));
}

#[test]
fn terminal_states_accept_no_transition_of_any_event() {
    let ir = ir_catalog();
    let lifecycle = ir.lifecycle.as_ref().expect("events.yaml declares a lifecycle");
    // Every transition the catalog can produce, from real decoded events.
    let mut transitions = Vec::new();
    for t in &lifecycle.transitions {
        let mut data = ir.event(&t.on).expect("declared").examples[0].clone();
        for (field, value) in &t.when {
            data[field] = value.clone();
        }
        transitions.extend(transition(&t.on, data));
    }
    assert_eq!(transitions.len(), lifecycle.transitions.len());
    for status in RunStatus::ALL.iter().copied() {
        let accepted = transitions.iter().filter(|t| status.accepts(t)).count();
        assert_eq!(status.is_terminal(), lifecycle.terminal.iter().any(|s| s == status.as_str()));
        if status.is_terminal() {
            assert_eq!(accepted, 0, "`{status}` is terminal but accepts a transition");
        } else {
            assert!(accepted > 0, "`{status}` is not terminal but nothing moves a run out of it");
        }
    }
}

#[test]
fn status_names_parse_display_and_serialize_as_declared() {
    let ir = ir_catalog();
    let lifecycle = ir.lifecycle.as_ref().expect("events.yaml declares a lifecycle");
    let names: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(names, lifecycle.states);
    assert_eq!(RunStatus::INITIAL.as_str(), lifecycle.initial);
    assert_eq!(RunStatus::INITIAL, RunStatus::Queued);

    for status in RunStatus::ALL.iter().copied() {
        let name = status.as_str();
        assert_eq!(status.to_string(), name);
        assert_eq!(name.parse::<RunStatus>(), Ok(status));
        assert_eq!(serde_json::to_value(status).unwrap(), json!(name));
        assert_eq!(serde_json::from_value::<RunStatus>(json!(name)).unwrap(), status);
    }

    let err: ParseRunStatusError = "Running".parse::<RunStatus>().unwrap_err();
    assert_eq!(err.input(), "Running");
    assert_eq!(err.to_string(), "unknown run status `Running`; expected `queued`, `running`, `completed`, `failed` or `canceled`");
    let _: &dyn std::error::Error = &err;
    assert!(serde_json::from_value::<RunStatus>(json!("done")).is_err());
}
