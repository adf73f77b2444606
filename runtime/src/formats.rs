//! JSON Schema string formats that generated `validate()` checks.
//!
//! The test oracle is the `jsonschema` crate (0.33, formats enabled), so
//! each check follows that crate's behaviour, which in turn follows the
//! RFCs; where it did not, the difference is listed here on purpose:
//!
//! - `date`, `time`, `date-time`: jsonschema 0.33 reads the bytes `:` to `?`
//!   as digits (a bit trick), so it accepts `1;:00:00Z`. Only ASCII digits
//!   count here. Everything else matches, including the leap-second rule.
//!   The grammar is shared with the envelope's `time` attribute.
//! - `email`: the `email_address` crate's rules (as jsonschema uses them),
//!   including its acceptance of a display name (`Name <a@example.com>`),
//!   then the domain must be a `hostname` or a bracketed IPv4 / `IPv6:`
//!   literal, as jsonschema checks it.
//! - `uri`, `uri-reference`: strict RFC 3986, as `fluent-uri` (which
//!   jsonschema uses) parses it: ASCII only, `%` always followed by two hex
//!   digits, IP literals validated.
//! - Formats not listed in [`check`] (`idn-*`, `iri*`, `regex`,
//!   `json-pointer`, `duration`, `uri-template`) are not checked: `check`
//!   returns `None`, and they pass, as unknown formats do in JSON Schema.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::envelope::{parse_date, parse_date_time, parse_time};

/// Check `s` against a named format: `Some(valid)`, or `None` when Herald
/// does not check that format.
pub fn check(format: &str, s: &str) -> Option<bool> {
    Some(match format {
        "date-time" => is_date_time(s),
        "date" => is_date(s),
        "time" => is_time(s),
        "email" => is_email(s),
        "hostname" => is_hostname(s),
        "ipv4" => is_ipv4(s),
        "ipv6" => is_ipv6(s),
        "uri" => is_uri(s),
        "uri-reference" => is_uri_reference(s),
        "uuid" => is_uuid(s),
        _ => return None,
    })
}

/// RFC 3339 `date-time`: `2024-05-01T12:30:00Z`, `t`/`z` allowed, offset
/// required, leap second only at 23:59:60 UTC.
pub fn is_date_time(s: &str) -> bool {
    parse_date_time(s).is_ok()
}

/// RFC 3339 `full-date`: `YYYY-MM-DD`, a real calendar day.
pub fn is_date(s: &str) -> bool {
    parse_date(s.as_bytes()).is_ok()
}

/// RFC 3339 `full-time`: `HH:MM:SS[.frac]` and `Z` or `±HH:MM`.
pub fn is_time(s: &str) -> bool {
    parse_time(s.as_bytes()).is_ok()
}

/// An 8-4-4-4-12 hyphenated UUID, hex digits in either case.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Dotted-quad IPv4 without leading zeros (as `std::net` parses it).
pub fn is_ipv4(s: &str) -> bool {
    Ipv4Addr::from_str(s).is_ok()
}

/// An RFC 4291 IPv6 address, no zone (as `std::net` parses it).
pub fn is_ipv6(s: &str) -> bool {
    Ipv6Addr::from_str(s).is_ok()
}

/// An RFC 1123 host name: ASCII letters, digits and `-` in dot-separated
/// labels of 1-63 characters, no label starting or ending with `-`, at most
/// 253 characters, no trailing dot.
pub fn is_hostname(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 253 {
        return false;
    }
    s.split('.').all(|label| {
        let l = label.as_bytes();
        !l.is_empty()
            && l.len() <= 63
            && l[0] != b'-'
            && l[l.len() - 1] != b'-'
            && l.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    })
}

/// An email address, as the `email_address` crate (default options) and
/// jsonschema's domain check accept it.
pub fn is_email(s: &str) -> bool {
    let email = match display_separator(s) {
        None => s,
        Some(i) => match s[i + 2..].trim().strip_suffix('>') {
            Some(inner) => inner,
            None => return false,
        },
    };
    let display = display_separator(s).map_or("", |i| s[..i].trim());
    let Some((local, domain)) = email.rsplit_once('@') else { return false };
    if display.is_empty() && local.starts_with('<') {
        return false;
    }
    valid_local_part(local) && valid_email_domain(domain)
}

/// The last ` <` outside a quoted string: where a display name ends.
fn display_separator(s: &str) -> Option<usize> {
    let (mut in_quote, mut escaped, mut found) = (false, false, None);
    for (i, c) in s.char_indices() {
        if !in_quote && s[i..].starts_with(" <") {
            found = Some(i);
        }
        if escaped {
            escaped = false;
        } else if in_quote && c == '\\' {
            escaped = true;
        } else if c == '"' {
            in_quote = !in_quote;
        }
    }
    found
}

fn is_atext(c: char) -> bool {
    c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

fn valid_local_part(local: &str) -> bool {
    if local.is_empty() || local.len() > 64 {
        return false;
    }
    if local.len() >= 2 && local.starts_with('"') && local.ends_with('"') {
        // quoted-string: qtext, spaces, tabs, and `\` + a visible character.
        let mut chars = local[1..local.len() - 1].chars();
        if local.len() == 2 {
            return false;
        }
        while let Some(c) = chars.next() {
            let ok = match c {
                '\\' => chars.next().is_some_and(|e| ('\x21'..='\x7e').contains(&e)),
                ' ' | '\t' | '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e' => true,
                c => !c.is_ascii(),
            };
            if !ok {
                return false;
            }
        }
        return true;
    }
    local.split('.').all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

fn valid_email_domain(domain: &str) -> bool {
    if domain.is_empty() || domain.len() > 254 {
        return false;
    }
    if let Some(literal) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        return match literal.strip_prefix("IPv6:") {
            Some(v6) => is_ipv6(v6),
            None => is_ipv4(literal),
        };
    }
    // email_address's label rules, then jsonschema's hostname check (which
    // implies most of them, but not the 254-byte bound above).
    let labels_ok = domain.split('.').all(|label| {
        label.starts_with(char::is_alphanumeric)
            && label.ends_with(char::is_alphanumeric)
            && label.len() <= 63
            && label.chars().all(is_atext)
    });
    labels_ok && is_hostname(domain)
}

/// An absolute RFC 3986 `URI` (scheme required; fragment allowed).
pub fn is_uri(s: &str) -> bool {
    UriParser::new(s).parse(true)
}

/// An RFC 3986 `URI-reference`: a URI or a relative reference (including
/// the empty string).
pub fn is_uri_reference(s: &str) -> bool {
    UriParser::new(s).parse(false)
}

// RFC 3986 character classes, one bit each in a table indexed by byte:
// URIs are checked on every event that has a `dataschema`, a byte at a time.
const UNRESERVED: u8 = 1;
const SUB_DELIM: u8 = 2;
const COLON: u8 = 4;
const AT: u8 = 8;
const SLASH: u8 = 16;
const QUESTION: u8 = 32;

static CLASSES: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut class = 0;
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            class |= UNRESERVED;
        }
        if matches!(b, b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=') {
            class |= SUB_DELIM;
        }
        match b {
            b':' => class |= COLON,
            b'@' => class |= AT,
            b'/' => class |= SLASH,
            b'?' => class |= QUESTION,
            _ => {}
        }
        table[i] = class;
        i += 1;
    }
    table
}

fn in_class(b: u8, classes: u8) -> bool {
    CLASSES[usize::from(b)] & classes != 0
}

fn is_reg_name(b: u8) -> bool {
    in_class(b, UNRESERVED | SUB_DELIM)
}

fn is_userinfo(b: u8) -> bool {
    in_class(b, UNRESERVED | SUB_DELIM | COLON)
}

fn is_segment_nc(b: u8) -> bool {
    in_class(b, UNRESERVED | SUB_DELIM | AT)
}

fn is_path(b: u8) -> bool {
    in_class(b, UNRESERVED | SUB_DELIM | COLON | AT | SLASH)
}

fn is_query(b: u8) -> bool {
    in_class(b, UNRESERVED | SUB_DELIM | COLON | AT | SLASH | QUESTION)
}

/// A recursive-descent reader for the RFC 3986 grammar, mirroring the
/// structure of `fluent-uri`'s parser so both accept the same strings.
struct UriParser<'s> {
    b: &'s [u8],
    pos: usize,
    /// A `%` without two hex digits was seen: the input is invalid.
    bad_pct: bool,
}

impl<'s> UriParser<'s> {
    fn new(s: &'s str) -> Self {
        UriParser { b: s.as_bytes(), pos: 0, bad_pct: false }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn eat(&mut self, s: &[u8]) -> bool {
        let hit = self.b[self.pos..].starts_with(s);
        if hit {
            self.pos += s.len();
        }
        hit
    }

    /// Consume one `%XX`; a `%` without two hex digits marks the input bad.
    fn eat_pct(&mut self) -> bool {
        let hex = |i: usize| self.b.get(i).is_some_and(u8::is_ascii_hexdigit);
        if hex(self.pos + 1) && hex(self.pos + 2) {
            self.pos += 3;
            true
        } else {
            self.bad_pct = true;
            false
        }
    }

    /// Consume bytes in `allowed` (plus `%XX`); true if any were consumed.
    // Generic (not a `fn` pointer) so each class check is inlined.
    fn read(&mut self, allowed: impl Fn(u8) -> bool) -> bool {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c == b'%' {
                if !self.eat_pct() {
                    break;
                }
            } else if allowed(c) {
                self.pos += 1;
            } else {
                break;
            }
        }
        self.pos > start
    }

    fn parse(mut self, must_have_scheme: bool) -> bool {
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')) {
            self.pos += 1;
        }
        let ok = if self.peek() == Some(b':') {
            if self.pos == 0 || !self.b[0].is_ascii_alphabetic() {
                return false;
            }
            self.pos += 1;
            if self.eat(b"//") { self.authority() } else { self.path(Path::Rootless) }
        } else if must_have_scheme {
            false
        } else if self.pos == 0 && self.eat(b"//") {
            self.authority()
        } else {
            // The scheme-like bytes read so far are path bytes after all.
            self.path(Path::NoScheme)
        };
        ok && !self.bad_pct && self.pos == self.b.len()
    }

    fn authority(&mut self) -> bool {
        let start = self.pos;
        let (mut colons, mut last_colon) = (0, 0);
        // Userinfo, host and port share one alphabet: read it all, counting
        // colons, and decide what it was from the byte that stops it.
        while let Some(c) = self.peek() {
            if c == b'%' {
                if !self.eat_pct() {
                    break;
                }
            } else if is_userinfo(c) {
                if c == b':' {
                    colons += 1;
                    last_colon = self.pos;
                }
                self.pos += 1;
            } else {
                break;
            }
        }
        if self.peek() == Some(b'@') {
            self.pos += 1;
            match self.ip_literal() {
                Some(false) => return false,
                Some(true) => {}
                None => {
                    self.read(is_reg_name);
                }
            }
            self.port();
        } else if self.pos == start {
            match self.ip_literal() {
                Some(false) => return false,
                Some(true) => self.port(),
                None => {}
            }
        } else {
            // userinfo-free `host[:port]` read in one go.
            match colons {
                0 => {}
                1 => {
                    if !self.b[last_colon + 1..self.pos].iter().all(u8::is_ascii_digit) {
                        return false;
                    }
                }
                _ => return false,
            }
        }
        self.path(Path::AbEmpty)
    }

    fn port(&mut self) {
        if self.eat(b":") {
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
        }
    }

    /// `[IPv6]` or `[vX.future]`: `None` if not at `[`, else whether valid.
    fn ip_literal(&mut self) -> Option<bool> {
        if !self.eat(b"[") {
            return None;
        }
        let Some(len) = self.b[self.pos..].iter().position(|&c| c == b']') else { return Some(false) };
        let inner = &self.b[self.pos..self.pos + len];
        self.pos += len + 1;
        let valid = match inner {
            [b'v' | b'V', rest @ ..] => match rest.iter().position(|&c| c == b'.') {
                Some(dot) => {
                    let (ver, tail) = (&rest[..dot], &rest[dot + 1..]);
                    !ver.is_empty() && ver.iter().all(u8::is_ascii_hexdigit) && !tail.is_empty() && tail.iter().all(|&c| is_userinfo(c))
                }
                None => false,
            },
            _ => std::str::from_utf8(inner).ok().and_then(|s| Ipv6Addr::from_str(s).ok()).is_some(),
        };
        Some(valid)
    }

    fn path(&mut self, kind: Path) -> bool {
        match kind {
            Path::Rootless => {
                self.read(is_path);
            }
            Path::AbEmpty => {
                let start = self.pos;
                if self.read(is_path) && self.b[start] != b'/' {
                    return false;
                }
            }
            Path::NoScheme => {
                self.read(is_segment_nc);
                // A relative reference's first segment cannot hold `:`,
                // or it would read as a scheme.
                if self.peek() == Some(b':') {
                    return false;
                }
                self.read(is_path);
            }
        }
        if self.eat(b"?") {
            self.read(is_query);
        }
        if self.eat(b"#") {
            self.read(is_query);
        }
        true
    }
}

enum Path {
    /// After `scheme:` without `//`.
    Rootless,
    /// After an authority: empty or starting with `/`.
    AbEmpty,
    /// A relative reference without authority.
    NoScheme,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatch() {
        assert_eq!(check("uuid", "nope"), Some(false));
        assert_eq!(check("date", "2024-02-29"), Some(true));
        assert_eq!(check("regex", "("), None);
        assert_eq!(check("made-up", "x"), None);
    }

    #[test]
    fn dates_and_times() {
        assert!(is_date_time("2024-05-01T12:30:00.5+05:30"));
        assert!(!is_date_time("2024-05-01T12:30:00"));
        assert!(is_date("2000-02-29") && !is_date("1900-02-29") && !is_date("2024-1-01"));
        assert!(is_time("23:59:60Z") && is_time("12:00:00.1-08:00") && !is_time("12:00:00"));
        assert!(!is_time("12:00:60Z"));
        assert!(!is_date("2024-02-29T00:00:00Z"));
    }

    #[test]
    fn uuids() {
        assert!(is_uuid("67e55044-10b1-426f-9247-bb680e5fe0c8"));
        assert!(is_uuid("67E55044-10B1-426F-9247-BB680E5FE0C8"));
        for bad in [
            "67e5504410b1426f9247bb680e5fe0c8",
            "{67e55044-10b1-426f-9247-bb680e5fe0c8}",
            "67e55044-10b1-426f-9247-bb680e5fe0cg",
            "67e55044-10b1-426f-9247_bb680e5fe0c8",
            "",
        ] {
            assert!(!is_uuid(bad), "{bad}");
        }
    }

    #[test]
    fn ips_and_hostnames() {
        assert!(is_ipv4("192.168.0.1") && !is_ipv4("192.168.0.01") && !is_ipv4("256.0.0.1"));
        assert!(is_ipv6("::1") && is_ipv6("::ffff:1.2.3.4") && !is_ipv6("1::2::3") && !is_ipv6("fe80::1%eth0"));
        assert!(is_hostname("example.com") && is_hostname("a-b.c1") && is_hostname("localhost"));
        for bad in ["", "-a.com", "a-.com", "a..com", "a.com.", "a_b.com", "ex ample.com", &"a".repeat(64)] {
            assert!(!is_hostname(bad), "{bad}");
        }
    }

    #[test]
    fn emails() {
        for ok in [
            "a@example.com",
            "first.last+tag@sub.example.co",
            "\"quoted local\"@example.com",
            "user@[127.0.0.1]",
            "user@[IPv6:::1]",
            "Jane Doe <jane@example.com>",
            "üñí@example.com",
            "a@localhost",
        ] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a..b@example.com",
            ".a@example.com",
            "a@-example.com",
            "a@example..com",
            "a@exa_mple.com",
            "a@[300.0.0.1]",
            "<a@example.com>",
            "Jane <jane@example.com",
            "a@ex ample.com",
            "\"\"@example.com",
            "a@üñí.com",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
        assert!(!is_email(&format!("{}@example.com", "a".repeat(65))));
    }

    #[test]
    fn uris() {
        for ok in [
            "https://example.com/schemas/started.json",
            "https://user:pw@example.com:8080/p/a?q=1&r=%20#frag",
            "urn:uuid:67e55044-10b1-426f-9247-bb680e5fe0c8",
            "mailto:a@example.com",
            "http://[::1]:80/",
            "http://[v1.fe]/",
            "file:///etc/hosts",
            "a+b-c.d:x",
            "http://127.0.0.1",
            "http://example.com:/",
            "x:",
        ] {
            assert!(is_uri(ok), "{ok}");
            assert!(is_uri_reference(ok), "{ok}");
        }
        for bad in [
            "",
            "/relative/path",
            "relative",
            "1http://x",
            "http://exa mple.com",
            "http://example.com/ä",
            "http://example.com/%G1",
            "http://example.com/%4",
            "http://[::1/",
            "http://[1::2::3]/",
            "http://a:b:c/",
            "http://host:8a/",
            "http://x/{a}",
            "http://x#a#b",
            "http://x\\y",
        ] {
            assert!(!is_uri(bad), "{bad}");
        }
        for ok in ["", "/relative/path", "relative", "../a?b#c", "//host/p", "?q", "#f", "a/b:c"] {
            assert!(is_uri_reference(ok), "{ok}");
        }
        for bad in ["a:b:c d", "1a:b", "%zz", "//a:b:c", "\\x", "a b"] {
            assert!(!is_uri_reference(bad), "{bad}");
        }
    }
}
