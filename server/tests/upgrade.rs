//! A store written by an earlier version — runs kept as whole documents,
//! items inside them — opens, is converted, and goes on: its runs read the
//! same and new events merge into the converted items.

mod support;

use serde_json::{Value, json};
use support::{Backend, Env, event, run_id};

fn completed(run: &str, node: &str, seq: i64) -> Value {
    event("late-node", "ai.node.completed", json!({"run_id": run, "node_id": node, "result": "success", "score": 0.9}), Some(seq))
}

/// What both stores must show after the upgrade, and after one more event.
async fn check_converted(env: &Env, run: &str) {
    let s = env.start(&[]);
    let (status, doc) = s.get(&format!("/api/runs/{run}")).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["progress"], 0.5);
    assert_eq!(doc["item_counts"], json!({"metrics": 1, "nodes": 2}));
    assert_eq!(doc["nodes"]["n.1"], json!({"status": "created", "node_type": "step"}));
    assert_eq!(doc["metrics"]["loss"], 0.1);

    let (status, resp) = s.send(&completed(run, "n.1", 3)).await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp["status"], "applied");
    let (_, doc) = s.get(&format!("/api/runs/{run}")).await;
    assert_eq!(
        doc["nodes"]["n.1"],
        json!({"status": "success", "node_type": "step", "score": 0.9, "completed_at": doc["nodes"]["n.1"]["completed_at"]})
    );
    assert!(doc["nodes"]["n.1"]["completed_at"].is_string());
    assert_eq!(doc["last_event_seq"], 3);
    assert!(doc.get("history").is_some());
}

#[tokio::test]
async fn an_sqlite_data_dir_of_whole_run_documents_is_converted() {
    let env = Env::new(Backend::Sqlite);
    let run = run_id();
    {
        // The tables as stores before numbered migrations created them.
        let conn = rusqlite::Connection::open(env.dir.path().join("herald.sqlite3")).unwrap();
        let doc = json!({"progress": 0.5, "nodes": {"n.1": {"status": "created", "node_type": "step"}, "n2": {"status": "created"}},
                         "metrics": {"loss": 0.1}});
        conn.execute_batch(
            "CREATE TABLE runs (run_id TEXT PRIMARY KEY, status TEXT NOT NULL, last_event_seq INTEGER,
                 updated_at INTEGER NOT NULL, doc TEXT NOT NULL, applied_events INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;",
        )
        .unwrap();
        conn.execute("INSERT INTO runs VALUES (?1, 'running', 2, 0, ?2, 2)", rusqlite::params![run, doc.to_string()]).unwrap();
    }
    check_converted(&env, &run).await;
}

#[tokio::test]
async fn a_mongodb_database_of_whole_run_documents_is_converted() {
    use mongodb::bson::{doc, oid::ObjectId};

    let env = Env::new(Backend::Mongo);
    let run = run_id();
    let client = mongodb::Client::with_uri_str(env.mongodb_uri.as_deref().unwrap()).await.unwrap();
    let db = client.database(&env.db);
    // An event the old run's outbox settled but nobody flushed.
    let pending = ObjectId::new();
    db.collection("events")
        .insert_one(doc! {"_id": pending, "source": "/old", "id": "old-1", "type": "ai.run.progress", "run_id": &run, "seq": 2_i64,
        "received_at": 0_i64, "state": "pending", "change": "{}", "envelope": "{}"})
        .await
        .unwrap();
    db.collection("runs")
        .insert_one(doc! {
            "_id": &run, "version": 3_i64, "status": "running", "last_event_seq": 2_i64, "applied_events": 2_i64, "updated_at": 0_i64,
            "doc": {"progress": 0.5, "nodes": {"n%2E1": {"status": "created", "node_type": "step"}, "n2": {"status": "created"}},
                    "metrics": {"loss": 0.1}},
            "history": [{"at": 1_i64, "kind": "stale_event", "detail": {"seq": 1_i64}}],
            "outbox": [{"event": pending, "state": "applied"}],
        })
        .await
        .unwrap();
    check_converted(&env, &run).await;

    let s = env.start(&[]);
    let (_, doc) = s.get(&format!("/api/runs/{run}")).await;
    assert_eq!(doc["history"][0]["kind"], "stale_event", "the old history is kept: {doc}");
    let (_, events) = s.get(&format!("/api/runs/{run}/events")).await;
    assert_eq!(events["events"][0]["state"], "applied", "the old outbox was flushed: {events}");
    let stored: mongodb::bson::Document = db.collection("runs").find_one(doc! {"_id": &run}).await.unwrap().unwrap();
    assert!(stored.get("history").is_none() && stored.get_document("doc").unwrap().get("nodes").is_none(), "{stored}");
}
