//! API keys: who may ingest which events, who may read, how fast.
//!
//! - **Keys** come from a TOML keys file (`--keys-file`, reloaded on
//!   SIGHUP and when the file changes) and/or the `HERALD_KEYS` variable
//!   (same format, read at start). Only their SHA-256 is stored; a
//!   presented key is hashed and compared in constant time with every
//!   configured hash ([`keys`]).
//! - **Requests** carry `Authorization: Bearer <key>`, or HTTP Basic
//!   credentials with the key as the password (any user name), which is
//!   what a browser can send by itself (`presented_key`). [`require`], a
//!   middleware, answers 401 (no or unknown key, with
//!   `WWW-Authenticate: Bearer`, and on the routes a browser opens — the
//!   pages and the event streams they follow — a `Basic` challenge too, so
//!   the browser asks for the key) or 403 (the key lacks `read`, or any
//!   ingest grant); `/healthz`, `/readyz` and `/openapi.json` stay open.
//! - **Ingest** is checked per event once the envelope is parsed
//!   ([`admit_ingest`]): every event's `source` and `type` must match the
//!   key's patterns, or the whole request is 403 and nothing is stored.
//! - **Rate limits** are a token bucket per key ([`bucket`]): one token per
//!   ingested event, one per other request; over it, 429 + `Retry-After`.
//! - **Exposure**: without keys the server refuses to listen on anything
//!   but loopback unless `--insecure-no-auth` ([`check_exposure`]).

pub mod bucket;
pub mod keys;
pub mod pattern;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use self::bucket::{Bucket, Refused};
use self::keys::{Key, KeysError};
use crate::config::Config;
use crate::http::make_problem;
use crate::http::problem::Problem;

/// Paths answered without a key: health checks for load balancers and
/// orchestrators, which carry no credentials and reveal nothing, and the
/// OpenAPI document, which tools read before they have a key.
pub const OPEN_PATHS: &[&str] = &["/healthz", "/readyz", "/openapi.json"];
/// The ingest route; every other route needs `read`.
pub const INGEST_PATH: &str = "/api/ingest/event";
/// Longest `Authorization` value looked at; keys are far shorter, and a
/// huge header is refused before anything is hashed.
const MAX_AUTHORIZATION: usize = 1024;
/// The challenge every 401 carries (RFC 6750).
const BEARER_CHALLENGE: &str = "Bearer realm=\"herald\"";
/// The challenge 401s of the routes a browser opens carry as well (RFC
/// 7617): a browser then asks for a user name and password, and the key
/// goes in as the password.
const BASIC_CHALLENGE: &str = "Basic realm=\"herald\", charset=\"UTF-8\"";

/// Why the server cannot start with its auth configuration.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The keys could not be loaded.
    #[error("cannot load API keys: {0}")]
    Keys(#[from] KeysError),
    /// A non-loopback address without keys and without the explicit opt-out.
    #[error(
        "refusing to listen on {addr} without API keys: anyone who can reach it could write and read every run. \
         Give keys with --keys-file (see README \"Authentication\"), listen on a loopback address \
         (e.g. --listen 127.0.0.1:{port}), or, on a network you trust, pass --insecure-no-auth"
    )]
    Exposed {
        /// The address asked for.
        addr: SocketAddr,
        /// Its port, for the suggestion.
        port: u16,
    },
}

/// Refuse a non-loopback `listen` address unless keys are configured or
/// `insecure_no_auth` is set. `0.0.0.0` and `::` count as non-loopback
/// (they listen on every interface).
pub fn check_exposure(listen: SocketAddr, keys_configured: bool, insecure_no_auth: bool) -> Result<(), AuthError> {
    if keys_configured || insecure_no_auth || listen.ip().to_canonical().is_loopback() {
        return Ok(());
    }
    Err(AuthError::Exposed { addr: listen, port: listen.port() })
}

/// One key in force, with its rate-limit bucket.
#[derive(Debug)]
pub struct Entry {
    /// The key's name and grants.
    pub key: Key,
    bucket: Option<Mutex<Bucket>>,
}

impl Entry {
    /// Take `cost` tokens from this key's bucket (always succeeds for a key
    /// without a limit).
    fn charge(&self, cost: u64) -> Result<(), Box<Problem>> {
        let Some(bucket) = &self.bucket else { return Ok(()) };
        // A poisoned lock only means another request panicked mid-update
        // of two floats; the bucket is still usable.
        let verdict = bucket.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take(cost, Instant::now());
        verdict.map_err(|refused| Box::new(too_many(&self.key, cost, refused)))
    }
}

/// The key a request was authenticated with, as a request extension (set
/// by [`require`], read by the ingest handler).
#[derive(Debug, Clone)]
pub struct Access(pub Arc<Entry>);

/// The keys in force.
#[derive(Debug, Default)]
pub struct Keyring {
    entries: Vec<Arc<Entry>>,
}

impl Keyring {
    /// A keyring of `keys`, carrying over the bucket of each key of `old`
    /// with the same name (so a reload does not reset rate limits).
    fn new(keys: Vec<Key>, old: Option<&Keyring>) -> Keyring {
        let now = Instant::now();
        let entries = keys
            .into_iter()
            .map(|key| {
                let previous = old.and_then(|o| o.entries.iter().find(|e| e.key.name == key.name)).and_then(|e| e.bucket.as_ref());
                let bucket = key.limit.map(|limit| match previous {
                    Some(b) => b.lock().unwrap_or_else(std::sync::PoisonError::into_inner).with_limit(limit),
                    None => Bucket::new(limit, now),
                });
                Arc::new(Entry { key, bucket: bucket.map(Mutex::new) })
            })
            .collect();
        Keyring { entries }
    }

    /// The entry whose key is `token`. Every configured hash is compared,
    /// in constant time, whatever matches, so timing tells nothing about
    /// how close a guess came.
    fn find(&self, token: &[u8]) -> Option<Arc<Entry>> {
        let digest: [u8; 32] = Sha256::digest(token).into();
        let mut found = None;
        for entry in &self.entries {
            if bool::from(entry.key.hash.ct_eq(&digest)) {
                found = Some(entry.clone());
            }
        }
        found
    }

    /// How many keys are in force.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The authentication state: the keys in force and where they come from.
#[derive(Debug)]
pub struct Guard {
    ring: RwLock<Arc<Keyring>>,
    file: Option<PathBuf>,
    inline: Option<String>,
}

impl Guard {
    /// The guard for `config`, after checking its exposure: `None` when no
    /// keys are configured (every request is let through, on loopback or
    /// with `--insecure-no-auth`).
    pub fn from_config(config: &Config) -> Result<Option<Arc<Guard>>, AuthError> {
        let configured = config.keys_file.is_some() || config.keys.is_some();
        check_exposure(config.listen, configured, config.insecure_no_auth)?;
        if !configured {
            return Ok(None);
        }
        let guard = Guard { ring: RwLock::new(Arc::default()), file: config.keys_file.clone(), inline: config.keys.clone() };
        guard.load()?;
        Ok(Some(Arc::new(guard)))
    }

    /// The keys in force now.
    pub fn keyring(&self) -> Arc<Keyring> {
        self.ring.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Read the keys again and put them in force; on any error the keys in
    /// force stay as they were. Returns how many keys are now in force.
    pub fn load(&self) -> Result<usize, KeysError> {
        let mut keys = Vec::new();
        if let Some(text) = &self.inline {
            keys.extend(keys::parse(text, "HERALD_KEYS")?);
        }
        if let Some(path) = &self.file {
            let origin = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| KeysError { origin: origin.clone(), detail: format!("cannot read the keys file: {e}; check --keys-file") })?;
            let from_file = keys::parse(&text, &origin)?;
            if let Some(k) = from_file.iter().find(|k| keys.iter().any(|o| o.name == k.name || o.hash == k.hash)) {
                return Err(KeysError {
                    origin,
                    detail: format!("key `{}` is also in HERALD_KEYS (same name or same key); keep each key in one place", k.name),
                });
            }
            keys.extend(from_file);
        }
        if keys.is_empty() {
            let origin = self.file.as_ref().map_or_else(|| "HERALD_KEYS".to_owned(), |p| p.display().to_string());
            return Err(KeysError {
                origin,
                detail: "no [[key]] is configured, so every request would be refused; add a key (see README \"Authentication\")".to_owned(),
            });
        }
        let mut ring = self.ring.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let fresh = Arc::new(Keyring::new(keys, Some(&ring)));
        let n = fresh.len();
        *ring = fresh;
        Ok(n)
    }

    /// The keys file, if any (what [`watch`] reloads).
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }
}

/// Reload the keys file on SIGHUP and whenever its modification time or
/// size changes (checked every `poll`), until the task is aborted. A file
/// that fails to load keeps the keys in force and logs why.
pub async fn watch(guard: Arc<Guard>, poll: Duration) {
    let Some(path) = guard.file().map(Path::to_owned) else { return };
    let stamp = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.modified().ok(), m.len()));
    let mut seen: Option<(Option<SystemTime>, u64)> = stamp(&path);
    #[cfg(unix)]
    let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; the keys file is still reloaded when it changes");
            None
        }
    };
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        #[cfg(unix)]
        let signalled = async {
            match hup.as_mut() {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let signalled = std::future::pending::<Option<()>>();
        let why = tokio::select! {
            _ = signalled => "SIGHUP",
            _ = tick.tick() => {
                let now = stamp(&path);
                if now == seen { continue; }
                "the keys file changed"
            }
        };
        seen = stamp(&path);
        match guard.load() {
            Ok(n) => tracing::info!(keys = n, file = %path.display(), "{why}: keys reloaded"),
            Err(e) => tracing::error!(
                error = %e,
                keys_in_force = guard.keyring().len(),
                "{why}: keys NOT reloaded; the previous keys stay in force until the file is fixed"
            ),
        }
    }
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Nothing,
    Ingest,
    Read,
}

fn need(path: &str) -> Need {
    if OPEN_PATHS.contains(&path) {
        Need::Nothing
    } else if path == INGEST_PATH {
        Need::Ingest
    } else {
        Need::Read
    }
}

/// The middleware: authenticate, check the route's grant, charge `read`
/// requests, and hand the key to the handlers as [`Access`].
pub async fn require(State(guard): State<Arc<Guard>>, mut req: Request, next: Next) -> Response {
    let need = need(req.uri().path());
    if need == Need::Nothing {
        return next.run(req).await;
    }
    let browser = crate::http::pages::opened_by_browsers(req.uri().path());
    let token = match presented_key(req.headers()) {
        Ok(t) => t,
        Err(why) => return unauthorized(why, browser),
    };
    let Some(entry) = guard.keyring().find(&token) else {
        return unauthorized("the key is not known (revoked, mistyped, or from another server)", browser);
    };
    match need {
        Need::Read if !entry.key.read => {
            return forbidden(format!("key `{}` may not read (queries, streams, pages); ask for a key with `read = true`", entry.key.name))
                .into_response();
        }
        Need::Read => {
            if let Err(p) = entry.charge(1) {
                return (*p).into_response();
            }
        }
        Need::Ingest if entry.key.ingest.is_none() => {
            return forbidden(format!("key `{}` may not ingest events; ask for a key with an [key.ingest] grant", entry.key.name))
                .into_response();
        }
        // Charged per event by the handler, once it knows how many.
        Need::Ingest | Need::Nothing => {}
    }
    req.extensions_mut().insert(Access(entry));
    next.run(req).await
}

/// The key a request presents, or why there is none. Never quotes the
/// header: it is a credential.
///
/// Two forms: `Authorization: Bearer <key>` (API clients), and HTTP Basic
/// with the key as the password and any user name, empty included
/// (`Basic base64(user:key)`), which a browser sends once it has asked
/// for credentials. Either way the same key check follows ([`Keyring::find`]).
fn presented_key(headers: &HeaderMap) -> Result<Vec<u8>, &'static str> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err("the request has no `Authorization` header; send `Authorization: Bearer <key>` \
                    (or HTTP Basic auth with the key as the password)");
    };
    if values.next().is_some() {
        return Err("the request has more than one `Authorization` header; send exactly one");
    }
    if value.len() > MAX_AUTHORIZATION {
        return Err("the `Authorization` header is too long to hold a key");
    }
    let Ok(value) = value.to_str() else {
        return Err("the `Authorization` header is not visible ASCII");
    };
    let (scheme, credentials) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        if credentials.is_empty() {
            return Err("the bearer token is empty; send `Authorization: Bearer <key>`");
        }
        return Ok(credentials.as_bytes().to_vec());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        use base64::Engine;
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(credentials) else {
            return Err("the Basic credentials are not base64 of `user:password`; put the key in the password");
        };
        let Some(colon) = decoded.iter().position(|b| *b == b':') else {
            return Err("the Basic credentials have no `:` between user and password; put the key in the password");
        };
        let key = decoded[colon + 1..].to_vec();
        if key.is_empty() {
            return Err("the Basic password is empty; the key goes in the password (the user name is ignored)");
        }
        return Ok(key);
    }
    Err("the `Authorization` header is neither `Bearer` nor `Basic`; send `Authorization: Bearer <key>` \
         (or HTTP Basic auth with the key as the password)")
}

/// 401 with the RFC 6750 challenge, and on routes a browser opens
/// (`browser`) the Basic challenge before it, so the browser asks for the
/// key (browsers answer the first scheme they know; API clients see
/// `Bearer` as before).
fn unauthorized(why: &'static str, browser: bool) -> Response {
    let mut resp = make_problem(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", "unauthorized", why.to_owned()).into_response();
    let h = resp.headers_mut();
    if browser {
        h.append(header::WWW_AUTHENTICATE, HeaderValue::from_static(BASIC_CHALLENGE));
    }
    h.append(header::WWW_AUTHENTICATE, HeaderValue::from_static(BEARER_CHALLENGE));
    resp
}

fn forbidden(detail: String) -> Problem {
    make_problem(StatusCode::FORBIDDEN, "forbidden", "Forbidden", "forbidden", detail)
}

fn too_many(key: &Key, cost: u64, refused: Refused) -> Problem {
    let (detail, retry) = match refused {
        Refused::Wait(wait) => {
            let secs = wait.as_secs_f64().ceil().max(1.0).min(f64::from(u32::MAX)) as u32;
            (format!("key `{}` is over its rate limit; retry after {secs}s (nothing was stored)", key.name), secs)
        }
        Refused::OverBurst => {
            let burst = key.limit.map_or(0.0, |l| l.burst);
            (
                format!(
                    "this request costs {cost} tokens (one per event) but key `{}` holds at most {burst}; \
                     send smaller batches or raise its `burst` (nothing was stored)",
                    key.name
                ),
                1,
            )
        }
    };
    let mut p = make_problem(StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many requests", "rate_limited", detail);
    p.retry_after = Some(retry);
    p
}

/// Check an ingest request against its key: every event `(index, source,
/// type)` must be inside the key's grant, or the whole request is 403
/// (nothing of it is stored, so a client never has to work out which half
/// went through); then `cost` tokens are taken (one per event in the
/// request, valid or not). `None` — auth is off — admits everything.
pub fn admit_ingest<'e>(
    access: Option<&Access>,
    events: impl IntoIterator<Item = (usize, &'e str, &'e str)>,
    cost: u64,
) -> Result<(), Box<Problem>> {
    let Some(Access(entry)) = access else { return Ok(()) };
    let key = &entry.key;
    let Some(grant) = &key.ingest else {
        return Err(Box::new(forbidden(format!("key `{}` may not ingest events", key.name))));
    };
    if let Some((index, source, ty)) = events.into_iter().find(|(_, s, t)| !grant.allows(s, t)) {
        let list = |ps: &[pattern::Pattern]| ps.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ");
        let mut p = forbidden(format!(
            "event {index} (source `{}`, type `{}`) is outside key `{}`'s ingest grant (sources {}; types {}); \
             nothing in this request was stored",
            clip(source),
            clip(ty),
            key.name,
            list(&grant.sources),
            list(&grant.types)
        ));
        p.code = "ingest_not_granted".to_owned();
        return Err(Box::new(p));
    }
    entry.charge(cost)
}

/// Attribute values are quoted in answers; keep a long one short.
fn clip(s: &str) -> String {
    const MAX: usize = 200;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// `herald-server hash-key`: print the keys-file hash of the key read from
/// standard input (one line, trailing newline ignored), or with `new`, a
/// fresh random key and its hash.
pub fn hash_key_command(new: bool) -> Result<String, String> {
    if new {
        let mut bytes = [0u8; 32];
        use std::io::Read;
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .map_err(|e| format!("cannot read /dev/urandom for a new key: {e}"))?;
        let key = format!("hrld_{}", hex::encode(bytes));
        return Ok(format!("key:  {key}\nhash: {}\n", keys::hash_key(&key)));
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| format!("cannot read the key from standard input: {e}"))?;
    let key = line.trim_end_matches(['\r', '\n']);
    if key.is_empty() {
        return Err("no key on standard input; e.g. `printf %s \"$KEY\" | herald-server hash-key`".to_owned());
    }
    Ok(format!("{}\n", keys::hash_key(key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_allowed_without_keys() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        for ok in ["127.0.0.1:8080", "127.1.2.3:1", "[::1]:8080", "[::ffff:127.0.0.1]:80"] {
            assert!(check_exposure(addr(ok), false, false).is_ok(), "{ok}");
        }
        for bad in ["0.0.0.0:8080", "[::]:8080", "10.0.0.5:8080", "[2001:db8::1]:80"] {
            let e = check_exposure(addr(bad), false, false).unwrap_err().to_string();
            assert!(e.contains("--insecure-no-auth") && e.contains("--keys-file"), "{e}");
            assert!(check_exposure(addr(bad), true, false).is_ok());
            assert!(check_exposure(addr(bad), false, true).is_ok());
        }
    }

    #[test]
    fn keys_are_read_from_bearer_or_basic_and_everything_odd_is_refused() {
        let h = |v: &[u8]| {
            let mut m = HeaderMap::new();
            m.insert(header::AUTHORIZATION, HeaderValue::from_bytes(v).unwrap());
            m
        };
        let key = |v: &[u8]| presented_key(&h(v)).map(String::from_utf8).map(Result::unwrap);
        assert_eq!(key(b"Bearer abc"), Ok("abc".to_owned()));
        assert_eq!(key(b"bearer   abc "), Ok("abc".to_owned()));
        // Basic: the password is the key, whatever the user (empty too).
        assert_eq!(key(b"Basic YWxhZGRpbjpvcGVuc2VzYW1l"), Ok("opensesame".to_owned())); // aladdin:opensesame
        assert_eq!(key(b"basic OmsxOmsy"), Ok("k1:k2".to_owned())); // ":k1:k2": empty user, a colon in the key
        assert!(key(b"Basic YWxhZGRpbg==").is_err(), "no colon"); // "aladdin"
        assert!(key(b"Basic YWxhZGRpbjo=").is_err(), "empty password"); // "aladdin:"
        assert!(key(b"Basic !!!").is_err(), "not base64");
        assert!(key(b"Basic").is_err());
        assert!(presented_key(&HeaderMap::new()).is_err());
        assert!(key(b"").is_err());
        assert!(key(b"Bearer").is_err());
        assert!(key(b"Bearer ").is_err());
        assert!(key(b"Digest abc").is_err());
        assert!(key(b"Bearer \xff\xfe").is_err());
        assert!(key(&[b'a'; 5000]).is_err());
        let mut two = h(b"Bearer a");
        two.append(header::AUTHORIZATION, HeaderValue::from_static("Bearer b"));
        assert!(presented_key(&two).is_err());
    }

    #[test]
    fn routes_need_what_they_do() {
        assert_eq!(need("/healthz"), Need::Nothing);
        assert_eq!(need("/readyz"), Need::Nothing);
        assert_eq!(need("/api/ingest/event"), Need::Ingest);
        assert_eq!(need("/api/runs"), Need::Read);
        assert_eq!(need("/healthz/"), Need::Read);
        assert_eq!(need("/"), Need::Read);
    }
}
