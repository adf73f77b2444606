//! A handler for every event type of a catalog compiles, and `dispatch`
//! accepts it. The catalog is the small fixture of the handler cases
//! (`ui/macros/fixtures/handlers.yaml`), so adding a type to the project's
//! `events.yaml` never touches this case; `tests/envelope_typed.rs`
//! implements the whole project catalog, from a list `build.rs` writes.

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

    async fn on_myfeature_progress(&self, _: &EventContext<'_>, _: MyfeatureProgress) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_run_completed(&self, _: &EventContext<'_>, _: RunCompleted) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_run_started(&self, _: &EventContext<'_>, _: RunStarted) -> Result<(), Infallible> {
        Ok(())
    }
}

fn main() {
    // `dispatch` is generic over `Handler`: naming it with our type proves
    // the implementation satisfies every bound the router needs.
    let _ = dispatch::<Orchestrator>;
}
