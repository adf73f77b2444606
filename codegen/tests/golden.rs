//! Golden snapshot of the code generated from the project's `events.yaml`.
//!
//! A change to codegen shows up as a diff of `tests/golden/events.rs`: on
//! mismatch this test rewrites the snapshot (as prost-build's fixtures do)
//! and fails, so `git diff` shows exactly what changed. Commit the new
//! snapshot when the change is intended. `HERALD_BLESS=1` rewrites without
//! failing: `HERALD_BLESS=1 TRYBUILD=overwrite cargo test -p herald-codegen -p
//! herald-tests` regenerates every snapshot in one go (README, "Tests").

use std::path::PathBuf;

#[test]
fn project_catalog_snapshot() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let generated =
        herald_codegen::generate_file(&root.join("../events.yaml")).unwrap_or_else(|e| panic!("events.yaml must compile:\n{e}"));
    // The snapshot must not depend on where the workspace lives.
    let generated = generated.replace(&root.join("../events.yaml").display().to_string(), "events.yaml");
    let snapshot = root.join("tests/golden/events.rs");
    let existing = std::fs::read_to_string(&snapshot).unwrap_or_default();
    if existing != generated {
        std::fs::create_dir_all(snapshot.parent().unwrap()).unwrap();
        std::fs::write(&snapshot, &generated).unwrap();
        assert!(blessing(), "generated code changed; the snapshot was updated — review `git diff {}`", snapshot.display());
    }
}

/// Whether snapshots are being regenerated on purpose (`HERALD_BLESS=1`):
/// then a rewritten snapshot is not a failure.
fn blessing() -> bool {
    std::env::var_os("HERALD_BLESS").is_some_and(|v| v == "1")
}

#[test]
fn generation_is_deterministic() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let a = herald_codegen::generate_file(&root.join("../events.yaml")).unwrap();
    let b = herald_codegen::generate_file(&root.join("../events.yaml")).unwrap();
    assert_eq!(a, b);
}
