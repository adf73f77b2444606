//! The `time` attribute: an RFC 3339 date-time, kept as sent.
//!
//! The original text is kept because a re-formatted timestamp is a different
//! string (`+00:00` vs `Z`, trailing fraction zeros, lower-case `t`), and
//! round trips and signatures need the sender's bytes. The parsed fields are
//! kept beside it so [`Timestamp::to_datetime`] never re-parses or fails.
//!
//! The same grammar backs the JSON Schema `date`, `time` and `date-time`
//! formats in [`crate::formats`], so the envelope and generated data
//! validation can never disagree on what a timestamp is.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Utc};

use crate::error::{EnvelopeError, excerpt};

/// The fields of an RFC 3339 `full-date` (`YYYY-MM-DD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct DateParts {
    year: u16,
    month: u8,
    day: u8,
}

/// The fields of an RFC 3339 `full-time` (`HH:MM:SS[.frac]` + offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TimeParts {
    hour: u8,
    minute: u8,
    /// 0..=60; 60 is a leap second.
    second: u8,
    /// The first nine fraction digits; further digits are below chrono's
    /// resolution and are only kept in the text.
    nanos: u32,
    /// Signed offset east of UTC, in minutes (`-00:00` is 0).
    offset_minutes: i16,
}

fn two_digits(b: &[u8]) -> Option<u8> {
    match b {
        [h @ b'0'..=b'9', l @ b'0'..=b'9'] => Some((h - b'0') * 10 + (l - b'0')),
        _ => None,
    }
}

fn four_digits(b: &[u8]) -> Option<u16> {
    let hi = two_digits(b.get(0..2)?)?;
    let lo = two_digits(b.get(2..4)?)?;
    Some(u16::from(hi) * 100 + u16::from(lo))
}

fn is_leap_year(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Parse `full-date`: exactly `YYYY-MM-DD`, a real calendar day.
pub(crate) fn parse_date(b: &[u8]) -> Result<DateParts, &'static str> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err("the date must be `YYYY-MM-DD`");
    }
    let (Some(year), Some(month), Some(day)) = (four_digits(&b[0..4]), two_digits(&b[5..7]), two_digits(&b[8..10])) else {
        return Err("the date must be `YYYY-MM-DD` in digits");
    };
    if !(1..=12).contains(&month) {
        return Err("the month must be 01 to 12");
    }
    let days_in_month = match month {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 31,
    };
    if day == 0 || day > days_in_month {
        return Err("the day does not exist in that month");
    }
    Ok(DateParts { year, month, day })
}

/// Parse `full-time`: `HH:MM:SS[.frac]` then `Z`/`z` or `±HH:MM`.
///
/// A leap second (`:60`) is accepted only where one can occur: at 23:59:60
/// UTC, after applying the offset (the same rule as the `jsonschema` crate).
pub(crate) fn parse_time(b: &[u8]) -> Result<TimeParts, &'static str> {
    if b.len() < 9 || b[2] != b':' || b[5] != b':' {
        return Err("the time must be `HH:MM:SS` followed by `Z` or an offset");
    }
    let (Some(hour), Some(minute), Some(second)) = (two_digits(&b[0..2]), two_digits(&b[3..5]), two_digits(&b[6..8])) else {
        return Err("the time must be `HH:MM:SS` in digits");
    };
    if hour > 23 {
        return Err("the hour must be 00 to 23");
    }
    if minute > 59 {
        return Err("the minute must be 00 to 59");
    }
    if second > 60 {
        return Err("the second must be 00 to 60");
    }
    let mut i = 8;
    let mut nanos = 0u32;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return Err("a `.` must be followed by fraction digits");
        }
        for _ in digits..9 {
            nanos *= 10;
        }
    }
    let offset_minutes = match &b[i..] {
        [] => return Err("the UTC offset is missing; end with `Z` or `±HH:MM`"),
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (Some(oh), Some(om)) = (two_digits(&[*h1, *h2]), two_digits(&[*m1, *m2])) else {
                return Err("the UTC offset must be `±HH:MM` in digits");
            };
            if oh > 23 || om > 59 {
                return Err("the UTC offset is out of range (at most `±23:59`)");
            }
            let minutes = i16::from(oh) * 60 + i16::from(om);
            if *sign == b'-' { -minutes } else { minutes }
        }
        _ => return Err("the UTC offset must be `Z` or `±HH:MM` and end the value"),
    };
    if second == 60 {
        let local = i32::from(hour) * 60 + i32::from(minute);
        let utc = (local - i32::from(offset_minutes)).rem_euclid(24 * 60);
        if utc != 23 * 60 + 59 {
            return Err("a leap second (`:60`) can only occur at 23:59:60 UTC");
        }
    }
    Ok(TimeParts { hour, minute, second, nanos, offset_minutes })
}

/// Parse `date-time`: `full-date` `T`/`t` `full-time`.
pub(crate) fn parse_date_time(s: &str) -> Result<(DateParts, TimeParts), &'static str> {
    let b = s.as_bytes();
    if b.len() < 11 || !matches!(b[10], b'T' | b't') {
        return Err("expected `YYYY-MM-DDTHH:MM:SS` with a `T` between date and time");
    }
    Ok((parse_date(&b[..10])?, parse_time(&b[11..])?))
}

/// An RFC 3339 date-time (the CloudEvents `time` attribute), keeping the
/// exact text sent and its UTC offset.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timestamp<'a> {
    text: Cow<'a, str>,
    date: DateParts,
    time: TimeParts,
}

impl<'a> Timestamp<'a> {
    /// Validate `text` as an RFC 3339 `date-time`: `YYYY-MM-DD`, `T` or `t`,
    /// `HH:MM:SS`, an optional fraction, then `Z`, `z` or `±HH:MM`.
    pub fn parse(text: impl Into<Cow<'a, str>>) -> Result<Timestamp<'a>, EnvelopeError> {
        let text = text.into();
        match parse_date_time(&text) {
            Ok((date, time)) => Ok(Timestamp { text, date, time }),
            Err(reason) => Err(EnvelopeError::InvalidTime { value: excerpt(&text), reason }),
        }
    }

    /// The timestamp exactly as it was sent.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The instant, in the sender's UTC offset (`-00:00` becomes `+00:00`).
    ///
    /// A leap second (`23:59:60Z`) becomes chrono's leap-second
    /// representation (second 59 with a nanosecond field ≥ 1 000 000 000), so
    /// it is not clamped and still sorts after `23:59:59.999999999`.
    /// Fraction digits beyond nanoseconds are truncated.
    pub fn to_datetime(&self) -> DateTime<FixedOffset> {
        let d = self.date;
        let t = self.time;
        let (second, nanos) = if t.second == 60 { (59, t.nanos + 1_000_000_000) } else { (u32::from(t.second), t.nanos) };
        let naive = NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day)).zip(NaiveTime::from_hms_nano_opt(
            u32::from(t.hour),
            u32::from(t.minute),
            second,
            nanos,
        ));
        let offset = FixedOffset::east_opt(i32::from(t.offset_minutes) * 60);
        match (naive, offset) {
            (Some((date, time)), Some(offset)) => date.and_time(time).and_local_timezone(offset).single(),
            _ => None,
        }
        // Unreachable: `parse` validated every field, years 0000-9999 and
        // offsets under a day are all within chrono's range. Falling back
        // instead of panicking keeps input from ever aborting the process.
        .unwrap_or(DateTime::<Utc>::MIN_UTC.fixed_offset())
    }

    /// Copy the text so the timestamp outlives the input buffer.
    pub fn into_owned(self) -> Timestamp<'static> {
        Timestamp { text: Cow::Owned(self.text.into_owned()), date: self.date, time: self.time }
    }
}

impl fmt::Display for Timestamp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl serde::Serialize for Timestamp<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Offset, Timelike};

    fn ok(s: &str) -> Timestamp<'_> {
        Timestamp::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn reason(s: &str) -> &'static str {
        match Timestamp::parse(s) {
            Err(EnvelopeError::InvalidTime { reason, .. }) => reason,
            other => panic!("{s}: expected invalid_time, got {other:?}"),
        }
    }

    #[test]
    fn accepts_rfc3339_forms() {
        for s in [
            "2024-05-01T12:30:00Z",
            "2024-05-01t12:30:00z",
            "2024-05-01T12:30:00+05:30",
            "2024-05-01T12:30:00-00:00",
            "2024-05-01T12:30:00.123456789123Z",
            "2024-02-29T00:00:00Z",
            "2000-02-29T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.9-23:59",
            "1998-12-31T23:59:60Z",
            "1998-12-31T15:59:60-08:00",
        ] {
            assert_eq!(ok(s).as_str(), s);
        }
    }

    #[test]
    fn rejects_with_reasons() {
        assert!(reason("2023-02-29T00:00:00Z").contains("day"));
        assert!(reason("1900-02-29T00:00:00Z").contains("day"));
        assert!(reason("2024-13-01T00:00:00Z").contains("month"));
        assert!(reason("2024-00-01T00:00:00Z").contains("month"));
        assert!(reason("2024-04-31T00:00:00Z").contains("day"));
        assert!(reason("2024-04-00T00:00:00Z").contains("day"));
        assert!(reason("2024-04-01T24:00:00Z").contains("hour"));
        assert!(reason("2024-04-01T23:60:00Z").contains("minute"));
        assert!(reason("2024-04-01T23:59:61Z").contains("second"));
        assert!(reason("2024-04-01T12:00:60Z").contains("leap"));
        assert!(reason("2024-04-01T12:00:00").contains("offset"));
        assert!(reason("2024-04-01T12:00:00+24:00").contains("offset"));
        assert!(reason("2024-04-01T12:00:00+05:60").contains("offset"));
        assert!(reason("2024-04-01T12:00:00+0530").contains("offset"));
        assert!(reason("2024-04-01T12:00:00Z ").contains("offset"));
        assert!(reason("2024-04-01T12:00:00.Z").contains("fraction"));
        assert!(reason("2024-04-01 12:00:00Z").contains("`T`"));
        assert!(reason("2024-4-01T12:00:00Z").contains("`T`"));
        assert!(reason("2024-04-01T1:00:00Z").contains("time"));
        assert!(reason("２024-04-01T12:00:00Z").contains("`T`"));
        assert!(reason("").contains("`T`"));
        // jsonschema 0.33 takes `:`..`?` for digits; we do not.
        assert!(reason("2024-04-01T1;:00:00Z").contains("digits"));
    }

    #[test]
    fn keeps_the_offset_and_instant() {
        let dt = ok("2024-05-01T12:30:15.25+05:30").to_datetime();
        assert_eq!(dt.offset().fix().local_minus_utc(), 5 * 3600 + 30 * 60);
        assert_eq!((dt.hour(), dt.minute(), dt.second()), (12, 30, 15));
        assert_eq!(dt.nanosecond(), 250_000_000);
        assert_eq!(dt.to_rfc3339(), "2024-05-01T12:30:15.250+05:30");
        let neg = ok("2024-05-01T00:00:00-07:00").to_datetime();
        assert_eq!(neg.offset().fix().local_minus_utc(), -7 * 3600);
        assert_eq!(neg.with_timezone(&Utc).day(), 1);
        assert_eq!(ok("2024-05-01T00:00:00-00:00").to_datetime().offset().fix().local_minus_utc(), 0);
    }

    #[test]
    fn leap_second_is_represented_not_clamped() {
        let leap = ok("1998-12-31T23:59:60.5Z").to_datetime();
        assert_eq!(leap.second(), 59);
        assert_eq!(leap.nanosecond(), 1_500_000_000);
        assert!(leap > ok("1998-12-31T23:59:59.999Z").to_datetime());
        let west = ok("1998-12-31T15:59:60-08:00").to_datetime();
        assert_eq!(west.nanosecond(), 1_000_000_000);
    }

    #[test]
    fn borrows_and_owns() {
        let text = String::from("2024-05-01T12:30:00Z");
        let t = Timestamp::parse(text.as_str()).unwrap();
        assert!(matches!(t.text, Cow::Borrowed(_)));
        let owned: Timestamp<'static> = t.clone().into_owned();
        assert_eq!(owned, t);
        assert_eq!(owned.to_string(), text);
    }
}
