//! A real `herald-server` process on an ephemeral port, and helpers to
//! build events for it.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// A running server; killed on drop.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    pub client: reqwest::Client,
}

impl Server {
    /// Start the binary on port 0 with `data_dir` and extra flags, and wait
    /// for it to print its address.
    pub fn start(data_dir: &Path, args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_herald-server"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn herald-server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        let mut reader = BufReader::new(stdout);
        reader.read_line(&mut line).expect("read the listen line");
        // Keep draining stdout so the server never writes into a full pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let base = line
            .trim()
            .strip_prefix("herald-server listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        Server { child, base, data_dir: data_dir.to_owned(), client: reqwest::Client::new() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POST `body` with `content_type`; returns status and JSON body.
    pub async fn post(&self, content_type: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let resp = self
            .client
            .post(self.url("/api/ingest/event"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// POST one structured event as `application/cloudevents+json`.
    pub async fn send(&self, event: &Value) -> (u16, Value) {
        self.post("application/cloudevents+json", event.to_string()).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self.client.get(self.url(path)).send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// SIGTERM and wait: the graceful path.
    pub fn terminate(mut self) {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill").args(["-TERM", &pid]).status().expect("kill -TERM").success();
        assert!(ok, "kill -TERM failed");
        let status = wait_timeout(&mut self.child, Duration::from_secs(20)).expect("server did not exit after SIGTERM");
        assert!(status.success(), "graceful shutdown exit status: {status}");
    }
}

fn wait_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh random-looking run id (uuid v4 shape) per test.
pub fn run_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let x = t ^ (n.wrapping_mul(0x9E37_79B9_7F4A_7C15)) ^ u64::from(std::process::id());
    format!("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", x >> 32, (x >> 16) & 0xffff, x & 0xfff, n & 0xfff, x & 0xffff_ffff_ffff)
}

/// A structured event of `ty` with `data`, and optionally `seq`.
pub fn event(id: &str, ty: &str, data: Value, seq: Option<i64>) -> Value {
    let mut e = json!({
        "specversion": "1.0",
        "id": id,
        "source": "/tests/worker",
        "type": ty,
        "time": "2024-05-01T12:00:00Z",
        "datacontenttype": "application/json",
        "data": data,
    });
    if let Some(s) = seq {
        e["seq"] = json!(s);
    }
    e
}

pub fn progress(run: &str, id: &str, seq: i64, p: f64) -> Value {
    event(id, "ai.run.progress", json!({"run_id": run, "progress": p, "current_step": format!("step-{seq}")}), Some(seq))
}
