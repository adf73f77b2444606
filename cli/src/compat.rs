//! `herald diff OLD NEW` and `herald check CATALOG --baseline REF`.
//!
//! Exit codes: 0 compatible, 1 breaking (or the new catalog does not
//! lint), 2 the check could not run (bad revision, unreadable file, a
//! baseline that does not lint).

use std::io::Write;
use std::path::Path;

use herald_codegen::__private::compat::baseline::{self, BaselineError, Source};
use herald_codegen::__private::compat::report::{Format, Report};
use herald_codegen::__private::compat::{Locator, Version, check, needs_history};
use herald_codegen::__private::{catalog, ir::Catalog};
use herald_codegen::Diagnostics;

/// Output of `herald diff` and `herald check --baseline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// One line per change, then a summary.
    #[default]
    Text,
    /// One JSON document: `{"compatible": bool, "changes": [...], "notes": [...]}`.
    Json,
}

impl From<OutputFormat> for Format {
    fn from(format: OutputFormat) -> Format {
        match format {
            OutputFormat::Text => Format::Text,
            OutputFormat::Json => Format::Json,
        }
    }
}

/// Exit code when the check could not run.
pub const CANNOT_RUN: i32 = 2;

fn print_diags(err: &mut dyn Write, diags: &Diagnostics) {
    for d in &diags.0 {
        let _ = writeln!(err, "{d}");
    }
}

/// Parse an earlier version; its lint errors mean the check cannot run.
fn parse_old(name: &str, text: &str, err: &mut dyn Write) -> Result<Catalog, i32> {
    catalog::parse(name, text).map_err(|diags| {
        print_diags(err, &diags);
        let _ = writeln!(err, "error: the baseline {name} does not lint, so it cannot be compared; fix it or pick another baseline");
        CANNOT_RUN
    })
}

fn cannot_run(err: &mut dyn Write, e: &BaselineError) -> i32 {
    let _ = writeln!(err, "error: {e}");
    CANNOT_RUN
}

/// `herald diff OLD NEW`: each a catalog file or `REV:path`.
pub fn diff(old_spec: &str, new_spec: &str, format: OutputFormat, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let (old_name, old_text) = match baseline::read_spec(old_spec) {
        Ok(v) => v,
        Err(e) => return cannot_run(err, &e),
    };
    let (new_name, new_text) = match baseline::read_spec(new_spec) {
        Ok(v) => v,
        Err(e) => return cannot_run(err, &e),
    };
    let old = match parse_old(&old_name, &old_text, err) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let new = match catalog::parse(&new_name, &new_text) {
        Ok(c) => c,
        Err(diags) => {
            print_diags(err, &diags);
            return 1;
        }
    };
    let locator = Locator::new(&new_name, Some(&new_text));
    let mut report = Report {
        findings: check(
            &new,
            &locator,
            &Version { label: old_spec.to_string(), catalog: old, locator: Some(Locator::new(old_spec, Some(&old_text))) },
            &[],
        ),
        notes: Vec::new(),
    };
    if needs_history(&new) {
        report.notes.push(format!(
            "`_TRANSITIVE` modes compare only against {old_name} here; `herald check {new_name} --baseline REF` walks the git history"
        ));
    }
    let _ = out.write_all(report.render(format.into()).as_bytes());
    report.exit_code()
}

/// `herald check CATALOG --baseline REF`; `_TRANSITIVE` modes read at most
/// `max_history` earlier versions.
pub fn baseline(path: &Path, spec: &str, max_history: usize, format: OutputFormat, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let name = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return cannot_run(err, &BaselineError(format!("cannot read {name}: {e}"))),
    };
    let new = match catalog::parse(&name, &text) {
        Ok(c) => c,
        Err(diags) => return crate::report(&diags, err, &name),
    };
    let locator = Locator::new(&name, Some(&text));
    let mut report = Report::default();
    let (label, old_text) = match Source::parse(spec) {
        Source::File(file) => match std::fs::read_to_string(&file) {
            Ok(t) => (file.display().to_string(), t),
            Err(e) => {
                return cannot_run(err, &BaselineError(format!("cannot read {}: {e}", file.display())));
            }
        },
        Source::Revision(rev) => match baseline::read_at(path, &rev) {
            Err(e) => return cannot_run(err, &e),
            Ok(Some(t)) => (format!("{rev}:{name}"), t),
            // Not there under today's name: renamed since, or absent.
            Ok(None) => match baseline::renamed_at(path, &rev) {
                Err(e) => return cannot_run(err, &e),
                Ok(Some((old_path, t))) => {
                    report.notes.push(format!("{name} was {old_path} at `{rev}` (renamed since): compared with that"));
                    (format!("{rev}:{old_path}"), t)
                }
                Ok(None) => {
                    report.notes.push(format!("{name} does not exist at `{rev}`: nothing to compare, every type is new"));
                    let _ = out.write_all(report.render(format.into()).as_bytes());
                    return 0;
                }
            },
        },
    };
    let old = match parse_old(&label, &old_text, err) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut history = Vec::new();
    if needs_history(&new) {
        match Source::parse(spec) {
            Source::File(_) => report.notes.push(format!("`_TRANSITIVE` modes compare only against {label}: a file has no history")),
            Source::Revision(rev) => match baseline::history(path, &rev, max_history) {
                Err(e) => return cannot_run(err, &e),
                Ok(past) => {
                    history = read_history(&name, &old_text, &past, &mut report.notes);
                    if let Some(limit) = past.truncated_at {
                        let oldest = past.versions.last().map_or("", |p| p.commit.as_str());
                        report.notes.push(format!(
                            "`_TRANSITIVE` modes compared against the {limit} most recent versions of {name} only (back to {oldest}); older ones were not read — raise the bound with `--max-history N`"
                        ));
                    }
                }
            },
        }
    }
    let old_locator = Locator::new(label.clone(), Some(&old_text));
    report.findings = check(&new, &locator, &Version { label, catalog: old, locator: Some(old_locator) }, &history);
    let _ = out.write_all(report.render(format.into()).as_bytes());
    report.exit_code()
}

/// Parse each earlier version once (a version identical to the baseline
/// or to a newer one adds nothing); one that does not lint is skipped with
/// a note.
fn read_history(name: &str, baseline_text: &str, past: &baseline::History, notes: &mut Vec<String>) -> Vec<Version> {
    let mut seen = std::collections::HashSet::from([baseline_text]);
    let mut out = Vec::new();
    for version in &past.versions {
        if !seen.insert(version.text.as_str()) {
            continue;
        }
        let file = format!("{}:{}", version.commit, version.path);
        match catalog::parse(&file, &version.text) {
            Ok(catalog) => {
                out.push(Version { label: version.commit.clone(), catalog, locator: Some(Locator::new(file, Some(&version.text))) })
            }
            Err(diags) => notes.push(format!(
                "skipped {name} at {} ({}): it does not lint ({} problem(s))",
                version.commit,
                version.path,
                diags.0.len()
            )),
        }
    }
    out
}
