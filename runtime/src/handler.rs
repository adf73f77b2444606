//! What a handler sees besides the typed data.

use crate::envelope::{Envelope, ExtensionValue};

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
