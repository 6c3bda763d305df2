//! Parsing of the command line's own value syntax: `--meta key=value`, durations such as
//! `30d` or `1h30m`, and JSON-or-text values.
//!
//! Every parser here is total: any input gives a value or an error message, never a
//! panic, and each has a formatter whose output it parses back to the same value.
//!
//! ```
//! use std::time::Duration;
//! use brain_cli::parse::{format_duration, parse_duration, parse_meta};
//! use serde_json::json;
//!
//! assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
//! assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
//! assert_eq!(parse_meta("lang=rust").unwrap(), ("lang".to_owned(), json!("rust")));
//! assert_eq!(parse_meta("tries=3").unwrap(), ("tries".to_owned(), json!(3)));
//! assert_eq!(parse_meta("id=\"3\"").unwrap(), ("id".to_owned(), json!("3")));
//! ```

use std::time::Duration;

use serde_json::Value;

/// The units a duration may use, largest first, with their length in milliseconds.
const UNITS: &[(&str, u64)] = &[
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// The longest duration accepted: 1000 years, far past any TTL or age, and small enough
/// that adding it to any timestamp of this era cannot overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(1_000 * 366 * 86_400);

/// Parses a duration: one or more `<integer><unit>` parts with units `w`, `d`, `h`, `m`,
/// `s` and `ms`, e.g. `30d`, `12h`, `1h30m`, `500ms`; a bare `0` is zero. Parts may come
/// in any order and repeat (they add up). At most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("a duration must not be empty; write e.g. 30d, 12h, 1h30m or 500ms".into());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(format!(
                "invalid duration {text:?}: expected a number at {rest:?}; write e.g. 30d, 12h, 1h30m or 500ms"
            ));
        }
        let (number, after) = rest.split_at(digits);
        let n: u64 = number
            .parse()
            .map_err(|_| format!("invalid duration {text:?}: {number} is too large"))?;
        let unit_len = after.len()
            - after
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .len();
        let (unit, after) = after.split_at(unit_len);
        let Some((_, ms)) = UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(if unit.is_empty() {
                format!("invalid duration {text:?}: {number} needs a unit (w, d, h, m, s or ms)")
            } else {
                format!(
                    "invalid duration {text:?}: unknown unit {unit:?} (use w, d, h, m, s or ms)"
                )
            });
        };
        total = n
            .checked_mul(*ms)
            .and_then(|part| total.checked_add(part))
            .ok_or_else(|| format!("invalid duration {text:?}: too long"))?;
        rest = after;
    }
    let d = Duration::from_millis(total);
    if d > MAX_DURATION {
        return Err(format!(
            "invalid duration {text:?}: longer than the limit of {}",
            format_duration(MAX_DURATION)
        ));
    }
    Ok(d)
}

/// Formats a duration the way [`parse_duration`] reads it, largest units first, to the
/// millisecond (`0` for zero).
pub fn format_duration(d: Duration) -> String {
    let mut ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0".into();
    }
    let mut out = String::new();
    for (unit, len) in UNITS {
        let n = ms / len;
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
            ms %= len;
        }
    }
    out
}

/// Parses `key=value`. The key is everything before the first `=` and must not be empty;
/// the value is read by [`parse_value`].
pub fn parse_meta(text: &str) -> Result<(String, Value), String> {
    let Some((key, value)) = text.split_once('=') else {
        return Err(format!("expected KEY=VALUE, got {text:?}"));
    };
    if key.trim().is_empty() {
        return Err(format!("the key of {text:?} is empty; expected KEY=VALUE"));
    }
    Ok((key.to_owned(), parse_value(value)))
}

/// Formats a key and value as [`parse_meta`] reads them back.
pub fn format_meta(key: &str, value: &Value) -> String {
    format!("{key}={}", format_value(value))
}

/// A command-line value: the JSON it spells when it is JSON (`3`, `true`, `null`,
/// `"quoted"`, `[1,2]`, `{"a":1}`), else the text itself as a string.
pub fn parse_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// Formats a value as [`parse_value`] reads it back: a string that would read as other
/// JSON (`"3"`, `"true"`) is quoted, any other string is written as it is.
pub fn format_value(value: &Value) -> String {
    match value {
        Value::String(s) if parse_value(s) == *value => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations() {
        for (text, secs) in [
            ("30d", 30 * 86_400),
            ("12h", 12 * 3_600),
            ("1h30m", 5_400),
            ("2w", 14 * 86_400),
            ("45s", 45),
            ("0", 0),
            ("0s", 0),
            ("1m1m", 120),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs(secs)),
                "{text}"
            );
        }
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        for bad in [
            "",
            "d",
            "30",
            "3x",
            "1.5h",
            "-1d",
            "99999999999999999999d",
            "1001y",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration("400000d").is_err(), "over the limit");
        assert_eq!(
            format_duration(Duration::from_millis(90_061_001)),
            "1d1h1m1s1ms"
        );
    }

    #[test]
    fn meta() {
        assert_eq!(parse_meta("a=b=c"), Ok(("a".into(), json!("b=c"))));
        assert_eq!(parse_meta("a="), Ok(("a".into(), json!(""))));
        assert_eq!(parse_meta("ok=true"), Ok(("ok".into(), json!(true))));
        assert_eq!(parse_meta("x=1.5"), Ok(("x".into(), json!(1.5))));
        assert!(parse_meta("novalue").is_err());
        assert!(parse_meta("=v").is_err());
        assert_eq!(format_meta("n", &json!("3")), "n=\"3\"");
        assert_eq!(format_meta("n", &json!("rust")), "n=rust");
    }
}
