//! serde `deserialize_with` helpers that `#[cloud_event]` puts on fields
//! whose Rust type parses a string format more loosely than JSON Schema
//! (`uuid::Uuid` takes braced and URN forms, chrono a space for `T`). Each
//! parses through Herald's strict wire type, then converts, so typed
//! decoding accepts exactly what the event's schema accepts.
//!
//! Reached only through `herald::__private`.

use serde::{Deserialize, Deserializer};

use crate::types::{DateTime, Uuid};

/// A `format: uuid` string, into any type a [`Uuid`] converts into.
pub fn uuid<'de, D: Deserializer<'de>, T: From<Uuid>>(d: D) -> Result<T, D::Error> {
    Uuid::deserialize(d).map(T::from)
}

/// Like [`uuid`] for an optional property that is present (never `null`).
pub fn uuid_some<'de, D: Deserializer<'de>, T: From<Uuid>>(d: D) -> Result<Option<T>, D::Error> {
    uuid(d).map(Some)
}

/// A `format: date-time` string, into any type a [`DateTime`] converts into.
pub fn date_time<'de, D: Deserializer<'de>, T: From<DateTime>>(d: D) -> Result<T, D::Error> {
    DateTime::deserialize(d).map(T::from)
}

/// Like [`date_time`] for an optional property that is present.
pub fn date_time_some<'de, D: Deserializer<'de>, T: From<DateTime>>(d: D) -> Result<Option<T>, D::Error> {
    date_time(d).map(Some)
}

impl From<Uuid> for uuid::Uuid {
    fn from(u: Uuid) -> Self {
        u.0
    }
}

impl From<DateTime> for chrono::DateTime<chrono::FixedOffset> {
    fn from(t: DateTime) -> Self {
        t.0
    }
}

impl From<DateTime> for chrono::DateTime<chrono::Utc> {
    fn from(t: DateTime) -> Self {
        t.0.with_timezone(&chrono::Utc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Probe {
        #[serde(deserialize_with = "uuid")]
        id: uuid::Uuid,
        #[serde(deserialize_with = "date_time")]
        at: chrono::DateTime<chrono::Utc>,
    }

    #[test]
    fn loose_forms_are_rejected() {
        let ok: Probe =
            serde_json::from_str(r#"{"id": "0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f", "at": "2024-01-01T10:00:00+01:00"}"#).unwrap();
        assert_eq!(ok.at.to_rfc3339(), "2024-01-01T09:00:00+00:00");
        assert_eq!(ok.id.to_string(), "0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f");
        for bad in [
            r#"{"id": "{0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f}", "at": "2024-01-01T10:00:00Z"}"#,
            r#"{"id": "0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f", "at": "2024-01-01 10:00:00Z"}"#,
        ] {
            assert!(serde_json::from_str::<Probe>(bad).is_err(), "{bad}");
        }
    }
}
