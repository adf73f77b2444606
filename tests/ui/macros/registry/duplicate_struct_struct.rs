//! Two structs declaring the same CloudEvents type.

/// A feature began.
#[herald::cloud_event("ai.myfeature.started")]
pub struct MyFeatureStarted {
    /// The run.
    pub run_id: uuid::Uuid,
}

/// A feature began (again, by mistake).
#[herald::cloud_event("ai.myfeature.started")]
pub struct FeatureBegan {
    /// The run.
    pub run_id: uuid::Uuid,
}

herald::registry! {
    pub mod app_events {
        MyFeatureStarted,
        FeatureBegan,
    }
}

fn main() {}
