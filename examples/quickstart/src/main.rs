use std::convert::Infallible;

use herald::{Envelope, EventCatalog, EventContext};

/// The types generated from events.yaml: one struct per event type, the
/// `Event` enum, `Catalog`, the `Handler` trait and `dispatch`.
#[allow(dead_code)] // generated items this program does not use
mod events {
    herald::include_generated!("events");
}

/// What the service does with each event type. Adding a type to
/// events.yaml makes this impl fail to compile until it handles it.
struct Service;

impl events::Handler for Service {
    type Output = String;
    type Error = Infallible;

    async fn on_myfeature_started(
        &self,
        ctx: &EventContext<'_>,
        data: events::MyfeatureStarted,
    ) -> Result<String, Infallible> {
        Ok(format!("{} started `{}` in run {}", ctx.source(), data.feature_name, data.run_id))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let body = br#"{"specversion": "1.0", "id": "e-1", "source": "/worker", "type": "ai.myfeature.started",
        "data": {"run_id": "d4a4b7db-8a88-45c1-84bf-a633dab24a25", "feature_name": "search"}}"#;
    let envelope = Envelope::parse(body, events::Catalog::ENVELOPE)?;
    // Typed and validated, or a `DataError` with JSON pointers (`/data/progress`).
    let event = events::Catalog::decode(&envelope)?;
    let Ok(outcome) = events::dispatch(&Service, &EventContext::new(&envelope), event).await;
    println!("{outcome}");
    Ok(())
}
