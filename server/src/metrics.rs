//! Prometheus metrics: one [`Metrics`] per server, rendered by `GET /metrics`.
//!
//! # One recorder per server, never a global one
//!
//! The `metrics` facade usually works through a process-wide recorder that
//! the `counter!` macros look up on every call. That does not fit here:
//! tests start several servers in one process and assert exact counts, and
//! a global recorder installs once (a second server would either fail or
//! share the first one's counters). So each server builds its own
//! [`PrometheusRecorder`] (never installed) and registers every series up
//! front through it with [`metrics::with_local_recorder`]; what comes back
//! are handles ([`Counter`], [`Histogram`], [`Gauge`]) bound to that
//! recorder's storage, usable from any thread (the SQLite writer has its
//! own) without the facade. Recording on a handle is an atomic add: the hot
//! path never allocates, hashes a label set or takes a lock. The HTTP
//! series are the one exception to "up front" (routes × statuses is not
//! known in advance): their handle is registered on first use and looked
//! up under a read lock afterwards, still without allocating.
//!
//! Nothing else in the process reports to the recorder, so a library that
//! records through the global facade does not show up here (none does now).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use crate::store::Outcome;

/// Requests answered, by route and status.
pub const HTTP_REQUESTS: &str = "herald_http_requests_total";
/// Events by type and outcome.
pub const EVENTS: &str = "herald_events_total";
/// Events per store commit.
pub const COMMIT_EVENTS: &str = "herald_store_commit_events";
/// Time one store commit took.
pub const COMMIT_SECONDS: &str = "herald_store_commit_seconds";
/// Events stored and waiting for a `seq` gap to fill.
pub const PARKED_EVENTS: &str = "herald_parked_events";
/// Whether the store can take writes.
pub const STORE_READY: &str = "herald_store_ready";
/// Whether the Redis dedup fast path answers.
pub const DEDUP_UP: &str = "herald_dedup_up";

/// The `type` label of an event whose type is not in the catalog, or not
/// known because its envelope could not be read. Keeps the label set
/// bounded: clients cannot mint series by sending made-up types.
pub const UNKNOWN_TYPE: &str = "unknown";

/// The `route` label of a request no route matched (404s, scans).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The `route` label of an answer given before any request reached the
/// router: a connection over `--max-connections` (503), or a request head
/// that could not be read (400, 414, 431).
pub const CONNECTION_ROUTE: &str = "connection";

/// What became of one event, the `outcome` label of [`EVENTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    /// Stored and applied.
    Applied,
    /// Already stored; nothing done again.
    Duplicate,
    /// Stored, not applied: its `seq` was at or below the run's.
    Stale,
    /// Stored, not applied: the run's status does not allow its move.
    IllegalTransition,
    /// Stored, waiting for a `seq` gap to fill.
    Parked,
    /// Stored and handled, applied to no run: its type belongs to none.
    Stored,
    /// Refused as invalid (envelope or data), not stored.
    Rejected,
    /// Not stored: the store failed (answered 503, or 500 for data it
    /// cannot read).
    Failed,
}

impl EventOutcome {
    /// Every outcome, in label order.
    pub const ALL: [EventOutcome; 8] = [
        EventOutcome::Applied,
        EventOutcome::Duplicate,
        EventOutcome::Stale,
        EventOutcome::IllegalTransition,
        EventOutcome::Parked,
        EventOutcome::Stored,
        EventOutcome::Rejected,
        EventOutcome::Failed,
    ];

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventOutcome::Applied => "applied",
            EventOutcome::Duplicate => "duplicate",
            EventOutcome::Stale => "stale",
            EventOutcome::IllegalTransition => "illegal_transition",
            EventOutcome::Parked => "parked",
            EventOutcome::Stored => "stored",
            EventOutcome::Rejected => "rejected",
            EventOutcome::Failed => "failed",
        }
    }

    /// The outcome of an event the store took.
    pub fn of(outcome: &Outcome) -> Self {
        match outcome {
            Outcome::Applied { .. } => EventOutcome::Applied,
            Outcome::Duplicate { .. } => EventOutcome::Duplicate,
            Outcome::Parked { .. } => EventOutcome::Parked,
            Outcome::Stale { .. } => EventOutcome::Stale,
            Outcome::IllegalTransition { .. } => EventOutcome::IllegalTransition,
            Outcome::Stored { .. } => EventOutcome::Stored,
        }
    }
}

/// Upper bounds of the [`COMMIT_EVENTS`] buckets: powers of two up to the
/// largest group either backend commits (SQLite 2048, MongoDB 512).
const GROUP_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0];

/// Upper bounds of the [`COMMIT_SECONDS`] buckets: an fsync on a fast disk
/// (~0.5 ms) to a MongoDB group stuck behind a failover (seconds).
const LATENCY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// One server's metrics: the recorder they live in and the handles the
/// code records on.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// The catalog's event types, sorted (as `EventCatalog::TYPES` is).
    types: Vec<&'static str>,
    /// Per catalog type (in [`Metrics::types`] order, then
    /// [`UNKNOWN_TYPE`]), one counter per [`EventOutcome::ALL`].
    events: Vec<[Counter; EventOutcome::ALL.len()]>,
    /// Status → matched route → counter, filled on first use.
    http: RwLock<HashMap<u16, HashMap<Box<str>, Counter>>>,
    /// What stores record their commits on.
    commits: CommitMetrics,
    parked: Gauge,
    store_ready: Gauge,
    /// Registered when a dedup fast path first reports: a server without
    /// one shows no such series.
    dedup_up: OnceLock<Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A recorder of its own with every fixed series registered (at 0, so
    /// a scrape shows them before anything happened), counting events of
    /// the catalog `types` (its `TYPES`' names) by type.
    pub fn new(types: impl IntoIterator<Item = &'static str>) -> Self {
        let mut types: Vec<&'static str> = types.into_iter().collect();
        types.sort_unstable();
        types.dedup();
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(metrics_exporter_prometheus::Matcher::Full(COMMIT_EVENTS.into()), GROUP_BUCKETS)
            .and_then(|b| b.set_buckets_for_metric(metrics_exporter_prometheus::Matcher::Full(COMMIT_SECONDS.into()), LATENCY_BUCKETS))
            // Both bucket lists are non-empty constants, the only error case.
            .unwrap_or_default()
            .build_recorder();
        let handle = recorder.handle();
        let (events, commits, parked, store_ready) = metrics::with_local_recorder(&recorder, || {
            metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by matched route template and status code");
            metrics::describe_counter!(EVENTS, "Events received, by CloudEvents type and what became of them");
            metrics::describe_histogram!(COMMIT_EVENTS, "Events per durable store commit (group commit size)");
            metrics::describe_histogram!(COMMIT_SECONDS, Unit::Seconds, "Time one durable store commit of a group took");
            metrics::describe_gauge!(PARKED_EVENTS, "Events stored and waiting for a seq gap to fill (as of the last scrape)");
            metrics::describe_gauge!(STORE_READY, "1 when the store can take writes, 0 when not (as of the last scrape or /readyz)");
            metrics::describe_gauge!(DEDUP_UP, "1 when the Redis dedup fast path answers, 0 when not; absent without Redis");
            let labels = types.iter().copied().chain([UNKNOWN_TYPE]);
            let events =
                labels.map(|ty| EventOutcome::ALL.map(|o| metrics::counter!(EVENTS, "type" => ty, "outcome" => o.as_str()))).collect();
            let commits = CommitMetrics { events: metrics::histogram!(COMMIT_EVENTS), seconds: metrics::histogram!(COMMIT_SECONDS) };
            (events, commits, metrics::gauge!(PARKED_EVENTS), metrics::gauge!(STORE_READY))
        });
        Metrics {
            recorder,
            handle,
            types,
            events,
            http: RwLock::new(HashMap::new()),
            commits,
            parked,
            store_ready,
            dedup_up: OnceLock::new(),
        }
    }

    /// Count one event of type `type_name` (any string: types outside the
    /// catalog count as [`UNKNOWN_TYPE`]).
    pub fn event(&self, type_name: &str, outcome: EventOutcome) {
        let i = self.types.binary_search(&type_name).unwrap_or(self.types.len());
        if let Some(row) = self.events.get(i) {
            row[outcome as usize].increment(1);
        }
    }

    /// Count one event the envelope of which could not be read.
    pub fn unreadable_event(&self) {
        self.event(UNKNOWN_TYPE, EventOutcome::Rejected);
    }

    /// Count one answered request. `route` is the matched route template
    /// (`/api/runs/{run_id}`), never the raw path, so the label set stays
    /// as small as the route table.
    pub fn request(&self, route: &str, status: u16) {
        if let Ok(http) = self.http.read()
            && let Some(counter) = http.get(&status).and_then(|by_route| by_route.get(route))
        {
            counter.increment(1);
            return;
        }
        // First request of this route and status: register its series.
        let counter = metrics::with_local_recorder(
            &self.recorder,
            || metrics::counter!(HTTP_REQUESTS, "route" => route.to_owned(), "status" => status.to_string()),
        );
        counter.increment(1);
        if let Ok(mut http) = self.http.write() {
            http.entry(status).or_default().entry(route.into()).or_insert(counter);
        }
    }

    /// What a store records its commits on.
    pub fn commits(&self) -> &CommitMetrics {
        &self.commits
    }

    /// Record the store's readiness (from a scrape or `/readyz`).
    pub fn store_ready(&self, ready: bool) {
        self.store_ready.set(if ready { 1.0 } else { 0.0 });
    }

    /// Record whether the dedup fast path answers.
    pub fn dedup_up(&self, up: bool) {
        let gauge = self.dedup_up.get_or_init(|| metrics::with_local_recorder(&self.recorder, || metrics::gauge!(DEDUP_UP)));
        gauge.set(if up { 1.0 } else { 0.0 });
    }

    /// Record how many events are parked.
    pub fn parked_events(&self, n: u64) {
        self.parked.set(n as f64);
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Fold recorded histogram samples into their buckets. Rendering does
    /// it too; this bounds the memory held between scrapes when nobody
    /// scrapes (the exporter's own listener would run it; ours is off).
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// Run [`Metrics::upkeep`] every few seconds until aborted.
    pub fn spawn_upkeep(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let metrics = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(m) = metrics.upgrade() else { return };
                m.upkeep();
            }
        })
    }
}

/// The commit histograms, shared by a server with its store.
#[derive(Debug, Clone)]
pub struct CommitMetrics {
    events: Histogram,
    seconds: Histogram,
}

impl CommitMetrics {
    /// One durable commit of `events` events that took `took`.
    pub fn record(&self, events: usize, took: Duration) {
        self.events.record(events as f64);
        self.seconds.record(took.as_secs_f64());
    }
}

/// Where a store reports its commits: empty until a server serving the
/// store attaches its [`CommitMetrics`] (a store opened by a test or a
/// tool records nothing). Cloned into the threads and tasks that commit;
/// reading it is one atomic load.
#[derive(Debug, Clone, Default)]
pub struct CommitProbe(Arc<OnceLock<CommitMetrics>>);

impl CommitProbe {
    /// Report commits to `metrics` from now on. A store serves one server:
    /// a second attach is ignored (the first server keeps its figures).
    pub fn attach(&self, metrics: CommitMetrics) {
        let _ = self.0.set(metrics);
    }

    /// One durable commit of `events` events that took `took`.
    pub fn record(&self, events: usize, took: Duration) {
        if let Some(m) = self.0.get() {
            m.record(events, took);
        }
    }
}
