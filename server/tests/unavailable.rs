//! A store that cannot take writes gives 503 + `Retry-After`, never a 2xx,
//! and nothing is half-stored. In-process so the test can close the store
//! under a live router.

mod support;

use std::sync::Arc;

use herald_server::orchestrator;
use herald_server::store::sqlite::SqliteStore;
use herald_server::store::{EventQuery, Reads};
use serde_json::{Value, json};
use support::serve_sqlite_in_process;

fn started(id: &str, run: &str) -> String {
    json!({"specversion": "1.0", "id": id, "source": "/t", "type": "ai.run.started", "subject": format!("run/{run}"),
           "time": "2024-05-01T12:00:00Z", "datacontenttype": "application/json", "data": {"run_id": run}})
    .to_string()
}

#[tokio::test]
async fn a_closed_store_gives_503_with_retry_after_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path(), orchestrator::rules()).unwrap());
    let base = serve_sqlite_in_process(store.clone()).await;
    let client = reqwest::Client::new();
    let run = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b";
    let post = |body: String| client.post(format!("{base}/api/ingest/event")).header("content-type", "application/json").body(body).send();

    assert_eq!(post(started("before", run)).await.unwrap().status().as_u16(), 200);
    store.shutdown().await;

    let resp = post(started("after", run)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["code"], "store_unavailable");

    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["status"], "unavailable", "{ready}");
    let reason = ready["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("the store cannot take writes: ") && reason.len() < 300 && !reason.contains('\n'), "{ready}");

    // Operators see it in the metrics: the refused event, the store down.
    let metrics = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    for line in [
        r#"herald_events_total{type="ai.run.started",outcome="applied"} 1"#,
        r#"herald_events_total{type="ai.run.started",outcome="failed"} 1"#,
        r#"herald_http_requests_total{route="/api/ingest/event",status="503"} 1"#,
        r#"herald_http_requests_total{route="/readyz",status="503"} 1"#,
        "herald_store_ready 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "no `{line}` in\n{metrics}");
    }

    // Reopen: the event acknowledged before is there, the refused one is not.
    let reopened = SqliteStore::open(dir.path(), orchestrator::rules()).unwrap();
    let page = reopened.run_events(run, EventQuery { limit: 10, ..EventQuery::default() }).await.unwrap();
    let ids: Vec<String> = page.events.iter().map(|e| e.attribute("id")).collect();
    assert_eq!(ids, vec!["before"]);
    reopened.shutdown().await;
}

#[tokio::test]
async fn a_data_dir_that_cannot_be_created_is_a_clear_startup_error() {
    let file = tempfile::NamedTempFile::new().unwrap();
    // A regular file where the directory should be.
    let err = SqliteStore::open(&file.path().join("sub"), orchestrator::rules()).err().expect("open must fail");
    assert!(err.to_string().contains("--data-dir"), "{err}");
}

/// Stored data the store cannot read is not an outage: a 500 that says so,
/// not a 503 the sender would retry forever; other runs go on.
#[tokio::test]
async fn an_unreadable_run_is_a_500_not_a_503_and_other_runs_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let (broken, fine) = ("6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b", "7a2d3b0f-4c5e-4f60-9b8c-0d1e2f3a4b5c");
    {
        let store = Arc::new(SqliteStore::open(dir.path(), orchestrator::rules()).unwrap());
        let base = serve_sqlite_in_process(store.clone()).await;
        let client = reqwest::Client::new();
        let resp = client.post(format!("{base}/api/ingest/event")).header("content-type", "application/json").body(started("s1", broken));
        assert_eq!(resp.send().await.unwrap().status().as_u16(), 200);
        store.shutdown().await;
    }
    // Corrupt the run's document on disk, as a bad disk or a hand edit would.
    let conn = rusqlite::Connection::open(dir.path().join("herald.sqlite3")).unwrap();
    conn.execute("UPDATE runs SET doc = 'not json' WHERE run_id = ?1", [broken]).unwrap();
    drop(conn);

    let store = Arc::new(SqliteStore::open(dir.path(), orchestrator::rules()).unwrap());
    let base = serve_sqlite_in_process(store.clone()).await;
    let client = reqwest::Client::new();
    let resp = client.get(format!("{base}/api/runs/{broken}")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 500);
    assert!(resp.headers().get("retry-after").is_none());
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["code"], "store_internal", "{p}");

    let post = |id: &str, run: &str| {
        client.post(format!("{base}/api/ingest/event")).header("content-type", "application/json").body(started(id, run)).send()
    };
    assert_eq!(post("s2", broken).await.unwrap().status().as_u16(), 500, "the run cannot be applied to");
    assert_eq!(post("f1", fine).await.unwrap().status().as_u16(), 200, "other runs are not held up");
    store.shutdown().await;
}

/// Two servers on one data dir would each believe they are its only
/// writer; the second is refused at start, with what to do about it.
#[tokio::test]
async fn a_data_dir_in_use_is_refused_until_its_store_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let first = SqliteStore::open(dir.path(), orchestrator::rules()).unwrap();
    let err = SqliteStore::open(dir.path(), orchestrator::rules()).err().expect("a second store on the same dir must fail");
    let text = err.to_string();
    assert!(text.contains("another herald-server") && text.contains("--data-dir"), "{text}");
    first.shutdown().await;
    let second = SqliteStore::open(dir.path(), orchestrator::rules()).expect("free again once the first is closed");
    second.shutdown().await;
}
