//! `*` patterns over CloudEvents `source` and `type` values.
//!
//! `*` matches any run of characters, `/` and `.` included, so
//! `ai.myfeature.*` covers `ai.myfeature.started` and
//! `ai.myfeature.x.y`, `/workers/*` every source under `/workers/`, and
//! `*` alone anything. Every other character matches itself (case
//! matters: CloudEvents attributes are compared exactly).

use std::fmt;

/// One pattern, split once at its stars so matching allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    /// Text before the first `*` (the whole pattern when there is none).
    head: String,
    /// Pieces between stars, found in order.
    middle: Vec<String>,
    /// Text after the last `*`; `None` when the pattern has no star.
    tail: Option<String>,
}

impl Pattern {
    /// Parse `text`; an empty pattern is refused (it would match only an
    /// empty attribute, which CloudEvents forbids, so it is a mistake).
    pub fn new(text: &str) -> Result<Pattern, String> {
        if text.is_empty() {
            return Err("an empty pattern matches nothing; write `*` to allow any value".to_owned());
        }
        let mut pieces: Vec<&str> = text.split('*').collect();
        let head = pieces.remove(0).to_owned();
        let tail = pieces.pop().map(str::to_owned);
        let middle = pieces.into_iter().filter(|p| !p.is_empty()).map(str::to_owned).collect();
        Ok(Pattern { text: text.to_owned(), head, middle, tail })
    }

    /// Whether `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        let Some(tail) = &self.tail else {
            return value == self.head;
        };
        // Stripping the tail from what is left after the head keeps the two
        // from overlapping (`ab*ba` must not match `aba`).
        let Some(rest) = value.strip_prefix(self.head.as_str()) else {
            return false;
        };
        let Some(mut rest) = rest.strip_suffix(tail.as_str()) else {
            return false;
        };
        for piece in &self.middle {
            match rest.find(piece.as_str()) {
                Some(at) => rest = &rest[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn m(p: &str, v: &str) -> bool {
        Pattern::new(p).unwrap().matches(v)
    }

    #[test]
    fn stars_match_runs_of_any_characters() {
        assert!(m("ai.myfeature.*", "ai.myfeature.started"));
        assert!(m("ai.myfeature.*", "ai.myfeature.a.b"));
        assert!(!m("ai.myfeature.*", "ai.run.metric"));
        assert!(!m("ai.myfeature.*", "ai.myfeature"));
        assert!(m("/workers/*", "/workers/7"));
        assert!(!m("/workers/*", "/tests/worker"));
        assert!(m("*", "anything at all"));
        assert!(m("*.metric", "ai.run.metric"));
        assert!(!m("*.metric", "ai.run.metrics"));
        assert!(m("ai.*.metric", "ai.run.metric"));
        assert!(m("a*b*c", "a-b-c"));
        assert!(!m("a*b*c", "a-c-b"));
        assert!(!m("ab*ba", "aba"), "head and tail must not overlap");
        assert!(m("**", ""));
    }

    #[test]
    fn without_a_star_the_match_is_exact_and_case_sensitive() {
        assert!(m("ai.run.metric", "ai.run.metric"));
        assert!(!m("ai.run.metric", "AI.run.metric"));
        assert!(!m("ai.run.metric", "ai.run.metric2"));
        assert!(Pattern::new("").is_err());
    }
}
