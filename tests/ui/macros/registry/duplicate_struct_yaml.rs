//! A struct declaring a type the YAML catalog already declares.

/// A run began.
#[herald::cloud_event("ai.run.started")]
pub struct Started {
    /// The run.
    pub run_id: uuid::Uuid,
}

herald::registry! {
    pub mod app_events {
        include_events!("ui-fixtures/small.yaml"),
        Started,
    }
}

fn main() {}
