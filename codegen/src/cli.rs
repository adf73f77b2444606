//! The `herald` command line: `check` and `generate`.
//!
//! The logic lives here in the library (as cargo-typify does) so tests can
//! drive it without spawning a process; `main.rs` only calls [`run`].

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::{Config, catalog};

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
    /// Lint a catalog; print every problem as `file:line:col: problem — fix`
    /// and exit 1 if there is any.
    Check {
        /// The catalog file (e.g. events.yaml).
        catalog: PathBuf,
        /// Also generate the code in memory, catching what only typify
        /// finds, and compare with FILE if given (exit 1 if it differs),
        /// for projects that check generated code in.
        #[arg(long, value_name = "FILE")]
        against: Option<PathBuf>,
    },
    /// Generate Rust code for a catalog.
    Generate {
        /// The catalog file (e.g. events.yaml).
        catalog: PathBuf,
        /// Output file; `-` or absent writes to standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Path of the Herald runtime crate in generated code.
        #[arg(long, default_value = "::herald")]
        herald_path: String,
    },
}

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    match cli.command {
        Command::Check { catalog: path, against } => {
            let result = match &against {
                None => catalog::load(&path).map(|c| (c, None)),
                Some(_) => Config::new()
                    .cargo_directives(false)
                    .catalog(&path)
                    .generate()
                    .and_then(|code| catalog::load(&path).map(|c| (c, Some(code)))),
            };
            match result {
                Err(diags) => {
                    for d in &diags.0 {
                        let _ = writeln!(err, "{d}");
                    }
                    let _ = writeln!(err, "error: {} problem(s) in {}", diags.0.len(), path.display());
                    1
                }
                Ok((cat, code)) => {
                    if let (Some(file), Some(code)) = (against, code) {
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
                    let _ = writeln!(out, "{}: ok, {} event types", path.display(), cat.events.len());
                    0
                }
            }
        }
        Command::Generate { catalog: path, output, herald_path } => {
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
