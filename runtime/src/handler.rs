//! What a handler sees besides the typed data.

use std::future::Future;

use crate::envelope::{Envelope, ExtensionValue};
use crate::registry::EventCatalog;

/// The envelope an event arrived in, passed to every handler method next
/// to its typed data.
#[derive(Debug, Clone, Copy)]
pub struct EventContext<'e> {
    /// The parsed envelope (attributes, extensions; `data` is already typed).
    pub envelope: &'e Envelope<'e>,
}

impl<'e> EventContext<'e> {
    /// Wrap an envelope.
    pub fn new(envelope: &'e Envelope<'e>) -> Self {
        EventContext { envelope }
    }

    /// The event `id`.
    pub fn id(&self) -> &str {
        &self.envelope.id
    }

    /// The event `source`.
    pub fn source(&self) -> &str {
        &self.envelope.source
    }

    /// An extension attribute by name.
    pub fn extension(&self, name: &str) -> Option<&ExtensionValue<'e>> {
        self.envelope.extension(name)
    }
}

/// Routes a catalog's events to a handler set `H`: implemented by every
/// generated catalog for every implementation of its generated `Handler`
/// trait, with the generated `dispatch`.
///
/// A library cannot name a catalog's `Handler` trait or its `dispatch`
/// (both are items of the user's crate); through this trait it calls them
/// for any catalog, statically (no boxed future, no virtual call).
pub trait Dispatch<H>: EventCatalog {
    /// What handling an event produces (the handler set's `Output`).
    type Output: Send;
    /// Why handling failed (the handler set's `Error`).
    type Error: Send;

    /// Handle `event` with the method of `handler` for its type.
    fn dispatch(handler: &H, ctx: &EventContext<'_>, event: Self::Event) -> impl Future<Output = Result<Self::Output, Self::Error>> + Send;
}
