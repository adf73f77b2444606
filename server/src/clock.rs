//! Wall-clock readings in the two shapes the server stores.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (event `received_at`, gap timers).
pub fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Now as RFC 3339 UTC with milliseconds (`updated_at` and similar).
pub fn now_rfc3339() -> String {
    millis_to_rfc3339(now_millis())
}

/// A millisecond timestamp as RFC 3339 UTC.
pub fn millis_to_rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
