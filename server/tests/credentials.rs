//! Passwords in `--mongodb-uri` and `--redis-url` never reach the log, a
//! start-up error or `/readyz`, even at debug level: the servers they name
//! are down here, so every error path that quotes a URL or a driver's
//! message runs.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "hunter2-s3cret";

/// A 127.0.0.1 port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn server(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_herald-server"));
    c.args(["--listen", "127.0.0.1:0"]).args(args).env("RUST_LOG", "debug").stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

#[test]
fn a_mongodb_password_is_in_no_start_up_error_or_log_line() {
    let uri = format!("mongodb://admin:{PASSWORD}@127.0.0.1:{}/?serverSelectionTimeoutMS=300&connectTimeoutMS=300", closed_port());
    let mut child = server(&["--store", "mongodb", "--mongodb-uri", &uri]).spawn().expect("spawn herald-server");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "herald-server kept running without its MongoDB");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(!status.success(), "{out}");
    assert!(out.contains("admin:***@"), "the error names the server, password masked: {out}");
    assert!(!out.contains(PASSWORD), "the password was printed: {out}");
}

#[tokio::test]
async fn a_redis_password_is_in_no_log_line_or_readyz_answer() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("redis://:{PASSWORD}@127.0.0.1:{}", closed_port());
    let mut child = server(&["--data-dir", dir.path().to_str().unwrap(), "--redis-url", &url]).spawn().expect("spawn herald-server");
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    let base = line.trim().strip_prefix("herald-server listening on ").unwrap_or_else(|| panic!("{line}")).to_owned();
    let stderr = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::BufReader::new(stderr).read_to_string(&mut text);
        text
    });
    // Requests while Redis is down, and the background reconnects.
    let client = reqwest::Client::new();
    let mut answers = String::new();
    for _ in 0..3 {
        answers += &client.get(format!("{base}/readyz")).send().await.unwrap().text().await.unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut rest = String::new();
    let _ = stdout.read_to_string(&mut rest);
    let log = log.join().unwrap() + &line + &rest;
    assert!(log.contains("Redis dedup unavailable"), "the outage is logged: {log}");
    assert!(log.contains(":***@127.0.0.1"), "the URL is shown masked: {log}");
    for (what, text) in [("log", &log), ("/readyz", &answers)] {
        assert!(!text.contains(PASSWORD), "the password in the {what}: {text}");
    }
}
