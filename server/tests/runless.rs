//! Events that belong to no run (`stream_key: none`), over HTTP, on every
//! backend (see `conformance!`): validated, deduplicated (also after a
//! restart), stored and handled, but sequenced in no run and creating none.
//!
//! The catalog is declared here on structs (the server binary serves the
//! workspace `events.yaml`, which has no such event): a sign-up that
//! belongs to no run, and a run event beside it.

#[macro_use]
mod support;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use herald::EventContext;
use herald_server::change::RunChange;
use herald_server::store::Store;
use herald_server::store::dedup::Deduped;
use herald_server::store::memory::MemoryStore;
use herald_server::store::mongo::MongoStore;
use herald_server::store::sqlite::SqliteStore;
use herald_server::{Handlers, http};
use serde_json::{Value, json};
use support::{Backend, Env, run_id};

/// A user signed up: no run is involved.
#[herald::cloud_event("test.user.signed_up", stream_key = none)]
pub struct SignedUp {
    /// The new user.
    pub user_id: String,
}

/// A run started (its stream key is `run_id`, the default).
#[herald::cloud_event("test.run.started")]
pub struct RunStarted {
    /// The run.
    pub run_id: String,
}

herald::registry! {
    /// Sign-ups (of no run) and runs.
    pub mod accounts {
        SignedUp,
        RunStarted,
    }
}

/// Refuses the sign-up of the user `closed`, so a test sees the handler
/// is called for an event of no run.
struct Accounts;

impl accounts::Handler for Accounts {
    type Output = RunChange;
    type Error = String;

    async fn on_user_signed_up(&self, _: &EventContext<'_>, e: SignedUp) -> Result<RunChange, String> {
        if e.user_id == "closed" { Err("sign-ups are closed".to_owned()) } else { Ok(RunChange::new()) }
    }

    async fn on_run_started(&self, _: &EventContext<'_>, _: RunStarted) -> Result<RunChange, String> {
        Ok(RunChange::new().set(["started"], true))
    }
}

herald_server::handlers!(Accounts: accounts::Catalog, sequence = None);

/// A structured event of `ty` with `id` and `data`.
fn event(id: &str, ty: &str, data: Value) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "/tests/accounts", "type": ty, "data": data})
}

fn signed_up(id: &str, user: &str) -> Value {
    event(id, "test.user.signed_up", json!({"user_id": user}))
}

/// A server of [`Accounts`] over `store` on an ephemeral port.
struct Served<S> {
    base: String,
    store: Arc<S>,
    task: tokio::task::JoinHandle<()>,
    client: reqwest::Client,
}

impl<S: Store> Served<S> {
    async fn start(store: Arc<S>) -> Self {
        let config = herald_server::config::Config::try_parse_from(["herald-server"]).expect("default flags");
        let app = http::App::new(store.clone(), Accounts, &config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, http::router(app)).await;
        });
        Served { base, store, task, client: reqwest::Client::new() }
    }

    async fn post(&self, content_type: &str, body: &Value) -> (u16, Value) {
        let resp = self.client.post(format!("{}/api/ingest/event", self.base)).header("content-type", content_type).body(body.to_string());
        let resp = resp.send().await.expect("request");
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    }

    async fn send(&self, event: &Value) -> (u16, Value) {
        self.post("application/cloudevents+json", event).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self.client.get(format!("{}{path}", self.base)).send().await.expect("request");
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    }

    /// Stop serving and close the store, as a shutdown does.
    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
        self.store.close().await;
    }
}

/// Both lives of the store: before and after a restart.
async fn scenario<S: Store, F: Future<Output = Arc<S>>>(open: impl Fn() -> F) {
    let run = run_id();
    let s = Served::start(open().await).await;

    // Stored and answered without a run; a retry is a duplicate of no run.
    let (status, resp) = s.send(&signed_up("s-1", "ada")).await;
    assert_eq!((status, &resp), (200, &json!({"status": "stored", "id": "s-1", "source": "/tests/accounts"})));
    let (status, resp) = s.send(&signed_up("s-1", "ada")).await;
    assert_eq!((status, &resp), (200, &json!({"status": "duplicate", "id": "s-1", "source": "/tests/accounts"})));

    // Validated like any event, and handled: the handler's refusal is the answer.
    let (status, resp) = s.send(&event("s-bad", "test.user.signed_up", json!({"user": "ada"}))).await;
    assert_eq!(status, 422, "{resp}");
    let (status, resp) = s.send(&signed_up("s-closed", "closed")).await;
    assert_eq!((status, resp["code"].as_str()), (422, Some("handler_refused")), "{resp}");

    // Beside events of runs in one batch: each gets its own outcome.
    let batch = json!([signed_up("s-2", "bob"), event("r-1", "test.run.started", json!({"run_id": run})), signed_up("s-1", "ada")]);
    let (status, resp) = s.post("application/cloudevents-batch+json", &batch).await;
    assert_eq!(status, 200, "{resp}");
    let statuses: Vec<&str> = resp["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["stored", "applied", "duplicate"], "{resp}");
    assert_eq!(resp["results"][1]["run_id"], run.as_str());

    // No run was made for the sign-ups: the one run is the run event's.
    let (_, runs) = s.get("/api/runs").await;
    let ids: Vec<&str> = runs["runs"].as_array().unwrap().iter().map(|r| r["run_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [run.as_str()], "{runs}");

    // A run needs a non-empty id: "no run" is not a run.
    let (status, resp) = s.send(&event("r-empty", "test.run.started", json!({"run_id": ""}))).await;
    assert_eq!((status, resp["errors"][0]["pointer"].as_str()), (422, Some("/data/run_id")), "{resp}");
    s.stop().await;

    // After a restart: still deduplicated, the run intact, new ones stored.
    let s = Served::start(open().await).await;
    let (status, resp) = s.send(&signed_up("s-2", "bob")).await;
    assert_eq!((status, &resp["status"]), (200, &json!("duplicate")), "{resp}");
    assert!(resp.get("run_id").is_none(), "{resp}");
    let (status, doc) = s.get(&format!("/api/runs/{run}")).await;
    assert_eq!((status, &doc["applied_events"], &doc["started"]), (200, &json!(1), &json!(true)), "{doc}");
    let (status, resp) = s.send(&signed_up("s-3", "cy")).await;
    assert_eq!((status, &resp["status"]), (200, &json!("stored")), "{resp}");
    let (_, runs) = s.get("/api/runs").await;
    assert_eq!(runs["runs"].as_array().map(Vec::len), Some(1), "{runs}");
    s.stop().await;
}

async fn events_of_no_run_are_stored_deduplicated_and_handled_in_no_run(b: Backend) {
    let env = Env::new(b);
    let rules = Accounts::rules;
    let lock_wait = Duration::from_secs(5);
    match b {
        Backend::Memory => {
            let store = Arc::new(MemoryStore::new(rules()));
            scenario(|| {
                let store = store.clone();
                async move {
                    store.reopen();
                    store
                }
            })
            .await
        }
        Backend::Sqlite => scenario(|| async { Arc::new(SqliteStore::open(env.dir.path(), rules()).expect("open SQLite")) }).await,
        Backend::Mongo => {
            let uri = env.mongodb_uri.clone().unwrap();
            scenario(|| async { Arc::new(MongoStore::open(&uri, &env.db, rules(), true, lock_wait).await.expect("open MongoDB")) }).await
        }
        Backend::MongoRedis => {
            let (uri, redis) = (env.mongodb_uri.clone().unwrap(), env.redis_url.clone().unwrap());
            let namespace = format!("herald:test:{}", env.db);
            scenario(|| async {
                let mongo = MongoStore::open(&uri, &env.db, rules(), false, lock_wait).await.expect("open MongoDB");
                Arc::new(Deduped::new(mongo, &redis, namespace.clone(), Duration::from_secs(60)).await.expect("Redis"))
            })
            .await
        }
    }
}

conformance!(events_of_no_run_are_stored_deduplicated_and_handled_in_no_run);
