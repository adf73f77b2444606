//! The type string must follow `{prefix}.{domain}.{action}` in lower snake case.

/// A feature began.
#[herald::cloud_event("ai.MyFeature.started")]
pub struct MyFeatureStarted {
    /// The run.
    pub run_id: uuid::Uuid,
}

fn main() {}
