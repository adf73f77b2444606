//! Compile-time guarantees, proven by trybuild: a handler that misses an
//! event type, or handles one the catalog does not have, does not compile.
//!
//! Re-bless with `TRYBUILD=overwrite cargo test -p herald-tests --test ui`
//! and read the `git diff` of the `.stderr` files.

#[test]
fn ui() {
    stage_macro_fixtures();
    let t = trybuild::TestCases::new();
    t.pass("pass/*.rs");
    t.compile_fail("ui/**/*.rs");
}

/// `include_events!` resolves paths against `CARGO_MANIFEST_DIR`, which for
/// a trybuild case is trybuild's generated project under the target dir,
/// not this crate. Copy the YAML fixtures of `ui/macros/fixtures/` there,
/// as `ui-fixtures/`, so cases can name them by a stable relative path.
fn stage_macro_fixtures() {
    // This test binary is `<target>/<profile>/deps/ui-<hash>`.
    let exe = std::env::current_exe().expect("test binary path");
    let target = exe.ancestors().nth(3).expect("test binary lives under the target dir");
    let project = target.join("tests/trybuild/herald-tests/ui-fixtures");
    std::fs::create_dir_all(&project).expect("create trybuild fixture dir");
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/macros/fixtures");
    for entry in std::fs::read_dir(&fixtures).expect("ui/macros/fixtures exists") {
        let path = entry.expect("fixture entry").path();
        let name = path.file_name().expect("fixture file name");
        std::fs::copy(&path, project.join(name)).expect("copy fixture");
    }
}
