//! `herald send` (herald-cli) against a real herald-server
//! process on a temporary data dir: applied, a duplicate on resending the
//! same id, 422 for data the schema refuses, a server that is gone, and
//! https to a server with TLS (the checked-in test CA).

#[macro_use]
mod support;

use clap::Parser;
use herald_cli::{Cli, run};
use support::{Server, run_id};

/// Run `herald send --catalog events.yaml --url URL ARGS…` in-process;
/// exit code, stdout, stderr.
fn send(url: &str, args: &[&str]) -> (i32, String, String) {
    let catalog = format!("{}/../events.yaml", env!("CARGO_MANIFEST_DIR"));
    let argv = ["herald", "send", "--catalog", &catalog, "--url", url];
    let cli = Cli::try_parse_from(argv.iter().chain(args)).expect("valid arguments");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run(cli, &mut out, &mut err);
    (code, String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned())
}

#[test]
fn send_is_applied_then_a_duplicate_and_bad_data_is_422() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let url = server.base.clone();
    let run = run_id();
    let id = format!("send-test-{run}");
    let started = ["ai.myfeature.started", "--run", &run, "--id", &id];

    let (code, out, err) = send(&url, &started);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("200 OK"), "{out}");
    assert!(out.contains("\"status\": \"applied\""), "{out}");
    assert!(out.contains(&format!("\"run_id\": \"{run}\"")), "{out}");

    let (code, out, err) = send(&url, &started);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"status\": \"duplicate\""), "{out}");

    // Binary mode, a fresh id, with `seq`.
    let (code, out, err) = send(&url, &["ai.run.progress", "--run", &run, "--mode", "binary", "--seq", "1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"status\": \"applied\""), "{out}");

    // Refused locally first; with --no-validate the server says 422.
    let bad = ["ai.run.progress", "--run", &run, "--set", "progress=2"];
    let (code, out, err) = send(&url, &bad);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("/data/progress: 2 is greater than the maximum of 1"), "{err}");
    assert!(err.contains("nothing was sent"), "{err}");
    let (code, out, err) = send(&url, &[&bad[..], &["--no-validate"]].concat());
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("422 Unprocessable Entity"), "{out}");
    assert!(out.contains("urn:herald:problem:"), "{out}");
    assert!(err.contains("error: the server answered 422"), "{err}");
    assert!(err.contains("/data/progress"), "{err}");

    // The server is gone: exit 2, and what to do.
    server.kill();
    let (code, _, err) = send(&url, &["ai.run.progress", "--timeout", "2"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot connect to"), "{err}");
    assert!(err.contains("is herald-server running there?"), "{err}");
}

#[test]
fn send_over_https_trusting_the_test_ca() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = |name: &str| format!("{}/tests/fixtures/tls/{name}", env!("CARGO_MANIFEST_DIR"));
    let server = Server::start(dir.path(), &["--tls-cert", &fixture("server.pem"), "--tls-key", &fixture("server.key")]);
    assert!(server.base.starts_with("https://127.0.0.1:"), "{}", server.base);
    let run = run_id();
    let started = ["ai.myfeature.started", "--run", &run, "--cacert", &fixture("ca.pem")];
    let (code, out, err) = send(&server.base, &started);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with(&format!("POST {}/api/ingest/event", server.base)), "{out}");
    assert!(out.contains("\"status\": \"applied\""), "{out}");
    // Without the CA the certificate is not trusted: nothing is sent.
    let (code, out, err) = send(&server.base, &started[..3]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("UnknownIssuer") && err.contains("--cacert FILE"), "{err}");
}
