//! `ai.myfeature.progress` is in the catalog but the handler forgot it:
//! the build must fail and name the missing method.

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
}

fn main() {}
