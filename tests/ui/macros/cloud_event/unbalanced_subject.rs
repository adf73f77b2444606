//! A `subject` template's braces must pair up, as in `events.yaml`: the
//! struct route runs the same check, with the same message.

/// A feature began.
#[herald::cloud_event("ai.my_feature.started", subject = "run/{run_id")]
pub struct MyFeatureStarted {
    /// The run.
    pub run_id: uuid::Uuid,
}

fn main() {}
