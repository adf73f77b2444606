//! Findings as text (one line each) or JSON, and the exit code.
//!
//! A text line reads
//! `events.yaml:LINE:COL: ai.x.y: <what changed> — <which mode it breaks
//! and why> — <how to make it compatible>`; a change to something the new
//! file no longer has (a removed field) says where it was in the old one:
//! `field `note` removed (it was at HEAD~1:events.yaml:14:7)`.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{Finding, Verdict};

/// The outcome of one check: its findings and side remarks (skipped
/// history versions, a missing baseline).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every change, judged.
    pub findings: Vec<Finding>,
    /// Remarks that are not changes.
    pub notes: Vec<String>,
}

/// Output format of `herald diff` and `herald check --baseline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// One line per change, then a summary.
    #[default]
    Text,
    /// One JSON document: `{"compatible": bool, "changes": [...], "notes": [...]}`.
    Json,
}

impl Report {
    /// Whether any change breaks its mode.
    pub fn is_breaking(&self) -> bool {
        self.findings.iter().any(|f| f.verdict == Verdict::Breaking)
    }

    /// 0 when compatible, 1 when something breaks.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.is_breaking())
    }

    fn count(&self, verdict: Verdict) -> usize {
        self.findings.iter().filter(|f| f.verdict == verdict).count()
    }

    /// The text form: breaking changes first, then allowed ones, then
    /// compatible ones; notes; a summary line.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let mut sorted: Vec<&Finding> = self.findings.iter().collect();
        sorted.sort_by_key(|f| f.verdict);
        for f in sorted {
            let _ = writeln!(s, "{}", line(f));
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        let (b, a, c) = (self.count(Verdict::Breaking), self.count(Verdict::Allowed), self.count(Verdict::Compatible));
        let head = if b > 0 { "error: not compatible" } else { "ok: compatible" };
        let _ = writeln!(s, "{head}: {b} breaking, {a} allowed by a raised `version`, {c} compatible change(s)");
        s
    }

    /// The JSON form.
    pub fn to_json(&self) -> Value {
        let changes: Vec<Value> = self
            .findings
            .iter()
            .map(|f| {
                json!({
                    "file": f.file,
                    "line": f.line,
                    "column": f.column,
                    "type": f.change.type_name,
                    "path": f.change.path,
                    "change": f.change.what,
                    "mode": f.mode.as_str(),
                    "verdict": match f.verdict {
                        Verdict::Breaking => "breaking",
                        Verdict::Allowed => "allowed",
                        Verdict::Compatible => "compatible",
                    },
                    "breaks_backward": f.change.backward.is_some(),
                    "breaks_forward": f.change.forward.is_some(),
                    "reason": f.reason,
                    "fix": f.fix(),
                    "against": f.against,
                    "was": f.was.as_ref().map(|w| json!({"file": w.file, "line": w.line, "column": w.column})),
                    "message": line(f),
                })
            })
            .collect();
        json!({"compatible": !self.is_breaking(), "changes": changes, "notes": self.notes})
    }

    /// Render in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Text => self.to_text(),
            Format::Json => format!("{:#}\n", self.to_json()),
        }
    }
}

/// One finding as a line of text.
pub fn line(f: &Finding) -> String {
    let mut s = f.file.clone();
    if f.line > 0 {
        let _ = write!(s, ":{}:{}", f.line, f.column);
    }
    let _ = write!(s, ": {}: {}", f.change.type_name, f.change.what);
    if let Some(was) = &f.was {
        let _ = write!(s, " (it was at {was})");
    }
    let _ = write!(s, " — {}", f.reason);
    if let Some(against) = &f.against {
        let _ = write!(s, " (against {against})");
    }
    let _ = write!(s, " — {}", f.fix());
    s
}
