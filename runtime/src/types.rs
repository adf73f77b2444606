//! Strict wire types for string formats that have a natural Rust type.
//!
//! `uuid::Uuid` and `chrono::DateTime` parse more than JSON Schema allows
//! (braced or URN uuids, a space instead of `T`) and `DateTime<Utc>` drops
//! the sender's offset. These wrappers accept exactly the JSON Schema
//! `uuid` and `date-time` formats and keep the value as sent, so typed
//! decoding and the schema agree. [`UtcDateTime`] is the catalog's
//! `format: date-time` + `offset: utc-only`: a date-time written in UTC
//! with `Z`, what Zod's `z.iso.datetime()` accepts.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

use crate::formats;

/// A UUID in the hyphenated `8-4-4-4-12` form (JSON Schema `format: uuid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uuid(pub uuid::Uuid);

impl Deref for Uuid {
    type Target = uuid::Uuid;
    fn deref(&self) -> &uuid::Uuid {
        &self.0
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl std::str::FromStr for Uuid {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        // The hyphen positions pin the hyphenated form (the uuid crate also
        // takes simple, braced and URN forms, which JSON Schema's `uuid`
        // does not); the uuid parser then checks the 32 hex digits, once.
        let b = s.as_bytes();
        let hyphenated = b.len() == 36 && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-');
        match uuid::Uuid::try_parse_ascii(b) {
            Ok(u) if hyphenated => Ok(Uuid(u)),
            _ => Err(format!("`{s}` is not a uuid in the 8-4-4-4-12 hyphenated form")),
        }
    }
}

impl From<uuid::Uuid> for Uuid {
    fn from(u: uuid::Uuid) -> Self {
        Uuid(u)
    }
}

impl Serialize for Uuid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.hyphenated())
    }
}

impl<'de> Deserialize<'de> for Uuid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(FromStrVisitor::<Uuid>(std::marker::PhantomData))?.map_err(de::Error::custom)
    }
}

/// Reads a JSON string through `T`'s `FromStr`, straight from the text the
/// deserializer lends: no `String` is built (serde's `Cow<str>` would
/// always build one). A parse failure comes back as a value, and the caller
/// makes the error once the string has been read, which is where serde_json
/// has always placed it (`… at line 1 column 145`).
struct FromStrVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: std::str::FromStr<Err = String>> de::Visitor<'de> for FromStrVisitor<T> {
    type Value = Result<T, String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // What serde's `String` says, so messages are as they were.
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.parse())
    }
}

/// An RFC 3339 date-time (JSON Schema `format: date-time`) with the
/// sender's UTC offset preserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateTime(pub chrono::DateTime<chrono::FixedOffset>);

impl Deref for DateTime {
    type Target = chrono::DateTime<chrono::FixedOffset>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    }
}

impl std::str::FromStr for DateTime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if !formats::is_date_time(s) {
            return Err(format!("`{s}` is not an RFC 3339 date-time such as `2024-01-01T00:00:00Z`"));
        }
        // RFC 3339 allows a leap second (`:60`), chrono does not: clamp it.
        let parsed = chrono::DateTime::parse_from_rfc3339(s).or_else(|_| {
            let fixed = s.replacen(":60", ":59", 1);
            chrono::DateTime::parse_from_rfc3339(&fixed)
        });
        parsed.map(DateTime).map_err(|e| format!("`{s}`: {e}"))
    }
}

impl Serialize for DateTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DateTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(FromStrVisitor::<DateTime>(std::marker::PhantomData))?.map_err(de::Error::custom)
    }
}

/// An RFC 3339 date-time written in UTC with the `Z` designator
/// (`2024-05-01T12:30:00Z`, `…:00.5z`): the catalog's `format: date-time`
/// with `offset: utc-only` (shorthand `utc_datetime`). A numeric offset is
/// refused, `+00:00` included: the sender did not write UTC as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UtcDateTime(pub chrono::DateTime<chrono::Utc>);

impl Deref for UtcDateTime {
    type Target = chrono::DateTime<chrono::Utc>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl fmt::Display for UtcDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    }
}

impl std::str::FromStr for UtcDateTime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t: DateTime = s.parse()?;
        if !s.ends_with(['Z', 'z']) {
            return Err(format!("`{s}` has a UTC offset; this date-time must be written in UTC with `Z`, such as `2024-01-01T00:00:00Z`"));
        }
        Ok(UtcDateTime(t.0.with_timezone(&chrono::Utc)))
    }
}

impl Serialize for UtcDateTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UtcDateTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(FromStrVisitor::<UtcDateTime>(std::marker::PhantomData))?.map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_accepts_only_hyphenated() {
        let ok: Uuid = serde_json::from_str("\"0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f\"").unwrap();
        assert_eq!(ok.to_string(), "0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f");
        for bad in [
            "\"0b7f6e0e5d2c4c1a9f3e2a1b3c4d5e6f\"",
            "\"{0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f}\"",
            "\"urn:uuid:0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f\"",
            "\"x\"",
            "5",
            "\"0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6g\"",
            "\"0b7f6e0e5-d2c-4c1a-9f3e-2a1b3c4d5e6f\"",
            "\"0b7f6e0e-5d2c-4c1a-9f3e-2a1b3c4d5e6f0\"",
        ] {
            assert!(serde_json::from_str::<Uuid>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn date_time_keeps_offset_and_rejects_loose_forms() {
        let t: DateTime = serde_json::from_str("\"2024-01-01T10:00:00+05:30\"").unwrap();
        assert_eq!(t.offset().local_minus_utc(), 5 * 3600 + 1800);
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"2024-01-01T10:00:00+05:30\"");
        for bad in ["\"2024-01-01 10:00:00Z\"", "\"2024-01-01T10:00:00\"", "\"2024-13-01T00:00:00Z\""] {
            assert!(serde_json::from_str::<DateTime>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn utc_date_time_takes_only_z() {
        for good in ["\"2024-01-01T10:00:00Z\"", "\"2024-01-01t10:00:00.250z\"", "\"2016-12-31T23:59:60Z\""] {
            let t: UtcDateTime = serde_json::from_str(good).unwrap_or_else(|e| panic!("{good}: {e}"));
            assert_eq!(serde_json::from_str::<UtcDateTime>(&serde_json::to_string(&t).unwrap()).unwrap(), t);
        }
        let t: UtcDateTime = serde_json::from_str("\"2024-01-01T10:00:00Z\"").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"2024-01-01T10:00:00Z\"");
        for bad in [
            "\"2024-01-01T10:00:00+00:00\"",
            "\"2024-01-01T10:00:00-00:00\"",
            "\"2024-01-01T10:00:00+05:30\"",
            "\"2024-01-01T10:00:00\"",
            "\"2024-02-30T00:00:00Z\"",
            "\"Z\"",
        ] {
            let e = serde_json::from_str::<UtcDateTime>(bad).unwrap_err();
            assert!(bad.contains('+') || bad.contains("-00:00") || !e.to_string().contains("UTC offset"), "{bad}: {e}");
        }
        let e = serde_json::from_str::<UtcDateTime>("\"2024-01-01T10:00:00+00:00\"").unwrap_err();
        assert!(e.to_string().contains("written in UTC with `Z`"), "{e}");
    }
}
