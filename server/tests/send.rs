//! `herald send` (the CLI of herald-codegen) against a real herald-server
//! process on a temporary data dir: applied, a duplicate on resending the
//! same id, 422 for data the schema refuses, and a server that is gone.

#[macro_use]
mod support;

use clap::Parser;
use herald_codegen::cli::{Cli, run};
use support::{Server, run_id};

fn catalog() -> String {
    format!("{}/../events.yaml", env!("CARGO_MANIFEST_DIR"))
}

/// Run `herald ARGS…` in-process; exit code, stdout, stderr.
fn herald(args: &[&str]) -> (i32, String, String) {
    let cli = Cli::try_parse_from(std::iter::once("herald").chain(args.iter().copied()))
        .expect("valid arguments");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run(cli, &mut out, &mut err);
    (
        code,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

#[test]
fn send_is_applied_then_a_duplicate_and_bad_data_is_422() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let catalog = catalog();
    let run = run_id();
    let id = format!("send-test-{run}");
    let base = [
        "send",
        "ai.myfeature.started",
        "--catalog",
        &catalog,
        "--url",
        &server.base,
        "--run",
        &run,
        "--id",
        &id,
    ];

    let (code, out, err) = herald(&base);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("200 OK"), "{out}");
    assert!(out.contains("\"status\": \"applied\""), "{out}");
    assert!(out.contains(&format!("\"run_id\": \"{run}\"")), "{out}");

    let (code, out, err) = herald(&base);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"status\": \"duplicate\""), "{out}");

    // Binary mode, a fresh id, with `seq`.
    let (code, out, err) = herald(&[
        "send",
        "ai.run.progress",
        "--catalog",
        &catalog,
        "--url",
        &server.base,
        "--run",
        &run,
        "--mode",
        "binary",
        "--seq",
        "1",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"status\": \"applied\""), "{out}");

    // Refused locally first; with --no-validate the server says 422.
    let bad = [
        "send",
        "ai.run.progress",
        "--catalog",
        &catalog,
        "--url",
        &server.base,
        "--run",
        &run,
        "--set",
        "progress=2",
    ];
    let (code, out, err) = herald(&bad);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("data/progress: 2 is greater than the maximum of 1"),
        "{err}"
    );
    assert!(err.contains("nothing was sent"), "{err}");
    let mut forced = bad.to_vec();
    forced.push("--no-validate");
    let (code, out, err) = herald(&forced);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("422 Unprocessable Entity"), "{out}");
    assert!(
        out.contains("application/problem+json") || out.contains("urn:herald:problem:"),
        "{out}"
    );
    assert!(err.contains("error: the server answered 422"), "{err}");
    assert!(err.contains("/data/progress"), "{err}");

    // The server is gone: exit 2, and what to do.
    let url = server.base.clone();
    server.kill();
    let (code, _, err) = herald(&[
        "send",
        "ai.run.progress",
        "--catalog",
        &catalog,
        "--url",
        &url,
        "--timeout",
        "2",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot connect to"), "{err}");
}
