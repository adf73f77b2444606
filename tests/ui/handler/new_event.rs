//! `herald new ai.run.paused --fields 'reason?: string'` appended the type
//! to `small_after_new.yaml` (herald-codegen's scaffold tests check the
//! fixture is exactly what it writes). A handler written before it does
//! not compile until it has the method `herald new` printed.

use std::convert::Infallible;

use herald::EventContext;

mod events {
    herald::include_events!("ui-fixtures/small_after_new.yaml");
}

struct App;

impl events::Handler for App {
    type Output = ();
    type Error = Infallible;

    async fn on_run_started(&self, _: &EventContext<'_>, _: events::RunStarted) -> Result<(), Infallible> {
        Ok(())
    }
}

fn main() {}
