//! A shop's order events served by the `herald-server` library: the same
//! ingest, dedup, `seq` ordering, stores and query API as the orchestrator,
//! for a catalog of its own (`events.yaml`: orders keyed by `order_id`,
//! with an order lifecycle). Takes `herald-server`'s flags:
//! `cargo run -p herald-shipping -- --listen 127.0.0.1:8090 --data-dir ./shop-data`.

use std::convert::Infallible;

use clap::Parser;
use herald::EventContext;
use herald_server::{RunChange, Server, Site};

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
        Ok(RunChange::new().set(["customer"], d.customer).set(["total_cents"], d.total_cents))
    }
    async fn on_order_packed(&self, _: &EventContext<'_>, d: OrderPacked) -> Out {
        Ok(RunChange::new().set(["parcels"], d.parcels.get()))
    }
    async fn on_order_shipped(&self, _: &EventContext<'_>, d: OrderShipped) -> Out {
        Ok(RunChange::new().set(["carrier"], d.carrier).set_some(["tracking"], d.tracking))
    }
    async fn on_order_delivered(&self, _: &EventContext<'_>, d: OrderDelivered) -> Out {
        Ok(RunChange::new().set_some(["signed_by"], d.signed_by))
    }
    async fn on_order_canceled(&self, _: &EventContext<'_>, d: OrderCanceled) -> Out {
        Ok(RunChange::new().set_some(["cancel_reason"], d.reason))
    }
}

// Served by the server library, with the catalog pages `build.rs` rendered;
// the order an event belongs to is its `order_id`, the catalog's stream key.
herald_server::handlers!(Shipping: Catalog, sequence = Some("seq"), {
    fn site() -> Site {
        herald_server::include_site!("events")
    }
});

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
