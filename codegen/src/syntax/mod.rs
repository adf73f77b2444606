//! The syntax layer of the YAML front-end: the YAML tree with positions
//! ([`yaml`]) and [`Ctx`], which collects the diagnostics of one file.
//!
//! It imports nothing above it: the lints (`lint`, `shorthand`) and the
//! catalog reader (`catalog`) build on it, and data flows one way,
//! syntax → reader and lints → IR.

pub(crate) mod yaml;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::ir::Catalog;

pub(crate) use yaml::{Entry, Mark, Node, Value as YamlValue, parse as parse_yaml};

/// Collects diagnostics for one file; every reader and lint reports here.
pub(crate) struct Ctx {
    file: String,
    diags: Vec<Diagnostic>,
}

impl Ctx {
    pub(crate) fn new(file: &str) -> Self {
        Ctx { file: file.to_string(), diags: Vec::new() }
    }

    /// Report a problem at `mark`, with the fix.
    pub(crate) fn error(&mut self, mark: Mark, message: impl Into<String>, help: impl Into<String>) {
        self.diags.push(Diagnostic::new(&self.file, mark.line, mark.column, message).with_help(help));
    }

    /// The file the problems are in, as diagnostics name it.
    pub(crate) fn file(&self) -> &str {
        &self.file
    }

    /// How many problems have been reported so far (to tell whether a
    /// step added any).
    pub(crate) fn count(&self) -> usize {
        self.diags.len()
    }

    /// `node` as JSON, reporting numbers JSON cannot hold.
    pub(crate) fn json(&mut self, node: &Node) -> Option<serde_json::Value> {
        match node.to_json() {
            Ok(v) => Some(v),
            Err(mark) => {
                self.error(mark, "`.inf` and `.nan` cannot be written in JSON", "use a finite number");
                None
            }
        }
    }

    /// A string value, or a report that it is something else.
    pub(crate) fn string<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n str> {
        let found = node.as_str();
        if found.is_none() {
            self.error(node.mark, format!("{what} must be a string, found {}", node.kind()), "write it as text (quote it if needed)");
        }
        found
    }

    pub(crate) fn yaml_problem(&mut self, problem: &yaml::Problem) {
        use yaml::ProblemKind as K;
        let (message, help) = match &problem.kind {
            K::Syntax(info) => {
                (format!("YAML syntax error: {info}"), "fix the YAML here (check indentation, quotes and brackets)".to_string())
            }
            K::DuplicateKey { key, first, path } if path.len() == 1 && path[0] == "events" => (
                format!("duplicate event type `{key}`; it is already declared at line {}", first.line),
                "remove or rename one of the two declarations".to_string(),
            ),
            K::DuplicateKey { key, first, path } => {
                let place = if path.is_empty() { String::new() } else { format!(" in `{}`", path.join("/")) };
                (
                    format!("duplicate key `{key}`{place}; the first is at line {}", first.line),
                    "YAML keeps only one of them: remove or rename the other".to_string(),
                )
            }
            K::NonStringKey { key, kind } => (format!("key `{key}` is {kind}, not a string"), format!("quote it: `\"{key}\"`")),
            K::ComplexKey => ("a sequence or mapping cannot be a key".into(), "use a plain string key".into()),
            K::Alias => ("YAML aliases (`*name`) are not supported in a catalog".into(), "write the value out in full".into()),
            K::Tag(tag) => (
                format!("YAML tag `{tag}` is not supported"),
                "remove it; only the core tags `!!str`, `!!int`, `!!float`, `!!bool` and `!!null` are understood".into(),
            ),
            K::TooDeep => (
                format!("nesting deeper than {} levels", yaml::MAX_DEPTH),
                "flatten the structure; no catalog needs this much nesting".into(),
            ),
            K::ExtraDocument => {
                ("a second YAML document (`---`) follows the catalog".into(), "keep the whole catalog in one document".into())
            }
        };
        self.error(problem.mark, message, help);
    }

    pub(crate) fn finish(mut self, catalog: Option<Catalog>) -> Result<Catalog, Diagnostics> {
        // Stable: problems at one position keep the order they were found in.
        self.diags.sort_by_key(|d| (d.line, d.column));
        match catalog {
            Some(mut c) if self.diags.is_empty() => {
                c.normalize();
                Ok(c)
            }
            _ => {
                if self.diags.is_empty() {
                    // Every path that drops the catalog reports why; this is a backstop.
                    self.diags.push(Diagnostic::new(&self.file, 0, 0, "the catalog could not be read"));
                }
                Err(Diagnostics(self.diags))
            }
        }
    }
}
