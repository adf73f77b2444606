//! `herald export` through the real binary: it writes what the library
//! exports, reports a bad catalog as `herald check` does, and its `--help`
//! shows an example per format.

use std::path::{Path, PathBuf};
use std::process::Command;

use herald_codegen::__private::export::{self, Options};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn herald(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_herald")).args(args).current_dir(root()).output().unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("herald-export-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn cli_writes_what_the_library_exports() {
    let dir = temp_dir("cli");
    let catalog = herald_codegen::__private::catalog::load(Path::new(&root().join("examples/events.yaml"))).unwrap();
    for (format, target) in [("typescript", "events.ts"), ("python", "events.py"), ("asyncapi", "asyncapi.yaml")] {
        let out = dir.join(target);
        let run = herald(&["export", format, "examples/events.yaml", "-o", out.to_str().unwrap()]);
        assert!(run.status.success(), "{format}: {}", String::from_utf8_lossy(&run.stderr));
        let written = std::fs::read_to_string(&out).unwrap();
        let options = Options { source_name: Some("events.yaml".into()), ..Options::default() };
        let expected = match format {
            "typescript" => export::typescript::export(&catalog, &options),
            "python" => export::python::export(&catalog, &options),
            _ => export::asyncapi::export(&catalog, &options),
        };
        assert_eq!(written, expected, "{format}");
        // Standard output when there is no `-o`.
        let stdout = herald(&["export", format, "examples/events.yaml"]);
        assert_eq!(String::from_utf8_lossy(&stdout.stdout), expected, "{format} to stdout");
    }
    let schemas = dir.join("schemas");
    let run =
        herald(&["export", "jsonschema", "examples/events.yaml", "-o", schemas.to_str().unwrap(), "--base-uri", "https://example.com/s"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let mut names: Vec<String> =
        std::fs::read_dir(&schemas).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "index.json",
            "shop.order.placed.envelope.json",
            "shop.order.placed.json",
            "shop.order.shipped.envelope.json",
            "shop.order.shipped.json"
        ]
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(schemas.join("shop.order.placed.json")).unwrap()).unwrap();
    assert_eq!(doc["$id"], "https://example.com/s/shop.order.placed.json");

    // The catalog's `base_uri:` is the default; `--base-uri` overrides it.
    for (flag, base) in [(None, "https://schemas.example.com/kit/"), (Some("https://example.com/o/"), "https://example.com/o/")] {
        let out = dir.join(format!("kit-{}", flag.is_some()));
        let mut args = vec!["export", "jsonschema", "tests/catalogs/constructs.yaml", "-o", out.to_str().unwrap()];
        args.extend(flag.map(|f| ["--base-uri", f]).into_iter().flatten());
        let run = herald(&args);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(out.join("kit.shape.formats.envelope.json")).unwrap()).unwrap();
        assert_eq!(doc["$id"], format!("{base}kit.shape.formats.envelope.json"));
        assert_eq!(doc["properties"]["data"]["$ref"], format!("{base}kit.shape.formats.json"));
    }

    // A directory format needs `-o`.
    let run = herald(&["export", "jsonschema", "examples/events.yaml"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("-o DIR"));
}

#[test]
fn cli_reports_a_bad_catalog_like_check() {
    let dir = temp_dir("bad");
    let path = dir.join("events.yaml");
    std::fs::write(
        &path,
        "prefix: ai\nevents:\n  ai.Bad.started:\n    description: x\n    version: 1\n    fields: {run_id: uuidd}\n    examples: [{run_id: x}]\n",
    )
    .unwrap();
    let check = herald(&["check", path.to_str().unwrap()]);
    let out = dir.join("events.ts");
    let export = herald(&["export", "typescript", path.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(export.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&export.stderr), String::from_utf8_lossy(&check.stderr));
    assert!(String::from_utf8_lossy(&export.stderr).contains(&format!("{}:3:3:", path.display())));
    assert!(!out.exists(), "nothing is written for a bad catalog");
}

#[test]
fn help_names_every_format_with_an_example() {
    let run = herald(&["export", "--help"]);
    let help = String::from_utf8_lossy(&run.stdout);
    for format in ["jsonschema", "typescript", "python", "asyncapi"] {
        assert!(help.contains(&format!("herald export {format} events.yaml -o")), "{help}");
    }
    let top = herald(&["--help"]);
    assert!(String::from_utf8_lossy(&top.stdout).contains("export"), "herald --help lists export");
}
