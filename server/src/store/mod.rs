//! Durable storage of events and run state, behind one trait so every
//! backend (embedded SQLite, MongoDB, either behind the Redis dedup
//! decorator) passes the same conformance tests.
//!
//! The store owns steps 3–5 of the pipeline: deduplicate on
//! `(source, id)`, store the event, and apply its change in `seq` order —
//! all in one transaction, so an acknowledged event is stored once and
//! applied once whatever happens to the process afterwards. An event whose
//! type belongs to no run ([`NewEvent::run_id`] `None`) is deduplicated and
//! stored the same way, and applied to nothing.

use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::change::RunChange;

pub mod dedup;
pub mod memory;
pub mod mongo;
pub mod sqlite;

pub use crate::runstate::Outcome;

/// An event that passed validation, with the change its handler computed.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// CloudEvents `source` (half of the dedup key).
    pub source: String,
    /// CloudEvents `id` (the other half).
    pub id: String,
    /// CloudEvents `type`.
    pub type_name: String,
    /// The run the event belongs to; `None` when its type belongs to no
    /// run (`stream_key: none`): the store deduplicates and stores it, and
    /// answers [`Outcome::Stored`] without sequencing it or touching a run.
    /// Never `Some("")`: the pipeline refuses an empty run id.
    pub run_id: Option<String>,
    /// The `seq` extension, when sent.
    pub seq: Option<i64>,
    /// The envelope as canonical structured-mode JSON.
    pub envelope: String,
    /// What applying the event does.
    pub change: RunChange,
}

/// Why the store could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    /// Which kind of failure: it decides what the client is told.
    pub kind: StoreErrorKind,
    /// What happened, for the problem response and the log.
    pub message: String,
}

/// The two kinds of [`StoreError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// The store cannot take or serve requests right now (disk full, file
    /// gone, writer stopped, database unreachable). 503 with
    /// `Retry-After`: the sender retries, and nothing was acknowledged.
    Unavailable,
    /// Stored data the store cannot read, or a bug. 500: retrying the same
    /// request will not help until someone looks.
    Internal,
}

impl StoreError {
    /// The store cannot work right now; retrying later may succeed.
    pub fn unavailable(message: impl Into<String>) -> Self {
        StoreError { kind: StoreErrorKind::Unavailable, message: message.into() }
    }

    /// Corrupt stored data or a bug; retrying will not help.
    pub fn internal(message: impl Into<String>) -> Self {
        StoreError { kind: StoreErrorKind::Internal, message: message.into() }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            StoreErrorKind::Unavailable => write!(f, "the event store is unavailable: {}", self.message),
            StoreErrorKind::Internal => write!(f, "internal store error: {}", self.message),
        }
    }
}

impl std::error::Error for StoreError {}

/// A run as the query API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunView {
    /// The run id.
    pub run_id: String,
    /// Lifecycle status: one of the catalog's (`RunStatus` wire names).
    pub status: String,
    /// Highest `seq` applied, if any.
    pub last_event_seq: Option<i64>,
    /// Last change, RFC 3339.
    pub updated_at: String,
    /// Events stored for the run and waiting for a `seq` gap to fill.
    pub parked_events: i64,
    /// Events applied to the run so far. Each stored event is applied at
    /// most once, so this equals the number of distinct events in state
    /// `applied`; it makes "never applied twice" observable.
    pub applied_events: i64,
    /// Items per non-empty collection (`nodes`, `papers`, …). A
    /// collection of at most [`INLINE_ITEMS`] items is also shown whole
    /// in `doc`, as an object keyed by item key; a larger one is paged
    /// with `GET /api/runs/{run_id}/items/{collection}`.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub item_counts: std::collections::BTreeMap<String, i64>,
    /// The document fields handlers wrote (and small collections).
    #[serde(flatten)]
    pub doc: Map<String, Value>,
}

/// Most items of one collection shown inside a run's document; beyond
/// this a read would grow with the run, so the collection is paged.
pub const INLINE_ITEMS: usize = 100;

/// One page of a run's collection, in key order.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ItemPage {
    /// The items.
    pub items: Vec<Item>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One item of a run's collection.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Item {
    /// Its key (a node id).
    pub key: String,
    /// Its value.
    pub value: Value,
}

impl ItemPage {
    /// A page from up to `limit + 1` items read in key order: the extra
    /// one only says a next page exists.
    pub fn from_overfetch(mut items: Vec<Item>, limit: usize) -> Self {
        let next_cursor = page_end(&mut items, limit, |i| &i.key);
        ItemPage { items, next_cursor }
    }
}

/// A notable thing that happened to a run (illegal transition, skipped
/// gap, stale event), newest last.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    /// When, RFC 3339.
    pub at: String,
    /// `illegal_transition`, `gap_skipped`, `stale_event`.
    pub kind: String,
    /// Specifics.
    pub detail: Value,
}

/// One page of runs.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunPage {
    /// The runs, ordered by `run_id`.
    pub runs: Vec<RunView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl RunPage {
    /// A page from up to `limit + 1` runs read in id order: the extra one
    /// only says a next page exists.
    pub fn from_overfetch(mut runs: Vec<RunView>, limit: usize) -> Self {
        let next_cursor = page_end(&mut runs, limit, |r| &r.run_id);
        RunPage { runs, next_cursor }
    }
}

/// Cut `read` (up to `limit + 1` rows in key order) to a page of `limit`;
/// the cursor of the next page (the last key kept) when the extra row says
/// there is one.
fn page_end<T>(read: &mut Vec<T>, limit: usize, key: impl Fn(&T) -> &String) -> Option<String> {
    if read.len() <= limit {
        return None;
    }
    read.truncate(limit);
    read.last().map(|t| key(t).clone())
}

/// A stored event.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoredEvent {
    /// Its `seq`, if any.
    pub seq: Option<i64>,
    /// `applied`, `parked`, `stale`, `illegal_transition`.
    pub state: String,
    /// When the server stored it, RFC 3339.
    pub received_at: String,
    /// The envelope (structured-mode JSON), as stored: answers copy the
    /// text instead of building a tree of it, which would hold each page
    /// several times over in memory.
    #[schema(value_type = Object)]
    pub event: Box<RawValue>,
}

impl StoredEvent {
    /// The stored envelope text as an [`StoredEvent::event`]; an error
    /// when the store holds text that is not JSON (a damaged store, never
    /// shown as an empty event).
    pub fn envelope(text: String) -> Result<Box<RawValue>, serde_json::Error> {
        RawValue::from_string(text)
    }

    /// A string attribute of the envelope (`type`, `time`, …), or `""`.
    pub fn attribute(&self, name: &str) -> String {
        let envelope: Value = serde_json::from_str(self.event.get()).unwrap_or_default();
        envelope.get(name).and_then(Value::as_str).unwrap_or_default().to_owned()
    }
}

/// Where an event without `seq` sorts in its run's list: after every
/// `seq`, in arrival order. `seq` is a 64-bit extension (`format: int64`
/// in `events.yaml`), so only the largest `i64` is past every one (it was
/// 2^31 while `seq` was 32-bit; the SQLite store's migration 5 moved
/// stored positions).
pub const NO_SEQ: i64 = i64::MAX;

/// [`NO_SEQ`] before `seq` was 64-bit, as schema 4 stores it.
pub(crate) const NO_SEQ_32: i64 = i32::MAX as i64 + 1;

/// Most envelope bytes one page of events carries (at least one event is
/// always returned): a page's memory does not depend on how large the
/// run's events are. Four clients paging through a 100k-event run
/// (`tests/answer_memory.rs`) peaked at 85 MB with 4 MiB pages and
/// 60–63 MB with 1 MiB; 512 KiB keeps them at 56 MB, under the 64 MB goal
/// with room to spare, for twice the requests.
pub const EVENT_PAGE_BYTES: usize = 512 * 1024;

/// A position in a run's list of events: its `seq` (or [`NO_SEQ`]) and
/// the store's key for the event (a row id, an ObjectId), as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCursor {
    /// The event's `seq`, or [`NO_SEQ`].
    pub ord: i64,
    /// The store's key of the event.
    pub key: String,
}

impl EventCursor {
    /// Parse the text of [`EventCursor::to_text`].
    pub fn parse(text: &str) -> Option<Self> {
        let (ord, key) = text.split_once('.')?;
        Some(EventCursor { ord: ord.parse().ok()?, key: key.to_owned() })
    }

    /// `ord.key`, what clients pass back as `cursor`.
    pub fn to_text(&self) -> String {
        format!("{}.{}", self.ord, self.key)
    }
}

/// Which of a run's events to list.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only events after this `seq` (events without `seq` included).
    pub after_seq: Option<i64>,
    /// Only events after this position (from a previous page).
    pub cursor: Option<EventCursor>,
    /// Page size.
    pub limit: usize,
}

impl EventQuery {
    /// The exclusive lower bound on `(ord, key)` positions, `None` for the
    /// start; the key bound is the backend's (parsed from the cursor).
    pub fn after(&self) -> Option<(i64, Option<&str>)> {
        match (&self.cursor, self.after_seq) {
            (Some(c), _) => Some((c.ord, Some(c.key.as_str()))),
            (None, Some(s)) => Some((s, None)),
            (None, None) => None,
        }
    }
}

/// One page of a run's events.
#[derive(Debug, Clone, Serialize)]
pub struct EventPage {
    /// The events, in `seq` order, those without `seq` last.
    pub events: Vec<StoredEvent>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl EventPage {
    /// A page from events read in list order (each with its position), up
    /// to `limit + 1` of them: it ends after `limit` events or once
    /// [`EVENT_PAGE_BYTES`] of envelopes are in it.
    pub fn from_overfetch(found: Vec<(EventCursor, StoredEvent, usize)>, limit: usize) -> Self {
        let mut events = Vec::new();
        let mut bytes = 0;
        let mut last = None;
        let total = found.len();
        for (position, event, size) in found {
            if events.len() == limit || (!events.is_empty() && bytes + size > EVENT_PAGE_BYTES) {
                break;
            }
            bytes += size;
            events.push(event);
            last = Some(position);
        }
        let next_cursor = if events.len() < total { last.map(|p| p.to_text()) } else { None };
        EventPage { events, next_cursor }
    }
}

/// Filters for listing runs.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    /// Only runs in this status.
    pub status: Option<String>,
    /// Page size.
    pub limit: usize,
    /// Runs after this id.
    pub cursor: Option<String>,
}

/// What the query routes and pages read: runs, their collections and
/// their stored events. Kept apart from [`Store`] so a decorator of the
/// write path (the Redis dedup) hands queries to the store it wraps
/// instead of forwarding each one.
pub trait Reads: Send + Sync + 'static {
    /// One run, with its latest history entries.
    fn run(&self, run_id: &str) -> impl Future<Output = Result<Option<(RunView, Vec<HistoryEntry>)>, StoreError>> + Send;

    /// A page of runs.
    fn runs(&self, query: RunQuery) -> impl Future<Output = Result<RunPage, StoreError>> + Send;

    /// A page of a run's stored events in `seq` order (events without
    /// `seq` last, in arrival order), after `query`'s position.
    fn run_events(&self, run_id: &str, query: EventQuery) -> impl Future<Output = Result<EventPage, StoreError>> + Send;

    /// A page of a run's collection: items with keys after `cursor`, in
    /// key order.
    fn run_items(
        &self,
        run_id: &str,
        collection: &str,
        cursor: Option<String>,
        limit: usize,
    ) -> impl Future<Output = Result<ItemPage, StoreError>> + Send;
}

/// Storage and dedup backend: what ingest needs (dedup, store, apply,
/// durably), plus where its reads are served ([`Store::reads`]).
pub trait Store: Send + Sync + 'static {
    /// Where this store's reads are served (usually the store itself).
    type Reads: Reads;

    /// The read side of this store.
    fn reads(&self) -> &Self::Reads;

    /// Dedup, store and apply events (one outcome each, in order), in one
    /// durable commit. `Ok` means every event is durably stored.
    fn ingest(&self, events: Vec<NewEvent>) -> impl Future<Output = Result<Vec<Outcome>, StoreError>> + Send;

    /// Give up waiting on `seq` gaps whose first parked event is older
    /// than `timeout`: apply what is parked, record the skipped range in
    /// the run's history. Returns how many events were applied.
    fn release_gaps(&self, timeout: Duration) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Whether the store can take writes now.
    fn ready(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// State of a dedup fast path in front of the store, for `/readyz`
    /// (`None`: there is none). Never makes the server unready.
    fn dedup_status(&self) -> impl Future<Output = Option<Value>> + Send {
        async { None }
    }

    /// Where the store reports its durable commits (group size, latency)
    /// for `/metrics`; `None` for a store that does not group commits.
    fn commit_probe(&self) -> Option<&crate::metrics::CommitProbe> {
        None
    }

    /// How many stored events wait for a `seq` gap to fill, when the store
    /// can count them cheaply (an index); `None` when it cannot.
    fn parked_events(&self) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send {
        async { Ok(None) }
    }

    /// Finish queued writes and release connections (graceful shutdown).
    fn close(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}
