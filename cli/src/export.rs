//! `herald export`: arguments and files around herald-codegen's exports,
//! kept here so that `lib.rs` only names the subcommand.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use herald_codegen::__private::catalog;
use herald_codegen::__private::export::{Format, Options, export};

/// Examples shown under `herald export --help`.
pub const EXAMPLES: &str = "\
Examples:
  herald export jsonschema events.yaml -o schemas/      one schema per type, envelopes, index.json
  herald export typescript events.yaml -o src/events.ts Zod 4 schemas and types
  herald export python events.yaml -o events.py         pydantic v2 models, parse_event, build_event
  herald export asyncapi events.yaml -o asyncapi.yaml   AsyncAPI 3.0 document of the ingest endpoint

A catalog with problems exports nothing: they are printed as `file:line:col: problem — fix`, as by `herald check`.";

/// An export target of `herald export` (herald-codegen's export formats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
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

impl From<ExportFormat> for Format {
    fn from(format: ExportFormat) -> Format {
        match format {
            ExportFormat::JsonSchema => Format::JsonSchema,
            ExportFormat::TypeScript => Format::TypeScript,
            ExportFormat::Python => Format::Python,
            ExportFormat::AsyncApi => Format::AsyncApi,
        }
    }
}

/// Arguments of `herald export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to export.
    #[arg(value_enum)]
    pub format: ExportFormat,
    /// The catalog file (e.g. events.yaml).
    pub catalog: PathBuf,
    /// Output: a directory for `jsonschema` (created if missing), a file for
    /// the others (`-` or absent: standard output).
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Base URI of the JSON Schema `$id`s (`{base}{type}.json`); overrides
    /// the catalog's `base_uri:` (default: that key, else
    /// <https://herald.invalid/schemas/>).
    #[arg(long, value_name = "URI")]
    pub base_uri: Option<String>,
}

/// Run `herald export`; returns the process exit code.
pub fn run(args: &ExportArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let catalog = match catalog::load(&args.catalog) {
        Ok(c) => c,
        Err(diags) => return crate::report(&diags, err, &args.catalog.display()),
    };
    let options = Options { base_uri: args.base_uri.clone(), source_name: None };
    let format = Format::from(args.format);
    let files = export(&catalog, format, &options);
    let output = args.output.as_deref().filter(|o| o.as_os_str() != "-");
    let written = match (output, format.is_directory()) {
        (None, true) => {
            let _ = writeln!(err, "error: `herald export jsonschema` writes a directory of files; name it with `-o DIR`");
            return 2;
        }
        (None, false) => files.values().try_for_each(|text| out.write_all(text.as_bytes())).map_err(|e| ("standard output".into(), e)),
        (Some(dir), true) => write_files(dir, &files),
        (Some(file), false) => files.values().try_for_each(|text| write_file(file, text)),
    };
    match written {
        Ok(()) => 0,
        Err((path, e)) => {
            let _ = writeln!(err, "error: cannot write {path}: {e}");
            1
        }
    }
}

type WriteError = (String, std::io::Error);

fn write_files(dir: &Path, files: &std::collections::BTreeMap<String, String>) -> Result<(), WriteError> {
    std::fs::create_dir_all(dir).map_err(|e| (dir.display().to_string(), e))?;
    files.iter().try_for_each(|(name, text)| write_file(&dir.join(name), text))
}

/// Write unless the file already holds `text` (no needless rebuilds downstream).
fn write_file(path: &Path, text: &str) -> Result<(), WriteError> {
    if std::fs::read(path).ok().as_deref() == Some(text.as_bytes()) {
        return Ok(());
    }
    std::fs::write(path, text).map_err(|e| (path.display().to_string(), e))
}
