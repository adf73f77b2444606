//! A handler for every event type in events.yaml compiles, and `dispatch`
//! accepts it.

use std::convert::Infallible;

use herald::EventContext;
use herald_tests::events::*;

struct Orchestrator;

impl Handler for Orchestrator {
    type Output = ();
    type Error = Infallible;

    async fn on_artifact_failed(&self, _: &EventContext<'_>, _: ArtifactFailed) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_artifact_registered(&self, _: &EventContext<'_>, _: ArtifactRegistered) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_myfeature_completed(&self, _: &EventContext<'_>, _: MyfeatureCompleted) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_myfeature_progress(&self, _: &EventContext<'_>, _: MyfeatureProgress) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_myfeature_started(&self, _: &EventContext<'_>, _: MyfeatureStarted) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_node_completed(&self, _: &EventContext<'_>, _: NodeCompleted) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_node_created(&self, _: &EventContext<'_>, _: NodeCreated) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_node_executing(&self, _: &EventContext<'_>, _: NodeExecuting) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_paper_generated(&self, _: &EventContext<'_>, _: PaperGenerated) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_paper_started(&self, _: &EventContext<'_>, _: PaperStarted) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_run_canceled(&self, _: &EventContext<'_>, _: RunCanceled) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_run_completed(&self, _: &EventContext<'_>, _: RunCompleted) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_run_error(&self, _: &EventContext<'_>, _: RunError) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_run_failed(&self, _: &EventContext<'_>, _: RunFailed) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_run_metric(&self, _: &EventContext<'_>, _: RunMetric) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_run_progress(&self, _: &EventContext<'_>, _: RunProgress) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_run_stage_completed(&self, _: &EventContext<'_>, _: RunStageCompleted) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_run_stage_progress(&self, _: &EventContext<'_>, _: RunStageProgress) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_run_stage_started(&self, _: &EventContext<'_>, _: RunStageStarted) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_run_started(&self, _: &EventContext<'_>, _: RunStarted) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_validation_auto_completed(&self, _: &EventContext<'_>, _: ValidationAutoCompleted) -> Result<(), Infallible> {
        Ok(())
    }
    async fn on_validation_auto_started(&self, _: &EventContext<'_>, _: ValidationAutoStarted) -> Result<(), Infallible> {
        Ok(())
    }
}

fn main() {
    // `dispatch` is generic over `Handler`: naming it with our type proves
    // the implementation satisfies every bound the router needs.
    let _ = dispatch::<Orchestrator>;
}
