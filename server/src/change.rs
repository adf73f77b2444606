//! The change an event makes to its run's state document.
//!
//! Handlers do not touch storage: they describe what to write, and the
//! store applies the description atomically with the event's `applied`
//! mark and the run's `last_event_seq`. A description (rather than a
//! closure) can be stored with a parked event and applied later, and every
//! backend can translate it into its own update (a JSON merge in SQLite,
//! `$set` in MongoDB).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What one event does to its run.
///
/// Which run that is, the handler does not say: the server files the
/// change under the value of the event type's `stream_key` field
/// (`run_id` in the orchestrator's catalog), read from the data by the
/// generated catalog.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunChange {
    /// A status move this event requests, checked against the run's
    /// current status when applied: the server sets it from the catalog's
    /// lifecycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition: Option<Transition>,
    /// Field writes, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sets: Vec<Set>,
}

/// A requested status move: legal only from one of `from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// Statuses the run may be in for the move to be legal.
    pub from: Vec<String>,
    /// The status the run moves to.
    pub to: String,
}

impl Transition {
    /// A move to `to` from any of `from`: what a generated
    /// `RunTransition` says, as strings.
    pub fn new<'a>(from: impl IntoIterator<Item = &'a str>, to: &str) -> Self {
        Transition { from: from.into_iter().map(str::to_owned).collect(), to: to.to_owned() }
    }
}

/// Write `value` at `path` in the run document, creating objects on the
/// way. Path segments are literal keys (a stage named `a.b` is one
/// segment), never parsed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Set {
    /// Keys from the document root.
    pub path: Vec<String>,
    /// The new value; `null` removes the field.
    pub value: Value,
}

impl RunChange {
    /// A change that writes nothing yet.
    pub fn new() -> Self {
        RunChange::default()
    }

    /// Write `value` at `path` (builder style).
    pub fn set<I, S>(mut self, path: I, value: impl Into<Value>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.sets.push(Set { path: path.into_iter().map(Into::into).collect(), value: value.into() });
        self
    }

    /// Write `value` at `path` when it is `Some`: optional event fields
    /// leave the document alone when the sender left them out.
    pub fn set_some<I, S, V>(self, path: I, value: Option<V>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
        V: Into<Value>,
    {
        match value {
            Some(v) => self.set(path, v),
            None => self,
        }
    }

    /// Request a status move.
    pub fn transition(mut self, transition: Option<Transition>) -> Self {
        self.transition = transition;
        self
    }
}

/// Apply the field writes of `change` to `doc` (an object).
pub fn apply_sets(doc: &mut Map<String, Value>, sets: &[Set]) {
    for set in sets {
        apply_set(doc, &set.path, &set.value);
    }
}

/// Write `value` at `path` in `doc`, creating objects on the way (a
/// scalar in the way is replaced by an object); `null` removes the field.
/// The one rule for what a write does, whether to a run's own fields or
/// inside one of its items.
pub fn apply_set(doc: &mut Map<String, Value>, path: &[String], value: &Value) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut target = doc;
    for key in parents {
        let slot = target.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        // Always an object by now; the `else` cannot happen.
        let Some(next) = slot.as_object_mut() else { return };
        target = next;
    }
    if value.is_null() {
        target.remove(last);
    } else {
        target.insert(last.clone(), value.clone());
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn nested_sets_create_objects_and_keep_siblings() {
        let mut d = doc(json!({"current_feature": {"name": "f", "started_at": "t0"}}));
        let c = RunChange::new().set(["current_feature", "progress"], 0.5).set(["metrics", "f_items"], 3);
        apply_sets(&mut d, &c.sets);
        assert_eq!(
            Value::Object(d),
            json!({"current_feature": {"name": "f", "started_at": "t0", "progress": 0.5}, "metrics": {"f_items": 3}})
        );
    }

    #[test]
    fn keys_are_literal_and_null_removes() {
        let mut d = doc(json!({"stages": {"a.b": {"x": 1}}, "error_message": "old"}));
        let c = RunChange::new().set(["stages", "a.b", "y"], 2).set(["error_message"], Value::Null);
        apply_sets(&mut d, &c.sets);
        assert_eq!(Value::Object(d), json!({"stages": {"a.b": {"x": 1, "y": 2}}}));
    }

    #[test]
    fn a_scalar_in_the_way_is_replaced_by_an_object() {
        let mut d = doc(json!({"metrics": 7}));
        apply_sets(&mut d, &RunChange::new().set(["metrics", "m"], 1).sets);
        assert_eq!(Value::Object(d), json!({"metrics": {"m": 1}}));
    }

    #[test]
    fn set_some_skips_none() {
        let c = RunChange::new().set_some(["a"], None::<i64>).set_some(["b"], Some(1));
        assert_eq!(c.sets.len(), 1);
        assert_eq!(c.sets[0].path, vec!["b".to_string()]);
    }

    #[test]
    fn round_trips_through_json_for_parked_events() {
        let c = RunChange::new()
            .transition(Some(Transition { from: vec!["queued".into()], to: "running".into() }))
            .set(["x"], json!({"y": [1, 2]}));
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<RunChange>(&text).unwrap(), c);
    }
}
