//! The `herald` command line: `check` (with `--baseline`, the compatibility
//! check), `diff`, `new`, `send`, `generate`, `export` and `docs`.
//!
//! This crate holds argument parsing and terminal output only; the work is
//! done by `herald-codegen`, whose build-script API ([`Config`]) `check`
//! and `generate` share with every build. The commands live here in the
//! library (as cargo-typify does) so tests can drive them without spawning
//! a process; `main.rs` only calls [`run`].

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use herald_codegen::__private::catalog;
use herald_codegen::Config;

mod compat;
mod docs;
mod export;
mod new;
mod send;

pub use compat::OutputFormat;
pub use docs::DocsArgs;
pub use export::{ExportArgs, ExportFormat};
pub use send::{Mode, SendArgs};

/// Herald: declare CloudEvents types once, generate the rest.
#[derive(Debug, Parser)]
#[command(name = "herald", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `herald` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lint a catalog and generate its code in memory as a build does
    /// (catching what only typify finds, and examples the generated code
    /// would refuse); print every problem as `file:line:col: problem — fix`
    /// and exit 1 if there is any.
    Check {
        /// The catalog file (e.g. events.yaml).
        catalog: PathBuf,
        /// Also compare the generated code with FILE (exit 1 if it
        /// differs), for projects that check generated code in.
        #[arg(long, value_name = "FILE")]
        against: Option<PathBuf>,
        /// Also check that the catalog is compatible with an earlier
        /// version: a git revision (`origin/main`, `HEAD~1`, a tag) or a
        /// catalog file. Each change is held to its type's `compatibility:`
        /// mode; `_TRANSITIVE` modes also compare with every earlier
        /// version in the file's git history (across renames of the file,
        /// up to `--max-history`). Exit 0 compatible, 1
        /// breaking, 2 could not run.
        #[arg(long, value_name = "REF")]
        baseline: Option<String>,
        /// How many earlier versions `_TRANSITIVE` modes read from the
        /// file's git history (newest first); the report says when older
        /// ones were left out.
        #[arg(long, value_name = "N", default_value_t = herald_codegen::__private::compat::baseline::MAX_HISTORY, requires = "baseline")]
        max_history: usize,
        /// Output of the compatibility check.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text, requires = "baseline")]
        format: OutputFormat,
    },
    /// Compare two catalogs and report every change, judged by the new
    /// catalog's `compatibility:` modes. Exit 0 compatible, 1 breaking, 2
    /// could not run.
    Diff {
        /// The old catalog: a file, or `REV:path` for one in git (`HEAD~1:events.yaml`).
        old: String,
        /// The new catalog: a file, or `REV:path`.
        new: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Add an event type to the catalog: a linted entry (placeholder
    /// description, version 1, the usual subject, one example), appended
    /// to the text so comments and layout stay; then print the handler
    /// method the compiler will ask for.
    New {
        /// The CloudEvents type, `{prefix}.{domain}.{action}` (`ai.run.paused`).
        type_name: String,
        /// Its data fields in the `fields:` shorthand, comma-separated:
        /// `'run_id: uuid, name: string, note?: string'` (`?` = optional).
        /// `run_id: uuid` is added when missing.
        #[arg(long, value_name = "FIELDS")]
        fields: Option<String>,
        /// The catalog file to edit.
        #[arg(long, value_name = "FILE", default_value = "events.yaml")]
        catalog: PathBuf,
    },
    /// Send one event built from the catalog (fresh id, time now, subject
    /// from the template, data from an example with overrides, validated
    /// first) to a herald server and print its answer; or replay a file of
    /// envelopes with `--file`. Exit 0 on 2xx, 1 on 4xx/5xx or invalid
    /// data, 2 when the server cannot be reached.
    Send(SendArgs),
    /// Generate Rust code for a catalog.
    Generate {
        /// The catalog file (e.g. events.yaml).
        catalog: PathBuf,
        /// Output file; `-` or absent writes to standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Write into DIR as a build script does: `DIR/events.rs` (named
        /// after the catalog), including one file per domain module from
        /// `DIR/events/`; files whose text is unchanged are left alone, so
        /// rustc recompiles only the modules an edit touched.
        #[arg(long, value_name = "DIR", conflicts_with = "output")]
        out_dir: Option<PathBuf>,
        /// Path of the Herald runtime crate in generated code.
        #[arg(long, default_value = "::herald")]
        herald_path: String,
    },
    /// Export a catalog for other languages and tools: JSON Schema,
    /// TypeScript (Zod 4), Python (pydantic v2) or AsyncAPI 3.0.
    #[command(after_help = export::EXAMPLES)]
    Export(ExportArgs),
    /// Write the catalog as a static web site (an index by domain, a page
    /// per type, the lifecycle diagram) that works from `file://`.
    Docs(DocsArgs),
}

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    match cli.command {
        Command::New { type_name, fields, catalog } => new::run(&type_name, fields.as_deref(), &catalog, out, err),
        Command::Send(args) => send::run(&args, out, err),
        Command::Diff { old, new, format } => compat::diff(&old, &new, format, out, err),
        Command::Check { catalog: path, against, baseline, max_history, format } => {
            if baseline.is_some() && !path.is_file() {
                let _ = writeln!(err, "error: cannot read {}: no such file", path.display());
                return compat::CANNOT_RUN;
            }
            // The build's own path, so that a catalog `check` accepts
            // also builds, and its code accepts its examples.
            let result =
                Config::new().cargo_directives(false).catalog(&path).generate().and_then(|code| catalog::load(&path).map(|c| (c, code)));
            match result {
                Err(diags) => report(&diags, err, &path.display()),
                Ok((cat, code)) => {
                    if let Some(file) = against {
                        let existing = std::fs::read_to_string(&file).unwrap_or_default();
                        if existing != code {
                            let _ = writeln!(
                                err,
                                "{}: out of date with {}; run `herald generate {} -o {}`",
                                file.display(),
                                path.display(),
                                path.display(),
                                file.display()
                            );
                            return 1;
                        }
                    }
                    // JSON output stays one document on stdout.
                    let ok: &mut dyn Write = if format == OutputFormat::Json { &mut *err } else { &mut *out };
                    let _ = writeln!(ok, "{}: ok, {} event types", path.display(), cat.events.len());
                    match baseline {
                        Some(spec) => compat::baseline(&path, &spec, max_history, format, out, err),
                        None => 0,
                    }
                }
            }
        }
        Command::Export(args) => export::run(&args, out, err),
        Command::Docs(args) => docs::run(&args, out, err),
        Command::Generate { catalog: path, output: _, herald_path, out_dir: Some(dir) } => {
            match Config::new().cargo_directives(false).herald_path(herald_path).catalog(&path).out_dir(dir).compile() {
                Ok(_) => 0,
                Err(diags) => {
                    for d in &diags.0 {
                        let _ = writeln!(err, "{d}");
                    }
                    1
                }
            }
        }
        Command::Generate { catalog: path, output, herald_path, out_dir: None } => {
            let generated = Config::new().cargo_directives(false).herald_path(herald_path).catalog(&path).generate();
            match generated {
                Err(diags) => {
                    for d in &diags.0 {
                        let _ = writeln!(err, "{d}");
                    }
                    1
                }
                Ok(code) => match output.filter(|o| o.as_os_str() != "-") {
                    None => {
                        let _ = out.write_all(code.as_bytes());
                        0
                    }
                    Some(file) => match std::fs::write(&file, code) {
                        Ok(()) => 0,
                        Err(e) => {
                            let _ = writeln!(err, "cannot write {}: {e}", file.display());
                            1
                        }
                    },
                },
            }
        }
    }
}

/// How every `herald` command reports a catalog it cannot use: each
/// diagnostic on its own line, then `error: N problem(s) in NAME`.
/// Returns the exit code, 1.
fn report(diags: &herald_codegen::Diagnostics, err: &mut dyn Write, name: &dyn std::fmt::Display) -> i32 {
    for d in &diags.0 {
        let _ = writeln!(err, "{d}");
    }
    let _ = writeln!(err, "error: {} problem(s) in {name}", diags.0.len());
    1
}
