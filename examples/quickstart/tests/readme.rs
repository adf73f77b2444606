//! The README's "Using it in your crate" is this crate: it shows each of
//! its files verbatim, and the program does what the README says.

use std::process::Command;

/// The README section, from its heading to the next one.
fn section() -> &'static str {
    let readme = include_str!("../../../README.md");
    let start = readme
        .find("## Using it in your crate")
        .expect("the README has the section");
    let rest = &readme[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

#[test]
fn the_readme_shows_every_file_of_this_crate() {
    let section = section();
    for (file, text) in [
        ("Cargo.toml", include_str!("../Cargo.toml")),
        ("events.yaml", include_str!("../events.yaml")),
        ("build.rs", include_str!("../build.rs")),
        ("src/main.rs", include_str!("../src/main.rs")),
    ] {
        assert!(
            section.contains(text),
            "the README's \"Using it in your crate\" must show {file} exactly as it is:\n{text}"
        );
    }
}

#[test]
fn the_program_prints_what_the_readme_says() {
    let out = Command::new(env!("CARGO_BIN_EXE_herald-quickstart"))
        .output()
        .expect("run the program");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(printed, "/worker started `search` in run d4a4b7db-8a88-45c1-84bf-a633dab24a25\n");
    assert!(section().contains(printed.trim_end()), "the README shows the output: {printed}");
}
