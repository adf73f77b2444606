//! One test per rule: old → new → the verdict under each mode.

use serde_json::{Value, json};

use super::*;
use crate::ir::{DataSource, EventType, ExtensionDecl, ExtensionKind, Lifecycle, Origin, Transition};

const T: &str = "ai.x.y";

fn event(name: &str, version: u32, schema: Value) -> EventType {
    EventType {
        type_name: name.into(),
        description: "d".into(),
        version,
        subject: None,
        stream_key: Some("run_id".into()),
        schema,
        examples: vec![],
        data: DataSource::Generated,
        origin: Origin::Synthetic,
    }
}

fn catalog(events: Vec<EventType>) -> Catalog {
    let mut c = Catalog::new("events.yaml", "ai");
    c.events = events;
    c.normalize();
    c
}

fn obj(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": props, "required": required})
}

/// `schema` with `additionalProperties: false`.
fn closed(mut schema: Value) -> Value {
    schema["additionalProperties"] = json!(false);
    schema
}

/// Which of BACKWARD, FORWARD, FULL, NONE the change from `old` to `new`
/// breaks, as four letters (`B`, `F`, `U` for FULL, `-` for none), with
/// every change's text for the message check. Both sides get the mode, so
/// that the mode itself is not a change.
fn verdicts(old: &Catalog, new: &Catalog) -> (String, Vec<String>) {
    let mut letters = String::new();
    let mut whats = Vec::new();
    for (mode, letter) in
        [(Compatibility::Backward, 'B'), (Compatibility::Forward, 'F'), (Compatibility::Full, 'U'), (Compatibility::None, 'N')]
    {
        let (mut old, mut new) = (old.clone(), new.clone());
        old.compatibility = mode;
        new.compatibility = mode;
        let found = judge(&old, &new, diff(&old, &new), &Locator::new("events.yaml", None), None);
        let breaks = found.iter().any(|f| f.verdict == Verdict::Breaking);
        letters.push(if breaks { letter } else { '-' });
        if whats.is_empty() {
            whats = found.iter().map(|f| f.change.what.clone()).collect();
        }
    }
    (letters, whats)
}

/// Compare the schemas of one type (version 1 on both sides).
fn schemas(old: Value, new: Value) -> (String, Vec<String>) {
    verdicts(&catalog(vec![event(T, 1, old)]), &catalog(vec![event(T, 1, new)]))
}

#[track_caller]
fn assert_verdict(got: (String, Vec<String>), letters: &str, what: &str) {
    assert_eq!(got.0, letters, "verdicts for {:?}", got.1);
    assert!(got.1.iter().any(|w| w.contains(what)), "no change mentions {what:?}: {:?}", got.1);
}

#[test]
fn identical_catalogs_have_no_changes() {
    let s = obj(json!({"run_id": {"type": "string", "format": "uuid"}}), &["run_id"]);
    let (letters, whats) = schemas(s.clone(), s);
    assert_eq!(letters, "----");
    assert!(whats.is_empty());
}

#[test]
fn a_removed_type_breaks_backward_and_a_rename_is_named() {
    let s = obj(json!({"a": {"type": "string"}}), &["a"]);
    let got = verdicts(&catalog(vec![event(T, 1, s.clone())]), &catalog(vec![event("ai.x.z", 1, s)]));
    assert_verdict(got.clone(), "B-U-", "event type removed (renamed to `ai.x.z`?)");
    assert!(got.1.iter().any(|w| w.contains("new event type")));
}

#[test]
fn an_added_type_is_compatible() {
    let s = obj(json!({}), &[]);
    let got = verdicts(&catalog(vec![event(T, 1, s.clone())]), &catalog(vec![event(T, 1, s.clone()), event("ai.x.z", 1, s)]));
    assert_verdict(got, "----", "new event type (version 1)");
}

#[test]
fn a_required_field_added_breaks_backward() {
    let got = schemas(obj(json!({}), &[]), obj(json!({"b": {"type": "string"}}), &["b"]));
    assert_verdict(got, "B-U-", "field `b` added as required");
}

#[test]
fn an_optional_field_added_is_compatible_unless_the_old_schema_was_closed() {
    let got = schemas(obj(json!({}), &[]), obj(json!({"b": {"type": "string"}}), &[]));
    assert_verdict(got, "----", "field `b` added as optional");
    let got = schemas(closed(obj(json!({}), &[])), closed(obj(json!({"b": {"type": "string"}}), &[])));
    assert_verdict(got, "-FU-", "field `b` added as optional");
}

#[test]
fn a_removed_field_breaks_forward_when_required_and_backward_when_closed() {
    let got = schemas(obj(json!({"a": {"type": "string"}}), &["a"]), obj(json!({}), &[]));
    assert_verdict(got, "-FU-", "field `a` removed");
    let got = schemas(obj(json!({"a": {"type": "string"}}), &[]), obj(json!({}), &[]));
    assert_verdict(got, "----", "field `a` removed");
    let got = schemas(closed(obj(json!({"a": {"type": "string"}}), &[])), closed(obj(json!({}), &[])));
    assert_verdict(got, "B-U-", "field `a` removed");
}

#[test]
fn optional_and_required_swaps() {
    let opt = obj(json!({"a": {"type": "string"}}), &[]);
    let req = obj(json!({"a": {"type": "string"}}), &["a"]);
    assert_verdict(schemas(opt.clone(), req.clone()), "B-U-", "field `a` became required");
    assert_verdict(schemas(req, opt), "-FU-", "field `a` became optional");
}

#[test]
fn integer_to_number_widens_and_number_to_integer_narrows() {
    let int = obj(json!({"n": {"type": "integer"}}), &["n"]);
    let num = obj(json!({"n": {"type": "number"}}), &["n"]);
    let s = obj(json!({"n": {"type": "string"}}), &["n"]);
    assert_verdict(schemas(int.clone(), num.clone()), "-FU-", "(a widening)");
    assert_verdict(schemas(num, int.clone()), "B-U-", "(a narrowing)");
    assert_verdict(schemas(int, s), "BFU-", "type changed from `integer` to `string`");
}

#[test]
fn bounds_tightened_break_backward_and_loosened_break_forward() {
    let with = |k: &str, v: Value| obj(json!({"n": {"type": "number", k: v}}), &["n"]);
    let plain = obj(json!({"n": {"type": "number"}}), &["n"]);
    assert_verdict(schemas(with("minimum", json!(0)), with("minimum", json!(1))), "B-U-", "`minimum` changed from 0 to 1 (tightened)");
    assert_verdict(schemas(with("minimum", json!(1)), with("minimum", json!(0))), "-FU-", "(loosened)");
    assert_verdict(schemas(with("maximum", json!(10)), with("maximum", json!(5))), "B-U-", "`maximum` changed from 10 to 5 (tightened)");
    assert_verdict(schemas(plain.clone(), with("maxLength", json!(40))), "B-U-", "`maxLength: 40` added (tightened)");
    assert_verdict(schemas(with("minLength", json!(2)), plain.clone()), "-FU-", "`minLength: 2` removed (loosened)");
    assert_verdict(schemas(with("maxItems", json!(100)), with("maxItems", json!(10))), "B-U-", "`maxItems` changed from 100 to 10");
    assert_verdict(schemas(with("minItems", json!(1)), with("minItems", json!(0))), "-FU-", "`minItems` changed from 1 to 0");
    assert_verdict(schemas(with("exclusiveMinimum", json!(0)), plain), "-FU-", "`exclusiveMinimum: 0` removed");
    assert_verdict(schemas(with("multipleOf", json!(2)), with("multipleOf", json!(4))), "B-U-", "`multipleOf` changed");
}

#[test]
fn enum_values_added_break_forward_and_removed_break_backward() {
    let e = |v: Value| obj(json!({"r": {"type": "string", "enum": v}}), &["r"]);
    assert_verdict(schemas(e(json!(["a", "b"])), e(json!(["a", "b", "c"]))), "-FU-", "value `\"c\"` added to `enum`");
    assert_verdict(schemas(e(json!(["a", "b"])), e(json!(["a"]))), "B-U-", "value `\"b\"` removed from `enum`");
    let plain = obj(json!({"r": {"type": "string"}}), &["r"]);
    assert_verdict(schemas(plain, e(json!(["a"]))), "B-U-", "restricted to `\"a\"`");
}

#[test]
fn patterns_and_formats() {
    let p = |k: &str, v: &str| obj(json!({"s": {"type": "string", k: v}}), &["s"]);
    let plain = obj(json!({"s": {"type": "string"}}), &["s"]);
    assert_verdict(schemas(plain.clone(), p("pattern", "^a")), "B-U-", "`pattern` \"^a\" added");
    assert_verdict(schemas(p("pattern", "^a"), plain.clone()), "-FU-", "`pattern` \"^a\" removed");
    assert_verdict(schemas(p("pattern", "^a"), p("pattern", "^[a]")), "BFU-", "`pattern` changed from \"^a\" to \"^[a]\"");
    assert_eq!(schemas(p("pattern", "^a"), p("pattern", "^a")).0, "----");
    assert_verdict(schemas(plain, p("format", "uuid")), "B-U-", "`format` \"uuid\" added");
    assert_verdict(schemas(p("format", "uuid"), p("format", "email")), "BFU-", "`format` changed");
}

#[test]
fn a_changed_pattern_is_reported_as_possibly_breaking() {
    let p = |v: &str| catalog(vec![event(T, 1, obj(json!({"s": {"type": "string", "pattern": v}}), &["s"]))]);
    let found = judge(&p("^a"), &p("^b"), diff(&p("^a"), &p("^b")), &Locator::new("events.yaml", None), None);
    assert!(found[0].reason.starts_with("may break BACKWARD"), "{}", found[0].reason);
}

#[test]
fn additional_properties_changes() {
    let ap = |v: Value| json!({"type": "object", "properties": {}, "additionalProperties": v});
    let open = json!({"type": "object", "properties": {}});
    assert_verdict(schemas(open.clone(), ap(json!(false))), "B-U-", "`additionalProperties` changed from absent (any) to `false`");
    assert_verdict(schemas(ap(json!(false)), open), "-FU-", "`additionalProperties` changed from `false`");
    let map = |t: &str| ap(json!({"type": t}));
    assert_verdict(schemas(map("string"), map("number")), "BFU-", "field `*`: type changed from `string` to `number`");
}

#[test]
fn nested_objects_and_arrays_are_followed() {
    let nested = |max: u32| {
        obj(json!({"m": {"type": "object", "properties": {"d": {"type": "number", "maximum": max}}, "required": ["d"]}}), &["m"])
    };
    assert_verdict(schemas(nested(10), nested(5)), "B-U-", "field `m.d`: `maximum` changed from 10 to 5");
    let list = |t: &str| obj(json!({"l": {"type": "array", "items": {"type": t}}}), &[]);
    assert_verdict(schemas(list("integer"), list("number")), "-FU-", "field `l[]`: type changed");
}

#[test]
fn defs_are_followed_through_refs_and_recursion_ends() {
    let with_def = |min: u32| {
        json!({"type": "object", "properties": {"m": {"$ref": "#/$defs/M"}}, "required": ["m"],
               "$defs": {"M": {"type": "object", "properties": {"n": {"type": "integer", "minimum": min}, "child": {"$ref": "#/$defs/M"}}}}})
    };
    assert_verdict(schemas(with_def(0), with_def(1)), "B-U-", "field `m.n`: `minimum` changed from 0 to 1");
}

#[test]
fn lifecycle_transitions_and_statuses() {
    let lc = |states: &[&str], transitions: Vec<Transition>| Lifecycle {
        description: String::new(),
        states: states.iter().map(|s| s.to_string()).collect(),
        initial: "queued".into(),
        terminal: vec![],
        transitions,
    };
    let tr = |from: &[&str], to: &str| Transition {
        on: T.into(),
        when: Default::default(),
        from: from.iter().map(|s| s.to_string()).collect(),
        to: to.into(),
    };
    let with = |l: Lifecycle| {
        let mut c = catalog(vec![event(T, 1, obj(json!({}), &[]))]);
        c.lifecycle = Some(l);
        c
    };
    let old = with(lc(&["queued", "running"], vec![tr(&["queued"], "running")]));
    assert_verdict(verdicts(&old, &with(lc(&["queued", "running"], vec![]))), "B-U-", "lifecycle transition `ai.x.y` → `running` removed");
    assert_verdict(
        verdicts(&old, &with(lc(&["queued", "running", "done"], vec![tr(&["queued"], "running")]))),
        "-FU-",
        "status `done` added",
    );
    assert_verdict(verdicts(&old, &with(lc(&["queued"], vec![]))), "B-U-", "status `running` removed");
    assert_verdict(
        verdicts(&old, &with(lc(&["queued", "running"], vec![tr(&["queued", "running"], "running")]))),
        "-FU-",
        "now also allowed from `running`",
    );
}

#[test]
fn an_extension_type_change_breaks_both_ways() {
    let ext = |kind| {
        let mut c = catalog(vec![event(T, 1, obj(json!({}), &[]))]);
        c.extensions = vec![ExtensionDecl { name: "seq".into(), kind, description: String::new() }];
        c
    };
    let got = verdicts(&ext(ExtensionKind::Integer), &ext(ExtensionKind::String));
    assert_verdict(got, "BFU-", "extension type changed from `integer` to `string`");
}

/// One type (with a `subject:` template) and the extension `seq`, with the
/// envelope rules `rules` sets.
fn enveloped(rules: impl FnOnce(&mut crate::ir::EnvelopeOptions)) -> Catalog {
    let mut e = event(T, 1, obj(json!({"run_id": {"type": "string"}}), &["run_id"]));
    e.subject = Some("run/{run_id}".into());
    let mut c = catalog(vec![e]);
    c.extensions = vec![ExtensionDecl { name: "seq".into(), kind: ExtensionKind::Integer, description: String::new() }];
    rules(&mut c.envelope);
    c
}

#[test]
fn format_int64_on_an_extension_widens_and_its_removal_narrows() {
    let (int32, int64) = (enveloped(|_| {}), enveloped(|e| e.int64_extensions = vec!["seq".into()]));
    assert_verdict(verdicts(&int32, &int64), "-FU-", "`format: int64` added (a widening to 64-bit integers)");
    assert_verdict(verdicts(&int64, &int32), "B-U-", "`format: int64` removed (a narrowing to 32-bit integers)");
    // Another type change still breaks both ways, and names the format.
    let mut string = enveloped(|_| {});
    string.extensions[0].kind = ExtensionKind::String;
    assert_verdict(verdicts(&int64, &string), "BFU-", "extension type changed from `integer` (`format: int64`) to `string`");
    let found = judge(&int64, &int32, diff(&int64, &int32), &Locator::new("events.yaml", None), None);
    assert_eq!(found[0].change.type_name, "extension seq");
    assert!(found[0].reason.contains("old events may carry `seq` beyond 32 bits"), "{}", found[0].reason);
}

#[test]
fn an_attribute_newly_required_breaks_backward_and_one_dropped_breaks_forward() {
    let (none, time) = (enveloped(|_| {}), enveloped(|e| e.required = vec!["time".into()]));
    assert_verdict(verdicts(&none, &time), "B-U-", "`required` now lists `time`");
    assert_verdict(verdicts(&time, &none), "-FU-", "`required` no longer lists `time`");
    let both = enveloped(|e| e.required = vec!["subject".into(), "time".into()]);
    let (_, whats) = verdicts(&none, &both);
    assert_eq!(whats, ["`required` now lists `subject`", "`required` now lists `time`"]);
    let found = judge(&none, &time, diff(&none, &time), &Locator::new("events.yaml", None), None);
    assert_eq!(
        report::line(&found[0]),
        "events.yaml: envelope: `required` now lists `time` — breaks BACKWARD: producers that have not upgraded may send events \
         of any type without `time` (CloudEvents makes it optional), which the new catalog refuses — leave `time` out of \
         `envelope.required` until every producer sends it, or raise the catalog's `version`"
    );
}

#[test]
fn a_datacontenttype_restriction_added_removed_or_changed() {
    let pin = |ct: &str| {
        let ct = ct.to_string();
        enveloped(move |e| e.datacontenttype = Some(ct))
    };
    let open = enveloped(|_| {});
    assert_verdict(verdicts(&open, &pin("application/json")), "B-U-", "`datacontenttype` restricted to `application/json`");
    assert_verdict(verdicts(&pin("application/json"), &open), "-FU-", "`datacontenttype` no longer restricted to `application/json`");
    assert_verdict(
        verdicts(&pin("application/json"), &pin("application/cloudevents+json")),
        "BFU-",
        "`datacontenttype` changed from `application/json` to `application/cloudevents+json`",
    );
}

#[test]
fn subject_matches_template_turned_on_breaks_backward_and_off_forward() {
    let (off, on) = (enveloped(|_| {}), enveloped(|e| e.subject_matches_template = true));
    assert_verdict(verdicts(&off, &on), "B-U-", "`subject_matches_template` turned on");
    assert_verdict(verdicts(&on, &off), "-FU-", "`subject_matches_template` turned off");
    // With no `subject:` template anywhere, the check reaches no event.
    let untemplated = |c: &Catalog| {
        let mut c = c.clone();
        c.events[0].subject = None;
        c
    };
    assert_verdict(verdicts(&untemplated(&off), &untemplated(&on)), "----", "`subject_matches_template` turned on");
}

#[test]
fn the_legacy_extensions_object_turned_off_breaks_backward() {
    let (off, on) = (enveloped(|_| {}), enveloped(|e| e.legacy_extensions_object = true));
    assert_verdict(verdicts(&on, &off), "B-U-", "`legacy_extensions_object` turned off");
    assert_verdict(verdicts(&off, &on), "-FU-", "`legacy_extensions_object` turned on");
}

#[test]
fn offset_utc_only_added_narrows_and_removed_widens_also_nested_and_in_defs() {
    let dt = |utc: bool| {
        let mut s = json!({"type": "string", "format": "date-time"});
        if utc {
            s["offset"] = json!("utc-only");
        }
        s
    };
    let top = |utc: bool| obj(json!({"at": dt(utc)}), &["at"]);
    assert_verdict(schemas(top(false), top(true)), "B-U-", "field `at`: `offset: utc-only` added (a narrowing: only `Z`)");
    assert_verdict(schemas(top(true), top(false)), "-FU-", "field `at`: `offset: utc-only` removed (a widening");
    let nested = |utc: bool| obj(json!({"m": {"type": "object", "properties": {"at": dt(utc)}}}), &["m"]);
    assert_verdict(schemas(nested(false), nested(true)), "B-U-", "field `m.at`: `offset: utc-only` added");
    let defs = |utc: bool| {
        json!({"type": "object", "properties": {"m": {"$ref": "#/$defs/M"}}, "required": ["m"],
               "$defs": {"M": {"type": "object", "properties": {"at": dt(utc)}}}})
    };
    assert_verdict(schemas(defs(true), defs(false)), "-FU-", "field `m.at`: `offset: utc-only` removed");
    // `offset: any` is the default, written out or not.
    let mut any = top(false);
    any["properties"]["at"]["offset"] = json!("any");
    assert_eq!(schemas(top(false), any).0, "----");
}

#[test]
fn a_changed_compatibility_setting_is_a_note_and_the_new_mode_governs() {
    let old = enveloped(|_| {});
    let mut new = enveloped(|e| e.required = vec!["time".into()]);
    // Loosened to NONE in the same change as a BACKWARD break: the new
    // mode governs, and the loosening is listed.
    new.compatibility = Compatibility::None;
    let found = judge(&old, &new, diff(&old, &new), &Locator::new("events.yaml", None), None);
    assert!(found.iter().all(|f| f.verdict == Verdict::Compatible), "{found:#?}");
    assert!(found[0].change.what.starts_with("`compatibility` changed from BACKWARD to NONE (this check holds changes to the new mode"));
    // Tightened: the new, stricter mode holds at once.
    let mut new = enveloped(|e| e.required = vec!["time".into()]);
    new.compatibility = Compatibility::Full;
    new.envelope.required.clear();
    let old = enveloped(|e| e.required = vec!["time".into()]);
    let found = judge(&old, &new, diff(&old, &new), &Locator::new("events.yaml", None), None);
    assert!(found.iter().any(|f| f.verdict == Verdict::Breaking && f.mode == Compatibility::Full), "{found:#?}");
    // A type's override, added: noted on the type.
    let old = enveloped(|_| {});
    let mut new = enveloped(|_| {});
    new.type_compatibility.insert(T.into(), Compatibility::Forward);
    let (letters, whats) = verdicts(&old, &new);
    assert_eq!(letters, "----");
    assert_eq!(whats.len(), 1);
    assert!(whats[0].starts_with("`compatibility` changed from the catalog's (BACKWARD) to FORWARD"), "{whats:?}");
}

#[test]
fn an_envelope_break_is_held_to_every_types_mode() {
    // The catalog says NONE, but one type keeps BACKWARD: newly requiring
    // `time` refuses that type's old events too.
    let old = enveloped(|_| {});
    let mut new = enveloped(|e| e.required = vec!["time".into()]);
    new.compatibility = Compatibility::None;
    new.type_compatibility.insert(T.into(), Compatibility::Backward);
    let mut old_with_override = old.clone();
    old_with_override.type_compatibility.insert(T.into(), Compatibility::Backward);
    old_with_override.compatibility = Compatibility::None;
    let found = judge(&old_with_override, &new, diff(&old_with_override, &new), &Locator::new("events.yaml", None), None);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].verdict, found[0].mode), (Verdict::Breaking, Compatibility::Backward));
    assert!(found[0].reason.ends_with("(the mode of `ai.x.y`, which a catalog-wide change reaches too)"), "{}", found[0].reason);
}

#[test]
fn the_catalog_version_allows_catalog_wide_breaks_and_only_those() {
    let old = enveloped(|_| {});
    let mut new = enveloped(|e| e.required = vec!["subject".into(), "time".into()]);
    // A type's version does not cover the envelope.
    new.events[0].version = 2;
    let found = judge(&old, &new, diff(&old, &new), &Locator::new("events.yaml", None), None);
    assert!(found.iter().all(|f| f.verdict == Verdict::Breaking), "{found:#?}");
    // The catalog's does, and the raise itself is listed.
    new.events[0].version = 1;
    new.version = 2;
    let found = judge(&old, &new, diff(&old, &new), &Locator::new("events.yaml", None), None);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert_eq!(found[0].change.what, "the catalog's `version` raised from 1 to 2");
    assert_eq!(found[0].verdict, Verdict::Compatible);
    for f in &found[1..] {
        assert_eq!(f.verdict, Verdict::Allowed, "{f:#?}");
        assert!(f.reason.starts_with("allowed because the catalog's `version` was raised from 1 to 2 (it breaks BACKWARD"), "{}", f.reason);
    }
    // ... but not a type's data.
    let mut data = enveloped(|_| {});
    data.version = 2;
    data.events[0].schema = obj(json!({"run_id": {"type": "string"}, "b": {"type": "string"}}), &["run_id", "b"]);
    let found = judge(&old, &data, diff(&old, &data), &Locator::new("events.yaml", None), None);
    assert!(found.iter().any(|f| f.verdict == Verdict::Breaking && f.change.what.contains("field `b` added as required")), "{found:#?}");
    // Lifecycle statuses and extensions are catalog-wide too.
    let mut narrowed = enveloped(|_| {});
    narrowed.extensions[0].kind = ExtensionKind::String;
    narrowed.version = 2;
    let found = judge(&old, &narrowed, diff(&old, &narrowed), &Locator::new("events.yaml", None), None);
    assert!(found.iter().all(|f| f.verdict != Verdict::Breaking), "{found:#?}");
    // Lowered: a break of its own.
    assert_verdict(verdicts(&new, &old), "BFU-", "the catalog's `version` lowered from 2 to 1");
}

#[test]
fn the_catalog_version_key_is_read_and_linted() {
    let text = |top: &str| {
        format!(
            "prefix: ai\n{top}events:\n  ai.x.y:\n    description: d\n    version: 1\n    fields: {{run_id: uuid}}\n    examples: [{{run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10}}]\n"
        )
    };
    assert_eq!(crate::catalog::parse("events.yaml", &text("")).unwrap().version, 1);
    assert_eq!(crate::catalog::parse("events.yaml", &text("version: 3\n")).unwrap().version, 3);
    for (bad, found) in [("0", "0"), ("-1", "-1"), ("two", "a string"), ("1.5", "a number")] {
        let e = crate::catalog::parse("events.yaml", &text(&format!("version: {bad}\n"))).unwrap_err().to_string();
        assert!(e.contains(&format!("events.yaml:2:10: the `version` of the catalog must be a positive integer, found {found}")), "{e}");
        assert!(e.contains("start at `version: 1` and count up"), "{e}");
    }
}

#[test]
fn envelope_and_setting_changes_point_at_their_keys() {
    let text = |top: &str, required: &str| {
        format!(
            "prefix: ai\n{top}envelope:\n  legacy_extensions_object: true\n  required: [{required}]\nextensions:\n  seq: {{type: integer, format: int64}}\nevents:\n  ai.x.y:\n    description: d\n    version: 1\n    fields: {{run_id: uuid}}\n    examples: [{{run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10}}]\n"
        )
    };
    let old = crate::catalog::parse("events.yaml", &text("", "subject")).unwrap();
    let new_text = text("compatibility: FULL\nversion: 2\n", "subject, time");
    let new = crate::catalog::parse("events.yaml", &new_text).unwrap();
    let found = judge(&old, &new, diff(&old, &new), &Locator::new("events.yaml", Some(&new_text)), None);
    let at: Vec<(String, usize, usize)> = found.iter().map(|f| (f.change.what.clone(), f.line, f.column)).collect();
    assert_eq!(at.len(), 3, "{at:#?}");
    assert!(at[0].0.starts_with("`compatibility` changed from BACKWARD to FULL") && (at[0].1, at[0].2) == (2, 1), "{at:#?}");
    assert_eq!((at[1].0.as_str(), at[1].1, at[1].2), ("the catalog's `version` raised from 1 to 2", 3, 1));
    assert_eq!((at[2].0.as_str(), at[2].1, at[2].2), ("`required` now lists `time`", 6, 3));
    assert_eq!(found[2].verdict, Verdict::Allowed);
    // The extension's `format:` key.
    let int32_text = text("", "subject").replace(", format: int64", "");
    let int32 = crate::catalog::parse("events.yaml", &int32_text).unwrap();
    let found = judge(&old, &int32, diff(&old, &int32), &Locator::new("events.yaml", Some(&int32_text)), None);
    assert_eq!((found[0].line, found[0].column), (6, 3), "{found:#?}");
    let found = judge(&int32, &old, diff(&int32, &old), &Locator::new("events.yaml", Some(&text("", "subject"))), None);
    assert_eq!((found[0].line, found[0].column), (6, 24), "{found:#?}");
}

#[test]
fn a_raised_version_turns_a_break_into_an_allowed_note_and_a_lowered_one_breaks() {
    let old = catalog(vec![event(T, 1, obj(json!({}), &[]))]);
    let new = catalog(vec![event(T, 2, obj(json!({"b": {"type": "string"}}), &["b"]))]);
    let found = judge(&old, &new, diff(&old, &new), &Locator::new("events.yaml", None), None);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].verdict, Verdict::Allowed);
    assert!(found[0].reason.contains("`version` was raised from 1 to 2"));
    assert!(found[0].fix().contains("side by side"));
    let lowered = catalog(vec![event(T, 1, obj(json!({}), &[]))]);
    assert_verdict(verdicts(&new, &lowered), "BFU-", "`version` lowered from 2 to 1");
}

#[test]
fn a_type_override_wins_over_the_catalog_mode() {
    let mut old = catalog(vec![event(T, 1, obj(json!({}), &[]))]);
    old.type_compatibility.insert(T.into(), Compatibility::None);
    let mut new = catalog(vec![event(T, 1, obj(json!({"b": {"type": "string"}}), &["b"]))]);
    new.type_compatibility.insert(T.into(), Compatibility::None);
    let found = judge(&old, &new, diff(&old, &new), &Locator::new("events.yaml", None), None);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].verdict, Verdict::Compatible);
    assert!(found[0].reason.starts_with("allowed: compatibility is NONE (it would break BACKWARD"), "{}", found[0].reason);
}

#[test]
fn transitive_modes_compare_with_every_earlier_version() {
    let v = |min: u32| catalog(vec![event(T, 1, obj(json!({"n": {"type": "integer", "minimum": min}}), &["n"]))]);
    // 0 → 5 (tightened, breaks BACKWARD), then 5 → 3: compatible with the
    // baseline (5), but tighter than the first version (0).
    let (first, baseline) =
        (Version { label: "abc".into(), catalog: v(0), locator: None }, Version { label: "HEAD".into(), catalog: v(5), locator: None });
    let mut new = v(3);
    let locator = Locator::new("events.yaml", None);
    let plain = check(&new, &locator, &baseline, std::slice::from_ref(&first));
    assert!(plain.iter().all(|f| f.verdict != Verdict::Breaking));
    new.compatibility = Compatibility::BackwardTransitive;
    assert!(needs_history(&new));
    let transitive = check(&new, &locator, &baseline, &[first]);
    let broken: Vec<_> = transitive.iter().filter(|f| f.verdict == Verdict::Breaking).collect();
    assert_eq!(broken.len(), 1);
    assert_eq!(broken[0].against.as_deref(), Some("abc"));
    assert!(report::line(broken[0]).contains("(against abc)"));
}

#[test]
fn messages_point_at_the_change_in_the_new_file() {
    let old_text = "prefix: ai\nevents:\n  ai.x.y:\n    description: d\n    version: 1\n    fields:\n      run_id: uuid\n      n?: {type: integer, minimum: 0}\n    examples:\n      - {run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10}\n";
    let new_text = old_text.replace("minimum: 0", "minimum: 1");
    let old = crate::catalog::parse("events.yaml", old_text).unwrap();
    let new = crate::catalog::parse("events.yaml", &new_text).unwrap();
    let locator = Locator::new("events.yaml", Some(&new_text));
    let found = judge(&old, &new, diff(&old, &new), &locator, None);
    assert_eq!(
        report::line(&found[0]),
        "events.yaml:8:27: ai.x.y: field `n`: `minimum` changed from 0 to 1 (tightened) — breaks BACKWARD: \
         old events with values outside the new bound are rejected — keep the old bound, or raise `version`"
    );
    let report = Report { findings: found, notes: vec![] };
    assert_eq!(report.exit_code(), 1);
    assert_eq!(report.to_json()["changes"][0]["line"], 8);
    assert_eq!(report.to_json()["compatible"], false);
}

#[test]
fn the_loader_reads_compatibility_and_reports_bad_values() {
    let text = |top: &str, per: &str| {
        format!(
            "prefix: ai\n{top}events:\n  ai.x.y:\n    description: d\n    version: 1\n{per}    fields: {{run_id: uuid}}\n    examples: [{{run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10}}]\n"
        )
    };
    let c = crate::catalog::parse("events.yaml", &text("", "")).unwrap();
    assert_eq!(c.compatibility, Compatibility::Backward);
    let c = crate::catalog::parse("events.yaml", &text("compatibility: FULL_TRANSITIVE\n", "    compatibility: NONE\n")).unwrap();
    assert_eq!(c.compatibility, Compatibility::FullTransitive);
    assert_eq!(c.compatibility_of("ai.x.y"), Compatibility::None);
    let error = |top: &str, per: &str| crate::catalog::parse("events.yaml", &text(top, per)).unwrap_err().to_string();
    let e = error("compatibility: full\n", "");
    assert!(e.contains("events.yaml:2:16: unknown compatibility mode `full` — did you mean `FULL`?"), "{e}");
    let e = error("", "    compatibility: BACKWARDS\n");
    assert!(e.contains("unknown compatibility mode `BACKWARDS` — did you mean `BACKWARD`?"), "{e}");
    let e = error("compatibility: [FULL]\n", "");
    assert!(e.contains("`compatibility` must be a string"), "{e}");
}

#[test]
fn lifecycle_changes_point_at_the_transition() {
    let text = |from: &str| {
        format!(
            "prefix: ai\nevents:\n  ai.run.started:\n    description: d\n    version: 1\n    fields: {{run_id: uuid}}\n    examples: [{{run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10}}]\n  ai.run.ended:\n    description: d\n    version: 1\n    fields: {{run_id: uuid}}\n    examples: [{{run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10}}]\nlifecycle:\n  states: [queued, running, done]\n  initial: queued\n  terminal: [done]\n  transitions:\n    - {{on: ai.run.ended, from: [running], to: done}}\n    - {{on: ai.run.started, from: [{from}], to: running}}\n"
        )
    };
    let old = crate::catalog::parse("events.yaml", &text("queued")).unwrap();
    let new_text = text("queued, running");
    let new = crate::catalog::parse("events.yaml", &new_text).unwrap();
    let found = judge(&old, &new, diff(&old, &new), &Locator::new("events.yaml", Some(&new_text)), None);
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].line, found[0].column), (19, 7));
    assert_eq!(found[0].fix(), "nothing to do");
}

/// One type with `run_id`, `task_id` and `note`, and the given subject
/// template and stream key.
fn keyed(subject: Option<&str>, stream_key: Option<&str>) -> Catalog {
    let mut e = event(T, 1, obj(json!({"run_id": {"type": "string"}, "task_id": {"type": "string"}}), &["run_id", "task_id"]));
    e.subject = subject.map(str::to_string);
    e.stream_key = stream_key.map(str::to_string);
    catalog(vec![e])
}

#[test]
fn a_changed_subject_template_possibly_breaks_both_ways() {
    let run = Some("run/{run_id}");
    let got = verdicts(&keyed(run, Some("run_id")), &keyed(Some("runs/{run_id}"), Some("run_id")));
    assert_verdict(got, "BFU-", "`subject` template changed from `run/{run_id}` to `runs/{run_id}`");
    // Removed: upgraded producers stop setting it (FORWARD); added:
    // producers that have not upgraded send none (BACKWARD).
    assert_verdict(
        verdicts(&keyed(run, Some("run_id")), &keyed(None, Some("run_id"))),
        "-FU-",
        "`subject` template `run/{run_id}` removed",
    );
    assert_verdict(verdicts(&keyed(None, Some("run_id")), &keyed(run, Some("run_id"))), "B-U-", "`subject` template `run/{run_id}` added");
    // The same template is no change at all.
    let (letters, whats) = verdicts(&keyed(run, Some("run_id")), &keyed(run, Some("run_id")));
    assert_eq!((letters.as_str(), whats.len()), ("----", 0));
    // Possibly, not certainly: the server stores any subject.
    let (old, new) = (keyed(run, Some("run_id")), keyed(Some("r/{run_id}"), Some("run_id")));
    let found = judge(&old, &new, diff(&old, &new), &Locator::new("events.yaml", None), None);
    assert!(found[0].reason.starts_with("may break BACKWARD: the server stores either shape"), "{}", found[0].reason);
}

#[test]
fn a_changed_stream_key_breaks_both_ways() {
    let got = verdicts(&keyed(None, Some("run_id")), &keyed(None, Some("task_id")));
    assert_verdict(got.clone(), "BFU-", "`stream_key` changed from `run_id` to `task_id`");
    let (old, new) = (keyed(None, Some("run_id")), keyed(None, None));
    assert_verdict(verdicts(&old, &new), "BFU-", "`stream_key` changed from `run_id` to none");
    let found = judge(&old, &new, diff(&old, &new), &Locator::new("events.yaml", None), None);
    assert!(
        found[0].reason.contains("into no run (not sequenced, no lifecycle transition), not into the runs named by `run_id`"),
        "{}",
        found[0].reason
    );
    assert_eq!(found[0].fix(), "keep `stream_key: run_id`; to key these events differently, declare a new event type and retire this one");
    // A raised version allows it, like any other break.
    let mut raised = keyed(None, Some("task_id"));
    raised.events[0].version = 2;
    let found = judge(&old, &raised, diff(&old, &raised), &Locator::new("events.yaml", None), None);
    assert_eq!(found[0].verdict, Verdict::Allowed);
}

#[test]
fn subject_and_stream_key_changes_point_at_their_keys() {
    let text = |subject: &str, key: &str| {
        format!(
            "prefix: ai\nevents:\n  ai.x.y:\n    description: d\n    version: 1\n    subject: \"{subject}\"\n    stream_key: {key}\n    fields: {{run_id: uuid, task_id: uuid}}\n    examples: [{{run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10, task_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a11}}]\n"
        )
    };
    let old = crate::catalog::parse("events.yaml", &text("run/{run_id}", "run_id")).unwrap();
    let new_text = text("task/{task_id}", "task_id");
    let new = crate::catalog::parse("events.yaml", &new_text).unwrap();
    let found = judge(&old, &new, diff(&old, &new), &Locator::new("events.yaml", Some(&new_text)), None);
    let lines: Vec<String> = found.iter().map(report::line).collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines[0].starts_with(
            "events.yaml:6:5: ai.x.y: `subject` template changed from `run/{run_id}` to `task/{task_id}` — may break BACKWARD"
        ),
        "{lines:#?}"
    );
    assert!(
        lines[1].starts_with("events.yaml:7:5: ai.x.y: `stream_key` changed from `run_id` to `task_id` — breaks BACKWARD"),
        "{lines:#?}"
    );
}

#[test]
fn a_removed_field_points_at_its_holder_and_says_where_it_was() {
    let old_text = "prefix: ai\nevents:\n  ai.x.y:\n    description: d\n    version: 1\n    fields:\n      run_id: uuid\n      note: string\n    examples:\n      - {run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10, note: n}\n";
    let new_text = old_text.replace("      note: string\n", "").replace(", note: n", "");
    let old = crate::catalog::parse("events.yaml", old_text).unwrap();
    let new = crate::catalog::parse("events.yaml", &new_text).unwrap();
    let baseline =
        Version { label: "HEAD~1:events.yaml".into(), catalog: old, locator: Some(Locator::new("HEAD~1:events.yaml", Some(old_text))) };
    let found = check(&new, &Locator::new("events.yaml", Some(&new_text)), &baseline, &[]);
    assert_eq!(found.len(), 1, "{found:#?}");
    // The new file: the `fields:` key it was under; the old: the field.
    assert_eq!(
        report::line(&found[0]),
        "events.yaml:6:5: ai.x.y: field `note` removed (it was at HEAD~1:events.yaml:8:7) — compatible with BACKWARD \
         (it would break FORWARD: new events lack `note`, which the old catalog requires) — nothing to do"
    );
    let json = Report { findings: found, notes: vec![] }.to_json();
    assert_eq!(json["changes"][0]["was"], json!({"file": "HEAD~1:events.yaml", "line": 8, "column": 7}));
    // A change to a node the new file still has says nothing of the old.
    let tightened = old_text.replace("note: string", "note: {type: string, maxLength: 3}");
    let new = crate::catalog::parse("events.yaml", &tightened).unwrap();
    let found = check(&new, &Locator::new("events.yaml", Some(&tightened)), &baseline, &[]);
    assert!(found.iter().all(|f| f.was.is_none()), "{found:#?}");
}

/// A tagged union under `target`, with the given branches (tag `kind`).
fn union_of(branches: Vec<Value>) -> Value {
    obj(json!({"run_id": {"type": "string"}, "target": {"oneOf": branches}}), &["run_id", "target"])
}

fn branch(tag: &str, value: &str, extra: Value) -> Value {
    let mut properties = json!({ tag: {"const": value} });
    let mut required = vec![tag.to_string()];
    for (k, v) in extra.as_object().unwrap() {
        properties[k] = v.clone();
        required.push(k.clone());
    }
    json!({"type": "object", "required": required, "properties": properties})
}

#[test]
fn a_union_branch_added_breaks_forward_removed_breaks_backward() {
    let file = branch("kind", "file", json!({"path": {"type": "string"}}));
    let url = branch("kind", "url", json!({"url": {"type": "string"}}));
    let ftp = branch("kind", "ftp", json!({}));
    let two = union_of(vec![file.clone(), url.clone()]);
    let three = union_of(vec![file.clone(), url.clone(), ftp]);
    assert_verdict(
        schemas(two.clone(), three.clone()),
        "-FU-",
        "field `target[kind=ftp]` added: the union has a new branch `kind` = `ftp`",
    );
    assert_verdict(
        schemas(three, two.clone()),
        "B-U-",
        "field `target[kind=ftp]` removed: the union no longer has the branch `kind` = `ftp`",
    );
    // Reordered branches are the same union.
    let (letters, whats) = schemas(two, union_of(vec![url, file]));
    assert_eq!((letters.as_str(), whats.len()), ("----", 0), "{whats:?}");
}

#[test]
fn a_union_tag_changed_breaks_both_ways() {
    let old = union_of(vec![branch("kind", "a", json!({})), branch("kind", "b", json!({}))]);
    let new = union_of(vec![branch("type", "a", json!({})), branch("type", "b", json!({}))]);
    assert_verdict(schemas(old, new), "BFU-", "field `target`: the union's tag changed from `kind` to `type`");
}

#[test]
fn changes_inside_a_branch_follow_the_object_rules() {
    let old = union_of(vec![branch("kind", "file", json!({"path": {"type": "string"}})), branch("kind", "none", json!({}))]);
    // Inside `file`: a required field added (BACKWARD), a bound tightened (BACKWARD).
    let mut new = old.clone();
    new["properties"]["target"]["oneOf"][0]["properties"]["mode"] = json!({"type": "string"});
    new["properties"]["target"]["oneOf"][0]["required"] = json!(["kind", "path", "mode"]);
    assert_verdict(schemas(old.clone(), new), "B-U-", "field `target[kind=file].mode` added as required");
    let mut new = old.clone();
    new["properties"]["target"]["oneOf"][0]["properties"]["path"]["maxLength"] = json!(10);
    assert_verdict(schemas(old.clone(), new), "B-U-", "field `target[kind=file].path`: `maxLength: 10` added (tightened)");
    // An optional field added to an open branch: compatible.
    let mut new = old.clone();
    new["properties"]["target"]["oneOf"][1]["properties"]["note"] = json!({"type": "string"});
    assert_verdict(schemas(old.clone(), new), "----", "field `target[kind=none].note` added as optional");
    // Through `$defs`, the same.
    let defs = |u: &Value| {
        let mut s = obj(json!({"run_id": {"type": "string"}, "target": {"$ref": "#/$defs/T"}}), &["run_id", "target"]);
        s["$defs"] = json!({"T": u["properties"]["target"].clone()});
        s
    };
    let mut new = old.clone();
    new["properties"]["target"]["oneOf"].as_array_mut().unwrap().pop();
    assert_verdict(schemas(defs(&old), defs(&new)), "B-U-", "field `target[kind=none]` removed");
}

#[test]
fn a_field_becoming_a_union_may_break_both_ways() {
    let old = obj(json!({"run_id": {"type": "string"}, "target": {"type": "object"}}), &["run_id", "target"]);
    let new = union_of(vec![branch("kind", "a", json!({})), branch("kind", "b", json!({}))]);
    let (letters, whats) = schemas(old, new);
    assert!(whats.iter().any(|w| w.contains("field `target` became a tagged union")), "{whats:?}");
    assert_eq!(letters, "BFU-", "{whats:?}");
}

/// A change inside a branch points at it in the new file: the branch's
/// `oneOf` item, found by its tag (also through `$defs`).
#[test]
fn union_changes_point_at_their_branch() {
    let text = |max: u32, extra: &str| {
        format!(
            "prefix: ai\nevents:\n  ai.x.y:\n    description: d\n    version: 1\n    stream_key: none\n    data:\n      type: object\n      properties:\n        t: {{$ref: \"#/$defs/T\"}}\n      $defs:\n        T:\n          oneOf:\n            - type: object\n              required: [kind]\n              properties:\n                kind: {{const: a}}\n                n: {{type: integer, maximum: {max}}}\n            - {{type: object, required: [kind], properties: {{kind: {{const: b}}}}}}\n{extra}    examples: [{{t: {{kind: b}}}}]\n"
        )
    };
    let old = crate::catalog::parse("events.yaml", &text(5, "")).unwrap_or_else(|e| panic!("{e}"));
    let new_text = text(3, "            - {type: object, required: [kind], properties: {kind: {enum: [c]}}}\n");
    let new = crate::catalog::parse("events.yaml", &new_text).unwrap_or_else(|e| panic!("{e}"));
    let found = judge(&old, &new, diff(&old, &new), &Locator::new("events.yaml", Some(&new_text)), None);
    let at: Vec<(String, usize, usize)> = found.iter().map(|f| (f.change.what.clone(), f.line, f.column)).collect();
    assert_eq!(
        at,
        [
            ("field `t[kind=a].n`: `maximum` changed from 5 to 3 (tightened)".to_string(), 18, 36),
            ("field `t[kind=c]` added: the union has a new branch `kind` = `c`".to_string(), 20, 15),
        ]
    );
}
