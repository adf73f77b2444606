//! The README's "Serve your own catalog" shows this crate's `src/main.rs`
//! as it is.

#[test]
fn the_readme_shows_main_rs_verbatim() {
    let readme = include_str!("../../../README.md");
    let start = readme.find("## Serve your own catalog").expect("the README has the section");
    let rest = &readme[start..];
    let section = &rest[..rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3)];
    assert!(
        section.contains(include_str!("../src/main.rs")),
        "the README's \"Serve your own catalog\" must show src/main.rs exactly as it is"
    );
}
