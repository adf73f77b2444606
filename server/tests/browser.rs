//! The pages in a real browser: headless Debian `chromium` driven through
//! `chromedriver` (WebDriver). A scripted run goes through the server
//! while the browser watches its page; the DOM must show the status,
//! progress, timeline and parked event, change without a reload when the
//! next event arrives, and never run a script that came in event data.
//! `herald docs` output is opened from `file://`.
//!
//! `scripts/test.sh` installs chromium and chromium-driver. When they are
//! missing these tests say so loudly and pass: they cannot be run, which
//! is not the same as failing — the message is in the test output.
//!
//! Screenshots go to `target/screenshots/`. The README shows the run page
//! with a parked event as `docs/run-page.png`; a run with
//! `HERALD_REFRESH_DOCS=1` copies the new screenshot there (otherwise the
//! tracked file is left alone: every run would rewrite it with new ids).

mod support;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use serde_json::json;
use support::webdriver::{self, Browser};
use support::{Server, event, run_id};

const WAIT: Duration = Duration::from_secs(15);

/// Whether to skip `test` because the browser is missing; says so on the
/// real stderr (`eprintln!` would be captured and hidden for a passing test).
fn skip(test: &str) -> bool {
    use std::io::Write;
    match webdriver::unavailable() {
        None => false,
        Some(why) => {
            let bar = "!".repeat(76);
            let _ = writeln!(std::io::stderr(), "\n{bar}\n!!! SKIPPED browser test `{test}`: {why}\n{bar}\n");
            true
        }
    }
}

/// One browser at a time: three chromiums at once on a small CI machine
/// make every wait in these tests a race.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn screenshots() -> PathBuf {
    workspace().join("target").join("screenshots")
}

fn feature(run: &str, id: &str, ty: &str, extra: serde_json::Value, seq: i64) -> serde_json::Value {
    let mut data = json!({"run_id": run, "feature_name": "summarize_papers"});
    data.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    event(id, ty, data, Some(seq))
}

#[tokio::test]
async fn a_run_page_follows_a_scripted_run_live() {
    if skip("a_run_page_follows_a_scripted_run_live") {
        return;
    }
    let _one = ONE_BROWSER.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--gap-timeout", "1h"]);
    let run = run_id();
    // started → feature started → progress 0.4 → seq 5 parked behind the missing 4.
    for (ev, want) in [
        (event("e1", "ai.run.started", json!({"run_id": run, "pipeline": "paper-generation"}), Some(1)), 200),
        (feature(&run, "e2", "ai.myfeature.started", json!({}), 2), 200),
        (feature(&run, "e3", "ai.myfeature.progress", json!({"progress": 0.4, "current_step": "reading"}), 3), 200),
        (feature(&run, "e5", "ai.myfeature.progress", json!({"progress": 0.8, "current_step": "writing"}), 5), 202),
    ] {
        let (status, body) = server.send(&ev).await;
        assert_eq!(status, want, "{body}");
    }

    let browser = Browser::start().await;
    browser.goto(&server.url(&format!("/runs/{run}"))).await;
    assert_eq!(browser.text("#status").await.as_deref(), Some("running"));
    assert_eq!(browser.text("#feature-name").await.as_deref(), Some("summarize_papers"));
    assert_eq!(browser.eval("return document.querySelector('#feature-progress progress').value", json!([])).await, json!(0.4));
    let rows = browser
        .eval("return [...document.querySelectorAll('#timeline tbody tr')].map(r => [r.dataset.seq, r.dataset.state])", json!([]))
        .await;
    assert_eq!(rows, json!([["1", "applied"], ["2", "applied"], ["3", "applied"], ["5", "parked"]]));
    assert_eq!(
        browser.eval("return [...document.querySelectorAll('#parked tbody tr')].map(r => r.dataset.seq)", json!([])).await,
        json!(["5"])
    );
    assert!(browser.text("#gap").await.unwrap_or_default().contains("seq 4"));
    assert_eq!(
        browser.eval("return document.querySelector('#lifecycle .node.current').dataset.status", json!([])).await,
        json!("running"),
        "the diagram marks the run's status"
    );
    // The interesting moment, for the README: an event parked behind a gap.
    browser.resize(1280, 1450).await;
    let parked_shot = screenshots().join("run-page-parked.png");
    browser.screenshot(&parked_shot).await;
    if std::env::var_os("HERALD_REFRESH_DOCS").is_some() {
        std::fs::copy(&parked_shot, workspace().join("docs").join("run-page.png")).expect("refresh docs/run-page.png");
    }
    browser.resize(1280, 1400).await;
    // The live stream is connected before the next event is sent.
    browser.wait_for("the live stream", "return document.getElementById('live').textContent === 'live'", WAIT).await;
    browser.eval("window.__same_page = 'yes'", json!([])).await;

    // seq 4 fills the gap: 4 and the parked 5 apply, progress 0.8 — no reload.
    let (status, body) = server.send(&event("e4", "ai.run.stage_started", json!({"run_id": run, "stage": "writing"}), Some(4))).await;
    assert_eq!(status, 200, "{body}");
    browser
        .wait_for(
            "progress 0.8 on the page",
            "const p = document.querySelector('#feature-progress progress'); return p && p.value === 0.8",
            WAIT,
        )
        .await;
    assert_eq!(browser.eval("return window.__same_page", json!([])).await, json!("yes"), "updated in place, not reloaded");
    assert!(browser.text("#no-parked").await.is_some(), "nothing parked any more");
    browser.screenshot(&screenshots().join("run-page-running.png")).await;

    let (status, _) = server.send(&event("e6", "ai.run.completed", json!({"run_id": run, "result": "success"}), Some(6))).await;
    assert_eq!(status, 200);
    browser.wait_for("status completed", "return document.querySelector('#status').textContent.trim() === 'completed'", WAIT).await;
    let rows = browser.eval("return document.querySelectorAll('#timeline tbody tr[data-state=applied]').length", json!([])).await;
    assert_eq!(rows, json!(6));
    assert_eq!(browser.eval("return window.__same_page", json!([])).await, json!("yes"));
    browser.screenshot(&screenshots().join("run-page-completed.png")).await;

    browser.goto(&server.url("/runs")).await;
    let listed = browser.eval("return [...document.querySelectorAll('#runs tbody tr')].map(r => r.dataset.run)", json!([])).await;
    assert_eq!(listed, json!([run]));
    // The table follows every run: a new one appears without a reload.
    browser.wait_for("the live stream of all runs", "return document.getElementById('live').textContent === 'live'", WAIT).await;
    let second = run_id();
    server.send(&event("n1", "ai.run.started", json!({"run_id": second}), Some(1))).await;
    server.send(&event("n2", "ai.myfeature.progress", json!({"run_id": second, "feature_name": "draft", "progress": 0.25}), Some(2))).await;
    browser.wait_for("the new run in the table", "return document.querySelectorAll('#runs tbody tr').length === 2", WAIT).await;
    browser.screenshot(&screenshots().join("runs.png")).await;
    browser.goto(&server.url("/runs?status=completed")).await;
    let listed = browser.eval("return [...document.querySelectorAll('#runs tbody tr')].map(r => r.dataset.run)", json!([])).await;
    assert_eq!(listed, json!([run]), "the filter keeps only the completed run");
}

#[tokio::test]
async fn without_server_sent_events_the_page_polls() {
    if skip("without_server_sent_events_the_page_polls") {
        return;
    }
    let _one = ONE_BROWSER.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let run = run_id();
    server.send(&event("q1", "ai.run.started", json!({"run_id": run}), Some(1))).await;
    let browser = Browser::start().await;
    // A browser (or a proxy) without EventSource.
    browser.before_each_page("delete window.EventSource;").await;
    browser.goto(&server.url(&format!("/runs/{run}"))).await;
    assert_eq!(browser.eval("return typeof window.EventSource", json!([])).await, json!("undefined"));
    assert_eq!(browser.text("#live").await.as_deref(), Some("live (polling)"));
    browser.eval("window.__same_page = 'yes'", json!([])).await;
    server.send(&feature(&run, "q2", "ai.myfeature.progress", json!({"progress": 0.6}), 2)).await;
    browser
        .wait_for("the polled update", "const p = document.querySelector('#feature-progress progress'); return p && p.value === 0.6", WAIT)
        .await;
    assert_eq!(browser.eval("return window.__same_page", json!([])).await, json!("yes"));
}

/// With API keys, a browser given the key as Basic credentials (the
/// password; what it sends after its login prompt, here in the URL since a
/// headless browser has no prompt) opens the pages and follows their live
/// stream, which asks with the same Basic challenge.
#[tokio::test]
async fn with_keys_a_browser_uses_the_pages_with_basic_credentials() {
    if skip("with_keys_a_browser_uses_the_pages_with_basic_credentials") {
        return;
    }
    let _one = ONE_BROWSER.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let key = "hrld_browser_0123456789abcdef";
    let keys = dir.path().join("keys.toml");
    let toml = format!(
        "[[key]]\nname = \"browser\"\nhash = \"{}\"\nread = true\n[key.ingest]\nsources = [\"*\"]\ntypes = [\"*\"]\n",
        herald_server::auth::keys::hash_key(key)
    );
    std::fs::write(&keys, toml).unwrap();
    let server = Server::start(&dir.path().join("data"), &["--keys-file", keys.to_str().unwrap()]);
    let send = |e: serde_json::Value| {
        server
            .client
            .post(server.url("/api/ingest/event"))
            .bearer_auth(key)
            .header("content-type", "application/cloudevents+json")
            .body(e.to_string())
            .send()
    };
    let run = run_id();
    assert_eq!(send(event("b1", "ai.run.started", json!({"run_id": run}), Some(1))).await.unwrap().status(), 200);

    let browser = Browser::start().await;
    let with_credentials = server.base.replacen("http://", &format!("http://me:{key}@"), 1);
    browser.goto(&format!("{with_credentials}/runs")).await;
    let listed = browser.eval("return [...document.querySelectorAll('#runs tbody tr')].map(r => r.dataset.run)", json!([])).await;
    assert_eq!(listed, json!([run]), "the runs page, shown with the key");
    browser.wait_for("the live stream of all runs", "return document.getElementById('live').textContent === 'live'", WAIT).await;
    let second = run_id();
    assert_eq!(send(event("b2", "ai.run.started", json!({"run_id": second}), Some(1))).await.unwrap().status(), 200);
    browser.wait_for("the new run in the table", "return document.querySelectorAll('#runs tbody tr').length === 2", WAIT).await;
}

#[tokio::test]
async fn markup_in_event_data_is_shown_never_run() {
    if skip("markup_in_event_data_is_shown_never_run") {
        return;
    }
    let _one = ONE_BROWSER.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let run = run_id();
    let name = "<script>window.__xss = 1</script><img src=x onerror=\"window.__xss = 2\">";
    let (status, body) = server.send(&event("x1", "ai.myfeature.started", json!({"run_id": run, "feature_name": name}), None)).await;
    assert_eq!(status, 200, "{body}");
    let browser = Browser::start().await;
    for path in [format!("/runs/{run}"), "/runs".to_owned()] {
        browser.goto(&server.url(&path)).await;
        // Give an injected handler (the broken image's onerror) time to fire.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(browser.eval("return typeof window.__xss", json!([])).await, json!("undefined"), "{path}: a script ran");
        assert_eq!(browser.eval("return document.querySelectorAll('main script, main img').length", json!([])).await, json!(0), "{path}");
        let shown = browser.eval("return document.querySelector('main').textContent.includes(arguments[0])", json!([name])).await;
        assert_eq!(shown, json!(true), "{path}: the name is shown as text");
    }
}

#[tokio::test]
async fn the_catalog_served_and_from_file() {
    if skip("the_catalog_served_and_from_file") {
        return;
    }
    let _one = ONE_BROWSER.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let browser = Browser::start().await;

    browser.goto(&server.url("/")).await;
    browser.eval("document.querySelector('a[href=\"/catalog\"]').click()", json!([])).await;
    browser.wait_for("the catalog index", "return location.pathname === '/catalog' && document.querySelector('svg.lifecycle')", WAIT).await;
    let domains = browser.eval("return [...document.querySelectorAll('section.domain')].map(s => s.dataset.domain)", json!([])).await;
    assert!(domains.as_array().unwrap().contains(&json!("myfeature")), "{domains}");
    // The filter box works (and exists only with scripts on).
    browser.eval("const f = document.getElementById('filter'); f.value = 'stage'; f.dispatchEvent(new Event('input'));", json!([])).await;
    let visible = browser.eval("return [...document.querySelectorAll('tr[data-search]')].filter(r => !r.hidden).length", json!([])).await;
    assert_eq!(visible, json!(3), "ai.run.stage_started, _progress, _completed");
    browser.eval("const f = document.getElementById('filter'); f.value = ''; f.dispatchEvent(new Event('input'));", json!([])).await;
    browser.screenshot(&screenshots().join("catalog.png")).await;
    browser.goto(&server.url("/catalog/ai.myfeature.progress")).await;
    let rules = browser.eval("return [...document.querySelectorAll('td.rules')].map(t => t.textContent)", json!([])).await;
    assert!(rules.as_array().unwrap().contains(&json!("0 ≤ progress ≤ 1")), "{rules}");
    browser.screenshot(&screenshots().join("catalog-type.png")).await;

    // `herald docs -o DIR`, opened from disk: links are relative and work.
    let site = tempfile::tempdir().unwrap();
    let catalog = workspace().join("events.yaml");
    let cli = herald_cli::Cli::try_parse_from(["herald", "docs", catalog.to_str().unwrap(), "-o", site.path().to_str().unwrap()]).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert_eq!(herald_cli::run(cli, &mut out, &mut err), 0, "{}", String::from_utf8_lossy(&err));
    browser.goto(&format!("file://{}", site.path().join("index.html").display())).await;
    browser
        .wait_for("the static index", "return document.querySelector('svg.lifecycle') && document.title.includes('Event catalog')", WAIT)
        .await;
    assert_eq!(
        browser.eval("return getComputedStyle(document.querySelector('header.site')).backgroundColor", json!([])).await,
        json!("rgb(32, 35, 42)"),
        "the stylesheet loaded from a relative path"
    );
    browser.eval("document.querySelector('a[href=\"types/ai.run.progress.html\"]').click()", json!([])).await;
    browser
        .wait_for(
            "a type page from file://",
            "return location.href.endsWith('types/ai.run.progress.html') && document.querySelector('td.rules')",
            WAIT,
        )
        .await;
    browser.eval("document.querySelector('.crumbs a').click()", json!([])).await;
    browser.wait_for("back to the index", "return location.href.endsWith('/index.html')", WAIT).await;
}
