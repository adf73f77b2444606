//! The keys file: TOML, one `[[key]]` table per API key.
//!
//! ```toml
//! [[key]]
//! name = "feature-workers"              # shown in logs and answers, never the key
//! hash = "sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
//! read = true                           # queries, streams, pages (default false)
//! rate = 100.0                          # optional: tokens per second …
//! burst = 500                           # … and most at once (default: rate, at least 1)
//! [key.ingest]                          # optional: what it may send
//! sources = ["/workers/*"]
//! types = ["ai.myfeature.*"]
//! ```
//!
//! Only the SHA-256 of each key is stored (`herald-server hash-key`), so
//! the file gives nobody the keys. Unknown fields are errors: a misspelt
//! grant must not silently grant nothing (or everything).

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::bucket::Limit;
use super::pattern::Pattern;

/// One configured key.
#[derive(Debug, Clone)]
pub struct Key {
    /// Its name, for logs and answers (the key itself is never shown).
    pub name: String,
    /// SHA-256 of the key.
    pub(crate) hash: [u8; 32],
    /// May read: queries, streams, pages.
    pub read: bool,
    /// What it may ingest, if anything.
    pub ingest: Option<IngestGrant>,
    /// Its rate limit, if any.
    pub limit: Option<Limit>,
}

/// Which events a key may send: both its `source` and its `type` must
/// match one of the patterns.
#[derive(Debug, Clone)]
pub struct IngestGrant {
    /// Allowed `source` values.
    pub sources: Vec<Pattern>,
    /// Allowed `type` values.
    pub types: Vec<Pattern>,
}

impl IngestGrant {
    /// Whether an event with `source` and `ty` is covered.
    pub fn allows(&self, source: &str, ty: &str) -> bool {
        self.sources.iter().any(|p| p.matches(source)) && self.types.iter().any(|p| p.matches(ty))
    }
}

/// What is wrong with a keys file.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {detail}")]
pub struct KeysError {
    /// Where the keys came from (a path, or `HERALD_KEYS`).
    pub origin: String,
    /// What is wrong, and how to fix it.
    pub detail: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    key: Vec<KeyDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyDoc {
    name: String,
    hash: String,
    #[serde(default)]
    read: bool,
    ingest: Option<IngestDoc>,
    rate: Option<f64>,
    burst: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IngestDoc {
    sources: Vec<String>,
    types: Vec<String>,
}

/// The prefix of a stored key hash.
pub const HASH_PREFIX: &str = "sha256:";

/// `sha256:<hex>` of `key`: what goes in the keys file.
pub fn hash_key(key: &str) -> String {
    format!("{HASH_PREFIX}{}", hex::encode(Sha256::digest(key.as_bytes())))
}

/// Parse the keys in `text`; `origin` names it in errors. An empty list is
/// allowed here; the caller decides whether it is an error.
pub fn parse(text: &str, origin: &str) -> Result<Vec<Key>, KeysError> {
    let err = |detail: String| KeysError { origin: origin.to_owned(), detail };
    let doc: FileDoc = toml::from_str(text).map_err(|e| {
        // toml's Display quotes the offending line; in a keys file that
        // line may hold a key pasted where its hash belongs, so give only
        // the message and the line number.
        let first = e.message().trim().to_owned();
        let at = e.span().map(|s| line_of(text, s.start)).map(|l| format!(" (line {l})")).unwrap_or_default();
        err(format!(
            "not a valid keys file{at}: {first}; expected TOML with one [[key]] table per key \
             (name, hash, and read and/or [key.ingest]), see README \"Authentication\""
        ))
    })?;
    let mut keys: Vec<Key> = Vec::with_capacity(doc.key.len());
    for (i, k) in doc.key.into_iter().enumerate() {
        let key = check(k, i + 1).map_err(err)?;
        if keys.iter().any(|o| o.name == key.name) {
            return Err(err(format!("two keys are named `{}`; names must be unique", key.name)));
        }
        if let Some(o) = keys.iter().find(|o| o.hash == key.hash) {
            return Err(err(format!("keys `{}` and `{}` have the same hash; give each its own key", o.name, key.name)));
        }
        keys.push(key);
    }
    Ok(keys)
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes().iter().take(offset).filter(|b| **b == b'\n').count() + 1
}

/// Check one `[[key]]` (the `nth`, from 1).
fn check(k: KeyDoc, nth: usize) -> Result<Key, String> {
    let name = k.name.trim().to_owned();
    if name.is_empty() {
        return Err(format!("key #{nth} has an empty `name`; name every key (logs and answers show it)"));
    }
    // Never quote the value: a key pasted here by mistake must not end up
    // in a log.
    let hash = parse_hash(&k.hash).ok_or_else(|| {
        format!(
            "key `{name}`: `hash` must be `{HASH_PREFIX}` followed by 64 hex digits, the SHA-256 of the key \
             (make it with `herald-server hash-key`); never put the key itself in the file"
        )
    })?;
    let ingest = match k.ingest {
        None => None,
        Some(g) => {
            let list = |what: &str, items: Vec<String>| -> Result<Vec<Pattern>, String> {
                if items.is_empty() {
                    return Err(format!(
                        "key `{name}`: `ingest.{what}` is empty, so it could send nothing; list patterns, or [\"*\"] for any"
                    ));
                }
                items.iter().map(|p| Pattern::new(p).map_err(|e| format!("key `{name}`: `ingest.{what}`: {e}"))).collect()
            };
            Some(IngestGrant { sources: list("sources", g.sources)?, types: list("types", g.types)? })
        }
    };
    if !k.read && ingest.is_none() {
        return Err(format!("key `{name}` grants nothing; give it `read = true` and/or an `[key.ingest]` table"));
    }
    let limit = match (k.rate, k.burst) {
        (None, None) => None,
        (None, Some(_)) => return Err(format!("key `{name}` has `burst` without `rate`; add `rate` (tokens per second)")),
        (Some(rate), burst) => {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(format!("key `{name}`: `rate` must be a positive number of tokens per second"));
            }
            let burst = burst.unwrap_or(rate.ceil().max(1.0));
            if !(burst.is_finite() && burst >= 1.0) {
                return Err(format!("key `{name}`: `burst` must be at least 1 (the largest request it may make)"));
            }
            Some(Limit { rate, burst })
        }
    };
    Ok(Key { name, hash, read: k.read, ingest, limit })
}

fn parse_hash(s: &str) -> Option<[u8; 32]> {
    let hex_part = s.trim().strip_prefix(HASH_PREFIX)?;
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[key]]
name = "workers"
hash = "sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
rate = 10.5
[key.ingest]
sources = ["/workers/*"]
types = ["ai.myfeature.*", "ai.run.progress"]

[[key]]
name = "dashboard"
hash = "sha256:0000000000000000000000000000000000000000000000000000000000000001"
read = true
"#;

    #[test]
    fn a_good_file_parses() {
        let keys = parse(GOOD, "keys.toml").unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].name, "workers");
        assert_eq!(keys[0].hash.to_vec(), hex::decode("5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8").unwrap());
        assert!(!keys[0].read);
        let g = keys[0].ingest.as_ref().unwrap();
        assert!(g.allows("/workers/1", "ai.myfeature.started"));
        assert!(!g.allows("/workers/1", "ai.run.metric"));
        assert!(!g.allows("/other", "ai.myfeature.started"));
        assert_eq!(keys[0].limit, Some(Limit { rate: 10.5, burst: 11.0 }));
        assert!(keys[1].read && keys[1].ingest.is_none() && keys[1].limit.is_none());
        assert_eq!(hash_key("password"), "sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8");
    }

    fn error(text: &str) -> String {
        parse(text, "k.toml").unwrap_err().to_string()
    }

    #[test]
    fn mistakes_are_named_and_keys_are_never_quoted() {
        let plain = "[[key]]\nname = \"a\"\nhash = \"my-secret-key\"\nread = true\n";
        let e = error(plain);
        assert!(e.starts_with("k.toml: key `a`: `hash` must be `sha256:`"), "{e}");
        assert!(!e.contains("my-secret-key"), "{e}");
        let h = "sha256:0000000000000000000000000000000000000000000000000000000000000001";
        assert!(error(&format!("[[key]]\nname = \"a\"\nhash = \"{h}\"\n")).contains("grants nothing"));
        assert!(error(&format!("[[key]]\nname = \"a\"\nhash = \"{h}\"\nreed = true\n")).contains("not a valid keys file (line 4)"));
        assert!(
            error(&format!("[[key]]\nname = \"a\"\nhash = \"{h}\"\n[key.ingest]\nsources = []\ntypes = [\"*\"]\n"))
                .contains("`ingest.sources` is empty")
        );
        let two = format!("[[key]]\nname = \"a\"\nhash = \"{h}\"\nread = true\n[[key]]\nname = \"a\"\nhash = \"{h}\"\nread = true\n");
        assert!(error(&two).contains("two keys are named `a`"));
        assert!(error(&two.replacen("\"a\"", "\"b\"", 1)).contains("the same hash"));
        assert!(error(&format!("[[key]]\nname = \"a\"\nhash = \"{h}\"\nread = true\nburst = 3\n")).contains("`burst` without `rate`"));
        assert!(error(&format!("[[key]]\nname = \"a\"\nhash = \"{h}\"\nread = true\nrate = 0.0\n")).contains("positive"));
        // A key pasted in a place the TOML parser chokes on is not echoed.
        let e = error("[[key]]\nname = \"a\"\nhash = sk-live-123\n");
        assert!(!e.contains("sk-live-123"), "{e}");
        assert!(parse("", "k.toml").unwrap().is_empty());
    }
}
