//! Bounds that no value could meet are a mistake, reported where written:
//! `range(min, max)` crossed, and a `minimum` above the type's largest value.

/// A feature made progress.
#[herald::cloud_event("ai.myfeature.progressed")]
pub struct MyFeatureProgressed {
    /// The run.
    pub run_id: uuid::Uuid,
    /// How far along.
    #[herald(range(min = 10, max = 1))]
    pub progress: f64,
    /// How many attempts.
    #[herald(minimum = 300)]
    pub attempts: u8,
    /// Tags.
    #[herald(min_items = 3, max_items = 2)]
    pub tags: Vec<String>,
}

fn main() {}
