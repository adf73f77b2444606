//! Event data is a JSON object: fields need names.

/// A feature began.
#[herald::cloud_event("ai.myfeature.started")]
pub struct MyFeatureStarted(pub uuid::Uuid, pub String);

fn main() {}
