//! Compile-time guarantees, proven by trybuild: a handler that misses an
//! event type, or handles one the catalog does not have, does not compile.
//!
//! Re-bless with `TRYBUILD=overwrite cargo test -p herald-tests --test ui`
//! and read the `git diff` of the `.stderr` files.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("pass/*.rs");
    t.compile_fail("ui/**/*.rs");
}
