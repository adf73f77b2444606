//! MongoDB store: collections `events` and `runs`, as in the seed.
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
//!   (`transactionLifetimeLimitSeconds`, 60 s by default): senders'
//!   retries of those events wait (or time out and retry), then succeed.
//! - **Sharding.** Shard `events` on `{source: 1, id: 1}` (a unique index
//!   must start with the shard key, and `(source, id)` is the dedup guard)
//!   and `runs` on `{_id: "hashed"}` (every run write targets one `_id`).
//!   Reads by run (`GET /api/runs/{id}/events`) then visit every shard.
//! - **Throughput.** Concurrent requests are coalesced into groups written
//!   with a fixed number of round trips (`coalesce.rs`, `group.rs`).
//!
//! # Collections
//! - `events`: one document per stored event; unique index on
//!   `(source, id)` (the dedup guard), index on `(run_id, seq)`. `state` is
//!   `pending` → `applied | parked | stale | illegal_transition`; a parked
//!   event keeps its handler's change (`change`) until it is applied.
//! - `runs`: `_id` = run id; `status`, `last_event_seq`, `applied_events`, `updated_at`,
//!   `doc` (the handlers' fields, keys escaped — see `bson.rs`), `history`
//!   (the latest 100 entries), `version` (the compare-and-set guard) and
//!   `outbox`.
//!
//! # Crash safety without transactions
//! Described for one event; `group.rs` does the same for many at once.
//! 1. The event is inserted with `state: pending` and its change. The
//!    unique index makes insert-or-detect-duplicate one atomic step.
//! 2. The run is read (with its `version`), the event processed in memory
//!    (`apply::plan`), and the whole run document replaced on condition
//!    that `version` is unchanged (insert for a new run; the `_id` index
//!    guards that). A lost race re-reads and re-plans.
//!    The replaced document carries an `outbox`: the event states this
//!    write produced (this event, and parked events it released).
//!    Because the state change and the outbox are one document write, an
//!    event's effect on the run and the record of that effect can never
//!    be separated.
//! 3. The outbox is flushed into `events` (conditional updates: only
//!    `pending → *` and `parked → applied|stale|illegal_transition`, so a
//!    late flush never undoes a newer state). Every writer flushes the
//!    outbox it read *before* replacing it, so an entry leaves the outbox
//!    only after it reached `events`.
//!
//! Hence: an event still `pending` in `events` that is not in its run's
//! outbox has not been applied. A duplicate (11000) of a `pending` event
//! therefore finishes processing it (steps 2–3) before answering
//! `duplicate`, and the gap sweeper does the same for `pending` events
//! older than the gap timeout that nobody retried. Whoever finds the event
//! already in the outbox, or already settled, stops: it is applied once.
//! A process dying after step 1 leaves a `pending` event the sender's
//! retry (or the sweeper) finishes; dying after step 2 leaves an outbox
//! the next writer (or the retry) flushes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Bson, Document, doc};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{Acknowledgment, ClientOptions, IndexOptions, WriteConcern};
use mongodb::{Client, Collection, Database, IndexModel};

use super::{HistoryEntry, Item, ItemPage, NewEvent, Outcome, RunPage, RunQuery, RunView, Store, StoreError, StoredEvent};
use crate::change::RunChange;
use crate::runstate::Rules;
use crate::clock::{millis_to_rfc3339, now_millis};

mod apply;
mod bson;
mod coalesce;
mod group;
mod txn;

use apply::{History, Incoming, Parked, Run, Settle, state};
use coalesce::Coalescer;

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
}

/// The connection and collections, shared by the request handlers and the
/// coalescer's workers.
struct Core {
    client: Client,
    db: Database,
    events: Collection<Document>,
    runs: Collection<Document>,
    initial_status: String,
    /// Which run fields are keyed collections.
    layout: crate::runstate::Layout,
    failpoint: Option<String>,
    /// [`durable`]'s write concern as a command field, for the commands
    /// sent with `run_command` (which does not add the client's).
    write_concern: Document,
    /// The same, for transactions.
    write_concern_opts: WriteConcern,
    /// Whether groups are written in transactions ([`txn`]).
    transactions: bool,
    /// Run versions this process wrote and whose outbox it flushed: the
    /// next writer of such a version need not flush it again. Only an
    /// optimisation (a miss flushes, harmlessly, again); cleared when big.
    flushed: std::sync::Mutex<HashMap<String, i64>>,
}

fn unavailable(e: mongodb::error::Error) -> StoreError {
    StoreError(format!("MongoDB: {e}"))
}

/// MongoDB's duplicate key error code.
const DUPLICATE_KEY: i32 = 11000;

fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    match &*e.kind {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == DUPLICATE_KEY,
        ErrorKind::Command(c) => c.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(m) => m.write_errors.iter().flatten().any(|w| w.code == DUPLICATE_KEY),
        _ => false,
    }
}

/// The `events` document of a new event, `pending` until its run write.
fn event_doc(oid: ObjectId, ev: &NewEvent) -> Result<Document, StoreError> {
    let change = serde_json::to_string(&ev.change).map_err(|e| StoreError(format!("cannot encode the change: {e}")))?;
    Ok(doc! {
        "_id": oid,
        "source": &ev.source,
        "id": &ev.id,
        "type": &ev.type_name,
        "run_id": &ev.run_id,
        "seq": ev.seq.map_or(Bson::Null, Bson::Int64),
        "received_at": now_millis(),
        "state": state::PENDING,
        "change": change,
        "envelope": &ev.envelope,
    })
}

/// The `(filter, update)` pairs settling `outbox` in `events`, one per
/// distinct state. Only forwards (`pending → *`, `parked → applied |
/// stale | illegal_transition`), so replaying an old outbox never moves an
/// event back.
fn settle_updates(outbox: &[Settle]) -> impl Iterator<Item = (Document, Document)> + '_ {
    [state::PARKED, state::APPLIED, state::STALE, state::ILLEGAL].into_iter().filter_map(move |target| {
        let ids: Vec<ObjectId> = outbox.iter().filter(|s| s.state == target).map(|s| s.event).collect();
        if ids.is_empty() {
            None
        } else if target == state::PARKED {
            Some((doc! {"_id": {"$in": ids}, "state": state::PENDING}, doc! {"$set": {"state": state::PARKED}}))
        } else {
            Some((
                doc! {"_id": {"$in": ids}, "state": {"$in": [state::PENDING, state::PARKED]}},
                doc! {"$set": {"state": target}, "$unset": {"change": ""}},
            ))
        }
    })
}

/// The fields [`parked_from_doc`] reads.
static PARKED_FIELDS: std::sync::LazyLock<Document> =
    std::sync::LazyLock::new(|| doc! {"_id": 1, "id": 1, "run_id": 1, "seq": 1, "change": 1});

/// A parked `events` document as its run id and [`Parked`]; `None` (with a
/// warning) for one that cannot be applied.
fn parked_from_doc(d: &Document) -> Option<(String, Parked)> {
    let (Ok(oid), Ok(seq), Ok(change)) = (d.get_object_id("_id"), d.get_i64("seq"), d.get_str("change")) else {
        tracing::warn!(event = ?d.get("_id"), "parked event without seq or change; skipped");
        return None;
    };
    let Ok(change) = serde_json::from_str(change) else {
        tracing::warn!(event = %oid, "parked event with an unreadable change; skipped");
        return None;
    };
    let run_id = d.get_str("run_id").unwrap_or_default().to_owned();
    Some((run_id, Parked { key: oid, id: d.get_str("id").unwrap_or_default().to_owned(), seq, change }))
}

/// How one attempt at writing a run ended.
enum Cas<T> {
    Done(T),
    Conflict,
}

impl MongoStore {
    /// Connect to `uri`, use database `db_name`, create the indexes.
    /// New runs start in `initial_status`. With `transactions`, groups of
    /// events are written in multi-document transactions when the
    /// deployment offers them (a replica set or a sharded cluster).
    pub async fn open(uri: &str, db_name: &str, rules: Rules, transactions: bool) -> Result<Self, StoreError> {
        let initial_status = rules.initial_status.as_str();
        let mut options = ClientOptions::parse(uri)
            .await
            .map_err(|e| StoreError(format!("--mongodb-uri `{uri}` is not usable: {e}")))?;
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
            flushed: std::sync::Mutex::new(HashMap::new()),
            events: db.collection("events"),
            runs: db.collection("runs"),
            db,
            client,
            initial_status: initial_status.to_owned(),
            layout: rules.layout.clone(),
            // Fault injection for the crash tests: abort the process at a
            // named step (see `failpoint`).
            failpoint: std::env::var("HERALD_FAILPOINT").ok().filter(|s| !s.is_empty()),
        };
        core.create_indexes().await.map_err(|e| {
            StoreError(format!("cannot prepare MongoDB database `{db_name}` at {uri}: {}; is MongoDB running?", unavailable(e).0))
        })?;
        core.transactions = transactions && core.offers_transactions().await;
        let core = Arc::new(core);
        let coalescer = Coalescer::start(core.clone());
        Ok(MongoStore { core, coalescer })
    }

    /// The database name.
    pub fn database(&self) -> &str {
        self.core.db.name()
    }

    /// Whether groups of events are written in transactions.
    pub fn uses_transactions(&self) -> bool {
        self.core.transactions
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
        Ok(())
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

    /// Store one group of events: in a transaction when on, else (or when
    /// the transaction cannot settle the group) without.
    async fn store_group(&self, events: &[&NewEvent]) -> Vec<Result<Outcome, StoreError>> {
        if self.transactions {
            if let Some(results) = self.ingest_group_txn(events).await {
                return results;
            }
        }
        self.ingest_group(events).await
    }

    /// Abort the process here when `HERALD_FAILPOINT` names this step.
    fn failpoint(&self, step: &str) {
        if self.failpoint.as_deref() == Some(step) {
            eprintln!("herald-server: failpoint {step} reached; aborting");
            std::process::abort();
        }
    }

    /// `(source, id)` is stored already. If it is still `pending` (its
    /// first attempt died or is still running), finish processing it
    /// before answering: a retry must never turn into a lost event.
    async fn duplicate(&self, source: &str, id: &str) -> Result<Outcome, StoreError> {
        let stored = self
            .events
            .find_one(doc! {"source": source, "id": id})
            .projection(doc! {"envelope": 0})
            .await
            .map_err(unavailable)?
            .ok_or_else(|| StoreError(format!("event ({source}, {id}) reported as duplicate but not found")))?;
        let run_id = stored.get_str("run_id").unwrap_or_default().to_owned();
        if stored.get_str("state").ok() == Some(state::PENDING) {
            self.finish_pending(&stored).await?;
        }
        Ok(Outcome::Duplicate { run_id })
    }

    /// Note that `runs` (as written, version `run.version + 1`) had their
    /// outboxes flushed.
    fn remember_flushed<'r>(&self, runs: impl Iterator<Item = &'r Run>) {
        /// Bound on the runs remembered: a busy server forgets, and pays
        /// one extra (no-op) flush per run it forgot.
        const REMEMBER: usize = 100_000;
        let mut flushed = self.flushed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for run in runs {
            if flushed.len() >= REMEMBER {
                flushed.clear();
            }
            flushed.insert(run.run_id.clone(), run.version + 1);
        }
    }

    /// Process a stored `pending` event from its document.
    async fn finish_pending(&self, stored: &Document) -> Result<(), StoreError> {
        let bad = |what: &str| StoreError(format!("stored event has no valid `{what}`"));
        let oid = stored.get_object_id("_id").map_err(|_| bad("_id"))?;
        let change: RunChange =
            serde_json::from_str(stored.get_str("change").map_err(|_| bad("change"))?).map_err(|_| bad("change"))?;
        let run_id = stored.get_str("run_id").map_err(|_| bad("run_id"))?;
        let incoming = Incoming {
            key: oid,
            source: stored.get_str("source").unwrap_or_default(),
            id: stored.get_str("id").unwrap_or_default(),
            seq: stored.get_i64("seq").ok(),
            change: &change,
        };
        self.process(run_id, &incoming).await.map(drop)
    }

    /// Steps 2–3 for one stored event. `None`: someone else processed it.
    async fn process(&self, run_id: &str, ev: &Incoming<'_>) -> Result<Option<Outcome>, StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            let mut run = self.load_run(run_id).await?;
            // Flush what the last writer produced before reading event
            // states (and before replacing its outbox).
            self.flush(&run.outbox).await?;
            if run.outbox.iter().any(|s| s.event == ev.key) || !self.is_pending(ev.key).await? {
                return Ok(None);
            }
            run.outbox.clear();
            let parked = if apply::needs_parked(&run, ev.seq) { self.parked(run_id).await? } else { Vec::new() };
            let plan = apply::plan(&self.layout, run, ev, &parked, now_millis());
            match self.write_run(&plan.run).await? {
                Cas::Done(()) => {
                    self.failpoint("mongo:after_run_write");
                    self.flush(&plan.run.outbox).await?;
                    return Ok(Some(plan.outcome));
                }
                Cas::Conflict => backoff(attempt).await,
            }
        }
        Err(StoreError(format!("run {run_id} is too contended: gave up after {MAX_ATTEMPTS} attempts; retry")))
    }

    async fn is_pending(&self, oid: ObjectId) -> Result<bool, StoreError> {
        let found = self
            .events
            .find_one(doc! {"_id": oid})
            .projection(doc! {"state": 1})
            .await
            .map_err(unavailable)?;
        Ok(found.is_some_and(|d| d.get_str("state").ok() == Some(state::PENDING)))
    }

    /// Write the settled states to `events`: one conditional update per
    /// distinct state, so replaying an old outbox never moves an event back.
    async fn flush(&self, outbox: &[Settle]) -> Result<(), StoreError> {
        for (filter, update) in settle_updates(outbox) {
            self.events.update_many(filter, update).await.map_err(unavailable)?;
        }
        Ok(())
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
            .find(doc! {"run_id": {"$in": run_ids}, "state": state::PARKED})
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

    async fn load_run(&self, run_id: &str) -> Result<Run, StoreError> {
        let found = self.runs.find_one(doc! {"_id": run_id}).await.map_err(unavailable)?;
        Ok(match found {
            Some(d) => run_from_doc(run_id, &d),
            None => Run::new(run_id, &self.initial_status),
        })
    }

    /// Insert a new run, or replace the stored one if its `version` is
    /// still the one we read.
    async fn write_run(&self, run: &Run) -> Result<Cas<()>, StoreError> {
        let mut d = run_to_doc(run);
        d.insert("version", run.version + 1);
        if run.version == 0 {
            match self.runs.insert_one(d).await {
                Ok(_) => Ok(Cas::Done(())),
                Err(e) if is_duplicate_key(&e) => Ok(Cas::Conflict),
                Err(e) => Err(unavailable(e)),
            }
        } else {
            let r = self.runs.replace_one(doc! {"_id": &run.run_id, "version": run.version}, d).await.map_err(unavailable)?;
            Ok(if r.matched_count == 1 { Cas::Done(()) } else { Cas::Conflict })
        }
    }

    /// Skip the gap of one run whose parked events waited too long.
    async fn skip_gap(&self, run_id: &str) -> Result<usize, StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            let run = self.load_run(run_id).await?;
            self.flush(&run.outbox).await?;
            let parked = self.parked(run_id).await?;
            let Some((run, applied)) = apply::skip_gap(&self.layout, run, &parked, now_millis()) else { return Ok(0) };
            match self.write_run(&run).await? {
                Cas::Done(()) => {
                    self.flush(&run.outbox).await?;
                    return Ok(applied);
                }
                Cas::Conflict => backoff(attempt).await,
            }
        }
        Err(StoreError(format!("run {run_id} is too contended to release its gap; will retry")))
    }

    async fn view(&self, d: &Document) -> Result<RunView, StoreError> {
        let run_id = d.get_str("_id").unwrap_or_default().to_owned();
        let run = run_from_doc(&run_id, d);
        let parked = self
            .events
            .count_documents(doc! {"run_id": &run_id, "state": state::PARKED})
            .await
            .map_err(unavailable)?;
        Ok(RunView {
            run_id,
            status: run.status,
            last_event_seq: run.last_event_seq,
            updated_at: millis_to_rfc3339(run.updated_at),
            parked_events: i64::try_from(parked).unwrap_or(i64::MAX),
            applied_events: run.applied_events,
            item_counts: Default::default(),
            doc: run.doc,
        })
    }

    async fn collect_events(&self, filter: Document, sort: Document, limit: i64) -> Result<Vec<StoredEvent>, StoreError> {
        let mut out = Vec::new();
        if limit <= 0 {
            return Ok(out);
        }
        let mut cursor = self.events.find(filter).sort(sort).limit(limit).await.map_err(unavailable)?;
        while cursor.advance().await.map_err(unavailable)? {
            let d: Document = cursor.deserialize_current().map_err(unavailable)?;
            out.push(StoredEvent {
                seq: d.get_i64("seq").ok(),
                state: d.get_str("state").unwrap_or_default().to_owned(),
                received_at: millis_to_rfc3339(d.get_i64("received_at").unwrap_or_default()),
                event: serde_json::from_str(d.get_str("envelope").unwrap_or_default()).unwrap_or_default(),
            });
        }
        Ok(out)
    }
}

async fn backoff(attempt: usize) {
    // Small and jittered: contention is between a few writers of one run.
    let micros = 100 * (attempt.min(20) as u64 + 1) + u64::from(ObjectId::new().bytes()[11]);
    tokio::time::sleep(Duration::from_micros(micros)).await;
}

fn run_to_doc(run: &Run) -> Document {
    let history: Vec<Bson> = run
        .history
        .iter()
        .map(|h| Bson::Document(doc! {"at": h.at, "kind": &h.kind, "detail": bson::to_bson(&h.detail)}))
        .collect();
    let outbox: Vec<Bson> = run.outbox.iter().map(|s| Bson::Document(doc! {"event": s.event, "state": s.state})).collect();
    doc! {
        "_id": &run.run_id,
        "status": &run.status,
        "last_event_seq": run.last_event_seq.map_or(Bson::Null, Bson::Int64),
        "applied_events": run.applied_events,
        "updated_at": run.updated_at,
        "doc": bson::to_document(&run.doc),
        "history": history,
        "outbox": outbox,
    }
}

fn run_from_doc(run_id: &str, d: &Document) -> Run {
    let history = d
        .get_array("history")
        .map(|a| {
            a.iter()
                .filter_map(Bson::as_document)
                .map(|h| History {
                    at: h.get_i64("at").unwrap_or_default(),
                    kind: h.get_str("kind").unwrap_or_default().to_owned(),
                    detail: h.get("detail").map(bson::to_json).unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let outbox = d
        .get_array("outbox")
        .map(|a| {
            a.iter()
                .filter_map(Bson::as_document)
                .filter_map(|s| {
                    let state = match s.get_str("state").ok()? {
                        state::APPLIED => state::APPLIED,
                        state::PARKED => state::PARKED,
                        state::STALE => state::STALE,
                        state::ILLEGAL => state::ILLEGAL,
                        _ => return None,
                    };
                    Some(Settle { event: s.get_object_id("event").ok()?, state })
                })
                .collect()
        })
        .unwrap_or_default();
    Run {
        run_id: run_id.to_owned(),
        version: d.get_i64("version").unwrap_or_default(),
        status: d.get_str("status").unwrap_or_default().to_owned(),
        last_event_seq: d.get_i64("last_event_seq").ok(),
        applied_events: d.get_i64("applied_events").unwrap_or_default(),
        updated_at: d.get_i64("updated_at").unwrap_or_default(),
        doc: d.get_document("doc").map(bson::to_map).unwrap_or_default(),
        history,
        outbox,
    }
}

impl Store for MongoStore {
    async fn ingest(&self, events: Vec<NewEvent>) -> Result<Vec<Outcome>, StoreError> {
        self.coalescer.submit(events).await
    }

    async fn release_gaps(&self, timeout: Duration) -> Result<usize, StoreError> {
        self.core.release_gaps(timeout).await
    }

    async fn run(&self, run_id: &str) -> Result<Option<(RunView, Vec<HistoryEntry>)>, StoreError> {
        self.core.run(run_id).await
    }

    async fn runs(&self, q: RunQuery) -> Result<RunPage, StoreError> {
        self.core.runs(q).await
    }

    async fn run_events(&self, run_id: &str, after_seq: Option<i64>, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        self.core.run_events(run_id, after_seq, limit).await
    }

    async fn run_items(&self, run_id: &str, collection: &str, cursor: Option<String>, limit: usize) -> Result<ItemPage, StoreError> {
        let found = self.core.runs.find_one(doc! {"_id": run_id}).await.map_err(unavailable)?;
        let mut items: Vec<Item> = found
            .map(|d| run_from_doc(run_id, &d).doc)
            .and_then(|mut doc| doc.remove(collection))
            .and_then(|v| match v {
                serde_json::Value::Object(m) => Some(m),
                _ => None,
            })
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| cursor.as_ref().is_none_or(|c| k > c))
            .map(|(key, value)| Item { key, value })
            .collect();
        items.sort_by(|a, b| a.key.cmp(&b.key));
        items.truncate(limit + 1);
        Ok(ItemPage::from_overfetch(items, limit))
    }

    async fn ready(&self) -> Result<(), StoreError> {
        self.core.db.run_command(doc! {"ping": 1}).await.map(drop).map_err(unavailable)
    }

    async fn close(&self) {
        self.coalescer.close().await;
        self.core.client.clone().shutdown().await;
    }
}

/// The query side and the gap sweeper.
impl Core {
    async fn release_gaps(&self, timeout: Duration) -> Result<usize, StoreError> {
        let cutoff = now_millis() - i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        // Events whose processing died half-way and that no retry finished.
        let mut cursor = self
            .events
            .find(doc! {"state": state::PENDING, "received_at": {"$lte": cutoff}})
            .projection(doc! {"envelope": 0})
            .limit(SWEEP_PENDING)
            .await
            .map_err(unavailable)?;
        let mut pending = Vec::new();
        while cursor.advance().await.map_err(unavailable)? {
            pending.push(cursor.deserialize_current().map_err(unavailable)?);
        }
        for d in &pending {
            tracing::warn!(event = ?d.get("_id"), "finishing an event left pending (a server died mid-ingest?)");
            self.finish_pending(d).await?;
        }

        let runs = self
            .events
            .distinct("run_id", doc! {"state": state::PARKED, "received_at": {"$lte": cutoff}})
            .await
            .map_err(unavailable)?;
        let mut applied = 0;
        for run_id in runs.iter().filter_map(Bson::as_str) {
            applied += self.skip_gap(run_id).await?;
        }
        Ok(applied)
    }

    async fn run(&self, run_id: &str) -> Result<Option<(RunView, Vec<HistoryEntry>)>, StoreError> {
        let Some(d) = self.runs.find_one(doc! {"_id": run_id}).await.map_err(unavailable)? else { return Ok(None) };
        let view = self.view(&d).await?;
        let history = run_from_doc(run_id, &d)
            .history
            .into_iter()
            .map(|h| HistoryEntry { at: millis_to_rfc3339(h.at), kind: h.kind, detail: h.detail })
            .collect();
        Ok(Some((view, history)))
    }

    async fn runs(&self, q: RunQuery) -> Result<RunPage, StoreError> {
        let limit = q.limit.max(1);
        let mut filter = doc! {"_id": {"$gt": q.cursor.unwrap_or_default()}};
        if let Some(status) = q.status {
            filter.insert("status", status);
        }
        let mut cursor = self
            .runs
            .find(filter)
            .sort(doc! {"_id": 1})
            .limit(i64::try_from(limit + 1).unwrap_or(i64::MAX))
            .await
            .map_err(unavailable)?;
        let mut docs = Vec::new();
        while cursor.advance().await.map_err(unavailable)? {
            docs.push(cursor.deserialize_current().map_err(unavailable)?);
        }
        let mut runs = Vec::with_capacity(docs.len());
        for d in docs.iter().take(limit) {
            runs.push(self.view(d).await?);
        }
        let next_cursor = if docs.len() > limit { runs.last().map(|r| r.run_id.clone()) } else { None };
        Ok(RunPage { runs, next_cursor })
    }

    async fn run_events(&self, run_id: &str, after_seq: Option<i64>, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // `seq` order, then events without `seq` in arrival order, as SQLite.
        let with_seq = match after_seq {
            Some(after) => doc! {"run_id": run_id, "seq": {"$gt": after}},
            None => doc! {"run_id": run_id, "seq": {"$ne": Bson::Null}},
        };
        let mut out = self.collect_events(with_seq, doc! {"seq": 1, "_id": 1}, limit).await?;
        if after_seq.is_none() {
            let rest = limit - i64::try_from(out.len()).unwrap_or(limit);
            out.extend(self.collect_events(doc! {"run_id": run_id, "seq": Bson::Null}, doc! {"_id": 1}, rest).await?);
        }
        Ok(out)
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
