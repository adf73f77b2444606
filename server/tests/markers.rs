//! Redis dedup markers vouch only for the store that set them: a store
//! replaced under the same name or path — a fresh MongoDB database, a data
//! dir restored from a backup — never inherits them, so a replayed event
//! is stored again instead of being answered `duplicate` and lost.

mod support;

use serde_json::{Value, json};
use support::{Backend, Env, Server, event, redis_url, run_id};

fn started(id: &str, run: &str) -> Value {
    event(id, "ai.run.started", json!({"run_id": run}), None)
}

async fn status_of(s: &Server, e: &Value) -> String {
    let (code, resp) = s.send(e).await;
    assert!(code == 200 || code == 202, "{code} {resp}");
    resp["status"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_fresh_mongodb_database_of_the_same_name_does_not_inherit_markers() {
    let env = Env::new(Backend::MongoRedis);
    let run = run_id();
    let e = started("replayed-1", &run);
    let s = env.start(&[]);
    assert_eq!(status_of(&s, &e).await, "applied");
    assert_eq!(status_of(&s, &e).await, "duplicate", "the marker (or the store) knows it");
    s.terminate();

    let client = mongodb::Client::with_uri_str(env.mongodb_uri.as_deref().unwrap()).await.unwrap();
    client.database(&env.db).drop().await.unwrap();

    let s = env.start(&[]);
    assert_eq!(status_of(&s, &e).await, "applied", "a new database: the event must be stored again, not skipped");
    assert_eq!(s.get(&format!("/api/runs/{run}/events")).await.1["events"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_sqlite_data_dir_restored_from_a_backup_does_not_inherit_markers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backup = dir.path().join("backup");
    let url = redis_url();
    let args = ["--redis-url", url.as_str()];
    let run = run_id();
    let (first, second) =
        (started("before-backup", &run), event("after-backup", "ai.run.progress", json!({"run_id": run, "progress": 0.5}), None));

    let s = Server::start(&data, &args);
    assert_eq!(status_of(&s, &first).await, "applied");
    s.terminate();
    copy_dir(&data, &backup);

    let s = Server::start(&data, &args);
    assert_eq!(status_of(&s, &second).await, "applied");
    s.terminate();

    // Restore the backup (which never saw `second`), same Redis.
    std::fs::remove_dir_all(&data).unwrap();
    copy_dir(&backup, &data);
    let s = Server::start(&data, &args);
    assert_eq!(status_of(&s, &second).await, "applied", "the restored store does not hold it: stored again, not skipped");
    assert_eq!(status_of(&s, &first).await, "duplicate");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}
