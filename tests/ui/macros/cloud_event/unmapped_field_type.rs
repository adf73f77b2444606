//! A field type Herald has no JSON Schema for is an error at that type.

use std::rc::Rc;

/// A feature began.
#[herald::cloud_event("ai.myfeature.started")]
pub struct MyFeatureStarted {
    /// The run.
    pub run_id: uuid::Uuid,
    /// Who started it.
    pub owner: Rc<String>,
}

fn main() {}
