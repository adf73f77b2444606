//! Diagnostics: what is wrong with a catalog, where, and how to fix it.
//!
//! Codegen collects every problem before stopping, so a user sees all of
//! them at once. Rendered as `events.yaml:12:5: problem — fix`.

use std::fmt;

/// One problem found in a catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// File name as the user knows it (`events.yaml`).
    pub file: String,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// 1-based column, 0 when unknown.
    pub column: usize,
    /// What is wrong (lower-case, names in backticks).
    pub message: String,
    /// How to fix it, when we can say.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `file:line:column`.
    pub fn new(file: impl Into<String>, line: usize, column: usize, message: impl Into<String>) -> Self {
        Diagnostic { file: file.into(), line, column, message: message.into(), help: None }
    }

    /// Where the problem is, as the rendered diagnostic starts
    /// (`events.yaml:12:5`, `events.yaml` when the line is unknown).
    pub fn location(&self) -> String {
        match (self.line, self.column) {
            (0, _) => self.file.clone(),
            (line, 0) => format!("{}:{line}", self.file),
            (line, column) => format!("{}:{line}:{column}", self.file),
        }
    }

    /// Attach the fix.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location(), self.message)?;
        if let Some(help) = &self.help {
            write!(f, " — {help}")?;
        }
        Ok(())
    }
}

/// Every diagnostic from one run, as an error value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_message_and_help() {
        let d = Diagnostic::new("events.yaml", 12, 5, "unknown shorthand type `uuidd`").with_help("did you mean `uuid`?");
        assert_eq!(d.to_string(), "events.yaml:12:5: unknown shorthand type `uuidd` — did you mean `uuid`?");
        let d = Diagnostic::new("events.yaml", 0, 0, "empty catalog");
        assert_eq!(d.to_string(), "events.yaml: empty catalog");
    }
}
