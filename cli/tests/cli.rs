//! The `herald` CLI: `check` and `generate`, through the real binary.

use std::path::PathBuf;
use std::process::Command;

fn herald() -> Command {
    Command::new(env!("CARGO_BIN_EXE_herald"))
}

fn workspace_catalog() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events.yaml")
}

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("herald-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn check_accepts_the_project_catalog() {
    let out = herald().arg("check").arg(workspace_catalog()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let types = herald_codegen::__private::catalog::load(&workspace_catalog()).unwrap().events.len();
    assert!(stdout.contains(&format!("ok, {types} event types")), "{stdout}");
}

#[test]
fn check_reports_every_problem_with_location_and_exits_1() {
    let path = temp_file(
        "events.yaml",
        "prefix: ai\nevents:\n  ai.Bad.started:\n    description: x\n    version: 1\n    fields: {run_id: uuidd}\n    examples: [{run_id: x}]\n",
    );
    let out = herald().arg("check").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // One line per problem, each `file:line:col: message`.
    assert!(stderr.contains(&format!("{}:3:3:", path.display())), "{stderr}");
    assert!(stderr.contains("uuidd"), "{stderr}");
    assert!(stderr.contains("did you mean `uuid`"), "{stderr}");
}

/// `$defs` conflicts used to pass `check` and fail only the build.
#[test]
fn check_reports_conflicting_defs_where_they_are_declared() {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../codegen/tests/catalogs/conflicting_defs.yaml");
    let out = herald().arg("check").arg(&fixture).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Both places: the second declaration leads, the first is named.
    let second = format!("{}:28:9: `$defs/Window` of `ai.run.resumed` differs", fixture.display());
    let first = format!("of `ai.run.paused` (declared at {}:15:9)", fixture.display());
    assert!(stderr.contains(&second) && stderr.contains(&first), "{stderr}");
}

/// `check` takes the build's path: an example the generated code would
/// refuse (here because of a `default`, see the fixture) fails it, as it
/// fails the build, though it matches its schema.
#[test]
fn check_reports_an_example_the_generated_code_refuses() {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../codegen/tests/catalogs/refused_example.yaml");
    let out = herald().arg("check").arg(&fixture).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!("{}:7:3: example 1 of `ai.job.queued` is refused by the generated code", fixture.display());
    assert!(stderr.contains(&expected), "{stderr}");
}

/// The same inside a tagged union: `check` reads an example through the
/// branch its tag names, as the generated enum does; a catalog of sound
/// unions passes.
#[test]
fn check_reads_union_examples_as_the_generated_code_does() {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../codegen/tests/catalogs/refused_union_example.yaml");
    let out = herald().arg("check").arg(&fixture).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!(
        "{}:8:3: example 2 of `ai.job.queued` is refused by the generated code at `/target/options`: {{\"retries\":3,\"tags\":[\"a\"]}} has more than 1 property (`/target/options/retries` is absent, and the generated type holds its default `3` there)",
        fixture.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");

    let sound = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/catalogs/unions.yaml");
    let out = herald().arg("check").arg(&sound).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn check_of_a_missing_file_says_so() {
    let out = herald().arg("check").arg("/nonexistent/events.yaml").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/events.yaml"));
}

#[test]
fn generate_writes_identical_bytes_twice() {
    let dir = std::env::temp_dir().join(format!("herald-gen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.rs"), dir.join("b.rs"));
    for out in [&a, &b] {
        let status = herald().arg("generate").arg(workspace_catalog()).arg("-o").arg(out).status().unwrap();
        assert!(status.success());
    }
    let (a, b) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    assert_eq!(a, b, "generation must be deterministic");
    let text = String::from_utf8(a).unwrap();
    assert!(text.starts_with("// @generated by herald-codegen from "));
    assert!(text.contains("pub trait Handler"));
    assert!(text.contains("fn on_myfeature_started("));
}

/// `--out-dir` writes what a build script writes: a root file including
/// one file per domain module, each rewritten only when its text changes
/// (so an edit recompiles only its module), and no file of a module that
/// is gone.
#[test]
fn generate_out_dir_writes_a_module_per_domain_and_only_what_changed() {
    let dir = std::env::temp_dir().join(format!("herald-split-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("events")).unwrap();
    std::fs::write(dir.join("events/gone.rs"), "// a domain no longer in the catalog\n").unwrap();
    let generate = || {
        let out = herald().arg("generate").arg(workspace_catalog()).arg("--out-dir").arg(&dir).output().unwrap();
        assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    };
    generate();
    let root = std::fs::read_to_string(dir.join("events.rs")).unwrap();
    assert!(root.contains("mod run {\n    include!(\"events/run.rs\");\n}"), "{root}");
    assert!(root.contains("pub use self::run::*;"), "{root}");
    assert!(root.contains("pub trait Handler"), "{root}");
    let run = std::fs::read_to_string(dir.join("events/run.rs")).unwrap();
    assert!(run.starts_with("// @generated by herald-codegen from events.yaml"), "{run}");
    assert!(run.contains("pub struct RunStarted {"), "{run}");
    assert!(!dir.join("events/gone.rs").exists(), "a stale module file is removed");

    let modified = |name: &str| std::fs::metadata(dir.join(name)).unwrap().modified().unwrap();
    let before = (modified("events.rs"), modified("events/run.rs"));
    std::thread::sleep(std::time::Duration::from_millis(20));
    generate();
    assert_eq!((modified("events.rs"), modified("events/run.rs")), before, "unchanged files are not rewritten");
}

#[test]
fn check_against_detects_stale_generated_code() {
    let stale = temp_file("stale.rs", "// old\n");
    let out = herald().arg("check").arg(workspace_catalog()).arg("--against").arg(&stale).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("out of date"));

    let fresh = stale.with_file_name("fresh.rs");
    assert!(herald().arg("generate").arg(workspace_catalog()).arg("-o").arg(&fresh).status().unwrap().success());
    let out = herald().arg("check").arg(workspace_catalog()).arg("--against").arg(&fresh).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn help_lists_the_commands() {
    let out = herald().arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("check") && text.contains("generate"), "{text}");
}
