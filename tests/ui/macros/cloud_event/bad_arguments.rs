//! Every problem is reported at once: a misspelt argument, a rule on a
//! field of the wrong type, a subject placeholder that is not a field.

/// A feature began.
#[herald::cloud_event("ai.myfeature.started", verison = 2, subject = "run/{runid}")]
pub struct MyFeatureStarted {
    /// The run.
    pub run_id: uuid::Uuid,
    /// How far along.
    #[herald(min_length = 1)]
    pub progress: f64,
    /// A misspelt rule.
    #[herald(maximun = 3)]
    pub retries: u32,
}

fn main() {}
