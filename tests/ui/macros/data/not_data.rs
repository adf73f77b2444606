//! A field naming a type without `#[herald::data]`: the error says to add it.

/// Who owns a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Owner {
    /// Their name.
    pub name: String,
}

/// A feature began.
#[herald::cloud_event("ai.myfeature.started")]
pub struct MyFeatureStarted {
    /// The run.
    pub run_id: uuid::Uuid,
    /// Who started it.
    pub owner: Owner,
}

fn main() {}
