//! `herald-server`: the ingest server.
//!
//! Skeleton: the HTTP ingest pipeline, storage and query API arrive with
//! their own issue. Today the binary proves the catalog compiles into the
//! server and lists what it would accept.

use herald::EventCatalog;

mod events {
    herald::include_generated!("events");
}

fn main() {
    println!("herald-server: {} event types in the catalog:", events::Catalog::TYPES.len());
    for info in events::Catalog::TYPES {
        println!("  {} (v{}) -> {}", info.type_name, info.version, info.handler_method);
    }
    eprintln!("the HTTP ingest server is not implemented yet; see the open herald-server issue");
    std::process::exit(2);
}
