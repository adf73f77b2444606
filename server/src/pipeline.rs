//! The transport-free front half of ingestion: a decoded (or refused)
//! event → handler → a [`NewEvent`] ready to store.
//!
//! HTTP lives in `http/`; storage in `store/`. This module only turns a
//! parsed envelope into either something the store can take or a reason
//! it was refused. It is generic over the handler set, so the call into
//! the generated `dispatch` is a direct one.

use herald::lifecycle::{RunLifecycle, Status};
use herald::{DataError, Envelope, EventCatalog, EventContext, ExtensionValue};

use crate::catalog::{EventOf, Handlers, sequence_of};
use crate::change::{RunChange, Transition};
use crate::store::NewEvent;

/// Why a well-formed envelope was refused (all map to 422).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The `type` is not in the catalog, the data fails its schema, or a
    /// declared extension has the wrong type.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The handler refused the event (its error's text).
    #[error("{0}")]
    Handler(String),
    /// The event's stream key names the empty run id: a run needs one
    /// that is not empty (the stores keep "no run" apart from every run).
    #[error("the stream key `{key}` of this `{type_name}` event is empty; a run needs a non-empty id")]
    EmptyRunId {
        /// The event type.
        type_name: String,
        /// Its stream key (the data property naming the run).
        key: &'static str,
    },
}

/// Handle one envelope whose data the catalog has decoded and validated
/// (or refused): what [`herald::EventCatalog::parse_event`] gives in one
/// pass, or [`herald::EventCatalog::decode`] after a binary-mode parse.
pub async fn prepare<H: Handlers>(
    handlers: &H,
    envelope: &Envelope<'_>,
    event: Result<EventOf<H>, DataError>,
) -> Result<NewEvent, Refusal> {
    let event = event?;
    // The run and the status move come from the catalog, never from the
    // handler: it only says what the event does to the run. An event of a
    // type with `stream_key: none` belongs to no run: it is still handled
    // (dispatched) and stored, but applied to nothing.
    let run_id = H::Catalog::stream_key(&event).map(|key| key.to_string());
    if run_id.as_deref() == Some("") {
        let key = H::Catalog::lookup(&envelope.ty).and_then(|t| t.stream_key).unwrap_or("stream key");
        return Err(Refusal::EmptyRunId { type_name: envelope.ty.to_string(), key });
    }
    let transition = H::Catalog::transition(&event).map(|t| Transition::new(t.from.iter().map(|s| s.as_str()), t.to.as_str()));
    let ctx = EventContext::new(envelope);
    let change = match handlers.handle(&ctx, event).await {
        Ok(change) => change.transition(transition),
        Err(e) => return Err(Refusal::Handler(e.to_string())),
    };
    let change = if run_id.is_none() && change != RunChange::new() {
        // Nothing to apply it to: the catalog says the event has no run.
        tracing::warn!(r#type = %envelope.ty, "the handler returned a change for an event that belongs to no run; it is dropped");
        RunChange::new()
    } else {
        change
    };
    let seq = sequence_of::<H>(envelope);
    Ok(NewEvent {
        source: envelope.source.to_string(),
        id: envelope.id.to_string(),
        type_name: envelope.ty.to_string(),
        run_id,
        seq,
        envelope: stored_form(envelope, H::SEQUENCE, seq),
        change,
    })
}

/// The envelope as it is stored: structured-mode JSON, with the sequence
/// extension as the integer the catalog declares even when binary mode
/// delivered it as the header string `"3"`, so stored events read the same
/// whatever the mode.
fn stored_form(envelope: &Envelope<'_>, name: Option<&'static str>, seq: Option<i64>) -> String {
    match (name, seq) {
        (Some(name), Some(n)) if matches!(envelope.extension(name), Some(ExtensionValue::String(_))) => {
            let mut typed = envelope.clone();
            // Replacing a valid extension with a valid integer cannot fail.
            let _ = typed.extensions.insert(name, ExtensionValue::Integer(n));
            typed.to_json()
        }
        _ => envelope.to_json(),
    }
}

#[cfg(test)]
mod tests {
    use herald::EventCatalog;

    use super::*;
    use crate::events::{Catalog, Event};
    use crate::orchestrator::Orchestrator;

    /// Refuses every event.
    struct Refusing;

    impl Handlers for Refusing {
        type Catalog = Catalog;
        type Error = String;
        const SEQUENCE: Option<&'static str> = Some("seq");

        async fn handle(&self, _: &EventContext<'_>, _: Event) -> Result<RunChange, String> {
            Err("orders from `/test` are closed".to_owned())
        }
    }

    const EVENT: &[u8] = br#"{"specversion":"1.0","id":"e1","source":"/test","type":"ai.run.started","subject":"run/d4a4b7db-8a88-45c1-84bf-a633dab24a25","time":"2024-01-01T00:00:00Z","datacontenttype":"application/json","seq":"7","data":{"run_id":"d4a4b7db-8a88-45c1-84bf-a633dab24a25"}}"#;

    fn prepared<H: Handlers<Catalog = Catalog>>(handlers: &H) -> Result<NewEvent, Refusal> {
        let parsed = Catalog::parse_event(EVENT).expect("a valid envelope");
        let run = prepare(handlers, &parsed.envelope, parsed.event);
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run)
    }

    #[test]
    fn the_handler_sets_the_change_and_the_catalog_the_run_transition_and_seq() {
        let ev = prepared(&Orchestrator).unwrap();
        assert_eq!((ev.run_id.as_deref(), ev.seq), (Some("d4a4b7db-8a88-45c1-84bf-a633dab24a25"), Some(7)));
        assert_eq!(ev.change.transition, Some(Transition::new(["queued"], "running")));
        assert!(ev.envelope.contains(r#""seq":7"#), "stored as the integer the catalog declares: {}", ev.envelope);
    }

    #[test]
    fn a_handler_error_refuses_the_event_with_its_text() {
        match prepared(&Refusing) {
            Err(Refusal::Handler(text)) => assert_eq!(text, "orders from `/test` are closed"),
            other => panic!("{other:?}"),
        }
    }

    fn prepare_runless(event: &[u8]) -> Result<NewEvent, Refusal> {
        use crate::catalog::tests::{Runless, runless};
        let parsed = runless::Catalog::parse_event(event).expect("a valid envelope");
        let run = prepare(&Runless, &parsed.envelope, parsed.event);
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run)
    }

    #[test]
    fn an_event_of_no_run_is_prepared_without_one() {
        let ev =
            prepare_runless(br#"{"specversion":"1.0","id":"u1","source":"/test","type":"test.user.signed_up","data":{"user_id":"u-42"}}"#)
                .unwrap();
        assert_eq!((ev.run_id, ev.type_name.as_str()), (None, "test.user.signed_up"));
        assert_eq!(ev.change, RunChange::new());
    }
}
