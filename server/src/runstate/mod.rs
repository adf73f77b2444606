//! Run state: what events do to their runs, decided in one place.
//!
//! - [`layout`]: a run is its own fields plus keyed collections of items
//!   (nodes, papers, artifacts, …), written item by item so an event costs
//!   the same in a run of ten nodes as in one of a hundred thousand.
//! - [`sequence`]: the per-run `seq` ordering rules.
//! - [`plan`]: the planner, [`RunState`]: order, parking, release,
//!   lifecycle checks, gap skips and history for one run, with no I/O.
//!   Every store (SQLite, MongoDB with and without transactions, the
//!   in-memory reference) persists its [`Writes`] and nothing else decides
//!   anything about a run.

pub mod layout;
pub mod plan;
pub mod sequence;

pub use layout::{ItemKey, Layout, Target};
pub use plan::{EventState, History, HistoryKind, Incoming, Need, Outcome, Parked, ROUNDS, RunHead, RunState, Settle, Writes};

/// What a store needs to know about a handler set's runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// Which run fields are keyed collections.
    pub layout: Layout,
    /// The status a new run starts in.
    pub initial_status: String,
}
