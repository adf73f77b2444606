//! Command-line and environment configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

/// Smallest body limit accepted: a batch of a few events must always fit.
pub const MIN_BODY_LIMIT: usize = 64 * 1024;

/// Smallest `--max-header-bytes` accepted: room for any ordinary request
/// head (browsers send a few KiB with their cookies).
pub const MIN_HEADER_BYTES: usize = 8 * 1024;

/// Default `--max-header-bytes`: above the longest request target HTTP
/// parsing takes (65534 bytes), so an over-long URL is told 414 and not
/// 431, with room for ordinary headers besides.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 128 * 1024;

/// Herald ingest server: receives CloudEvents over HTTP, validates them
/// against the catalog (events.yaml), deduplicates on (source, id), stores
/// them durably and applies them in `seq` order to per-run state.
#[derive(Debug, Clone, Parser)]
#[command(name = "herald-server", version, about, long_about = None)]
#[command(after_help = "Every option can also be set through the environment variable shown.\n\
Log verbosity follows RUST_LOG (default: info), e.g. RUST_LOG=herald_server=debug.")]
pub struct Config {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "HERALD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory for the embedded SQLite store (created if missing).
    #[arg(long, env = "HERALD_DATA_DIR", default_value = "./herald-data")]
    pub data_dir: PathBuf,

    /// Storage backend: `sqlite` (embedded, one file under --data-dir) or
    /// `mongodb` (--mongodb-uri; many servers can share one database).
    #[arg(long, env = "HERALD_STORE", value_enum, default_value_t = StoreKind::Sqlite)]
    pub store: StoreKind,

    /// MongoDB connection string (with --store mongodb), e.g.
    /// mongodb://127.0.0.1:27017 or a replica-set URI.
    #[arg(long, env = "HERALD_MONGODB_URI", required_if_eq("store", "mongodb"))]
    pub mongodb_uri: Option<String>,

    /// MongoDB database holding the `events` and `runs` collections.
    #[arg(long, env = "HERALD_MONGODB_DB", default_value = "herald")]
    pub mongodb_db: String,

    /// Multi-document transactions: `auto` uses them when the deployment
    /// offers them (replica set, sharded cluster); `off` never does. Both
    /// are crash-safe: without transactions, writes follow a
    /// compare-and-set protocol that needs none.
    #[arg(long, env = "HERALD_MONGODB_TRANSACTIONS", value_enum, default_value_t = MongoTransactions::Auto)]
    pub mongodb_transactions: MongoTransactions,

    /// With transactions: how long writes made outside a transaction may
    /// wait for documents another transaction holds (e.g. one of a server
    /// that died mid-write, which MongoDB keeps until it expires it) before
    /// the events they carry get 503 and their run is retried later. Other
    /// runs' events are not held up by it.
    #[arg(long, env = "HERALD_MONGODB_LOCK_WAIT", default_value = "2s", value_parser = parse_timeout)]
    pub mongodb_lock_wait: Duration,

    /// Redis URL for the fast-path dedup marker in front of the store
    /// (optional; the store's own dedup always applies), e.g.
    /// redis://127.0.0.1:6379.
    #[arg(long, env = "HERALD_REDIS_URL")]
    pub redis_url: Option<String>,

    /// How long a Redis dedup marker lives (e.g. 24h, 30m); a duplicate
    /// arriving later is still caught by the store.
    #[arg(long, env = "HERALD_DEDUP_TTL", default_value = "24h", value_parser = parse_ttl)]
    pub dedup_ttl: Duration,

    /// Largest request body in bytes (at least 65536).
    #[arg(long, env = "HERALD_BODY_LIMIT", default_value_t = 1024 * 1024, value_parser = parse_body_limit)]
    pub body_limit: usize,

    /// Most events one batch request may carry (1 to 100000); a larger
    /// batch is refused whole with 413 before its events are read.
    #[arg(long, env = "HERALD_MAX_BATCH_EVENTS", default_value_t = herald::envelope::DEFAULT_MAX_BATCH_EVENTS,
          value_parser = parse_max_batch_events)]
    pub max_batch_events: usize,

    /// How long a run waits for a missing `seq` before applying what came
    /// after it and recording the gap (e.g. 30s, 500ms, 2m).
    #[arg(long, env = "HERALD_GAP_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub gap_timeout: Duration,

    /// How long a client may take to send a request's headers, counted
    /// from the moment its connection opens, or from the first byte of a
    /// later request on a kept-alive connection. A client that stalls
    /// mid-headers is disconnected (e.g. 10s, 500ms).
    #[arg(long, env = "HERALD_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_timeout)]
    pub header_timeout: Duration,

    /// How long a request's body may take to arrive in full, counted from
    /// the end of its headers. A slower body is answered 408 (a problem
    /// document) and the connection is closed; nothing is stored.
    #[arg(long, env = "HERALD_BODY_TIMEOUT", default_value = "30s", value_parser = parse_timeout)]
    pub body_timeout: Duration,

    /// How long the server may take to answer a request, counted from the
    /// end of its headers (so a slow body meets --body-timeout first). A
    /// request still unanswered then — a store that hangs — is answered
    /// 503 (a problem document, `Retry-After: 1`); an event it carried may
    /// or may not have been stored, and sending it again is safe.
    /// Streams (`/stream`) are answered at once and not limited.
    #[arg(long, env = "HERALD_REQUEST_TIMEOUT", default_value = "60s", value_parser = parse_timeout)]
    pub request_timeout: Duration,

    /// How long a kept-alive connection may wait for its next request
    /// before the server closes it. The default, 60s, outlasts the pauses
    /// of a worker that reports every few seconds (its connection is
    /// reused), and hands an abandoned connection's --max-connections slot
    /// back within a minute.
    #[arg(long, env = "HERALD_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_timeout)]
    pub idle_timeout: Duration,

    /// Most client connections open at once. A connection beyond it is
    /// answered at once with 503 (a problem document, `Retry-After: 1`)
    /// and closed, never left waiting; the server also raises its open-file
    /// limit at start and warns when that limit is below this.
    #[arg(long, env = "HERALD_MAX_CONNECTIONS", default_value_t = 4096, value_parser = parse_max_connections)]
    pub max_connections: usize,

    /// Largest request head in bytes, request line and header fields
    /// together (at least 8192). A larger head is answered 431 (a problem
    /// document) and the connection closed. A request target (path and
    /// query) is further limited to 65534 bytes (414) by HTTP parsing.
    #[arg(long, env = "HERALD_MAX_HEADER_BYTES", default_value_t = DEFAULT_MAX_HEADER_BYTES, value_parser = parse_max_header_bytes)]
    pub max_header_bytes: usize,

    /// Most header fields in one request (1 to 10000); one more is
    /// answered 431 (a problem document) and the connection closed.
    #[arg(long, env = "HERALD_MAX_HEADERS", default_value_t = crate::listen::HYPER_MAX_HEADERS, value_parser = parse_max_headers)]
    pub max_headers: usize,

    /// Log output format.
    #[arg(long, env = "HERALD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// API keys file (TOML, see README "Authentication"): every request
    /// but /healthz, /readyz and /openapi.json then needs `Authorization: Bearer <key>`,
    /// or HTTP Basic auth with the key as the password (browsers are asked for it).
    /// Reloaded on SIGHUP and when the file changes; a broken file keeps
    /// the keys in force.
    #[arg(long, env = "HERALD_KEYS_FILE")]
    pub keys_file: Option<PathBuf>,

    /// API keys in the keys-file format, given inline (for secrets passed
    /// as environment variables); read once at start, alongside
    /// --keys-file.
    #[arg(long, env = "HERALD_KEYS", hide_env_values = true)]
    pub keys: Option<String>,

    /// How often the keys file is checked for changes (SIGHUP reloads it at
    /// once).
    #[arg(long, env = "HERALD_KEYS_POLL", default_value = "2s", value_parser = parse_timeout)]
    pub keys_poll: Duration,

    /// Allow listening on a non-loopback address without API keys. Anyone
    /// who can reach the port can then write and read every run: only for
    /// a network you trust (or behind a proxy that authenticates).
    #[arg(long, env = "HERALD_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,

    /// TLS certificate chain (PEM, leaf first): serve HTTPS instead of
    /// HTTP. Needs --tls-key.
    #[arg(long, env = "HERALD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// TLS private key (PEM: PKCS#8, PKCS#1 or SEC1) for --tls-cert.
    #[arg(long, env = "HERALD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Export each request's tracing span to an OpenTelemetry collector
    /// over OTLP/HTTP (protobuf), e.g. http://127.0.0.1:4318 (spans go to
    /// its /v1/traces; plain http only). A caller's `traceparent` makes
    /// the span a child of the caller's. Off by default. Spans wait in a
    /// bounded queue (2048) and are sent in batches from a thread of their
    /// own: a slow or dead collector never slows requests, and spans it
    /// cannot take are dropped.
    #[arg(long, env = "HERALD_OTLP_ENDPOINT", value_parser = parse_otlp_endpoint)]
    pub otlp_endpoint: Option<String>,

    /// A tool to run instead of the server.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Tools run instead of the server.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Print the `sha256:<hex>` hash of the API key read from standard
    /// input, for the keys file (e.g. `printf %s "$KEY" | herald-server hash-key`).
    HashKey {
        /// Make a new random key instead, and print it with its hash.
        #[arg(long)]
        new: bool,
    },
}

/// Which storage backend holds events and runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// Embedded SQLite under --data-dir (default; nothing to install).
    Sqlite,
    /// MongoDB at --mongodb-uri.
    Mongodb,
}

/// Whether the MongoDB store uses transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MongoTransactions {
    /// When the deployment offers them.
    Auto,
    /// Never.
    Off,
}

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

fn parse_max_batch_events(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|_| format!("`{s}` is not a number of events"))?;
    if !(1..=100_000).contains(&n) {
        return Err(format!("{n} is outside 1 to 100000 events per batch"));
    }
    Ok(n)
}

fn parse_body_limit(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|_| format!("`{s}` is not a number of bytes"))?;
    if n < MIN_BODY_LIMIT {
        return Err(format!("{n} bytes is below the minimum of {MIN_BODY_LIMIT}; events of that size would be refused"));
    }
    Ok(n)
}

fn parse_max_header_bytes(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|_| format!("`{s}` is not a number of bytes"))?;
    if n < MIN_HEADER_BYTES {
        return Err(format!("{n} bytes is below the minimum of {MIN_HEADER_BYTES}; ordinary request heads would be refused"));
    }
    Ok(n)
}

fn parse_max_headers(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|_| format!("`{s}` is not a number of header fields"))?;
    if !(1..=10_000).contains(&n) {
        return Err(format!("{n} is outside 1 to 10000 header fields"));
    }
    Ok(n)
}

fn parse_otlp_endpoint(s: &str) -> Result<String, String> {
    crate::telemetry::traces_url(s).map(|_| s.to_owned())
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e} (use e.g. 10s, 500ms, 2m)"))?;
    if d.is_zero() {
        return Err(format!("`{s}` is zero; a timeout must be positive (e.g. 10s)"));
    }
    Ok(d)
}

fn parse_max_connections(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("0 connections would refuse every client; use at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{s}` is not a number of connections")),
    }
}

fn parse_ttl(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e} (use e.g. 24h, 30m)"))?;
    if d < Duration::from_secs(1) {
        return Err(format!("`{s}` is below one second, the smallest Redis expiry"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = Config::try_parse_from(["herald-server"]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("./herald-data"));
        assert_eq!(c.body_limit, 1024 * 1024);
        assert_eq!(c.max_batch_events, 1000);
        assert_eq!(Config::try_parse_from(["herald-server", "--max-batch-events", "5"]).unwrap().max_batch_events, 5);
        assert!(Config::try_parse_from(["herald-server", "--max-batch-events", "0"]).is_err());
        assert_eq!(c.gap_timeout, Duration::from_secs(30));
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.store, StoreKind::Sqlite);
        assert_eq!(c.mongodb_db, "herald");
        assert_eq!(c.redis_url, None);
        assert_eq!(c.dedup_ttl, Duration::from_secs(24 * 3600));
        assert_eq!(c.header_timeout, Duration::from_secs(10));
        assert_eq!(c.body_timeout, Duration::from_secs(30));
        assert_eq!(c.request_timeout, Duration::from_secs(60));
        assert_eq!(c.idle_timeout, Duration::from_secs(60));
        assert_eq!(c.max_connections, 4096);
        assert_eq!((c.max_header_bytes, c.max_headers), (128 * 1024, 100));
        assert_eq!(c.otlp_endpoint, None);
        let c = Config::try_parse_from(["herald-server", "--otlp-endpoint", "http://127.0.0.1:4318"]).unwrap();
        assert_eq!(c.otlp_endpoint.as_deref(), Some("http://127.0.0.1:4318"));
        let err = Config::try_parse_from(["herald-server", "--otlp-endpoint", "https://c:4318"]).unwrap_err().to_string();
        assert!(err.contains("https is not supported"), "{err}");
    }

    #[test]
    fn head_limits_have_floors() {
        let c = Config::try_parse_from(["herald-server", "--max-header-bytes", "8192", "--max-headers", "20"]).unwrap();
        assert_eq!((c.max_header_bytes, c.max_headers), (8192, 20));
        let err = Config::try_parse_from(["herald-server", "--max-header-bytes", "8191"]).unwrap_err().to_string();
        assert!(err.contains("below the minimum of 8192"), "{err}");
        assert!(Config::try_parse_from(["herald-server", "--max-headers", "0"]).is_err());
        assert!(Config::try_parse_from(["herald-server", "--max-headers", "many"]).is_err());
    }

    #[test]
    fn timeouts_take_units_and_must_be_positive() {
        let c = Config::try_parse_from([
            "herald-server",
            "--header-timeout",
            "300ms",
            "--body-timeout",
            "2s",
            "--idle-timeout",
            "1m",
            "--max-connections",
            "3",
        ])
        .unwrap();
        assert_eq!((c.header_timeout, c.body_timeout), (Duration::from_millis(300), Duration::from_secs(2)));
        assert_eq!((c.idle_timeout, c.max_connections), (Duration::from_secs(60), 3));
        for flag in ["--header-timeout", "--body-timeout", "--idle-timeout"] {
            let err = Config::try_parse_from(["herald-server", flag, "0s"]).unwrap_err().to_string();
            assert!(err.contains("must be positive"), "{err}");
            assert!(Config::try_parse_from(["herald-server", flag, "later"]).is_err());
        }
        let err = Config::try_parse_from(["herald-server", "--max-connections", "0"]).unwrap_err().to_string();
        assert!(err.contains("at least 1"), "{err}");
    }

    #[test]
    fn mongodb_needs_a_uri_and_ttl_takes_units() {
        let err = Config::try_parse_from(["herald-server", "--store", "mongodb"]).unwrap_err().to_string();
        assert!(err.contains("--mongodb-uri"), "{err}");
        let c = Config::try_parse_from([
            "herald-server",
            "--store",
            "mongodb",
            "--mongodb-uri",
            "mongodb://h",
            "--mongodb-db",
            "d",
            "--redis-url",
            "redis://r",
            "--dedup-ttl",
            "90s",
            "--mongodb-lock-wait",
            "500ms",
        ])
        .unwrap();
        assert_eq!(c.mongodb_lock_wait, Duration::from_millis(500));
        assert!(Config::try_parse_from(["herald-server", "--mongodb-lock-wait", "0s"]).is_err());
        assert_eq!((c.store, c.mongodb_uri.as_deref(), c.mongodb_db.as_str()), (StoreKind::Mongodb, Some("mongodb://h"), "d"));
        assert_eq!((c.redis_url.as_deref(), c.dedup_ttl), (Some("redis://r"), Duration::from_secs(90)));
        assert!(Config::try_parse_from(["herald-server", "--dedup-ttl", "10ms"]).is_err());
        assert!(Config::try_parse_from(["herald-server", "--store", "postgres"]).is_err());
    }

    #[test]
    fn body_limit_has_a_floor_and_gap_timeout_takes_units() {
        let err = Config::try_parse_from(["herald-server", "--body-limit", "1000"]).unwrap_err().to_string();
        assert!(err.contains("below the minimum of 65536"), "{err}");
        let c = Config::try_parse_from(["herald-server", "--gap-timeout", "250ms", "--body-limit", "65536"]).unwrap();
        assert_eq!(c.gap_timeout, Duration::from_millis(250));
        assert!(Config::try_parse_from(["herald-server", "--gap-timeout", "soon"]).is_err());
    }
}
