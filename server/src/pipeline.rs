//! The transport-free front half of ingestion: a decoded (or refused)
//! event → handler → a [`NewEvent`] ready to store.
//!
//! HTTP lives in `http/`; storage in `store/`. This module only turns a
//! parsed envelope into either something the store can take or a reason
//! it was refused.

use herald::{DataError, Envelope, EventContext, ExtensionValue};

use crate::change::{RunChange, Transition};
use crate::events::{Event, dispatch};
use crate::orchestrator::Orchestrator;
use crate::store::NewEvent;

/// Why a well-formed envelope was refused (all map to 422).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The `type` is not in the catalog, the data fails its schema, or a
    /// declared extension has the wrong type.
    #[error(transparent)]
    Data(#[from] DataError),
}

/// Handle one envelope whose data the catalog has decoded and validated
/// (or refused): what [`herald::EventCatalog::parse_event`] gives in one
/// pass, or [`herald::EventCatalog::decode`] after a binary-mode parse.
pub async fn prepare(envelope: &Envelope<'_>, event: Result<Event, DataError>) -> Result<NewEvent, Refusal> {
    let event = event?;
    let transition = transition_of(&event);
    let ctx = EventContext::new(envelope);
    let change: RunChange = match dispatch(&Orchestrator, &ctx, event).await {
        Ok(change) => change.transition(transition),
        Err(never) => match never {},
    };
    let seq = envelope.extension("seq").and_then(|v| v.as_i64());
    Ok(NewEvent {
        source: envelope.source.to_string(),
        id: envelope.id.to_string(),
        type_name: envelope.ty.to_string(),
        run_id: change.run_id.clone(),
        seq,
        envelope: stored_form(envelope, seq),
        change,
    })
}

/// The envelope as it is stored: structured-mode JSON, with `seq` as the
/// integer the catalog declares even when binary mode delivered it as the
/// header string `"3"`, so stored events read the same whatever the mode.
fn stored_form(envelope: &Envelope<'_>, seq: Option<i64>) -> String {
    match (seq, envelope.extension("seq")) {
        (Some(n), Some(ExtensionValue::String(_))) => {
            let mut typed = envelope.clone();
            // Replacing a valid extension with a valid integer cannot fail.
            let _ = typed.extensions.insert("seq", ExtensionValue::Integer(n));
            typed.to_json()
        }
        _ => envelope.to_json(),
    }
}

/// The status move an event requests, from the catalog's `lifecycle`.
fn transition_of(event: &Event) -> Option<Transition> {
    event.transition().map(|t| Transition { from: t.from.iter().map(|s| s.as_str().to_owned()).collect(), to: t.to.as_str().to_owned() })
}
