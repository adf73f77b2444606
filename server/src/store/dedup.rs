//! Redis fast-path dedup in front of any [`Store`]: [`Deduped`].
//!
//! A marker `"{namespace}:{len(source)}:{source}{id}" = run_id` (with a
//! TTL; `""` for an event of no run, an id no run has) says "this event is
//! durably stored and processed". Rules:
//! - the marker is written only *after* the inner store returned `Ok` for
//!   the event, i.e. after its durable commit, so a marker never hides an
//!   event that was not stored: a request that fails leaves no marker and
//!   the sender's retry reaches the store;
//! - a marker hit answers `duplicate` without touching the store;
//! - a miss (expired, evicted, never set) falls through to the store, whose
//!   own guard (unique index) is the one that counts: Redis is never the
//!   only guard;
//! - Redis unreachable or slow (each call is bounded by a short timeout):
//!   logged once per outage, reported by [`Store::dedup_status`] for
//!   `/readyz` (in a few words of ours, never the driver's text), and
//!   ingestion goes on through the store alone — never a 5xx because of
//!   Redis. While it is known down, requests do not wait on
//!   it at all (a circuit breaker): a background probe pings it every
//!   `PROBE_EVERY` (half a second) and closes the circuit when it answers again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde_json::{Value, json};
use tokio::sync::RwLock;

use super::{NewEvent, Outcome, Store, StoreError};

/// Longest a Redis round trip may take before the request goes on without it.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

/// How often a Redis known to be down is probed.
const PROBE_EVERY: Duration = Duration::from_millis(500);

/// A store with a Redis dedup marker in front.
pub struct Deduped<S> {
    inner: S,
    redis: Arc<Redis>,
    namespace: String,
    ttl_secs: u64,
}

struct Redis {
    /// `--redis-url` without its password: the only form ever shown.
    url: String,
    /// `--redis-url` as given, only to mask its password in driver errors
    /// before they are logged.
    secret_url: String,
    client: redis::Client,
    conn: RwLock<Option<ConnectionManager>>,
    /// Set while Redis is failing, so an outage logs once, not per request.
    down: AtomicBool,
    /// Why the last call failed, for `/readyz` while none has connected.
    last_failure: std::sync::Mutex<Failure>,
}

/// Why Redis cannot be used now: the driver's error, for the log, and a
/// few words of ours for `/readyz`. The driver's text is not shown there:
/// its wording is not ours to keep short, and it can carry what a server
/// said back or where it is.
#[derive(Debug, Clone)]
struct Failure {
    reason: &'static str,
    detail: String,
}

impl Failure {
    const TIMED_OUT: &'static str = "Redis does not answer (timed out)";

    fn timed_out() -> Self {
        Failure { reason: Self::TIMED_OUT, detail: "timed out".into() }
    }

    fn of(e: &redis::RedisError) -> Self {
        let reason = if e.is_timeout() {
            Self::TIMED_OUT
        } else if e.is_connection_refusal() {
            "Redis refused the connection (is it running?)"
        } else if e.kind() == redis::ErrorKind::AuthenticationFailed {
            "Redis refused the credentials"
        } else if e.is_connection_dropped() || e.is_io_error() {
            "the connection to Redis failed"
        } else {
            "Redis answered with an error"
        };
        Failure { reason, detail: e.to_string() }
    }
}

impl Redis {
    async fn connect(&self) -> Result<ConnectionManager, Failure> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(REDIS_TIMEOUT)
            .set_response_timeout(REDIS_TIMEOUT)
            .set_number_of_retries(1);
        match tokio::time::timeout(REDIS_TIMEOUT * 4, ConnectionManager::new_with_config(self.client.clone(), config)).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(Failure::of(&e)),
            Err(_) => Err(Failure::timed_out()),
        }
    }

    /// The connection requests may use: none while Redis is known down
    /// (requests then skip it instead of each waiting out a timeout), or
    /// before the first connect. Connecting and probing happen in the
    /// background (see [`Deduped::new`]).
    async fn conn(&self) -> Option<ConnectionManager> {
        if self.down.load(Ordering::Relaxed) {
            return None;
        }
        self.conn.read().await.clone()
    }

    /// One `PING` on the connection, whatever the circuit says. Not yet
    /// connected: why the last attempt failed.
    async fn ping(&self) -> Result<(), Failure> {
        let Some(mut c) = self.conn.read().await.clone() else {
            let last = self.last_failure.lock().map(|f| f.clone());
            return Err(last.unwrap_or_else(|_| Failure::timed_out()));
        };
        match tokio::time::timeout(REDIS_TIMEOUT, redis::cmd("PING").query_async::<String>(&mut c)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(Failure::of(&e)),
            Err(_) => Err(Failure::timed_out()),
        }
    }

    /// While the circuit is open, probe Redis and close it once it answers.
    /// Ends when the store is dropped.
    fn probe(redis: &Arc<Redis>) {
        let weak = Arc::downgrade(redis);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROBE_EVERY).await;
                let Some(r) = weak.upgrade() else { return };
                if r.down.load(Ordering::Relaxed) && r.conn.read().await.is_some() && r.ping().await.is_ok() {
                    r.ok();
                }
            }
        });
    }

    fn failed(&self, what: &str, failure: Failure) {
        if !self.down.swap(true, Ordering::Relaxed) {
            let detail = crate::redact::scrub(&failure.detail, &self.secret_url);
            tracing::warn!(url = %self.url, reason = failure.reason, error = %format_args!("{what}: {detail}"),
                "Redis dedup unavailable; continuing on the store's own dedup");
        }
        if let Ok(mut last) = self.last_failure.lock() {
            *last = failure;
        }
    }

    fn ok(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::info!(url = %self.url, "Redis dedup is back");
        }
    }
}

impl<S: Store> Deduped<S> {
    /// Wrap `inner`. `namespace` separates the markers of different
    /// stores sharing one Redis (use the database's identity); markers
    /// live `ttl`. Never fails on an unreachable Redis: it connects in the
    /// background and the store works without it meanwhile.
    pub async fn new(inner: S, redis_url: &str, namespace: String, ttl: Duration) -> Result<Self, StoreError> {
        let client = redis::Client::open(redis_url).map_err(|e| {
            let e = crate::redact::scrub(&e.to_string(), redis_url);
            StoreError::unavailable(format!("--redis-url `{}` is not a valid Redis URL: {e}", crate::redact::uri(redis_url)))
        })?;
        let redis = Arc::new(Redis {
            // Only ever shown: without its password.
            url: crate::redact::uri(redis_url),
            secret_url: redis_url.to_owned(),
            client,
            conn: RwLock::new(None),
            down: AtomicBool::new(false),
            last_failure: std::sync::Mutex::new(Failure::timed_out()),
        });
        Redis::probe(&redis);
        match redis.connect().await {
            Ok(c) => *redis.conn.write().await = Some(c),
            Err(e) => {
                redis.failed("connect", e);
                let weak = Arc::downgrade(&redis);
                tokio::spawn(async move {
                    // Retry until connected; the ConnectionManager
                    // reconnects by itself after that.
                    loop {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        let Some(r) = weak.upgrade() else { return };
                        match r.connect().await {
                            Ok(c) => {
                                *r.conn.write().await = Some(c);
                                r.ok();
                                return;
                            }
                            // Kept for `/readyz`; logged once already.
                            Err(e) => r.failed("connect", e),
                        }
                    }
                });
            }
        }
        Ok(Deduped { inner, redis, namespace, ttl_secs: ttl.as_secs().max(1) })
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn key(&self, ev: &NewEvent) -> String {
        // Length-prefixed: ("a:b", "c") and ("a", "b:c") never collide.
        format!("{}:{}:{}{}", self.namespace, ev.source.len(), ev.source, ev.id)
    }

    /// The run ids of existing markers, per event; all `None` when Redis
    /// cannot answer.
    async fn lookup(&self, keys: &[String]) -> Vec<Option<String>> {
        let none = || vec![None; keys.len()];
        let Some(mut conn) = self.redis.conn().await else { return none() };
        let mut cmd = redis::cmd("MGET");
        for k in keys {
            cmd.arg(k);
        }
        match tokio::time::timeout(REDIS_TIMEOUT, cmd.query_async::<Vec<Option<String>>>(&mut conn)).await {
            Ok(Ok(found)) if found.len() == keys.len() => {
                self.redis.ok();
                found
            }
            Ok(Ok(_)) => none(),
            Ok(Err(e)) => {
                self.redis.failed("MGET", Failure::of(&e));
                none()
            }
            Err(_) => {
                self.redis.failed("MGET", Failure::timed_out());
                none()
            }
        }
    }

    /// Mark events as stored. Called only after the store's commit.
    async fn mark(&self, marks: Vec<(String, String)>) {
        if marks.is_empty() {
            return;
        }
        let Some(mut conn) = self.redis.conn().await else { return };
        let mut pipe = redis::pipe();
        for (key, run_id) in &marks {
            pipe.cmd("SET").arg(key).arg(run_id).arg("EX").arg(self.ttl_secs).ignore();
        }
        match tokio::time::timeout(REDIS_TIMEOUT, pipe.query_async::<()>(&mut conn)).await {
            Ok(Ok(())) => self.redis.ok(),
            Ok(Err(e)) => self.redis.failed("SET", Failure::of(&e)),
            Err(_) => self.redis.failed("SET", Failure::timed_out()),
        }
    }
}

impl<S: Store> Store for Deduped<S> {
    /// Queries go straight to the wrapped store: Redis only guards ingest.
    type Reads = S::Reads;

    fn reads(&self) -> &S::Reads {
        self.inner.reads()
    }

    async fn ingest(&self, events: Vec<NewEvent>) -> Result<Vec<Outcome>, StoreError> {
        let keys: Vec<String> = events.iter().map(|e| self.key(e)).collect();
        let found = self.lookup(&keys).await;
        let mut outcomes: Vec<Option<Outcome>> =
            found.into_iter().map(|m| m.map(|run_id| Outcome::Duplicate { run_id: Some(run_id).filter(|r| !r.is_empty()) })).collect();
        let (mut todo, mut todo_keys) = (Vec::new(), Vec::new());
        for ((ev, key), out) in events.into_iter().zip(keys).zip(&outcomes) {
            if out.is_none() {
                todo.push(ev);
                todo_keys.push(key);
            }
        }
        if !todo.is_empty() {
            // Durable commit first; markers only for what it stored.
            let stored = self.inner.ingest(todo).await?;
            let marks = todo_keys.into_iter().zip(&stored).map(|(k, o)| (k, o.run_id().unwrap_or_default().to_owned())).collect();
            self.mark(marks).await;
            let mut stored = stored.into_iter();
            for slot in outcomes.iter_mut().filter(|o| o.is_none()) {
                *slot = stored.next();
            }
        }
        outcomes.into_iter().map(|o| o.ok_or_else(|| StoreError::internal("the store returned fewer outcomes than events"))).collect()
    }

    async fn release_gaps(&self, timeout: Duration) -> Result<usize, StoreError> {
        self.inner.release_gaps(timeout).await
    }

    /// Ready when the store is; Redis only shows in the detail.
    async fn ready(&self) -> Result<(), StoreError> {
        self.inner.ready().await
    }

    async fn dedup_status(&self) -> Option<Value> {
        Some(match self.redis.ping().await {
            Ok(()) => {
                self.redis.ok();
                json!({"backend": "redis", "status": "ok"})
            }
            Err(e) => {
                let reason = e.reason;
                self.redis.failed("PING", e);
                json!({"backend": "redis", "status": "unavailable", "error": reason,
                       "effect": "duplicates are still caught by the store; only the fast path is off"})
            }
        })
    }

    fn commit_probe(&self) -> Option<&crate::metrics::CommitProbe> {
        self.inner.commit_probe()
    }

    async fn parked_events(&self) -> Result<Option<u64>, StoreError> {
        self.inner.parked_events().await
    }

    async fn close(&self) {
        self.inner.close().await;
    }
}
