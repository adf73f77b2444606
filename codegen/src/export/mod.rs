//! Exports of a catalog for the consumers that are not Rust: JSON Schema,
//! TypeScript with Zod, Python with pydantic, and AsyncAPI.
//!
//! Each exporter is a pure function of the [`Catalog`] IR (the same one the
//! Rust emitters read), so a YAML catalog and a struct-declared registry
//! export alike. Output is deterministic: events come in the catalog's
//! order (sorted by type), JSON keys are sorted, and nothing depends on the
//! time or on where the files live.
//!
//! From a build script, write the files wherever the other side reads them:
//!
//! ```no_run
//! // build.rs, inside `fn main()`
//! let catalog = herald_codegen::catalog::load("events.yaml".as_ref())
//!     .unwrap_or_else(|e| panic!("{e}"));
//! let options = herald_codegen::export::Options::default();
//! let ts = herald_codegen::export::typescript::export(&catalog, &options);
//! std::fs::write("web/src/events.ts", ts).unwrap();
//! ```
//!
//! The `herald export` command does the same from the command line.
//!
//! What each target checks is what Herald's generated `validate()` checks;
//! the places where a target's library cannot say the same thing are listed
//! in the README ("Exports"), and the differential tests assert that list.

use std::collections::BTreeMap;
use std::path::Path;

use crate::ir::Catalog;

pub mod asyncapi;
pub mod cli;
pub mod jsonschema;
pub mod python;
mod shape;
pub mod typescript;

/// The base URI of JSON Schema `$id`s when neither the catalog
/// (`base_uri:`) nor the caller (`--base-uri`) sets one.
pub const DEFAULT_BASE_URI: &str = "https://herald.invalid/schemas/";

/// What every exporter may need beyond the catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Base URI of the JSON Schema documents: each gets `$id`
    /// `{base_uri}{type}.json` (the envelope `{base_uri}{type}.envelope.json`).
    /// `None` (the default): the catalog's `base_uri:`, else
    /// [`DEFAULT_BASE_URI`], which says plainly that it was not set.
    pub base_uri: Option<String>,
    /// The file name of the catalog as generated files name it in their
    /// header (`events.yaml`); default: the catalog's `source_name`.
    pub source_name: Option<String>,
}

impl Options {
    /// The name generated headers give the catalog: its file name only, so
    /// output does not depend on where the workspace lives.
    pub(crate) fn source(&self, catalog: &Catalog) -> String {
        let name = self.source_name.as_deref().unwrap_or(&catalog.source_name);
        Path::new(name).file_name().map_or_else(|| name.to_string(), |n| n.to_string_lossy().into_owned())
    }

    /// These options with what they leave open taken from `catalog`: the
    /// base URI from its `base_uri:` key (an explicit `base_uri`, such as
    /// `--base-uri`, wins). Every exporter starts with this.
    pub fn for_catalog(&self, catalog: &Catalog) -> Options {
        Options { base_uri: self.base_uri.clone().or_else(|| catalog.base_uri.clone()), ..self.clone() }
    }

    /// `base_uri` (or [`DEFAULT_BASE_URI`]) with exactly one trailing `/`.
    pub(crate) fn base(&self) -> String {
        format!("{}/", self.base_uri.as_deref().unwrap_or(DEFAULT_BASE_URI).trim_end_matches('/'))
    }
}

/// An export target of `herald export`; each has its module
/// ([`jsonschema`], [`typescript`], [`python`], [`asyncapi`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// JSON Schema 2020-12: a directory of documents, one per type and envelope, and an index.
    #[value(name = "jsonschema")]
    JsonSchema,
    /// One TypeScript module of Zod 4 schemas and their inferred types.
    #[value(name = "typescript")]
    TypeScript,
    /// One Python module of pydantic v2 models, `parse_event` and `build_event`.
    Python,
    /// One AsyncAPI 3.0 YAML document of the ingest endpoint.
    #[value(name = "asyncapi")]
    AsyncApi,
}

impl Format {
    /// Whether the output is a directory of files (else a single file).
    pub fn is_directory(self) -> bool {
        self == Format::JsonSchema
    }
}

/// Export `catalog` as `format`: file name → contents. Single-file formats
/// give one entry whose name is the conventional one (`events.ts`,
/// `events.py`, `asyncapi.yaml`); the CLI writes it where `-o` says.
pub fn export(catalog: &Catalog, format: Format, options: &Options) -> BTreeMap<String, String> {
    match format {
        Format::JsonSchema => jsonschema::export(catalog, options),
        Format::TypeScript => BTreeMap::from([("events.ts".to_string(), typescript::export(catalog, options))]),
        Format::Python => BTreeMap::from([("events.py".to_string(), python::export(catalog, options))]),
        Format::AsyncApi => BTreeMap::from([("asyncapi.yaml".to_string(), asyncapi::export(catalog, options))]),
    }
}

/// The `@generated` line, in the comment syntax of the target.
pub(crate) fn header(comment: &str, catalog: &Catalog, options: &Options) -> String {
    format!("{comment} @generated by herald-codegen from {}. Do not edit.\n", options.source(catalog))
}
