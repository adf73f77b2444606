//! # herald-server
//!
//! The Herald ingest server, as a library and as the orchestrator's
//! binary: CloudEvents over HTTP (structured, binary and batch mode) →
//! validation against a generated catalog → dedup on `(source, id)` →
//! durable store → ordered application to per-run state →
//! acknowledgement. Query endpoints read runs, their events and the
//! registry.
//!
//! ## Serve your own catalog
//!
//! The server is generic over a handler set ([`Handlers`]): a type that
//! implements the `Handler` trait `herald-codegen` generates from an
//! `events.yaml`, declared to the server with [`handlers!`]. Everything
//! else the server needs (which run an event belongs to, the lifecycle,
//! the route to each handler method) it takes from the generated catalog.
//! [`Server`] serves it:
//!
//! ```ignore
//! mod events { herald::include_generated!("events"); }
//!
//! struct Shipping;
//! impl events::Handler for Shipping { /* one method per event type */ }
//! herald_server::handlers!(Shipping: events::Catalog, sequence = Some("seq"));
//!
//! let store = SqliteStore::open("./data".as_ref(), Shipping::rules())?;
//! herald_server::Server::new(events::Catalog, Shipping).store(store).serve(listener).await?;
//! ```
//!
//! `examples/shipping` is a whole one. The `herald-server` binary is the
//! same library serving the workspace's `events.yaml` with the
//! orchestrator's handlers ([`orchestrator`], [`events`]).
//!
//! Module map: [`catalog`] (what the server needs from a catalog and its
//! handlers), [`server`] (the builder: store, keys, TLS, shutdown),
//! [`config`] (flags), [`http`] (routes, problem responses), [`pipeline`]
//! (transport-free validate/decode/handle), [`orchestrator`] (what each
//! event of the workspace catalog does to a run), [`change`] (the change
//! description), [`feed`] (what was applied, for the live pages and
//! streams), [`runstate`] (the run-state planner), [`store`] (the storage
//! trait; SQLite, MongoDB and in-memory backends; the Redis dedup
//! decorator), [`auth`] (API keys, grants, rate limits, the loopback-only
//! default), [`tls`] (optional HTTPS), [`metrics`] (the Prometheus series
//! of `/metrics`), [`telemetry`] (logs, and request spans over OTLP).

pub mod auth;
pub mod catalog;
pub mod change;
pub mod clock;
pub mod config;
pub mod events;
pub mod feed;
pub mod http;
pub mod listen;
pub mod metrics;
pub mod orchestrator;
pub mod pipeline;
pub mod redact;
pub mod runstate;
pub mod server;
pub mod store;
pub mod telemetry;
mod throttle;
pub mod tls;

pub use catalog::{Handlers, Lifecycle, Site};
pub use change::{RunChange, Transition};
pub use server::{Server, StartError};

use config::LogFormat;

/// Start logging to stderr in the configured format (`RUST_LOG` filters),
/// without span export; see [`telemetry::init`] for the rest.
pub fn init_tracing(format: LogFormat) {
    let _ = telemetry::init(format, None);
}

/// A release build has no switch that kills it: `HERALD_FAILPOINT` (which
/// aborts the process at a named step, for the crash tests) is read only
/// under the `failpoints` feature, and that feature is never on by default.
#[cfg(test)]
mod no_kill_switch_in_release {
    #[test]
    fn failpoints_are_not_a_default_feature() {
        let manifest: toml::Table = toml::from_str(include_str!("../Cargo.toml")).unwrap();
        let default = manifest["features"]["default"].as_array().expect("a default feature list");
        assert!(!default.iter().any(|f| f.as_str().is_some_and(|f| f.contains("failpoints"))), "default features: {default:?}");
    }

    #[test]
    fn the_failpoint_variable_is_read_only_under_the_feature() {
        let mut reads = 0;
        let mut dirs = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                for (i, line) in lines.iter().enumerate() {
                    if line.contains("env::var(\"HERALD_FAILPOINT\")") {
                        reads += 1;
                        let gated = lines[..i].iter().rev().take(3).any(|l| l.trim() == "#[cfg(feature = \"failpoints\")]");
                        assert!(gated, "{}:{}: HERALD_FAILPOINT read outside #[cfg(feature = \"failpoints\")]", path.display(), i + 1);
                    }
                }
            }
        }
        assert!(reads > 0, "the failpoint variable is read somewhere (or this test looks for the wrong text)");
    }
}
