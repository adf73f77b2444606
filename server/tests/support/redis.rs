//! A private `redis-server` for tests that stop, hang or kill it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A private `redis-server` on a free port; killed on drop.
pub struct RedisProcess {
    child: Child,
    /// `redis://` URL to reach it (with its password, if it has one).
    pub url: String,
}

impl RedisProcess {
    /// A Redis without a password.
    pub fn start() -> RedisProcess {
        RedisProcess::start_with_password(None)
    }

    /// A Redis that requires `password` (`requirepass`) when one is given.
    pub fn start_with_password(password: Option<&str>) -> RedisProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut args = vec!["--bind".to_owned(), "127.0.0.1".into(), "--port".into(), port.to_string()];
        args.extend(["--save", "", "--appendonly", "no"].map(String::from));
        if let Some(p) = password {
            args.extend(["--requirepass".to_owned(), p.to_owned()]);
        }
        let child = Command::new("redis-server")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("redis-server on PATH (scripts/test.sh installs it)");
        let start = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(10), "redis-server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        let auth = password.map(|p| format!(":{p}@")).unwrap_or_default();
        RedisProcess { child, url: format!("redis://{auth}127.0.0.1:{port}") }
    }

    /// `SIGSTOP` / `SIGCONT`: a Redis that hangs instead of refusing.
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill").args([signal, &self.child.id().to_string()]).status().expect("kill").success();
        assert!(ok, "kill {signal}");
    }

    /// Stop it for good (a crash: `SIGKILL`).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
