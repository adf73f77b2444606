//! `herald docs -o DIR`: the catalog pages as a static site.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::{Target, render};
use crate::catalog;

/// Arguments of `herald docs`.
#[derive(Debug, Args)]
pub struct DocsArgs {
    /// The catalog file (e.g. events.yaml).
    #[arg(default_value = "events.yaml")]
    pub catalog: PathBuf,
    /// The directory to write the site into (created if missing); open
    /// `DIR/index.html` in a browser, from disk or any static host.
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
}

/// Run `herald docs`; returns the process exit code.
pub fn run(args: &DocsArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let catalog = match catalog::load(&args.catalog) {
        Ok(c) => c,
        Err(diags) => return diags.report(err, &args.catalog.display()),
    };
    let files = render(&catalog, Target::Static);
    for (name, text) in &files {
        let path = args.output.join(name);
        let written = path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::write(&path, text));
        if let Err(e) = written {
            let _ = writeln!(err, "error: cannot write {}: {e}", path.display());
            return 1;
        }
    }
    let _ = writeln!(out, "wrote {} files; open {}", files.len(), args.output.join("index.html").display());
    0
}
