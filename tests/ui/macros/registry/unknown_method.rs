//! A handler method for a type the registry does not list is an error.

use std::convert::Infallible;

use herald::EventContext;

/// A feature began.
#[herald::cloud_event("ai.myfeature.started")]
pub struct MyFeatureStarted {
    /// The run.
    pub run_id: uuid::Uuid,
}

herald::registry! {
    pub mod app_events {
        MyFeatureStarted,
    }
}

struct App;

impl app_events::Handler for App {
    type Output = ();
    type Error = Infallible;

    async fn on_myfeature_started(&self, _: &EventContext<'_>, _: MyFeatureStarted) -> Result<(), Infallible> {
        Ok(())
    }

    async fn on_myfeature_paused(&self, _: &EventContext<'_>, _: MyFeatureStarted) -> Result<(), Infallible> {
        Ok(())
    }
}

fn main() {}
