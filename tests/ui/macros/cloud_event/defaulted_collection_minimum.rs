//! An optional collection with a minimum must be an `Option`: defaulting
//! to empty would make "absent" break the minimum.

/// Reviewers were assigned.
#[herald::cloud_event("ai.review.assigned")]
pub struct ReviewAssigned {
    /// The run.
    pub run_id: uuid::Uuid,
    /// Who reviews; optional, never empty when sent.
    #[serde(default)]
    #[herald(min_items = 1)]
    pub reviewers: Vec<String>,
}

fn main() {}
