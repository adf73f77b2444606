//! A handler method for a type the catalog does not have does not compile.

use std::convert::Infallible;

use herald::EventContext;

mod events {
    herald::include_events!("ui-fixtures/handlers.yaml");
}

use events::*;

struct Orchestrator;

impl Handler for Orchestrator {
    type Output = ();
    type Error = Infallible;

    async fn on_run_started(&self, _: &EventContext<'_>, _: RunStarted) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_run_completed(&self, _: &EventContext<'_>, _: RunCompleted) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_myfeature_progress(&self, _: &EventContext<'_>, _: MyfeatureProgress) -> Result<(), Infallible> {
        Ok(())
    }
    // `ai.myfeature.paused` is not in the catalog.
    async fn on_myfeature_paused(&self, _: &EventContext<'_>, _: MyfeatureProgress) -> Result<(), Infallible> {
        Ok(())
    }
}

fn main() {}
