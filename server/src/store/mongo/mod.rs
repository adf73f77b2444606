//! MongoDB store: collections `events` and `runs`, as in the seed, plus
//! `run_items` and `run_history`.
//!
//! Uses only standard features of MongoDB ≥ 6, so many stateless
//! `herald-server` processes can share one database on a standalone
//! server, a replica set or a sharded cluster.
//!
//! # Deployments
//! - **Write concern.** Unless the URI says otherwise, writes use
//!   `w: majority, journal: true` (`durable`): an event is acknowledged
//!   to its sender only once MongoDB would keep it through a failover.
//! - **Transactions.** Where the deployment offers them (a replica set or
//!   `mongos`; `--mongodb-transactions auto`, the default), each group of
//!   events is one multi-document transaction (`txn.rs`). A standalone
//!   server (or `--mongodb-transactions off`) gets the protocol below,
//!   which needs none. A server that dies inside a transaction leaves its
//!   events and runs locked until MongoDB expires the transaction
//!   (`transactionLifetimeLimitSeconds`, 60 s by default): the events of
//!   those runs are refused with 503 until then (senders retry, then
//!   succeed), while other runs keep flowing (`txn.rs`, `locked.rs`).
//! - **Sharding.** Shard `events` on `{source: 1, id: 1}` (a unique index
//!   must start with the shard key, and `(source, id)` is the dedup guard),
//!   `runs` on `{_id: "hashed"}` (every run write targets one `_id`) and
//!   `run_items` on `{run_id: 1, coll: 1, key: 1}`. Reads by run
//!   (`GET /api/runs/{id}/events`) then visit every shard.
//! - **Throughput.** Concurrent requests are coalesced into groups written
//!   with a fixed number of round trips (`coalesce.rs`, `group.rs`).
//!
//! # Collections
//! - `events`: one document per stored event; unique index on
//!   `(source, id)` (the dedup guard), index on `(run_id, seq)`. `state` is
//!   `pending` → `applied | parked | stale | illegal_transition`; a parked
//!   event keeps its handler's change (`change`) until it is applied. An
//!   event of no run (`stream_key: none`) has `run_id: null` and is
//!   `applied` from its insert on: there is no run write (`runless.rs`).
//! - `runs`: `_id` = run id; the run's own fields (`status`,
//!   `last_event_seq`, `applied_events`, `parked_events`, `updated_at`,
//!   `doc`: the handlers' fields outside collections, keys escaped — see
//!   `bson.rs`), `cleared` (collections emptied whole, by version),
//!   `version` (the compare-and-set guard) and `outbox`. Its size does not
//!   grow with the run.
//! - `run_items`: one document per item of a run's collections (`run_id`,
//!   `coll`, `key`, `v`, and `ver`: the run version that wrote it); unique
//!   on `(run_id, coll, key)`.
//! - `run_history`: one document per history entry, `_id` = run id,
//!   version and position (`outbox.rs`).
//!
//! # Crash safety without transactions
//! Described for one event (`process.rs`); `group.rs` does the same for
//! many at once.
//! 1. The event is inserted with `state: pending` and its change. The
//!    unique index makes insert-or-detect-duplicate one atomic step.
//! 2. The run is read (with its `version`), the event planned in memory
//!    by the shared planner (`apply.rs`; items it merges into are read by
//!    key), and the run document replaced on condition that `version` is
//!    unchanged (insert for a new run; the `_id` index guards that). A
//!    lost race re-reads and re-plans. The replaced document carries an
//!    `outbox`: everything else the write produced — event states (this
//!    event, parked events it released), item values, history entries.
//!    Because the run's new head and the outbox are one document write, an
//!    event's effect and the record of it can never be separated.
//! 3. The outbox is flushed (`outbox.rs`), idempotently and only
//!    forwards, so a late or repeated flush never undoes a newer write.
//!    Every writer flushes the outbox it read *before* replacing it, and a
//!    planner reading an item prefers the outbox's value, so nothing in an
//!    outbox is lost or read stale.
//!
//! Hence: an event still `pending` in `events` that is not in its run's
//! outbox has not been applied. A duplicate (11000) of a `pending` event
//! therefore finishes processing it (steps 2–3) before answering
//! `duplicate`, and the gap sweeper does the same for `pending` events
//! older than the gap timeout that nobody retried. Whoever finds the event
//! already in the outbox, or already settled, stops: it is applied once.
//! A process dying after step 1 leaves a `pending` event the sender's
//! retry (or the sweeper) finishes; dying after step 2 leaves an outbox
//! the next writer (or the retry, or a reader of the run) flushes.
//!
//! Runs written by versions that kept the whole run in one document are
//! converted when the store opens (`migrate.rs`); stop older servers
//! before starting this one on their database.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Document, doc};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{Acknowledgment, ClientOptions, IndexOptions, WriteConcern};
use mongodb::{Client, Collection, Database, IndexModel};

use super::{EventPage, EventQuery, HistoryEntry, ItemPage, NewEvent, Outcome, Reads, RunPage, RunQuery, RunView, Store, StoreError};
use crate::runstate::{ItemKey, Layout, Need, ROUNDS, Rules};

mod apply;
mod bson;
mod coalesce;
mod doc;
mod group;
mod locked;
mod migrate;
mod outbox;
mod process;
mod query;
mod runless;
mod txn;

use apply::{Parked, Planning, StoredItem};
use coalesce::Coalescer;
use doc::{PARKED_FIELDS, parked_from_doc};

/// The run of `ev`, an event [`Core::store_group`] hands to the paths of
/// runs (it splits off the events of no run first).
fn run_of(ev: &NewEvent) -> &str {
    ev.run_id.as_deref().unwrap_or_default()
}

/// How often one event's run write may lose a compare-and-set race before
/// the request fails with 503 (and the sender retries).
const MAX_ATTEMPTS: usize = 200;

/// How many stale `pending` events one sweep finishes.
const SWEEP_PENDING: i64 = 100;

/// Server selection and connect timeout when the URI sets none: a
/// MongoDB outage must turn into a quick 503, not a 30 s hang.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// The write concern herald acknowledges under: what the URI asks for,
/// with `w: majority` and `journal: true` wherever it is silent. An event
/// is acknowledged to its sender only after MongoDB acknowledged it, so a
/// weaker default (`w: 1`, no journal) could lose acknowledged events on a
/// primary crash or failover. A URI that says `w=1` or `journal=false`
/// explicitly is obeyed: that is the operator's informed choice.
fn durable(from_uri: Option<WriteConcern>) -> WriteConcern {
    let mut wc = from_uri.unwrap_or_default();
    wc.w.get_or_insert(Acknowledgment::Majority);
    wc.journal.get_or_insert(true);
    wc
}

/// `write_concern` as the `writeConcern` field of a command.
fn write_concern_doc(wc: &WriteConcern) -> Document {
    let mut d = Document::new();
    match &wc.w {
        Some(Acknowledgment::Nodes(n)) => d.insert("w", i64::from(*n)),
        Some(Acknowledgment::Majority) => d.insert("w", "majority"),
        Some(Acknowledgment::Custom(tag)) => d.insert("w", tag.as_str()),
        _ => None,
    };
    if let Some(j) = wc.journal {
        d.insert("j", j);
    }
    if let Some(t) = wc.w_timeout {
        d.insert("wtimeout", i64::try_from(t.as_millis()).unwrap_or(i64::MAX));
    }
    d
}

/// The MongoDB store. Concurrent `ingest` calls are coalesced into
/// groups written with a handful of round trips each (see the module
/// docs).
pub struct MongoStore {
    core: Arc<Core>,
    coalescer: Coalescer,
    identity: String,
    /// Where the coalescer reports its groups.
    commits: crate::metrics::CommitProbe,
}

/// The connection and collections, shared by the request handlers and the
/// coalescer's workers.
struct Core {
    client: Client,
    db: Database,
    events: Collection<Document>,
    runs: Collection<Document>,
    items: Collection<Document>,
    history: Collection<Document>,
    initial_status: String,
    /// Which run fields are keyed collections.
    layout: Layout,
    /// The step `HERALD_FAILPOINT` names (feature `failpoints` only).
    #[cfg(feature = "failpoints")]
    failpoint: Option<String>,
    /// [`durable`]'s write concern as a command field, for the commands
    /// sent with `run_command` (which does not add the client's).
    write_concern: Document,
    /// The same, for transactions.
    write_concern_opts: WriteConcern,
    /// Whether groups are written in transactions ([`txn`]).
    transactions: bool,
    /// With transactions, how long a group's writes outside one may wait
    /// (for locks another transaction holds) before its events get 503.
    lock_wait: Duration,
    /// Runs found locked by another transaction, refused for a while.
    locked: locked::Locked,
    /// Folds the warning per refusal of a locked run: a sender retrying
    /// in a tight loop would otherwise log a line per request.
    locked_log: crate::throttle::SharedThrottle,
    /// Run versions this process wrote and whose outbox it flushed: the
    /// next writer (or reader) of such a version need not flush it again.
    /// Only an optimisation (a miss flushes, harmlessly, again); cleared
    /// when big.
    flushed: std::sync::Mutex<HashMap<String, i64>>,
}

/// A driver error as a short outage message: what failed, without the
/// driver's topology dump (server addresses, election ids) that clients
/// and `/readyz` have no use for. The whole error goes to the debug log.
fn unavailable(e: mongodb::error::Error) -> StoreError {
    tracing::debug!(error = %e, "MongoDB error");
    let short = match &*e.kind {
        ErrorKind::ServerSelection { .. } => "MongoDB is unreachable: no server could be selected in time".to_owned(),
        ErrorKind::Io(io) => format!("MongoDB connection failed: {}", io.kind()),
        ErrorKind::Authentication { .. } => "MongoDB refused the credentials".to_owned(),
        ErrorKind::Command(c) => format!("MongoDB refused a command: {} (code {})", c.code_name, c.code),
        _ => {
            let text = e.to_string();
            let text = text.split(", labels:").next().unwrap_or_default();
            let cut = text.char_indices().nth(200).map_or(text.len(), |(i, _)| i);
            format!("MongoDB: {}", &text[..cut])
        }
    };
    StoreError::unavailable(short)
}

/// MongoDB's duplicate key error code.
const DUPLICATE_KEY: i32 = 11000;

/// The server error codes in `e`: the command's, or its write errors'.
fn error_codes(e: &mongodb::error::Error) -> impl Iterator<Item = i32> + '_ {
    let codes: Vec<i32> = match &*e.kind {
        ErrorKind::Command(c) => vec![c.code],
        ErrorKind::Write(WriteFailure::WriteError(w)) => vec![w.code],
        ErrorKind::Write(WriteFailure::WriteConcernError(w)) => vec![w.code],
        ErrorKind::InsertMany(m) => m.write_errors.iter().flatten().map(|w| w.code).collect(),
        _ => Vec::new(),
    };
    codes.into_iter()
}

fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    match &*e.kind {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == DUPLICATE_KEY,
        ErrorKind::Command(c) => c.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(m) => m.write_errors.iter().flatten().any(|w| w.code == DUPLICATE_KEY),
        _ => false,
    }
}

impl MongoStore {
    /// Connect to `uri`, use database `db_name`, create the indexes and
    /// convert runs an older version wrote, for runs kept by `rules`. With
    /// `transactions`, groups of events are written in multi-document
    /// transactions when the deployment offers them (a replica set or a
    /// sharded cluster); `lock_wait` then bounds how long a write outside a
    /// transaction may wait for another transaction's locks.
    pub async fn open(uri: &str, db_name: &str, rules: Rules, transactions: bool, lock_wait: Duration) -> Result<Self, StoreError> {
        let mut options = ClientOptions::parse(uri).await.map_err(|e| {
            let e = crate::redact::scrub(&e.to_string(), uri);
            StoreError::unavailable(format!("--mongodb-uri `{}` is not usable: {e}", crate::redact::uri(uri)))
        })?;
        options.server_selection_timeout.get_or_insert(DEFAULT_TIMEOUT);
        let write_concern = durable(options.write_concern.take());
        options.write_concern = Some(write_concern.clone());
        options.connect_timeout.get_or_insert(DEFAULT_TIMEOUT);
        options.app_name.get_or_insert_with(|| "herald-server".to_owned());
        let client = Client::with_options(options).map_err(unavailable)?;
        let db = client.database(db_name);
        let mut core = Core {
            write_concern: write_concern_doc(&write_concern),
            write_concern_opts: write_concern.clone(),
            transactions: false,
            lock_wait,
            locked: locked::Locked::default(),
            locked_log: Default::default(),
            flushed: std::sync::Mutex::new(HashMap::new()),
            events: db.collection("events"),
            runs: db.collection("runs"),
            items: db.collection("run_items"),
            history: db.collection("run_history"),
            db,
            client,
            initial_status: rules.initial_status,
            layout: rules.layout,
            // Fault injection for the crash tests: abort the process at a
            // named step (see `failpoint`).
            #[cfg(feature = "failpoints")]
            failpoint: std::env::var("HERALD_FAILPOINT").ok().filter(|s| !s.is_empty()),
        };
        core.create_indexes().await.map_err(|e| {
            let uri = crate::redact::uri(uri);
            StoreError::unavailable(format!(
                "cannot prepare MongoDB database `{db_name}` at {uri}: {}; is MongoDB running?",
                unavailable(e).message
            ))
        })?;
        let converted = core.migrate().await?;
        if converted > 0 {
            tracing::info!(runs = converted, "converted runs stored whole by an older version to fields and items");
        }
        let identity = core.identity().await?;
        core.transactions = transactions && core.offers_transactions().await;
        let core = Arc::new(core);
        let commits = crate::metrics::CommitProbe::default();
        let coalescer = Coalescer::start(core.clone(), commits.clone());
        Ok(MongoStore { core, coalescer, identity, commits })
    }

    /// Whether groups of events are written in transactions.
    pub fn uses_transactions(&self) -> bool {
        self.core.transactions
    }

    /// The database's identity: created with it (kept in its `meta`
    /// collection), so it names this database and no other, whatever its
    /// name or address.
    pub fn identity(&self) -> &str {
        &self.identity
    }
}

impl Core {
    async fn create_indexes(&self) -> mongodb::error::Result<()> {
        let unique = IndexOptions::builder().unique(true).name("source_id".to_owned()).build();
        self.events.create_index(IndexModel::builder().keys(doc! {"source": 1, "id": 1}).options(unique).build()).await?;
        let by_run = IndexOptions::builder().name("run_seq".to_owned()).build();
        self.events.create_index(IndexModel::builder().keys(doc! {"run_id": 1, "seq": 1}).options(by_run).build()).await?;
        let by_state = IndexOptions::builder().name("state_run".to_owned()).build();
        self.events
            .create_index(IndexModel::builder().keys(doc! {"state": 1, "run_id": 1, "received_at": 1}).options(by_state).build())
            .await?;
        let by_status = IndexOptions::builder().name("status_id".to_owned()).build();
        self.runs.create_index(IndexModel::builder().keys(doc! {"status": 1, "_id": 1}).options(by_status).build()).await?;
        let item_key = IndexOptions::builder().unique(true).name("run_coll_key".to_owned()).build();
        self.items.create_index(IndexModel::builder().keys(doc! {"run_id": 1, "coll": 1, "key": 1}).options(item_key).build()).await?;
        let recent = IndexOptions::builder().name("run_recent".to_owned()).build();
        self.history.create_index(IndexModel::builder().keys(doc! {"run_id": 1, "_id": -1}).options(recent).build()).await?;
        Ok(())
    }

    /// The database's identity, created by the first server to open it.
    async fn identity(&self) -> Result<String, StoreError> {
        let meta: Collection<Document> = self.db.collection("meta");
        let fresh = ObjectId::new().to_hex();
        let d = meta
            .find_one_and_update(doc! {"_id": "store"}, doc! {"$setOnInsert": {"identity": &fresh}})
            .upsert(true)
            .return_document(mongodb::options::ReturnDocument::After)
            .await
            .map_err(unavailable)?;
        Ok(d.and_then(|d| d.get_str("identity").ok().map(str::to_owned)).unwrap_or(fresh))
    }

    /// Whether the deployment runs transactions: a replica set member or a
    /// `mongos` (a standalone `mongod` refuses them).
    async fn offers_transactions(&self) -> bool {
        match self.client.database("admin").run_command(doc! {"hello": 1}).await {
            Ok(hello) => hello.contains_key("setName") || hello.get_str("msg").ok() == Some("isdbgrid"),
            Err(e) => {
                tracing::warn!(error = %e, "cannot ask MongoDB whether it offers transactions; writing without");
                false
            }
        }
    }

    /// Store one group of events: those of runs in a transaction when on,
    /// else (or when the transaction cannot settle the group) without;
    /// those of no run with one insert ([`runless`]).
    async fn store_group(&self, events: &[&NewEvent]) -> Vec<Result<Outcome, StoreError>> {
        if events.iter().all(|e| e.run_id.is_some()) {
            return self.store_of_runs(events).await;
        }
        let (runless, of_runs): (Vec<usize>, Vec<usize>) = (0..events.len()).partition(|&i| events[i].run_id.is_none());
        let pick = |ix: &[usize]| ix.iter().map(|&i| events[i]).collect::<Vec<_>>();
        let (runless_events, run_events) = (pick(&runless), pick(&of_runs));
        let (stored, applied) = tokio::join!(self.store_runless(&runless_events), async {
            if run_events.is_empty() { Vec::new() } else { self.store_of_runs(&run_events).await }
        });
        let mut results: Vec<Option<Result<Outcome, StoreError>>> = (0..events.len()).map(|_| None).collect();
        for (i, r) in runless.into_iter().zip(stored).chain(of_runs.into_iter().zip(applied)) {
            results[i] = Some(r);
        }
        results.into_iter().map(|r| r.unwrap_or_else(|| Err(StoreError::internal("event left unprocessed")))).collect()
    }

    /// Store one group of events of runs (see [`Core::store_group`]).
    async fn store_of_runs(&self, events: &[&NewEvent]) -> Vec<Result<Outcome, StoreError>> {
        if self.transactions { self.ingest_group_txn(events).await } else { self.ingest_group(events).await }
    }

    /// Abort the process here when `HERALD_FAILPOINT` names this step
    /// (feature `failpoints`; otherwise nothing).
    #[cfg(feature = "failpoints")]
    fn failpoint(&self, step: &str) {
        if self.failpoint.as_deref() == Some(step) {
            eprintln!("herald-server: failpoint {step} reached; aborting");
            std::process::abort();
        }
    }

    /// Fault injection is compiled out: nothing happens at any step.
    #[cfg(not(feature = "failpoints"))]
    fn failpoint(&self, _step: &str) {}

    /// Run one planner step on `p`, loading what it asks for until it can
    /// answer ([`RunState::decide`](crate::runstate::RunState::decide),
    /// with awaited loads).
    async fn plan_step<T>(&self, p: &mut Planning, mut step: impl FnMut(&mut Planning) -> Result<T, Need>) -> Result<T, StoreError> {
        for _ in 0..ROUNDS {
            match step(p) {
                Ok(t) => return Ok(t),
                Err(Need::Parked) => {
                    let parked = self.parked(p.run_id()).await?;
                    p.provide_parked(parked);
                }
                Err(Need::Items(asked)) => {
                    let mut found = self.load_items(&[(p.run_id(), asked.as_slice())]).await?;
                    let found = found.remove(p.run_id()).unwrap_or_default();
                    p.provide_items(asked, &found);
                }
            }
        }
        Err(StoreError::internal(format!("planning run {} kept asking for data it was given", p.run_id())))
    }

    /// With transactions, bound how long the server lets write `command`
    /// (made outside a transaction) wait for another transaction's locks:
    /// `maxTimeMS`, so that MongoDB gives up on it too (code 50) when the
    /// caller's `--mongodb-lock-wait` is over (see `txn.rs`). Without
    /// transactions no lock outlives a write, and nothing is added.
    fn bound_wait(&self, command: &mut Document) {
        if self.transactions {
            command.insert("maxTimeMS", i64::try_from(self.lock_wait.as_millis()).unwrap_or(i64::MAX));
        }
    }

    /// Whether `run`'s outbox (as read) may still have to be flushed: it
    /// holds something, and this process did not flush that version.
    fn unflushed(&self, run: &apply::Run) -> bool {
        !run.outbox.is_empty() && !self.was_flushed(run.id(), run.version)
    }

    /// The stored items among `wanted` (per run), by run.
    async fn load_items(&self, wanted: &[(&str, &[ItemKey])]) -> Result<HashMap<String, Vec<StoredItem>>, StoreError> {
        let mut out: HashMap<String, Vec<StoredItem>> = HashMap::new();
        let wanted: Vec<&(&str, &[ItemKey])> = wanted.iter().filter(|(_, keys)| !keys.is_empty()).collect();
        if wanted.is_empty() {
            return Ok(out);
        }
        // `$in` on each field of the unique index rather than an `$or` of
        // exact matches: every server answers it from the index; the few
        // extra combinations it matches are dropped below.
        let mut runs: Vec<&str> = wanted.iter().map(|(r, _)| *r).collect();
        let mut colls: Vec<&str> = wanted.iter().flat_map(|(_, k)| k.iter().map(|k| k.collection.as_str())).collect();
        let mut keys: Vec<&str> = wanted.iter().flat_map(|(_, k)| k.iter().map(|k| k.key.as_str())).collect();
        for v in [&mut runs, &mut colls, &mut keys] {
            v.sort_unstable();
            v.dedup();
        }
        let filter = doc! {"run_id": {"$in": runs}, "coll": {"$in": colls}, "key": {"$in": keys}};
        let mut cursor = self.items.find(filter).projection(doc! {"_id": 0}).await.map_err(unavailable)?;
        while cursor.advance().await.map_err(unavailable)? {
            let d: Document = cursor.deserialize_current().map_err(unavailable)?;
            let (Ok(run_id), Ok(coll), Ok(key)) = (d.get_str("run_id"), d.get_str("coll"), d.get_str("key")) else { continue };
            let asked = wanted.iter().any(|(r, ks)| *r == run_id && ks.iter().any(|k| k.collection == coll && k.key == key));
            if !asked {
                continue;
            }
            let value = d.get("v").map(bson::to_json).unwrap_or_default();
            let stamp = d.get_i64("ver").unwrap_or_default();
            out.entry(run_id.to_owned()).or_default().push((ItemKey::new(coll, key), value, stamp));
        }
        Ok(out)
    }

    /// The run's parked events, lowest `seq` (then oldest) first.
    async fn parked(&self, run_id: &str) -> Result<Vec<Parked>, StoreError> {
        Ok(self.parked_of(&[run_id]).await?.remove(run_id).unwrap_or_default())
    }

    /// The parked events of each of `run_ids`, lowest `seq` (then oldest)
    /// first.
    async fn parked_of(&self, run_ids: &[&str]) -> Result<HashMap<String, Vec<Parked>>, StoreError> {
        let mut cursor = self
            .events
            .find(doc! {"run_id": {"$in": run_ids}, "state": apply::state::PARKED})
            .projection(PARKED_FIELDS.clone())
            .sort(doc! {"seq": 1, "_id": 1})
            .await
            .map_err(unavailable)?;
        let mut parked: HashMap<String, Vec<Parked>> = HashMap::new();
        while cursor.advance().await.map_err(unavailable)? {
            let d: Document = cursor.deserialize_current().map_err(unavailable)?;
            if let Some((run_id, p)) = parked_from_doc(&d) {
                parked.entry(run_id).or_default().push(p);
            }
        }
        Ok(parked)
    }
}

impl Store for MongoStore {
    type Reads = Self;

    fn reads(&self) -> &Self {
        self
    }

    async fn ingest(&self, events: Vec<NewEvent>) -> Result<Vec<Outcome>, StoreError> {
        self.coalescer.submit(events).await
    }

    async fn release_gaps(&self, timeout: Duration) -> Result<usize, StoreError> {
        self.core.release_gaps(timeout).await
    }

    async fn ready(&self) -> Result<(), StoreError> {
        self.core.db.run_command(doc! {"ping": 1}).await.map(drop).map_err(unavailable)
    }

    fn commit_probe(&self) -> Option<&crate::metrics::CommitProbe> {
        Some(&self.commits)
    }

    /// Counted on the `state_run` index (its first key is `state`).
    async fn parked_events(&self) -> Result<Option<u64>, StoreError> {
        let n = self.core.events.count_documents(doc! {"state": apply::state::PARKED}).await.map_err(unavailable)?;
        Ok(Some(n))
    }

    async fn close(&self) {
        self.coalescer.close().await;
        self.core.client.clone().shutdown().await;
    }
}

impl Reads for MongoStore {
    async fn run(&self, run_id: &str) -> Result<Option<(RunView, Vec<HistoryEntry>)>, StoreError> {
        self.core.run(run_id).await
    }

    async fn runs(&self, q: RunQuery) -> Result<RunPage, StoreError> {
        self.core.runs(q).await
    }

    async fn run_events(&self, run_id: &str, query: EventQuery) -> Result<EventPage, StoreError> {
        self.core.run_events(run_id, query).await
    }

    async fn run_items(&self, run_id: &str, collection: &str, cursor: Option<String>, limit: usize) -> Result<ItemPage, StoreError> {
        self.core.run_items(run_id, collection, cursor, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn write_concern_of(uri: &str) -> WriteConcern {
        durable(ClientOptions::parse(uri).await.unwrap().write_concern)
    }

    #[tokio::test]
    async fn write_concern_defaults_to_majority_and_journal_but_the_uri_wins() {
        let wc = write_concern_of("mongodb://127.0.0.1:1").await;
        assert_eq!((wc.w, wc.journal), (Some(Acknowledgment::Majority), Some(true)));
        let wc = write_concern_of("mongodb://127.0.0.1:1/?w=1").await;
        assert_eq!((wc.w, wc.journal), (Some(Acknowledgment::Nodes(1)), Some(true)));
        let wc = write_concern_of("mongodb://127.0.0.1:1/?journal=false&wtimeoutMS=500").await;
        assert_eq!((wc.w.clone(), wc.journal), (Some(Acknowledgment::Majority), Some(false)));
        assert_eq!(wc.w_timeout, Some(Duration::from_millis(500)));
        assert_eq!(write_concern_doc(&wc), doc! {"w": "majority", "j": false, "wtimeout": 500_i64});
        assert_eq!(write_concern_doc(&write_concern_of("mongodb://127.0.0.1:1/?w=2").await), doc! {"w": 2_i64, "j": true});
    }
}
