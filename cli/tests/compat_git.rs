//! `herald check --baseline REF` end to end: the real binary on a
//! temporary git repository with several commits (local git only).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn herald(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_herald")).current_dir(dir).args(args).output().unwrap()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=Herald Test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn catalog(mode: &str, minimum: u32) -> String {
    format!(
        "# The test catalog.\nprefix: ai\ncompatibility: {mode}\nevents:\n  ai.x.y:\n    description: d\n    version: 1\n    fields:\n      run_id: uuid\n      n?: {{type: integer, minimum: {minimum}}}\n    examples:\n      - {{run_id: 0b7f6e0e-3c8d-4f59-9a51-6f1f0c2b7a10, n: 7}}\n"
    )
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("herald-compat-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// README only; then the catalog with `minimum` 0, 5 (a break, committed
/// anyway) and 3 (compatible with 5, not with 0).
fn repo(name: &str) -> PathBuf {
    let dir = temp_dir(name);
    git(&dir, &["init", "-q"]);
    std::fs::write(dir.join("README"), "test\n").unwrap();
    git(&dir, &["add", "README"]);
    git(&dir, &["commit", "-q", "-m", "readme"]);
    for minimum in [0, 5, 3] {
        std::fs::write(dir.join("events.yaml"), catalog("BACKWARD", minimum)).unwrap();
        git(&dir, &["add", "events.yaml"]);
        git(&dir, &["commit", "-q", "-m", &format!("minimum {minimum}")]);
    }
    dir
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn baseline_modes_and_history() {
    let dir = repo("history");
    // 5 → 3 loosens: compatible with BACKWARD.
    let out = herald(&dir, &["check", "events.yaml", "--baseline", "HEAD~1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("`minimum` changed from 5 to 3 (loosened) — compatible with BACKWARD"), "{}", text(&out));

    // 0 → 5 tightened: the commit that did it fails against its parent.
    std::fs::write(dir.join("events.yaml"), catalog("BACKWARD", 5)).unwrap();
    let out = herald(&dir, &["check", "events.yaml", "--baseline", "HEAD~2"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("events.yaml:10:27: ai.x.y: field `n`: `minimum` changed from 0 to 5 (tightened) — breaks BACKWARD: old events with values outside the new bound are rejected — keep the old bound, or raise `version`"),
        "{}",
        text(&out)
    );

    // BACKWARD_TRANSITIVE: 3 is still tighter than the first version's 0.
    std::fs::write(dir.join("events.yaml"), catalog("BACKWARD_TRANSITIVE", 3)).unwrap();
    let first = git(&dir, &["rev-list", "--max-count=1", "HEAD~2"]);
    let out = herald(&dir, &["check", "events.yaml", "--baseline", "HEAD", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["compatible"], false);
    let broken: Vec<&serde_json::Value> = report["changes"].as_array().unwrap().iter().filter(|c| c["verdict"] == "breaking").collect();
    assert_eq!(broken.len(), 1, "{report:#}");
    assert_eq!(broken[0]["against"], first[..10]);
    assert_eq!(broken[0]["mode"], "BACKWARD_TRANSITIVE");

    // A file as the baseline, and `herald diff` with `REV:path`.
    std::fs::write(dir.join("old.yaml"), catalog("BACKWARD", 0)).unwrap();
    let out = herald(&dir, &["check", "events.yaml", "--baseline", "old.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = herald(&dir, &["diff", "HEAD~2:events.yaml", "HEAD~1:events.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("changed from 0 to 5 (tightened)"), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn could_not_run_exits_2_with_the_reason() {
    let dir = repo("errors");
    let out = herald(&dir, &["check", "events.yaml", "--baseline", "no-such-branch"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("unknown git revision `no-such-branch`"), "{}", text(&out));
    let out = herald(&dir, &["check", "missing.yaml", "--baseline", "HEAD"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("cannot read missing.yaml"), "{}", text(&out));
    let out = herald(&dir, &["diff", "nope.yaml", "events.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("cannot read nope.yaml"), "{}", text(&out));
    // Before the catalog existed: nothing to compare.
    let out = herald(&dir, &["check", "events.yaml", "--baseline", "HEAD~3"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("does not exist at `HEAD~3`"), "{}", text(&out));
    // Outside any repository.
    let plain = temp_dir("plain");
    std::fs::write(plain.join("events.yaml"), catalog("BACKWARD", 0)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_herald"))
        .current_dir(&plain)
        .env("GIT_CEILING_DIRECTORIES", plain.parent().unwrap())
        .args(["check", "events.yaml", "--baseline", "HEAD"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("is not inside a git repository"), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&plain);
}

/// `_TRANSITIVE` follows the catalog across a file rename (`git mv`), says
/// where a removed field was in the old file, and names the bound on the
/// history it reads when the file has more versions than that.
#[test]
fn transitive_history_follows_renames_and_names_its_bound() {
    let dir = temp_dir("renamed");
    git(&dir, &["init", "-q"]);
    std::fs::create_dir_all(dir.join("schema")).unwrap();
    // minimum 0 as schema/catalog.yaml, then 5 (a break), then moved.
    for minimum in [0, 5] {
        std::fs::write(dir.join("schema/catalog.yaml"), catalog("BACKWARD", minimum)).unwrap();
        git(&dir, &["add", "schema/catalog.yaml"]);
        git(&dir, &["commit", "-q", "-m", &format!("minimum {minimum}")]);
    }
    git(&dir, &["mv", "schema/catalog.yaml", "events.yaml"]);
    git(&dir, &["commit", "-q", "-m", "move the catalog"]);
    // Today: 5 → 3 loosens against HEAD, but is tighter than the very
    // first version, made before the rename.
    std::fs::write(dir.join("events.yaml"), catalog("BACKWARD_TRANSITIVE", 3)).unwrap();
    let first = git(&dir, &["rev-list", "--max-count=1", "HEAD~2"]);
    let out = herald(&dir, &["check", "events.yaml", "--baseline", "HEAD"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "events.yaml:10:27: ai.x.y: field `n`: `minimum` changed from 0 to 3 (tightened) — breaks BACKWARD_TRANSITIVE: old events with values outside the new bound are rejected (against {})",
            &first[..10]
        )),
        "{}",
        text(&out)
    );
    // A baseline from before the rename is read under its old name.
    let out = herald(&dir, &["check", "events.yaml", "--baseline", "HEAD~2"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("note: events.yaml was schema/catalog.yaml at `HEAD~2` (renamed since): compared with that"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("`minimum` changed from 0 to 3 (tightened)"), "{}", text(&out));
    // With a bound of one version, the first is not read, and the report
    // says so.
    let out = herald(&dir, &["check", "events.yaml", "--baseline", "HEAD", "--max-history", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("note: `_TRANSITIVE` modes compared against the 1 most recent versions of events.yaml only"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("raise the bound with `--max-history N`"), "{}", text(&out));

    // A field removed since the renamed file's first version: the message
    // says where it was, under the old name.
    let without_n = catalog("BACKWARD_TRANSITIVE", 3).replace("      n?: {type: integer, minimum: 3}\n", "").replace(", n: 7", "");
    std::fs::write(dir.join("events.yaml"), without_n).unwrap();
    let out = herald(&dir, &["check", "events.yaml", "--baseline", "HEAD", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let removed: Vec<&serde_json::Value> =
        report["changes"].as_array().unwrap().iter().filter(|c| c["change"] == "field `n` removed").collect();
    assert_eq!(removed.len(), 1, "{report:#}");
    assert_eq!(removed[0]["line"], 8, "the `fields:` key: {report:#}");
    assert_eq!(removed[0]["was"]["file"], "HEAD:events.yaml", "{report:#}");
    assert_eq!(removed[0]["was"]["line"], 10, "{report:#}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The test catalog with `top` inserted after `prefix:` (envelope rules,
/// a catalog `version:`).
fn enveloped(top: &str) -> String {
    catalog("BACKWARD", 0).replace("prefix: ai\n", &format!("prefix: ai\n{top}"))
}

/// An envelope rule is catalog-wide: newly requiring `time` breaks BACKWARD
/// whatever the types' versions, until the catalog's own `version:` is
/// raised; lowering it again is a break of its own.
#[test]
fn an_envelope_break_passes_only_with_a_raised_catalog_version() {
    let dir = temp_dir("envelope");
    git(&dir, &["init", "-q"]);
    let required = "envelope:\n  required: [time]\n";
    let raised = format!("version: 2\n{required}");
    for (message, text) in
        [("no envelope rules", enveloped("")), ("require time", enveloped(required)), ("raise the catalog version", enveloped(&raised))]
    {
        std::fs::write(dir.join("events.yaml"), text).unwrap();
        git(&dir, &["add", "events.yaml"]);
        git(&dir, &["commit", "-q", "-m", message]);
    }
    // The commit that required `time`, against its parent.
    std::fs::write(dir.join("events.yaml"), enveloped(required)).unwrap();
    let out = herald(&dir, &["check", "events.yaml", "--baseline", "HEAD~2"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("events.yaml:4:3: envelope: `required` now lists `time` — breaks BACKWARD: producers that have not upgraded may send events of any type without `time` (CloudEvents makes it optional), which the new catalog refuses — leave `time` out of `envelope.required` until every producer sends it, or raise the catalog's `version`"),
        "{}",
        text(&out)
    );
    // Today's file (version raised) against the same baseline: allowed.
    std::fs::write(dir.join("events.yaml"), enveloped(&raised)).unwrap();
    let out = herald(&dir, &["check", "events.yaml", "--baseline", "HEAD~2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("events.yaml:5:3: envelope: `required` now lists `time` — allowed because the catalog's `version` was raised from 1 to 2 (it breaks BACKWARD"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("events.yaml:3:1: catalog: the catalog's `version` raised from 1 to 2 — compatible with BACKWARD"),
        "{}",
        text(&out)
    );
    // Against its parent only the raise is new.
    let out = herald(&dir, &["check", "events.yaml", "--baseline", "HEAD~1", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["changes"].as_array().unwrap().len(), 1, "{report:#}");
    // Undoing the raise: a lowered version breaks against HEAD.
    std::fs::write(dir.join("events.yaml"), enveloped(required)).unwrap();
    let out = herald(&dir, &["check", "events.yaml", "--baseline", "HEAD"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(
            "events.yaml: catalog: the catalog's `version` lowered from 2 to 1 (it was at HEAD:events.yaml:3:1) — breaks BACKWARD"
        ),
        "{}",
        text(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
