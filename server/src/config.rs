//! Command-line and environment configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Smallest body limit accepted: a batch of a few events must always fit.
pub const MIN_BODY_LIMIT: usize = 64 * 1024;

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

    /// Largest request body in bytes (at least 65536).
    #[arg(long, env = "HERALD_BODY_LIMIT", default_value_t = 1024 * 1024, value_parser = parse_body_limit)]
    pub body_limit: usize,

    /// How long a run waits for a missing `seq` before applying what came
    /// after it and recording the gap (e.g. 30s, 500ms, 2m).
    #[arg(long, env = "HERALD_GAP_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub gap_timeout: Duration,

    /// Log output format.
    #[arg(long, env = "HERALD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

fn parse_body_limit(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|_| format!("`{s}` is not a number of bytes"))?;
    if n < MIN_BODY_LIMIT {
        return Err(format!("{n} bytes is below the minimum of {MIN_BODY_LIMIT}; events of that size would be refused"));
    }
    Ok(n)
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
        assert_eq!(c.gap_timeout, Duration::from_secs(30));
        assert_eq!(c.log_format, LogFormat::Text);
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
