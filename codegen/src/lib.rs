//! # herald-codegen
//!
//! Turns an event catalog (`events.yaml`, or `#[cloud_event]` structs via
//! `herald-macros`) into Rust: data structs, an `Event` enum, a registry, an
//! exhaustive `dispatch`, a handler trait with one required method per event
//! type, and generated `validate()` implementations.
//!
//! Use it from a build script:
//!
//! ```no_run
//! // build.rs, inside `fn main()`
//! herald_codegen::Builder::new()
//!     .catalog("events.yaml")
//!     .compile()
//!     .unwrap_or_else(|e| panic!("{e}"));
//! ```
//! and include the result with `herald::include_generated!("events")`.
//!
//! The same catalog exports to JSON Schema, TypeScript (Zod), Python
//! (pydantic) and AsyncAPI through [`export`] (`herald export` on the
//! command line), and to web pages through [`site`] (`herald docs`, and
//! the pages `herald-server` serves).

pub mod catalog;
pub mod check;
pub mod cli;
pub mod compat;
mod config;
pub mod defs;
pub mod diagnostic;
pub mod dialect;
pub mod emit;
mod examples;
pub mod export;
pub mod ident;
pub mod ir;
pub mod lint;
pub mod rust_front;
pub mod scaffold;
pub mod schema;
pub mod send;
mod shapes;
pub mod shorthand;
pub mod site;
pub mod subject;
mod syntax;
pub mod text;
mod write;

/// `Builder` is the build-script entry point under the name prost-build
/// and tonic-build users expect: `herald_codegen::Builder::new().catalog("events.yaml").compile()`.
pub use config::Config as Builder;
pub use config::{Config, generate_file};
pub use diagnostic::{Diagnostic, Diagnostics};
pub use ir::Catalog;
