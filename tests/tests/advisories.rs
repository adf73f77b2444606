//! `Cargo.lock` against the RustSec advisory database, offline.
//!
//! The database is the snapshot in `audit/advisory-db.tar.gz` (see
//! `audit/README.md`; refresh it with `scripts/advisory-db.sh` where GitHub
//! is reachable), read with the `rustsec` crate, the library `cargo audit`
//! is built on. A vulnerability the snapshot knows of fails the test and
//! says which crate to update to what; informational advisories
//! (unmaintained, unsound) are printed, not failed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use rustsec::database::Query;
use rustsec::{Database, Lockfile, Vulnerability};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The snapshot, unpacked into a fresh directory (`tar`, as on any Debian).
fn database() -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let tarball = workspace().join("audit/advisory-db.tar.gz");
    let status = Command::new("tar").arg("xzf").arg(&tarball).arg("-C").arg(dir.path()).status().expect("tar runs");
    assert!(status.success(), "unpacking {} failed", tarball.display());
    let db = Database::open(&dir.path().join("advisory-db")).unwrap_or_else(|e| panic!("the advisory snapshot does not load: {e}"));
    (dir, db)
}

fn describe(v: &Vulnerability) -> String {
    let patched: Vec<String> = v.versions.patched().iter().map(ToString::to_string).collect();
    format!(
        "{} {}: {} ({}) — update to {}",
        v.package.name,
        v.package.version,
        v.advisory.id,
        v.advisory.title,
        if patched.is_empty() { "a replacement (no patched version)".to_owned() } else { patched.join(" or ") }
    )
}

#[test]
fn the_lockfile_has_no_known_vulnerability() {
    let (_dir, db) = database();
    let lockfile = Lockfile::load(workspace().join("Cargo.lock")).expect("Cargo.lock parses");
    let found: Vec<String> = db.vulnerabilities(&lockfile).iter().map(describe).collect();
    let notices: Vec<String> = db
        .query_vulnerabilities(&lockfile, &Query::crate_scope().informational(true))
        .iter()
        .filter(|v| v.advisory.informational.is_some())
        .map(describe)
        .collect();
    for notice in &notices {
        eprintln!("advisory notice (informational, not failed): {notice}");
    }
    assert!(found.is_empty(), "Cargo.lock has crates with known vulnerabilities:\n{}", found.join("\n"));
}

/// The check can fail: `time` 0.3.45, which the server's MongoDB driver
/// once pulled in, is caught by RUSTSEC-2026-0009.
#[test]
fn a_vulnerable_version_is_reported() {
    let (_dir, db) = database();
    let lockfile = Lockfile::from_str(
        r#"version = 4

[[package]]
name = "time"
version = "0.3.45"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "0000000000000000000000000000000000000000000000000000000000000000"
"#,
    )
    .unwrap();
    let found: Vec<String> = db.vulnerabilities(&lockfile).iter().map(describe).collect();
    assert!(found.iter().any(|f| f.contains("RUSTSEC-2026-0009") && f.contains(">=0.3.47")), "{found:?}");
}
