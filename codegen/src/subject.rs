//! The one parser of `subject` templates (`run/{run_id}`).
//!
//! Both front-ends check templates with it (through [`crate::check`]) and
//! every consumer — the exports, `herald send`, `herald new` — reads the
//! placeholders through it, so "what a placeholder is" has one answer.

/// One piece of a template: literal text or a `{placeholder}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text copied as is (`run/`).
    Text(&'a str),
    /// A data property filled in (`run_id` of `{run_id}`).
    Placeholder(&'a str),
}

/// A template whose braces do not pair up (`run/{run_id`, `run}/x`,
/// `{a{b}}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unbalanced;

/// The pieces of `template`, or [`Unbalanced`] when a `{` is not closed by
/// the next brace or a `}` closes nothing.
pub fn parse(template: &str) -> Result<Vec<Piece<'_>>, Unbalanced> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err(Unbalanced);
        }
        let after = &rest[open + 1..];
        let Some(close) = after.find(['{', '}']).filter(|&c| after[c..].starts_with('}')) else {
            return Err(Unbalanced);
        };
        if open > 0 {
            pieces.push(Piece::Text(&rest[..open]));
        }
        pieces.push(Piece::Placeholder(&after[..close]));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

/// The placeholders of a template, in order. For a template of the IR,
/// which both front-ends have checked; an unbalanced one has none.
pub fn placeholders(template: &str) -> Vec<&str> {
    let pieces = parse(template).unwrap_or_default();
    pieces
        .into_iter()
        .filter_map(|p| match p {
            Piece::Placeholder(name) => Some(name),
            Piece::Text(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_and_placeholders() {
        assert_eq!(
            parse("run/{run_id}/n/{n}"),
            Ok(vec![Piece::Text("run/"), Piece::Placeholder("run_id"), Piece::Text("/n/"), Piece::Placeholder("n")])
        );
        assert_eq!(parse("{a}"), Ok(vec![Piece::Placeholder("a")]));
        assert_eq!(parse(""), Ok(vec![]));
        assert_eq!(placeholders("run/{run_id}"), ["run_id"]);
    }

    #[test]
    fn unbalanced_braces_are_rejected() {
        for bad in ["run/{run_id", "run}/x", "{a{b}}", "{a}}", "{"] {
            assert_eq!(parse(bad), Err(Unbalanced), "{bad}");
            assert!(placeholders(bad).is_empty());
        }
    }
}
