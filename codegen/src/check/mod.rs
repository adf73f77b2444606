//! Checks on the IR, shared by both front-ends.
//!
//! The YAML reader (`catalog`) and the `#[cloud_event]` front-end
//! (`rust_front`) call these same functions, so an event declared either way
//! is held to the same rules and gets the same message. They take the IR or
//! small plain inputs (a name, a template, a JSON Schema), never syntax
//! nodes: each front-end only decides where the problem is shown (a
//! `file:line:col`, or the span of a macro argument).

mod bounds;
mod event;
mod naming;

pub use bounds::{CrossedBounds, crossed_bounds};
pub use event::{stream_key, subject, version, version_problem};
pub use naming::type_name;

/// One rule an event breaks: what is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong (`the subject of … has unbalanced braces: …`).
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl Problem {
    fn new(message: impl Into<String>, help: impl Into<String>) -> Self {
        Problem { message: message.into(), help: help.into() }
    }
}

impl std::fmt::Display for Problem {
    /// `message; help`: the one-line form a compile error shows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; {}", self.message, self.help)
    }
}
