//! # herald-codegen
//!
//! Turns an event catalog (`events.yaml`) into Rust: data structs, an
//! `Event` enum, a registry, an exhaustive `dispatch`, a handler trait with
//! one required method per event type, and generated `validate()`
//! implementations.
//!
//! Use it from a build script:
//!
//! ```no_run
//! // build.rs, inside `fn main()`
//! herald_codegen::Config::new()
//!     .catalog("events.yaml")
//!     .compile()
//!     .unwrap_or_else(|e| panic!("{e}"));
//! ```
//! and include the result with `herald::include_generated!("events")`.
//! A catalog with problems gives [`Diagnostics`], every problem at once,
//! each rendered `events.yaml:LINE:COL: problem — fix`.
//!
//! That is the whole public API: [`Config`] (also named [`Builder`]),
//! [`generate_file`], [`Diagnostic`] and [`Diagnostics`]. The same library
//! serves `#[cloud_event]` and `include_events!` (the `herald-macros`
//! crate) and the `herald` command line (the `herald-cli` crate: `check`,
//! `generate`, `export` to JSON Schema, TypeScript, Python and AsyncAPI,
//! `docs`, `new`, `send`); they reach the rest through a semver-exempt
//! module that is not part of the API.

// Syntax → IR → checks → emit → write, in one direction (see
// `tests/module_graph.rs`); none of these modules is public.
mod catalog;
mod check;
mod compat;
mod config;
mod defs;
mod diagnostic;
mod dialect;
mod emit;
mod examples;
mod export;
mod ident;
mod ir;
mod lint;
mod rust_front;
mod scaffold;
mod schema;
mod shapes;
mod shorthand;
mod site;
mod subject;
mod syntax;
mod tagged;
mod text;
mod write;

/// `Builder` is the build-script entry point under the name prost-build
/// and tonic-build users expect: `herald_codegen::Builder::new().catalog("events.yaml").compile()`.
pub use config::Config as Builder;
pub use config::{Config, generate_file};
pub use diagnostic::{Diagnostic, Diagnostics};

/// **Not public API.** What the other Herald crates use: `herald-macros`
/// (the IR, the struct front-end and the emitters), `herald-cli` (loading,
/// exports, the site, compatibility checks, `herald new`) and the
/// workspace's tests. Like serde's `__private`, it follows no semver: any
/// release may change or remove any item in it, so depend on it only from
/// a crate released together with this one.
#[doc(hidden)]
pub mod __private {
    // Glob re-exports of private modules: each `pub` item of the module is
    // reachable here, `pub(crate)` ones stay inside the crate.

    /// The catalog reader: `load` a file, `parse` a text (with lints).
    pub mod catalog {
        pub use crate::catalog::*;
    }
    /// The IR both front-ends build: `Catalog` and its parts.
    pub mod ir {
        pub use crate::ir::*;
    }
    /// The `#[cloud_event]` front-end: struct attributes → IR.
    pub mod rust_front {
        pub use crate::rust_front::*;
    }
    /// The emitters, for `#[cloud_event]`, `registry!` and `include_events!`.
    pub mod emit {
        pub use crate::emit::*;
    }
    /// Catalog exports (JSON Schema, TypeScript, Python, AsyncAPI).
    pub mod export {
        pub use crate::export::*;
    }
    /// The catalog's web pages (`herald docs`).
    pub mod site {
        pub use crate::site::*;
    }
    /// Compatibility checks between catalog versions (`herald diff`,
    /// `herald check --baseline`).
    pub mod compat {
        pub use crate::compat::*;
    }
    /// `herald new`: a new event type appended to the catalog text.
    pub mod scaffold {
        pub use crate::scaffold::*;
    }
    /// Bounds that cross (`minimum` above `maximum`), said the same way
    /// for a struct field as for a YAML schema.
    pub mod check {
        pub use crate::check::crossed_bounds;
    }
    /// Rust identifiers from catalog names.
    pub mod ident {
        pub use crate::ident::field_name;
    }
    /// Schema questions the derive asks.
    pub mod schema {
        pub use crate::schema::empty_is_invalid;
    }
    /// Validation of data against a type's schema (`herald send`).
    pub mod lint {
        pub use crate::lint::schema_errors;
    }
    /// Subject templates (`run/{run_id}`).
    pub mod subject {
        pub use crate::subject::{Piece, Unbalanced, parse};
    }
    /// "did you mean" suggestions.
    pub mod text {
        pub use crate::text::did_you_mean;
    }
}
