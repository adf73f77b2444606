//! A shop's order events served by the `herald-server` library: the same
//! ingest, dedup, `seq` ordering, stores and query API as the orchestrator,
//! for a catalog of its own (`events.yaml`: orders keyed by `order_id`,
//! with an order lifecycle). Takes `herald-server`'s flags:
//! `cargo run -p herald-shipping -- --listen 127.0.0.1:8090 --data-dir ./shop-data`.

use std::convert::Infallible;
use std::future::Future;

use clap::Parser;
use herald::EventContext;
use herald_server::{Handlers, Lifecycle, RunChange, Server, Transition};

// Generated items this program does not use; and every type is `shop.order.*`.
#[allow(dead_code, clippy::enum_variant_names)]
mod events {
    herald::include_generated!("events");
}
use events::*;

/// What each event does to its order's document.
struct Shipping;

type Out = Result<RunChange, Infallible>;

impl Handler for Shipping {
    type Output = RunChange;
    type Error = Infallible;

    async fn on_order_placed(&self, _: &EventContext<'_>, d: OrderPlaced) -> Out {
        Ok(RunChange::new(d.order_id).set(["customer"], d.customer).set(["total_cents"], d.total_cents))
    }
    async fn on_order_packed(&self, _: &EventContext<'_>, d: OrderPacked) -> Out {
        Ok(RunChange::new(d.order_id).set(["parcels"], d.parcels.get()))
    }
    async fn on_order_shipped(&self, _: &EventContext<'_>, d: OrderShipped) -> Out {
        Ok(RunChange::new(d.order_id).set(["carrier"], d.carrier).set_some(["tracking"], d.tracking))
    }
    async fn on_order_delivered(&self, _: &EventContext<'_>, d: OrderDelivered) -> Out {
        Ok(RunChange::new(d.order_id).set_some(["signed_by"], d.signed_by))
    }
    async fn on_order_canceled(&self, _: &EventContext<'_>, d: OrderCanceled) -> Out {
        Ok(RunChange::new(d.order_id).set_some(["cancel_reason"], d.reason))
    }
}

/// The generated catalog's items, handed to the server.
impl Handlers for Shipping {
    type Catalog = Catalog;
    type Error = Infallible;
    const SEQUENCE: Option<&'static str> = Some("seq");

    fn handle(&self, ctx: &EventContext<'_>, event: Event) -> impl Future<Output = Out> + Send {
        dispatch(self, ctx, event)
    }
    fn transition(event: &Event) -> Option<Transition> {
        event.transition().map(|t| Transition::new(t.from.iter().map(|s| s.as_str()), t.to.as_str()))
    }
    fn lifecycle() -> Lifecycle {
        Lifecycle::new(RunStatus::ALL.iter().map(|s| s.as_str()), RunStatus::INITIAL.as_str())
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = herald_server::config::Config::parse();
    herald_server::init_tracing(config.log_format);
    match Server::new(Catalog, Shipping).config(config).run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herald-shipping: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
