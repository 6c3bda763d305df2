//! Wall-clock timestamps with millisecond precision.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A UTC instant, stored as milliseconds since the Unix epoch.
///
/// Milliseconds keep every backend's round trip exact (SQLite integers, PostgreSQL
/// `timestamptz` has microseconds) and the ordering total. [`fmt::Display`] renders
/// RFC 3339, e.g. `2026-11-25T23:18:05.123Z`, and so does JSON; [`str::parse`] reads
/// RFC 3339 with any offset. JSON also reads the milliseconds as a number (what exports
/// before RFC 3339 hold), and writes one for an instant outside the years 0000 to 9999,
/// which RFC 3339 cannot express.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// The first and last milliseconds RFC 3339 can express (years 0000 to 9999).
const RFC3339_MIN: i64 = -62_167_219_200_000;
const RFC3339_MAX: i64 = 253_402_300_799_999;

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if (RFC3339_MIN..=RFC3339_MAX).contains(&self.0) {
            s.collect_str(self)
        } else {
            s.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "an RFC 3339 time (2026-11-25T23:18:05.123Z) or milliseconds since 1970",
                )
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Timestamp, E> {
                Ok(Timestamp(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Timestamp, E> {
                i64::try_from(v)
                    .map(Timestamp)
                    .map_err(|_| E::custom("milliseconds out of range"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Why a text is not an RFC 3339 time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseTimestampError(String);

impl fmt::Display for ParseTimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not an RFC 3339 time such as 2026-11-25T23:18:05.123Z",
            self.0
        )
    }
}

impl std::error::Error for ParseTimestampError {}

impl std::str::FromStr for Timestamp {
    type Err = ParseTimestampError;

    /// `YYYY-MM-DDTHH:MM:SS`, an optional fraction (cut to milliseconds), then `Z` or an
    /// offset `±HH:MM`; `t` or a space may stand for `T`, `z` for `Z`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || ParseTimestampError(text.chars().take(64).collect());
        let b = text.as_bytes();
        let num = |range: std::ops::Range<usize>| -> Result<i64, ParseTimestampError> {
            let part = b.get(range).ok_or_else(bad)?;
            if part.iter().all(u8::is_ascii_digit) {
                Ok(part.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
            } else {
                Err(bad())
            }
        };
        let sep = |i: usize, allowed: &[u8]| -> Result<(), ParseTimestampError> {
            b.get(i)
                .filter(|c| allowed.contains(c))
                .map(|_| ())
                .ok_or_else(bad)
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        sep(4, b"-")?;
        sep(7, b"-")?;
        sep(10, b"Tt ")?;
        let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
        sep(13, b":")?;
        sep(16, b":")?;
        let month_days = [
            31,
            if is_leap(y) { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        if !(1..=12).contains(&mo)
            || d < 1
            || d > month_days[(mo - 1) as usize]
            || h > 23
            || mi > 59
            || sec > 60
        {
            return Err(bad());
        }
        let mut i = 19;
        let mut ms = 0;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            i = start;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start {
                return Err(bad());
            }
            let digits = &b[start..i.min(start + 3)];
            ms = digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0'))
                * 10i64.pow(3 - digits.len() as u32);
        }
        let offset_min = match b.get(i) {
            Some(b'Z' | b'z') if i + 1 == b.len() => 0,
            Some(sign @ (b'+' | b'-')) if i + 6 == b.len() => {
                sep(i + 3, b":")?;
                let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
                if oh > 23 || om > 59 {
                    return Err(bad());
                }
                let m = oh * 60 + om;
                if *sign == b'-' { -m } else { m }
            }
            _ => return Err(bad()),
        };
        let days = days_from_civil(y, mo, d);
        let ms = ((days * 24 + h) * 60 + mi - offset_min) * 60_000 + sec * 1000 + ms;
        Ok(Timestamp(ms))
    }
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// A proleptic Gregorian date to days since 1970-01-01 (Howard Hinnant's
/// `days_from_civil`, the inverse of [`civil_from_days`]).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Timestamp {
    /// The current time. A clock set before 1970 reads as the epoch.
    pub fn now() -> Self {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp(ms)
    }

    /// The instant `millis` milliseconds after the Unix epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// This instant moved later by `d`, saturating.
    pub fn saturating_add(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(ms))
    }

    /// This instant moved earlier by `d`, saturating.
    pub fn saturating_sub(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_sub(ms))
    }
}

impl Timestamp {
    /// The UTC calendar date: (year, month 1-12, day 1-31).
    pub fn date(self) -> (i64, u32, u32) {
        civil_from_days(self.0.div_euclid(86_400_000))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400_000);
        let ms_of_day = self.0.rem_euclid(86_400_000);
        let (y, m, d) = civil_from_days(days);
        let (h, rest) = (ms_of_day / 3_600_000, ms_of_day % 3_600_000);
        let (min, rest) = (rest / 60_000, rest % 60_000);
        let (s, ms) = (rest / 1000, rest % 1000);
        write!(f, "{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{ms:03}Z")
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day), after Howard
/// Hinnant's `civil_from_days`; exact over the whole `i64` millisecond range.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_rfc3339() {
        assert_eq!(
            Timestamp::from_millis(0).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::from_millis(1_764_112_685_123).to_string(),
            "2025-11-25T23:18:05.123Z"
        );
        assert_eq!(
            Timestamp::from_millis(-1).to_string(),
            "1969-12-31T23:59:59.999Z"
        );
        // A leap day.
        assert_eq!(
            Timestamp::from_millis(951_782_400_000).to_string(),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn parses_rfc3339_and_json_takes_both_forms() {
        let t: Timestamp = "2025-11-25T23:18:05.123Z".parse().unwrap();
        assert_eq!(t.as_millis(), 1_764_112_685_123);
        let t: Timestamp = "2025-11-26T01:18:05.1234+02:00".parse().unwrap();
        assert_eq!(
            t.as_millis(),
            1_764_112_685_123,
            "offset applied, fraction cut"
        );
        assert_eq!(
            "2000-02-29 00:00:00z"
                .parse::<Timestamp>()
                .unwrap()
                .as_millis(),
            951_782_400_000
        );
        for bad in [
            "",
            "2025-11-25",
            "2025-02-30T00:00:00Z",
            "2025-11-25T24:00:00Z",
            "2025-11-25T23:18:05.Z",
            "2025-11-25T23:18:05+0200",
            "2025-11-25T23:18:05Zjunk",
            "２０２５-11-25T23:18:05Z",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad:?}");
        }
        let t = Timestamp::from_millis(1_764_112_685_123);
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2025-11-25T23:18:05.123Z\""
        );
        assert_eq!(
            serde_json::from_str::<Timestamp>("1764112685123").unwrap(),
            t
        );
        let far = Timestamp::from_millis(i64::MAX);
        let json = serde_json::to_string(&far).unwrap();
        assert_eq!(json, i64::MAX.to_string(), "beyond year 9999: milliseconds");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), far);
    }

    proptest::proptest! {
        #[test]
        fn json_round_trips_every_instant(ms in proptest::prelude::any::<i64>()) {
            let t = Timestamp::from_millis(ms);
            let json = serde_json::to_string(&t).unwrap();
            proptest::prop_assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
        }

        #[test]
        fn display_parses_back(ms in RFC3339_MIN..=RFC3339_MAX) {
            let t = Timestamp::from_millis(ms);
            proptest::prop_assert_eq!(t.to_string().parse::<Timestamp>().unwrap(), t);
        }
    }

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp::from_millis(i64::MAX - 1);
        assert_eq!(
            t.saturating_add(Duration::from_secs(1)).as_millis(),
            i64::MAX
        );
        assert_eq!(
            Timestamp::from_millis(1000).saturating_sub(Duration::from_millis(1)),
            Timestamp::from_millis(999)
        );
    }
}

/// Serde for a [`Duration`] as whole milliseconds, the one way durations appear in JSON
/// (`#[serde(with = "memory_core::duration_ms")]`). Sub-millisecond parts are dropped.
pub mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `d` as milliseconds.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// Reads milliseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}
