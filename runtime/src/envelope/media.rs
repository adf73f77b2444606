//! Media type helpers.
//!
//! Media types are case-insensitive and may carry parameters
//! (`Application/JSON; charset=utf-8`), so they are always compared through
//! [`essence`], never as raw strings.

/// The media type's `type/subtype`, lower-cased and trimmed, parameters
/// stripped: `"Application/JSON; charset=utf-8"` → `"application/json"`.
pub fn essence(ct: &str) -> String {
    trimmed_essence(ct).to_ascii_lowercase()
}

/// [`essence`] before lower-casing: the checks below compare it ignoring
/// ASCII case instead, so they allocate nothing (one runs per event).
fn trimmed_essence(ct: &str) -> &str {
    let end = ct.find(';').unwrap_or(ct.len());
    ct[..end].trim()
}

/// Whether `ct` denotes JSON: `application/json`, `text/json`, or any
/// `+json` structured-syntax suffix (`application/cloudevents+json`,
/// `application/vnd.api+json`).
pub fn is_json(ct: &str) -> bool {
    let essence = trimmed_essence(ct).as_bytes();
    essence.eq_ignore_ascii_case(b"application/json")
        || essence.eq_ignore_ascii_case(b"text/json")
        || essence.len() >= 5 && essence[essence.len() - 5..].eq_ignore_ascii_case(b"+json")
}

/// Whether two media types have the same essence (`type/subtype`, ASCII
/// case ignored, parameters stripped): `Application/JSON; charset=utf-8`
/// is `application/json`.
pub fn same_essence(a: &str, b: &str) -> bool {
    trimmed_essence(a).eq_ignore_ascii_case(trimmed_essence(b))
}

/// Whether `ct` is the structured-mode media type
/// `application/cloudevents+json`.
pub fn is_cloudevents(ct: &str) -> bool {
    trimmed_essence(ct).eq_ignore_ascii_case("application/cloudevents+json")
}

/// Whether `ct` is the batch-mode media type
/// `application/cloudevents-batch+json`.
pub fn is_cloudevents_batch(ct: &str) -> bool {
    trimmed_essence(ct).eq_ignore_ascii_case("application/cloudevents-batch+json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn essence_strips_and_lowercases() {
        assert_eq!(essence(" Application/JSON ; charset=UTF-8"), "application/json");
        assert_eq!(essence("text/plain"), "text/plain");
        assert_eq!(essence(""), "");
    }

    #[test]
    fn json_detection() {
        for ct in [
            "application/json",
            "APPLICATION/JSON; charset=utf-8",
            "text/json",
            "application/cloudevents+json",
            "application/vnd.api+JSON;v=1",
            "+json",
            "application/ünï+Json",
        ] {
            assert!(is_json(ct), "{ct}");
        }
        for ct in ["text/plain", "application/octet-stream", "application/jsonx", "json", "", "jsön", "application/json+", "+jsonx"] {
            assert!(!is_json(ct), "{ct}");
        }
        assert!(is_cloudevents("Application/CloudEvents+JSON; charset=utf-8"));
        assert!(is_cloudevents_batch("application/cloudevents-batch+json"));
        assert!(!is_cloudevents("application/cloudevents-batch+json"));
    }
}
