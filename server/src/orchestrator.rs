//! The orchestrator's handlers: what each event type in `events.yaml` does
//! to its run document.
//!
//! This is the seed's `events.service.ts`, typed: the generated `Handler`
//! trait has one required method per event type, so adding a type to the
//! catalog makes this file stop compiling until it says what the new event
//! does. Handlers are pure — they return a [`RunChange`]; the store applies
//! it atomically with the event's bookkeeping.
//!
//! The run document (fields as in the seed, snake case):
//! `status`, `current_feature {name, status, progress, current_step,
//! started_at, completed_at}`, `metrics`, `error_message`, `last_error`,
//! `progress`, `stages.{stage}`, `nodes.{node_id}`, `papers.{paper_id}`,
//! `artifacts.{artifact_id}`, `validation`, plus `last_event_seq` and
//! `updated_at`, which the store maintains. `stages`, `nodes`, `papers`,
//! `artifacts` and `metrics` grow with the run, so they are keyed
//! collections ([`layout`]): each item is stored and updated on its own.
//!
//! Handlers do not say which run an event belongs to: the server takes it
//! from the event's `run_id`, the catalog's stream key.
//!
//! [`Orchestrator`] is also the handler set the `herald-server` binary
//! serves ([`crate::handlers!`]), with its keyed collections and the pages
//! `build.rs` rendered.

use std::convert::Infallible;

use herald::EventContext;
use serde::Serialize;
use serde_json::{Value, json};

use crate::catalog::{Handlers, Site};
use crate::change::RunChange;
use crate::events::*;
use crate::runstate::{Layout, Rules};

/// The run fields that are keyed collections: a run of the orchestrator
/// gains an entry in one of these per node, paper, artifact, stage or
/// metric, so they are stored item by item.
pub fn layout() -> Layout {
    Layout::new(["artifacts", "metrics", "nodes", "papers", "stages"])
}

/// What the stores need to know about the orchestrator's runs: the
/// [`layout`], and that a new run starts in the lifecycle's initial status.
pub fn rules() -> Rules {
    Orchestrator::rules()
}

/// Stateless handler set for the project catalog.
#[derive(Debug, Clone, Copy, Default)]
pub struct Orchestrator;

crate::handlers!(Orchestrator: Catalog, sequence = Some("seq"), {
    fn layout() -> Layout {
        layout()
    }

    fn site() -> Site {
        crate::include_site!("events")
    }

    fn try_commands(base: &str) -> String {
        let run = "0b7e3f5c-6d2a-4c1e-9f8a-2b3c4d5e6f70";
        format!(
            "curl -sS -X POST {base}/api/ingest/event -H 'Content-Type: application/json' -d \
             '{{\"specversion\":\"1.0\",\"id\":\"test-event-001\",\"source\":\"test\",\"type\":\"ai.myfeature.started\",\
             \"subject\":\"run/{run}\",\"time\":\"2024-01-01T00:00:00Z\",\"datacontenttype\":\"application/json\",\
             \"data\":{{\"run_id\":\"{run}\",\"feature_name\":\"test_feature\"}}}}'\n\
             curl -sS {base}/api/runs/{run}"
        )
    }
});

type Out = Result<RunChange, Infallible>;

/// When the event happened: its `time` attribute, or now when the sender
/// left `time` out (what the seed's `new Date()` recorded).
fn at(ctx: &EventContext<'_>) -> Value {
    match &ctx.envelope.time {
        Some(t) => Value::String(t.as_str().to_owned()),
        None => Value::String(crate::clock::now_rfc3339()),
    }
}

/// A typed value as JSON. The generated data types serialise to exactly
/// what the schema describes, so this cannot fail in practice; `null`
/// (which `RunChange` treats as "remove") is the safe fallback.
fn to_json(v: &impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// An optional free-form object (typify gives absent as empty) as JSON,
/// `None` when the sender did not send it.
fn non_empty(map: serde_json::Map<String, Value>) -> Option<Value> {
    (!map.is_empty()).then_some(Value::Object(map))
}

impl Handler for Orchestrator {
    type Output = RunChange;
    type Error = Infallible;

    // ── run lifecycle ────────────────────────────────────────────────────
    async fn on_run_started(&self, ctx: &EventContext<'_>, d: RunStarted) -> Out {
        let started_at = d.started_at.as_ref().map(to_json).unwrap_or_else(|| at(ctx));
        Ok(RunChange::new().set(["started_at"], started_at).set_some(["pipeline"], d.pipeline).set_some(["config"], non_empty(d.config)))
    }

    async fn on_run_completed(&self, ctx: &EventContext<'_>, d: RunCompleted) -> Out {
        let mut c = RunChange::new().set(["result"], to_json(&d.result)).set(["completed_at"], at(ctx));
        if let Some(m) = &d.metrics {
            c = c.set(["metrics", "duration_ms"], m.duration_ms).set(["metrics", "items_processed"], m.items_processed);
        }
        Ok(c.set_some(["error_message"], d.error_message))
    }

    async fn on_run_failed(&self, ctx: &EventContext<'_>, d: RunFailed) -> Out {
        Ok(RunChange::new().set(["error_message"], d.error_message).set_some(["error_type"], d.error_type).set(["completed_at"], at(ctx)))
    }

    async fn on_run_canceled(&self, ctx: &EventContext<'_>, d: RunCanceled) -> Out {
        Ok(RunChange::new().set(["canceled_at"], at(ctx)).set_some(["canceled_by"], d.canceled_by).set_some(["cancel_reason"], d.reason))
    }

    // ── common patterns ──────────────────────────────────────────────────
    async fn on_run_progress(&self, _: &EventContext<'_>, d: RunProgress) -> Out {
        Ok(RunChange::new()
            .set(["progress"], d.progress)
            .set_some(["current_step"], d.current_step)
            .set_some(["iteration"], d.iteration)
            .set_some(["max_iterations"], d.max_iterations))
    }

    async fn on_run_metric(&self, _: &EventContext<'_>, d: RunMetric) -> Out {
        Ok(RunChange::new().set(["metrics", d.metric_name.as_str()], d.value))
    }

    async fn on_run_error(&self, ctx: &EventContext<'_>, d: RunError) -> Out {
        // An error report does not end the run (`ai.run.failed` does); it
        // is kept as the latest error.
        Ok(RunChange::new().set(
            ["last_error"],
            json!({
                "error_type": d.error_type,
                "error_message": d.error_message,
                "traceback": d.traceback,
                "context": non_empty(d.context),
                "at": at(ctx),
            }),
        ))
    }

    // ── feature (the seed's worked example) ──────────────────────────────
    async fn on_myfeature_started(&self, ctx: &EventContext<'_>, d: MyfeatureStarted) -> Out {
        let started_at = d.timestamp.as_ref().map(to_json).unwrap_or_else(|| at(ctx));
        // A new feature replaces the previous one wholesale, so no stale
        // `completed_at` or `progress` survives from it.
        Ok(RunChange::new().set(["current_feature"], json!({"name": d.feature_name, "status": "running", "started_at": started_at})))
    }

    async fn on_myfeature_progress(&self, _: &EventContext<'_>, d: MyfeatureProgress) -> Out {
        Ok(RunChange::new()
            .set(["current_feature", "name"], d.feature_name)
            .set(["current_feature", "progress"], d.progress)
            .set_some(["current_feature", "current_step"], d.current_step)
            .set_some(["current_feature", "total_steps"], d.total_steps))
    }

    async fn on_myfeature_completed(&self, ctx: &EventContext<'_>, d: MyfeatureCompleted) -> Out {
        let succeeded = d.result == MyfeatureCompletedResult::Success;
        let mut c = RunChange::new()
            .set(["current_feature", "name"], d.feature_name.as_str())
            .set(["current_feature", "status"], if succeeded { "completed" } else { "failed" })
            .set(["current_feature", "completed_at"], at(ctx));
        if let Some(m) = &d.metrics {
            c = c
                .set(["metrics".to_owned(), format!("{}_duration_ms", d.feature_name)], m.duration_ms)
                .set(["metrics".to_owned(), format!("{}_items", d.feature_name)], m.items_processed);
        }
        if !succeeded {
            c = c.set_some(["error_message"], d.error_message);
        }
        Ok(c)
    }

    // ── stages ───────────────────────────────────────────────────────────
    async fn on_run_stage_started(&self, ctx: &EventContext<'_>, d: RunStageStarted) -> Out {
        Ok(RunChange::new()
            .set(["current_stage"], d.stage.as_str())
            .set(["stages", d.stage.as_str()], json!({"status": "running", "started_at": at(ctx)}))
            .set_some(["stages", d.stage.as_str(), "index"], d.stage_index)
            .set_some(["total_stages"], d.total_stages.map(|n| n.get())))
    }

    async fn on_run_stage_progress(&self, _: &EventContext<'_>, d: RunStageProgress) -> Out {
        Ok(RunChange::new()
            .set(["stages", d.stage.as_str(), "progress"], d.progress)
            .set_some(["stages", d.stage.as_str(), "message"], d.message))
    }

    async fn on_run_stage_completed(&self, ctx: &EventContext<'_>, d: RunStageCompleted) -> Out {
        Ok(RunChange::new()
            .set(["stages", d.stage.as_str(), "status"], to_json(&d.result))
            .set(["stages", d.stage.as_str(), "completed_at"], at(ctx))
            .set_some(["stages", d.stage.as_str(), "duration_ms"], d.duration_ms))
    }

    // ── nodes ────────────────────────────────────────────────────────────
    async fn on_node_created(&self, ctx: &EventContext<'_>, d: NodeCreated) -> Out {
        Ok(RunChange::new().set(
            ["nodes", d.node_id.as_str()],
            json!({"status": "created", "node_type": d.node_type, "parent_id": d.parent_id, "created_at": at(ctx)}),
        ))
    }

    async fn on_node_executing(&self, ctx: &EventContext<'_>, d: NodeExecuting) -> Out {
        Ok(RunChange::new()
            .set(["nodes", d.node_id.as_str(), "status"], "executing")
            .set(["nodes", d.node_id.as_str(), "executing_at"], at(ctx))
            .set_some(["nodes", d.node_id.as_str(), "attempt"], d.attempt.map(|n| n.get())))
    }

    async fn on_node_completed(&self, ctx: &EventContext<'_>, d: NodeCompleted) -> Out {
        Ok(RunChange::new()
            .set(["nodes", d.node_id.as_str(), "status"], to_json(&d.result))
            .set(["nodes", d.node_id.as_str(), "completed_at"], at(ctx))
            .set_some(["nodes", d.node_id.as_str(), "score"], d.score))
    }

    // ── papers ───────────────────────────────────────────────────────────
    async fn on_paper_started(&self, ctx: &EventContext<'_>, d: PaperStarted) -> Out {
        Ok(RunChange::new().set(["papers", d.paper_id.as_str()], json!({"status": "generating", "title": d.title, "started_at": at(ctx)})))
    }

    async fn on_paper_generated(&self, ctx: &EventContext<'_>, d: PaperGenerated) -> Out {
        Ok(RunChange::new()
            .set(["papers", d.paper_id.as_str(), "status"], "generated")
            .set(["papers", d.paper_id.as_str(), "generated_at"], at(ctx))
            .set_some(["papers", d.paper_id.as_str(), "uri"], d.uri)
            .set_some(["papers", d.paper_id.as_str(), "page_count"], d.page_count))
    }

    // ── artifacts ────────────────────────────────────────────────────────
    async fn on_artifact_registered(&self, ctx: &EventContext<'_>, d: ArtifactRegistered) -> Out {
        Ok(RunChange::new().set(
            ["artifacts", d.artifact_id.as_str()],
            json!({
                "status": "registered",
                "kind": d.kind,
                "uri": d.uri,
                "sha256": d.sha256.as_ref().map(to_json),
                "size_bytes": d.size_bytes,
                "registered_at": at(ctx),
            }),
        ))
    }

    async fn on_artifact_failed(&self, ctx: &EventContext<'_>, d: ArtifactFailed) -> Out {
        Ok(RunChange::new()
            .set(["artifacts", d.artifact_id.as_str(), "status"], "failed")
            .set(["artifacts", d.artifact_id.as_str(), "error_message"], d.error_message)
            .set(["artifacts", d.artifact_id.as_str(), "failed_at"], at(ctx)))
    }

    // ── validation ───────────────────────────────────────────────────────
    async fn on_validation_auto_started(&self, ctx: &EventContext<'_>, d: ValidationAutoStarted) -> Out {
        Ok(RunChange::new().set(["validation"], json!({"status": "running", "checks": d.checks, "started_at": at(ctx)})))
    }

    async fn on_validation_auto_completed(&self, ctx: &EventContext<'_>, d: ValidationAutoCompleted) -> Out {
        Ok(RunChange::new()
            .set(["validation", "status"], if d.passed { "passed" } else { "failed" })
            .set(["validation", "failures"], d.failures)
            .set(["validation", "completed_at"], at(ctx))
            .set_some(["validation", "score"], d.score))
    }
}
