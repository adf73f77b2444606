//! Wording helpers every diagnostic shares: typo suggestions, the lower
//! snake case rule and "`a`, `b` or `c`" lists.
//!
//! A leaf module (it imports nothing of the crate), so that the YAML reader,
//! the lints, the IR checks, the emitters and `herald-macros` can all use it
//! without importing each other.

/// The known word closest to `word`, if it is close enough to be a typo.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    // Allow about one edit per three characters, and at least two, so that
    // `verison` → `version` (a transposition is two edits) is still found.
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .iter()
        .map(|c| (levenshtein(&word, &c.to_ascii_lowercase()), *c))
        .filter(|(d, c)| *d <= limit && *d < c.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// `[a-z][a-z0-9_]*`.
pub fn is_lower_snake(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase()) && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `MyFeature` → `my_feature`, when that is valid lower snake case.
pub fn suggestion(s: &str) -> Option<String> {
    let snake = heck::ToSnakeCase::to_snake_case(s);
    is_lower_snake(&snake).then_some(snake)
}

/// "`a`, `b` or `c`", for help texts.
pub fn one_of(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.as_slice() {
        [] => "(none declared)".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Escape a key for a JSON pointer segment (RFC 6901).
pub fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_only() {
        assert_eq!(did_you_mean("verison", &["description", "version"]), Some("version"));
        assert_eq!(did_you_mean("uuidd", &["uri", "uuid"]), Some("uuid"));
        assert_eq!(did_you_mean("String", &["string"]), Some("string"));
        assert_eq!(did_you_mean("zzz", &["uuid", "uri"]), None);
        assert_eq!(did_you_mean("ab", &["cd"]), None);
        assert_eq!(suggestion("MyFeature").as_deref(), Some("my_feature"));
    }

    #[test]
    fn snake_case_and_lists() {
        assert!(is_lower_snake("stage_started2"));
        assert!(!is_lower_snake("Stage"));
        assert!(!is_lower_snake("_x"));
        assert!(!is_lower_snake(""));
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
        assert_eq!(escape_pointer("a/b~c"), "a~1b~0c");
    }
}
