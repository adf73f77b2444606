//! One struct per event type: an enum is not an event.

/// Feature events.
#[herald::cloud_event("ai.myfeature.started")]
pub enum MyFeature {
    Started { run_id: String },
    Stopped { run_id: String },
}

fn main() {}
