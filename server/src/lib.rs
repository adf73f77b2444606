//! # herald-server
//!
//! The Herald ingest server: CloudEvents over HTTP (structured, binary and
//! batch mode) → validation against the project catalog → dedup on
//! `(source, id)` → durable store → ordered application to per-run state →
//! acknowledgement. Query endpoints read runs, their events and the
//! registry.
//!
//! Module map: [`config`] (flags), [`http`] (routes, problem responses),
//! [`pipeline`] (transport-free validate/decode/handle), [`orchestrator`]
//! (what each event does to a run), [`change`] (the change description),
//! [`feed`] (what was applied, for the live pages and streams),
//! [`store`] (the storage trait; SQLite and MongoDB backends; the Redis
//! dedup decorator), [`auth`] (API keys, grants, rate limits, the
//! loopback-only default), [`tls`] (optional HTTPS), [`metrics`] (the
//! Prometheus series of `/metrics`), [`telemetry`] (logs, and request
//! spans over OTLP).

pub mod auth;
pub mod change;
pub mod clock;
pub mod config;
pub mod events;
pub mod feed;
pub mod http;
pub mod listen;
pub mod metrics;
pub mod orchestrator;
pub mod pipeline;
pub mod redact;
pub mod runstate;
pub mod store;
pub mod telemetry;
pub mod tls;

use std::future::Future;
use std::sync::Arc;

use herald::EventCatalog;
use tokio::net::TcpListener;

use crate::config::{Config, LogFormat, MongoTransactions, StoreKind};
use crate::events::Catalog;
use crate::store::Store;
use crate::store::dedup::Deduped;
use crate::store::mongo::MongoStore;
use crate::store::sqlite::SqliteStore;

/// Start logging to stderr in the configured format (`RUST_LOG` filters),
/// without span export; see [`telemetry::init`] for the rest.
pub fn init_tracing(format: LogFormat) {
    let _ = telemetry::init(format, None);
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}; pick another --listen address")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The API keys or the exposure they allow are not right.
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    /// TLS could not be set up.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The server failed while running.
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

/// Run the server until SIGTERM or Ctrl-C, then finish in-flight requests,
/// commit what is queued and close the store.
pub async fn run(config: Config) -> Result<(), StartError> {
    // Before the store is opened: a refused exposure, a broken keys file
    // or a bad certificate should cost nothing.
    let security = Security::from_config(&config)?;
    let rules = orchestrator::rules();
    match config.store {
        StoreKind::Sqlite => {
            let store = SqliteStore::open(&config.data_dir, rules)?;
            let desc = format!("sqlite {}", store.path().display());
            // Markers vouch for this opening of the store only: a data dir
            // restored from a backup (or replaced) must not inherit markers
            // of events it does not hold, and one SQLite store has one
            // server, so nothing is shared across restarts anyway.
            let namespace = format!("herald:sqlite:{}", mongodb::bson::oid::ObjectId::new().to_hex());
            with_dedup(store, desc, namespace, config, security).await
        }
        StoreKind::Mongodb => {
            let uri = config.mongodb_uri.clone().unwrap_or_default();
            let transactions = config.mongodb_transactions == MongoTransactions::Auto;
            let store = MongoStore::open(&uri, &config.mongodb_db, rules, transactions, config.mongodb_lock_wait).await?;
            let txn = if store.uses_transactions() { "with transactions" } else { "without transactions" };
            let desc = format!("mongodb database `{}` at {} ({txn})", config.mongodb_db, redact::uri(&uri));
            // Markers vouch for this database only: its id is created with
            // it, so a fresh database of the same name (or elsewhere) never
            // inherits them, while every server sharing it shares them.
            let namespace = format!("herald:mongodb:{}", store.identity());
            with_dedup(store, desc, namespace, config, security).await
        }
    }
}

/// Put the Redis dedup decorator in front of `store` when configured.
async fn with_dedup<S: Store>(store: S, desc: String, namespace: String, config: Config, security: Security) -> Result<(), StartError> {
    match config.redis_url.clone() {
        Some(url) => {
            let store = Deduped::new(store, &url, namespace, config.dedup_ttl).await?;
            serve(Arc::new(store), format!("{desc}, dedup fast path redis {}", redact::uri(&url)), config, security).await
        }
        None => serve(Arc::new(store), desc, config, security).await,
    }
}

async fn serve<S: Store>(store: Arc<S>, desc: String, config: Config, security: Security) -> Result<(), StartError> {
    listen::raise_nofile_limit(config.max_connections);
    let listener = TcpListener::bind(config.listen).await.map_err(|source| StartError::Bind { addr: config.listen, source })?;
    let addr = listener.local_addr().map_err(StartError::Serve)?;
    announce(addr, security.tls.is_some(), &desc);
    match &security.keys {
        Some(g) => tracing::info!(keys = g.keyring().len(), "API keys required (all routes but /healthz, /readyz and /openapi.json)"),
        None if config.insecure_no_auth && !addr.ip().to_canonical().is_loopback() => {
            tracing::warn!(%addr, "--insecure-no-auth: no API keys; anyone who can reach this address can write and read every run");
        }
        None => {}
    }
    serve_guarded(listener, store, &config, security, shutdown_signal()).await;
    Ok(())
}

/// Serve the orchestrator's API over `store` on `listener` until
/// `shutdown` completes, then finish in-flight requests and close the
/// store. What [`run`] does once its store is open and its address bound;
/// public so a store can be served in-process (the conformance suite runs
/// the in-memory store this way).
///
/// API keys are loaded from `config` here; if they cannot be, the error is
/// logged and nothing is served (never an open server by mistake).
pub async fn serve_on<S: Store>(listener: TcpListener, store: Arc<S>, config: &Config, shutdown: impl Future<Output = ()>) {
    match Security::from_config(config) {
        Ok(security) => serve_guarded(listener, store, config, security, shutdown).await,
        Err(e) => tracing::error!(error = %e, "not serving"),
    }
}

/// API keys (`None`: no keys, every request let through) and TLS, loaded
/// from the configuration.
struct Security {
    keys: Option<Arc<auth::Guard>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Security {
    fn from_config(config: &Config) -> Result<Security, StartError> {
        Ok(Security { keys: auth::Guard::from_config(config)?, tls: tls::acceptor(config)? })
    }
}

/// [`serve_on`] with its keys and TLS loaded.
async fn serve_guarded<S: Store>(
    listener: TcpListener,
    store: Arc<S>,
    config: &Config,
    security: Security,
    shutdown: impl Future<Output = ()>,
) {
    // Metrics of this server alone (see `metrics` on why not a global
    // recorder); the store reports its commits into them from now on.
    let metrics = Arc::new(metrics::Metrics::new());
    if let Some(probe) = store.commit_probe() {
        probe.attach(metrics.commits().clone());
    }
    let upkeep = metrics.spawn_upkeep();
    let app = http::App {
        store: store.clone(),
        body_limit: config.body_limit,
        max_batch_events: config.max_batch_events,
        layout: Arc::new(orchestrator::layout()),
        feed: feed::Feed::new(),
        gap_timeout: config.gap_timeout,
        metrics,
    };
    let feed = app.feed.clone();
    let gaps = tokio::spawn(release_gaps(store.clone(), config.gap_timeout, feed.clone()));
    // Open change streams end first, or graceful shutdown would wait on them.
    let shutdown = async move {
        shutdown.await;
        feed.close();
    };
    // The key guard sits inside the common layers, so its answers get
    // them too; without keys there is no guard at all (nothing to pay).
    let metrics = app.metrics.clone();
    let routes = http::routes(app, security.keys.is_some());
    let (routes, watcher) = match security.keys {
        Some(guard) => {
            let watcher = tokio::spawn(auth::watch(guard.clone(), config.keys_poll));
            (routes.layer(axum::middleware::from_fn_with_state(guard, auth::require)), Some(watcher))
        }
        None => (routes, None),
    };
    let router = http::counted(metrics.clone(), http::layers(routes));
    listen::serve_maybe_tls(listener, router, listen::Limits::from(config), metrics, security.tls, shutdown).await;
    if let Some(w) = watcher {
        w.abort();
    }
    gaps.abort();
    upkeep.abort();
    store.close().await;
    tracing::info!("store closed; bye");
}

/// Print where we listen and a request to try (stdout, so scripts and
/// tests can read the address when `--listen` used port 0).
///
/// Write errors are ignored: a closed stdout (a supervisor that read the
/// first line and went away) must not take the server down, which
/// `println!` would do by panicking.
fn announce(addr: std::net::SocketAddr, tls: bool, store: &str) {
    let scheme = if tls { "https" } else { "http" };
    use std::io::Write;
    let run = "0b7e3f5c-6d2a-4c1e-9f8a-2b3c4d5e6f70";
    let text = format!(
        "herald-server listening on {scheme}://{addr}\n\
         store: {store} ({n} event types in the catalog)\n\
         try:\n  curl -sS -X POST {scheme}://{addr}/api/ingest/event -H 'Content-Type: application/json' -d \
         '{{\"specversion\":\"1.0\",\"id\":\"test-event-001\",\"source\":\"test\",\"type\":\"ai.myfeature.started\",\
         \"subject\":\"run/{run}\",\"time\":\"2024-01-01T00:00:00Z\",\"datacontenttype\":\"application/json\",\
         \"data\":{{\"run_id\":\"{run}\",\"feature_name\":\"test_feature\"}}}}'\n  \
         curl -sS {scheme}://{addr}/api/runs/{run}\n\
         pages: {scheme}://{addr}/ (the catalog, and the runs as they happen)\n",
        n = Catalog::TYPES.len(),
    );
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Apply parked events whose gap has waited out `timeout`. Checks a few
/// times per timeout so a gap is released within ~25% of it.
async fn release_gaps<S: Store>(store: Arc<S>, timeout: std::time::Duration, feed: feed::Feed) {
    let every = (timeout / 4).clamp(std::time::Duration::from_millis(10), std::time::Duration::from_secs(1));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match store.release_gaps(timeout).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(applied = n, "gap timeout passed; applied parked events");
                feed.publish(feed::Notice::gaps_released());
            }
            Err(e) => tracing::warn!(error = %e, "could not release parked events; will retry"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
