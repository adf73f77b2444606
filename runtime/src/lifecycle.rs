//! A catalog's run lifecycle, for code that is generic over catalogs.
//!
//! The codegen emits a catalog's `lifecycle:` as its own `RunStatus` enum
//! and `Event::transition()`, which a library cannot name. It also
//! implements [`RunLifecycle`] on the catalog with them, so a library (the
//! server) reads the statuses and the move an event requests from the
//! catalog itself.

use crate::registry::EventCatalog;

/// A run status of a generated lifecycle (the generated `RunStatus`).
pub trait Status: Copy + Send + Sync + 'static {
    /// The status as the catalog and the wire write it (`running`).
    fn as_str(self) -> &'static str;
}

/// The status type of a catalog that declares no `lifecycle`: it has no
/// value, and no event moves a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoStatus {}

impl Status for NoStatus {
    fn as_str(self) -> &'static str {
        match self {}
    }
}

/// A status move an event requests: legal for a run in one of `from`, it
/// moves the run to `to` (the generated `RunTransition`, generic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusMove<S: 'static> {
    /// The statuses the move is legal from.
    pub from: &'static [S],
    /// The status the move leads to.
    pub to: S,
}

/// The run lifecycle a catalog declares: implemented by every generated
/// catalog, with [`NoStatus`] when it declares none.
pub trait RunLifecycle: EventCatalog {
    /// The generated `RunStatus` ([`NoStatus`] without a lifecycle).
    type Status: Status;

    /// Every status, in the order the catalog declares them (none without
    /// a lifecycle).
    const STATUSES: &'static [Self::Status];

    /// The status a new run starts in (`None` without a lifecycle).
    const INITIAL: Option<Self::Status>;

    /// The move `event` requests (generated: `event.transition()`), or
    /// `None` when it moves no status.
    fn transition(event: &Self::Event) -> Option<StatusMove<Self::Status>>;
}
