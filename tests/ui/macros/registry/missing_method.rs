//! A registry's handler must handle every event, struct-declared ones too:
//! the error names the missing method and its event's data type.

use std::convert::Infallible;

use herald::EventContext;

/// A feature began.
#[herald::cloud_event("ai.myfeature.started")]
pub struct MyFeatureStarted {
    /// The run.
    pub run_id: uuid::Uuid,
}

/// A feature finished.
#[herald::cloud_event("ai.myfeature.completed")]
pub struct MyFeatureCompleted {
    /// The run.
    pub run_id: uuid::Uuid,
}

herald::registry! {
    pub mod app_events {
        MyFeatureStarted,
        MyFeatureCompleted,
    }
}

struct App;

impl app_events::Handler for App {
    type Output = ();
    type Error = Infallible;

    async fn on_myfeature_started(&self, _: &EventContext<'_>, _: MyFeatureStarted) -> Result<(), Infallible> {
        Ok(())
    }
}

fn main() {}
