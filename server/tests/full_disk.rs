//! A full disk: ingest answers 503 and acknowledges nothing it did not
//! store, `/readyz` says unavailable and why (it used to say ready while
//! every write failed), and both recover once there is space again,
//! without a restart and without traffic to retry.
//!
//! The data dir is a 1 MiB tmpfs, grown with a remount. Mounting needs
//! root (`scripts/test.sh` runs as root); elsewhere the test says it was
//! skipped and passes.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use herald_server::orchestrator;
use herald_server::store::sqlite::SqliteStore;
use serde_json::{Value, json};
use support::serve_sqlite_in_process;

/// A tmpfs mounted on a temp dir, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs { dir })
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount").args(["-o", &format!("remount,size={size}")]).arg(self.dir.path()).status().unwrap();
        assert!(status.success(), "remount failed");
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// An event of about 500 bytes.
fn metric(run: &str, n: usize) -> String {
    json!({
        "specversion": "1.0", "id": format!("m-{n}"), "source": "/full-disk", "type": "ai.run.metric",
        "subject": format!("run/{run}"), "time": "2026-12-02T12:00:00Z", "datacontenttype": "application/json",
        "data": {"run_id": run, "metric_name": "loss", "value": 0.5, "unit": "x".repeat(300)},
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_makes_the_server_unready_until_space_is_back() {
    let Some(disk) = Tmpfs::mount("1m") else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
        return;
    };
    let data = disk.path().join("data");
    let store = Arc::new(SqliteStore::open(&data, orchestrator::rules()).unwrap());
    let base = serve_sqlite_in_process(store.clone()).await;
    let client = reqwest::Client::new();
    let run = "0e7c1f1e-5a8b-4c2d-9e3f-4a5b6c7d8e9f";
    let post =
        |n: usize| client.post(format!("{base}/api/ingest/event")).header("content-type", "application/json").body(metric(run, n)).send();
    let ready = || async {
        let resp = client.get(format!("{base}/readyz")).send().await.unwrap();
        (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
    };
    assert_eq!(ready().await.0, 200);

    // Fill the disk: events are acknowledged until a commit fails.
    let mut acked = 0;
    let mut refused = None;
    for n in 0..20_000 {
        let resp = post(n).await.unwrap();
        match resp.status().as_u16() {
            200 => acked += 1,
            503 => {
                refused = Some(resp.json::<Value>().await.unwrap());
                break;
            }
            other => panic!("event {n}: unexpected {other}: {}", resp.text().await.unwrap()),
        }
    }
    let refused = refused.expect("a 1 MiB disk never filled");
    assert!(acked > 0, "nothing was stored before the disk filled");
    assert_eq!(refused["code"], "store_unavailable", "{refused}");
    assert!(refused["detail"].as_str().unwrap().contains("full"), "{refused}");

    // Reads still work, but the server must not say it can take writes.
    let (status, body) = ready().await;
    assert_eq!(status, 503, "/readyz said ready on a full disk: {body}");
    assert_eq!(body["status"], "unavailable");
    assert!(body["store"].as_str().unwrap().contains("full"), "the reason should say the disk is full: {body}");

    // Space is back: ready again without any ingest in between (a node
    // taken out of rotation gets no traffic to find out), then ingest works.
    disk.resize("64m");
    let (status, body) = ready().await;
    assert_eq!(status, 200, "still unready after space came back: {body}");
    assert_eq!(post(1_000_000).await.unwrap().status().as_u16(), 200);
    acked += 1;

    // Exactly what was acknowledged is stored: nothing lost, nothing extra.
    store.shutdown().await;
    let db = rusqlite::Connection::open(data.join("herald.sqlite3")).unwrap();
    let stored: i64 = db.query_row("SELECT COUNT(*) FROM events WHERE source = '/full-disk'", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, acked);
}
