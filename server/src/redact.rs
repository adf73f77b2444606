//! Credentials out of everything the server prints: connection strings
//! (`mongodb://user:password@host`, `redis://:password@host`) are shown
//! without their password, and a password a driver repeats in an error
//! message is masked there too.

/// The password inside `uri`'s user info, if it has one.
fn password(uri: &str) -> Option<&str> {
    let rest = &uri[uri.find("://")? + 3..];
    // User info ends at the last `@` before the host's path or query.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@')?;
    let (_, pass) = rest[..at].split_once(':')?;
    (!pass.is_empty()).then_some(pass)
}

/// `uri` with its password replaced by `***`.
pub fn uri(uri: &str) -> String {
    scrub(uri, uri)
}

/// `text` (an error message, say) with `uri`'s password replaced by `***`
/// wherever it appears.
pub fn scrub(text: &str, uri: &str) -> String {
    match password(uri) {
        Some(pass) => text.replace(pass, "***"),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_and_nothing_else() {
        assert_eq!(uri("mongodb://u:secret@h:1/db"), "mongodb://u:***@h:1/db");
        assert_eq!(uri("redis://:secret@h:6379"), "redis://:***@h:6379");
        assert_eq!(uri("redis://h:6379"), "redis://h:6379");
        assert_eq!(uri("mongodb://u@h"), "mongodb://u@h");
        assert_eq!(uri("mongodb://u:p%40ss@h1,h2/db?replicaSet=rs&x=a@b"), "mongodb://u:***@h1,h2/db?replicaSet=rs&x=a@b");
        assert_eq!(uri("not a uri"), "not a uri");
    }

    #[test]
    fn a_password_repeated_in_an_error_is_masked() {
        let text = "cannot connect to mongodb://admin:hunter2@db:27017 (user admin, password hunter2)";
        assert_eq!(
            scrub(text, "mongodb://admin:hunter2@db:27017"),
            "cannot connect to mongodb://admin:***@db:27017 (user admin, password ***)"
        );
    }
}
