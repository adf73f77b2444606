//! [`Server`]: serve a handler set — its catalog's ingest, queries and
//! pages — over a store, with API keys, TLS, the gap-release task and a
//! graceful shutdown.

use std::future::Future;
use std::sync::Arc;

use clap::Parser;
use herald::EventCatalog;
use tokio::net::TcpListener;

use crate::catalog::Handlers;
use crate::config::{Config, MongoTransactions, StoreKind};
use crate::store::Store;
use crate::store::dedup::Deduped;
use crate::store::mongo::MongoStore;
use crate::store::sqlite::SqliteStore;
use crate::{auth, feed, http, listen, metrics, redact, store, tls};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The flags or `HERALD_*` variables do not parse.
    #[error("{0}")]
    Config(String),
    /// The handler set does not match its catalog ([`crate::catalog::check`]).
    #[error("{0}")]
    Catalog(String),
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

/// Serves a handler set `H` (and its catalog) over a store `S`.
///
/// ```ignore
/// // The whole binary, configured by the same flags as `herald-server`:
/// Server::new(events::Catalog, Shipping).config(Config::parse()).run().await?;
/// // Or a store and listener of the caller's:
/// let store = SqliteStore::open(dir, Shipping::rules())?;
/// Server::new(events::Catalog, Shipping).store(store).serve(listener).await?;
/// ```
///
/// Without [`Server::config`], the flags' defaults apply (with the
/// `HERALD_*` environment variables over them, as for the binary).
pub struct Server<H, S = NoStore> {
    handlers: H,
    store: S,
    config: Option<Config>,
}

/// A [`Server`] that has no store yet: [`Server::run`] opens the one its
/// configuration names.
#[derive(Debug, Clone, Copy)]
pub struct NoStore;

impl<H: Handlers> Server<H, NoStore> {
    /// Serve `handlers`, the handler set of `catalog` (the generated
    /// `Catalog`; passed so the call reads as what it serves).
    pub fn new(catalog: H::Catalog, handlers: H) -> Self {
        let _ = catalog;
        Server { handlers, store: NoStore, config: None }
    }

    /// Serve over `store` (open it with [`Handlers::rules`]).
    pub fn store<S: Store>(self, store: S) -> Server<H, Arc<S>> {
        self.shared_store(Arc::new(store))
    }

    /// Serve over a store the caller keeps a handle on too.
    pub fn shared_store<S: Store>(self, store: Arc<S>) -> Server<H, Arc<S>> {
        Server { handlers: self.handlers, store, config: self.config }
    }

    /// What the `herald-server` binary does: open the store the
    /// configuration names (SQLite in `--data-dir`, or MongoDB; behind the
    /// Redis dedup fast path with `--redis-url`), listen on `--listen`,
    /// print the address, and serve until SIGTERM or Ctrl-C; then finish
    /// in-flight requests, commit what is queued and close the store.
    pub async fn run(self) -> Result<(), StartError> {
        crate::catalog::check::<H>().map_err(StartError::Catalog)?;
        let config = resolve(self.config)?;
        // Before the store is opened: a refused exposure, a broken keys file
        // or a bad certificate should cost nothing.
        let security = Security::from_config(&config)?;
        let rules = H::rules();
        match config.store {
            StoreKind::Sqlite => {
                let store = SqliteStore::open(&config.data_dir, rules)?;
                let desc = format!("sqlite {}", store.path().display());
                // Markers vouch for this opening of the store only: a data dir
                // restored from a backup (or replaced) must not inherit markers
                // of events it does not hold, and one SQLite store has one
                // server, so nothing is shared across restarts anyway.
                let namespace = format!("herald:sqlite:{}", mongodb::bson::oid::ObjectId::new().to_hex());
                with_dedup(self.handlers, store, desc, namespace, config, security).await
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
                with_dedup(self.handlers, store, desc, namespace, config, security).await
            }
        }
    }
}

impl<H, S> Server<H, S> {
    /// Limits, timeouts, API keys and TLS from `config` (what the binary
    /// parses from its flags: `Config::parse()`). Its store and listen
    /// flags count only for [`Server::run`].
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }
}

impl<H: Handlers, S: Store> Server<H, Arc<S>> {
    /// Serve on `listener` until SIGTERM or Ctrl-C, then finish in-flight
    /// requests, commit what is queued and close the store.
    pub async fn serve(self, listener: TcpListener) -> Result<(), StartError> {
        self.serve_until(listener, shutdown_signal()).await
    }

    /// [`Server::serve`] until `shutdown` completes instead of a signal.
    ///
    /// The handler set is checked against its catalog, and API keys and
    /// TLS are loaded from the configuration first; if any of that fails,
    /// nothing is served (never an open server by mistake).
    pub async fn serve_until(self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> Result<(), StartError> {
        crate::catalog::check::<H>().map_err(StartError::Catalog)?;
        let config = resolve(self.config)?;
        let security = Security::from_config(&config)?;
        serve_guarded(listener, self.handlers, self.store, &config, security, shutdown).await;
        Ok(())
    }
}

/// The configuration given, or the flags' defaults (and `HERALD_*`).
fn resolve(config: Option<Config>) -> Result<Config, StartError> {
    match config {
        Some(c) => Ok(c),
        None => Config::try_parse_from(["herald-server"]).map_err(|e| StartError::Config(e.to_string())),
    }
}

/// Put the Redis dedup decorator in front of `store` when configured.
async fn with_dedup<H: Handlers, S: Store>(
    handlers: H,
    store: S,
    desc: String,
    namespace: String,
    config: Config,
    security: Security,
) -> Result<(), StartError> {
    match config.redis_url.clone() {
        Some(url) => {
            let store = Deduped::new(store, &url, namespace, config.dedup_ttl).await?;
            let desc = format!("{desc}, dedup fast path redis {}", redact::uri(&url));
            bind_and_serve(handlers, Arc::new(store), desc, config, security).await
        }
        None => bind_and_serve(handlers, Arc::new(store), desc, config, security).await,
    }
}

async fn bind_and_serve<H: Handlers, S: Store>(
    handlers: H,
    store: Arc<S>,
    desc: String,
    config: Config,
    security: Security,
) -> Result<(), StartError> {
    listen::raise_nofile_limit(config.max_connections);
    let listener = TcpListener::bind(config.listen).await.map_err(|source| StartError::Bind { addr: config.listen, source })?;
    let addr = listener.local_addr().map_err(StartError::Serve)?;
    announce::<H>(addr, security.tls.is_some(), &desc);
    match &security.keys {
        Some(g) => tracing::info!(keys = g.keyring().len(), "API keys required (all routes but /healthz, /readyz and /openapi.json)"),
        None if config.insecure_no_auth && !addr.ip().to_canonical().is_loopback() => {
            tracing::warn!(%addr, "--insecure-no-auth: no API keys; anyone who can reach this address can write and read every run");
        }
        None => {}
    }
    serve_guarded(listener, handlers, store, &config, security, shutdown_signal()).await;
    Ok(())
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

/// Serve with keys and TLS loaded, until `shutdown`; then close the store.
async fn serve_guarded<H: Handlers, S: Store>(
    listener: TcpListener,
    handlers: H,
    store: Arc<S>,
    config: &Config,
    security: Security,
    shutdown: impl Future<Output = ()>,
) {
    // Metrics of this server alone (see `metrics` on why not a global
    // recorder); the store reports its commits into them from now on.
    let app = http::App::new(store.clone(), handlers, config);
    if let Some(probe) = store.commit_probe() {
        probe.attach(app.metrics.commits().clone());
    }
    let upkeep = app.metrics.spawn_upkeep();
    let feed = app.feed.clone();
    let gaps = tokio::spawn(release_gaps(store.clone(), config.gap_timeout, feed.clone()));
    // Open change streams end first, or graceful shutdown would wait on them.
    let shutdown = async move {
        shutdown.await;
        feed.close();
    };
    // The key guard sits inside the common layers, so its answers get
    // them too; without keys there is no guard at all (nothing to pay).
    let (metrics, request_timeout): (Arc<metrics::Metrics>, _) = (app.metrics.clone(), app.request_timeout);
    let routes = http::routes(app, security.keys.is_some());
    let (routes, watcher) = match security.keys {
        Some(guard) => {
            let watcher = tokio::spawn(auth::watch(guard.clone(), config.keys_poll));
            (routes.layer(axum::middleware::from_fn_with_state(guard, auth::require)), Some(watcher))
        }
        None => (routes, None),
    };
    let router = http::layers(metrics.clone(), request_timeout, routes);
    listen::serve_maybe_tls(listener, router, listen::Limits::from(config), metrics, security.tls, shutdown).await;
    if let Some(w) = watcher {
        w.abort();
    }
    gaps.abort();
    upkeep.abort();
    store.close().await;
    tracing::info!("store closed; bye");
}

/// Print where we listen and requests to try (stdout, so scripts and
/// tests can read the address when `--listen` used port 0).
///
/// Write errors are ignored: a closed stdout (a supervisor that read the
/// first line and went away) must not take the server down, which
/// `println!` would do by panicking.
fn announce<H: Handlers>(addr: std::net::SocketAddr, tls: bool, store: &str) {
    let scheme = if tls { "https" } else { "http" };
    use std::io::Write;
    let base = format!("{scheme}://{addr}");
    let text = format!(
        "herald-server listening on {base}\n\
         store: {store} ({n} event types in the catalog)\n\
         try:\n{try_lines}\n\
         pages: {base}/ (the catalog, and the runs as they happen)\n",
        n = H::Catalog::TYPES.len(),
        try_lines = H::try_commands(&base).lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n"),
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
