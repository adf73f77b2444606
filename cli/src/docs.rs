//! `herald docs -o DIR`: the catalog pages as a static site.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use herald_codegen::__private::catalog;
use herald_codegen::__private::site::{Target, render};

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
        Err(diags) => return crate::report(&diags, err, &args.catalog.display()),
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

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOG: &str = "\
prefix: ai
events:
  ai.node.done:
    description: A node finished.
    version: 1
    fields:
      run_id: uuid
      result: {type: string, enum: [success, failure]}
    examples:
      - {run_id: d4a4b7db-8a88-45c1-84bf-a633dab24a25, result: success}
";

    #[test]
    fn herald_docs_writes_the_static_site_or_reports_the_catalog_problems() {
        let dir = std::env::temp_dir().join(format!("herald-docs-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let catalog = dir.join("events.yaml");
        std::fs::write(&catalog, CATALOG).unwrap();
        let args = DocsArgs { catalog: catalog.clone(), output: dir.join("site") };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(run(&args, &mut out, &mut err), 0, "{}", String::from_utf8_lossy(&err));
        assert!(dir.join("site/index.html").is_file() && dir.join("site/types/ai.node.done.html").is_file());
        assert!(dir.join("site/assets/herald.css").is_file());
        assert!(String::from_utf8_lossy(&out).contains("index.html"));
        std::fs::write(&catalog, "prefix: ai\nevents:\n  Bad Name: {}\n").unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(run(&args, &mut out, &mut err), 1);
        assert!(String::from_utf8_lossy(&err).contains("events.yaml"), "{}", String::from_utf8_lossy(&err));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
