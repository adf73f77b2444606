//! The registry needs one concrete data type per event type.

/// A feature began.
#[herald::cloud_event("ai.myfeature.started")]
pub struct MyFeatureStarted<T> {
    /// The run.
    pub run_id: uuid::Uuid,
    /// Anything.
    pub payload: T,
}

fn main() {}
