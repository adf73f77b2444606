//! A real `herald-server` process on an ephemeral port, and helpers to
//! build events for it.
//!
//! Backends: every behavioural test runs against SQLite, MongoDB and
//! MongoDB + Redis ([`conformance!`]). The MongoDB cases need
//! `MONGODB_URI` (and `REDIS_URL` for Redis); `scripts/test.sh` starts
//! both servers and sets them. Without them those cases fail, loudly: a
//! skipped backend would look like a passing one.

#![allow(dead_code)] // Each test binary uses a different subset.

pub mod redis;
pub mod webdriver;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use herald_server::events::Catalog;
use herald_server::orchestrator::Orchestrator;
use herald_server::store::memory::MemoryStore;

use serde_json::{Value, json};

/// A storage backend configuration of the server under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The in-memory reference store, served in-process.
    Memory,
    Sqlite,
    Mongo,
    MongoRedis,
}

/// Generate, for each named `async fn name(b: Backend)`, one `#[tokio::test]`
/// per backend: `memory::name`, `sqlite::name`, `mongodb::name`,
/// `mongodb_redis::name`.
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $( #[tokio::test] async fn $name() { super::$name($crate::support::Backend::Memory).await } )*
        }
        mod sqlite {
            $( #[tokio::test] async fn $name() { super::$name($crate::support::Backend::Sqlite).await } )*
        }
        mod mongodb {
            $( #[tokio::test] async fn $name() { super::$name($crate::support::Backend::Mongo).await } )*
        }
        mod mongodb_redis {
            $( #[tokio::test] async fn $name() { super::$name($crate::support::Backend::MongoRedis).await } )*
        }
    };
}

fn required_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: the MongoDB/Redis conformance cases need real servers. \
             Run the suite with `bash scripts/test.sh` (it starts MongoDB and Redis and sets \
             MONGODB_URI/REDIS_URL), or point {name} at your own server."
        ),
    }
}

/// `MONGODB_URI`, or a panic saying how to get one.
pub fn mongodb_uri() -> String {
    required_env("MONGODB_URI")
}

/// `REDIS_URL`, or a panic saying how to get one.
pub fn redis_url() -> String {
    required_env("REDIS_URL")
}

/// A fresh database name, unique per test (and per run of the suite).
pub fn unique_db() -> String {
    format!("herald_test_{}", run_id().replace('-', "")[..20].to_owned())
}

/// One store under test: a data directory, and for MongoDB a database of
/// its own. Starting several servers from one `Env` gives them the same
/// store (restart, several processes).
pub struct Env {
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pub db: String,
    pub mongodb_uri: Option<String>,
    pub redis_url: Option<String>,
    /// The in-memory store, shared by every server this `Env` starts.
    pub memory: Option<Arc<MemoryStore>>,
}

impl Env {
    pub fn new(backend: Backend) -> Env {
        let (mongodb_uri, redis_url) = match backend {
            Backend::Memory | Backend::Sqlite => (None, None),
            Backend::Mongo => (Some(mongodb_uri()), None),
            Backend::MongoRedis => (Some(mongodb_uri()), Some(redis_url())),
        };
        let memory = (backend == Backend::Memory).then(|| Arc::new(MemoryStore::new(herald_server::orchestrator::rules())));
        Env { backend, dir: tempfile::tempdir().unwrap(), db: unique_db(), mongodb_uri, redis_url, memory }
    }

    /// A store in the MongoDB at `uri` (a private server the test
    /// controls), without Redis.
    pub fn mongodb_at(uri: String) -> Env {
        Env {
            backend: Backend::Mongo,
            dir: tempfile::tempdir().unwrap(),
            db: unique_db(),
            mongodb_uri: Some(uri),
            redis_url: None,
            memory: None,
        }
    }

    /// The flags selecting this store.
    pub fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(uri) = &self.mongodb_uri {
            args.extend(["--store".into(), "mongodb".into(), "--mongodb-uri".into(), uri.clone()]);
            args.extend(["--mongodb-db".into(), self.db.clone()]);
        }
        if let Some(url) = &self.redis_url {
            args.extend(["--redis-url".into(), url.clone()]);
        }
        // MongoDB alone uses transactions where offered (the test server
        // offers them); MongoDB + Redis runs the same suite on the
        // compare-and-set protocol without them, so both paths are tested.
        if self.backend == Backend::MongoRedis {
            args.extend(["--mongodb-transactions".into(), "off".into()]);
        }
        args
    }

    /// Start a server on this store with extra flags.
    pub fn start(&self, extra: &[&str]) -> Server {
        self.start_with_env(extra, &[])
    }

    /// [`Env::start`] with extra environment variables.
    pub fn start_with_env(&self, extra: &[&str], envs: &[(&str, &str)]) -> Server {
        if envs.iter().any(|(k, _)| *k == "HERALD_FAILPOINT") {
            // Constant per build, on purpose: only tests that inject a
            // crash need the feature, and they say how to get it.
            let failpoints = cfg!(feature = "failpoints");
            assert!(
                failpoints,
                "this test injects a crash (HERALD_FAILPOINT), which only a build with the `failpoints` feature obeys: \
                 run `bash scripts/test.sh`, or `cargo test -p herald-server --features failpoints`"
            );
        }
        let mut args = self.args();
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match &self.memory {
            Some(store) => Server::in_process(store.clone(), self.dir.path(), &args),
            None => Server::start_with_env(self.dir.path(), &args, envs),
        }
    }
}

/// How a server under test runs.
enum Proc {
    /// The `herald-server` binary.
    Child(Child),
    /// `herald_server::Server::serve_until` on a thread of this process.
    InProcess { stop: Option<tokio::sync::oneshot::Sender<()>>, thread: Option<std::thread::JoinHandle<()>> },
}

impl Proc {
    /// Stop it (gracefully when in-process) and wait.
    fn stop(&mut self) {
        match self {
            Proc::Child(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Proc::InProcess { stop, thread } => {
                if let Some(stop) = stop.take() {
                    let _ = stop.send(());
                }
                if let Some(thread) = thread.take() {
                    let _ = thread.join();
                }
            }
        }
    }

    fn child(&mut self) -> &mut Child {
        match self {
            Proc::Child(child) => child,
            Proc::InProcess { .. } => panic!("an in-process server has no process"),
        }
    }
}

/// A running server; stopped on drop.
pub struct Server {
    proc: Proc,
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
        Server::start_with_env(data_dir, args, &[])
    }

    /// [`Server::start`] with extra environment variables.
    pub fn start_with_env(data_dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_herald-server"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env("RUST_LOG", "warn")
            .envs(envs.iter().copied())
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
        let base =
            line.trim().strip_prefix("herald-server listening on ").unwrap_or_else(|| panic!("unexpected first line: {line:?}")).to_owned();
        Server { proc: Proc::Child(child), base, data_dir: data_dir.to_owned(), client: reqwest::Client::new() }
    }

    /// Serve `store` in-process, with the same flags as the binary.
    pub fn in_process(store: Arc<MemoryStore>, data_dir: &Path, args: &[&str]) -> Server {
        let mut argv = vec!["herald-server", "--listen", "127.0.0.1:0"];
        argv.extend_from_slice(args);
        let config = herald_server::config::Config::try_parse_from(argv).expect("valid flags");
        store.reopen();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
                addr_tx.send(listener.local_addr().expect("address")).expect("report the address");
                let served = herald_server::Server::new(Catalog, Orchestrator).config(config).shared_store(store);
                if let Err(e) = served
                    .serve_until(listener, async {
                        let _ = stopped.await;
                    })
                    .await
                {
                    eprintln!("the in-process server did not serve: {e}");
                }
            });
        });
        let addr = addr_rx.recv().expect("the in-process server's address");
        let proc = Proc::InProcess { stop: Some(stop), thread: Some(thread) };
        Server { proc, base: format!("http://{addr}"), data_dir: data_dir.to_owned(), client: reqwest::Client::new() }
    }

    /// The process id of a server started as the binary (`None` in-process).
    pub fn pid(&self) -> Option<u32> {
        match &self.proc {
            Proc::Child(child) => Some(child.id()),
            Proc::InProcess { .. } => None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POST `body` with `content_type`; returns status and JSON body.
    pub async fn post(&self, content_type: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let resp =
            self.client.post(self.url("/api/ingest/event")).header("content-type", content_type).body(body).send().await.expect("request");
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

    /// SIGKILL and wait: a crash.
    pub fn kill(mut self) {
        self.proc.stop();
    }

    /// Wait for the process to exit by itself (e.g. a failpoint abort).
    pub fn wait_exit(mut self, limit: Duration) -> std::process::ExitStatus {
        wait_timeout(self.proc.child(), limit).expect("server did not exit")
    }

    /// SIGTERM and wait: the graceful path.
    pub fn terminate(mut self) {
        let Proc::Child(child) = &mut self.proc else {
            self.proc.stop();
            return;
        };
        let pid = child.id().to_string();
        let ok = Command::new("kill").args(["-TERM", &pid]).status().expect("kill -TERM").success();
        assert!(ok, "kill -TERM failed");
        let status = wait_timeout(child, Duration::from_secs(20)).expect("server did not exit after SIGTERM");
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
        self.proc.stop();
    }
}

/// Serve `store` through the library's router (no auth, no connection
/// limits) on an ephemeral port of this process, for tests that reach into
/// the store while the server runs (close it, fill its disk). Returns
/// `http://127.0.0.1:PORT`.
pub async fn serve_sqlite_in_process(store: Arc<herald_server::store::sqlite::SqliteStore>) -> String {
    let config = herald_server::config::Config::try_parse_from(["herald-server", "--body-limit", "1048576", "--max-batch-events", "1000"])
        .expect("valid flags");
    let app = herald_server::http::App::new(store, Orchestrator, &config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, herald_server::http::router(app)).await });
    format!("http://{addr}")
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

/// The `subject` events.yaml asks for: `run/{run_id}` filled from `data`.
pub fn subject_of(data: &Value) -> String {
    format!("run/{}", data.get("run_id").and_then(Value::as_str).unwrap_or("-"))
}

/// A structured event of `ty` with `data`, and optionally `seq`, with the
/// attributes events.yaml requires (`subject` from the data, `time`,
/// `datacontenttype`).
pub fn event(id: &str, ty: &str, data: Value, seq: Option<i64>) -> Value {
    let mut e = json!({
        "specversion": "1.0",
        "id": id,
        "source": "/tests/worker",
        "type": ty,
        "subject": subject_of(&data),
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
