//! Just enough of the W3C WebDriver protocol to drive Debian's `chromium`
//! through `chromedriver`: a session, navigation, running a script,
//! screenshots. Six HTTP calls over the `reqwest` the tests already use;
//! a client crate would bring a second HTTP stack for them.
//!
//! Everything listens on 127.0.0.1 and every wait is bounded.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// Where Debian puts them (`apt-get install chromium chromium-driver`).
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Why the browser tests cannot run here, or `None` when they can.
pub fn unavailable() -> Option<String> {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER].into_iter().filter(|p| !Path::new(p).exists()).collect();
    (!missing.is_empty())
        .then(|| format!("{} not installed (`apt-get install chromium chromium-driver`; scripts/test.sh does it)", missing.join(" and ")))
}

/// A running chromedriver and one headless chromium session.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    client: reqwest::Client,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

impl Browser {
    /// Start chromedriver and a headless chromium with a fresh profile.
    pub async fn start() -> Browser {
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".to_owned()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        let start = Instant::now();
        loop {
            let ready = client.get(format!("{base}/status")).send().await.ok().map(|r| r.status().is_success());
            if ready == Some(true) {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "chromedriver did not come up on {base}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        // Without the background-networking switches chromium stalls
        // reaching for Google services on a machine with no way out.
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--window-size=1280,1400",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            "timeouts": {"pageLoad": 20000, "script": 10000},
        }}});
        let resp: Value = client.post(format!("{base}/session")).json(&caps).send().await.expect("new session").json().await.unwrap();
        let session = resp["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {resp}")).to_owned();
        let mut browser = Browser { driver, base, session, client, _profile: profile };
        browser.base = format!("{}/session/{}", browser.base, browser.session);
        browser
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp: Value = req.send().await.expect("webdriver request").json().await.expect("webdriver answer");
        if resp["value"].get("error").is_some() {
            panic!("webdriver {path}: {}", resp["value"]);
        }
        resp["value"].clone()
    }

    /// Open `url` and wait for it to load.
    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    /// Run `script` (a function body; `arguments` are `args`) in the page; its return value.
    pub async fn eval(&self, script: &str, args: Value) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": args}))).await
    }

    /// The text of the first element matching `selector`, `None` when there is none.
    pub async fn text(&self, selector: &str) -> Option<String> {
        let v =
            self.eval("const e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : null;", json!([selector])).await;
        v.as_str().map(str::to_owned)
    }

    /// Wait (bounded) until `script` returns something truthy; that value.
    pub async fn wait_for(&self, what: &str, script: &str, limit: Duration) -> Value {
        let start = Instant::now();
        loop {
            let v = self.eval(script, json!([])).await;
            if !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0)) {
                return v;
            }
            if start.elapsed() > limit {
                panic!("timed out after {limit:?} waiting for {what}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Run `source` in every page opened from now on, before the page's own
    /// scripts (Chrome DevTools `Page.addScriptToEvaluateOnNewDocument`).
    pub async fn before_each_page(&self, source: &str) {
        let cmd = json!({"cmd": "Page.addScriptToEvaluateOnNewDocument", "params": {"source": source}});
        self.call(reqwest::Method::POST, "/goog/cdp/execute", Some(cmd)).await;
    }

    /// Resize the window (the screenshot is of the viewport).
    pub async fn resize(&self, width: u32, height: u32) {
        self.call(reqwest::Method::POST, "/window/rect", Some(json!({"width": width, "height": height}))).await;
    }

    /// A PNG of the viewport, saved to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let b64 = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD.decode(b64.as_str().unwrap_or_default()).expect("base64 PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session closes chromium; then the driver goes.
        let url = self.base.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async { reqwest::Client::new().delete(url).timeout(Duration::from_secs(10)).send().await })
        })
        .join();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
