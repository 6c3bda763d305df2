//! Input limits and the checks that enforce them. Every write path runs these before it
//! touches storage, so a backend never sees input the contract forbids.

use crate::error::ValidationError;

/// Largest memory content, pattern context or solution, in bytes (1 MiB).
pub const MAX_TEXT_BYTES: usize = 1 << 20;
/// Largest key, name, type, category or scope part, in bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// Largest serialised metadata or JSON value, in bytes (256 KiB).
pub const MAX_JSON_BYTES: usize = 256 << 10;
/// Deepest nesting of a JSON value.
pub const MAX_JSON_DEPTH: usize = 32;

/// A non-empty identifier-like string: no control characters, at most
/// [`MAX_KEY_BYTES`].
pub fn key(field: &'static str, s: &str) -> Result<(), ValidationError> {
    if s.trim().is_empty() {
        return Err(ValidationError::Empty { field });
    }
    if s.len() > MAX_KEY_BYTES {
        return Err(ValidationError::TooLong {
            field,
            len: s.len(),
            max: MAX_KEY_BYTES,
        });
    }
    if let Some(ch) = s.chars().find(|c| c.is_control()) {
        return Err(ValidationError::ForbiddenChar { field, ch });
    }
    Ok(())
}

/// Free text that may be empty: no NUL, at most [`MAX_TEXT_BYTES`].
pub fn text(field: &'static str, s: &str) -> Result<(), ValidationError> {
    if s.len() > MAX_TEXT_BYTES {
        return Err(ValidationError::TooLong {
            field,
            len: s.len(),
            max: MAX_TEXT_BYTES,
        });
    }
    if s.contains('\0') {
        return Err(ValidationError::ForbiddenChar { field, ch: '\0' });
    }
    Ok(())
}

/// Free text that must hold something besides whitespace.
pub fn non_empty_text(field: &'static str, s: &str) -> Result<(), ValidationError> {
    if s.trim().is_empty() {
        return Err(ValidationError::Empty { field });
    }
    text(field, s)
}

/// Most options one decision or recommendation weighs.
pub const MAX_OPTIONS: usize = 64;
/// Largest option, in bytes.
pub const MAX_OPTION_BYTES: usize = 4096;

/// The options of a decision or a recommendation: at least one, at most
/// [`MAX_OPTIONS`], each non-empty, at most [`MAX_OPTION_BYTES`], no control characters,
/// and no option given twice (a learner keys its arms by option).
pub fn options(field: &'static str, options: &[String]) -> Result<(), ValidationError> {
    if options.is_empty() {
        return Err(ValidationError::Empty { field });
    }
    if options.len() > MAX_OPTIONS {
        return Err(ValidationError::OutOfRange {
            field,
            value: options.len() as f64,
            min: 1.0,
            max: MAX_OPTIONS as f64,
        });
    }
    for (i, o) in options.iter().enumerate() {
        if o.trim().is_empty() {
            return Err(ValidationError::Empty { field: "option" });
        }
        if o.len() > MAX_OPTION_BYTES {
            return Err(ValidationError::TooLong {
                field: "option",
                len: o.len(),
                max: MAX_OPTION_BYTES,
            });
        }
        if let Some(ch) = o.chars().find(|c| c.is_control() && !c.is_whitespace()) {
            return Err(ValidationError::ForbiddenChar {
                field: "option",
                ch,
            });
        }
        if options[..i].contains(o) {
            return Err(ValidationError::Other(format!(
                "{field}: the option {:?} is given twice",
                preview(o)
            )));
        }
    }
    Ok(())
}

/// The first 60 characters of `s`, for error messages.
pub fn preview(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// A JSON value within the size and depth limits, with no NUL in its strings.
pub fn json(field: &'static str, v: &serde_json::Value) -> Result<(), ValidationError> {
    let depth = json_depth(v);
    if depth > MAX_JSON_DEPTH {
        return Err(ValidationError::TooDeep {
            field,
            depth,
            max: MAX_JSON_DEPTH,
        });
    }
    let len = serde_json::to_string(v)
        .map_err(|e| ValidationError::MalformedJson {
            field,
            message: e.to_string(),
        })?
        .len();
    if len > MAX_JSON_BYTES {
        return Err(ValidationError::TooLong {
            field,
            len,
            max: MAX_JSON_BYTES,
        });
    }
    Ok(())
}

/// Parses `s` as JSON, then checks it as [`json`] does. The depth check runs on the
/// parsed value; serde_json's own recursion limit (128) guards the parse itself.
pub fn parse_json(field: &'static str, s: &str) -> Result<serde_json::Value, ValidationError> {
    if s.len() > MAX_JSON_BYTES {
        return Err(ValidationError::TooLong {
            field,
            len: s.len(),
            max: MAX_JSON_BYTES,
        });
    }
    let v: serde_json::Value =
        serde_json::from_str(s).map_err(|e| ValidationError::MalformedJson {
            field,
            message: e.to_string(),
        })?;
    json(field, &v)?;
    Ok(v)
}

/// Nesting depth of a JSON value: a scalar is 0, `[]` and `{}` are 1.
pub fn json_depth(v: &serde_json::Value) -> usize {
    // Iterative, so a hostile value cannot overflow the stack here.
    let mut max = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        match v {
            serde_json::Value::Array(a) => {
                max = max.max(d + 1);
                stack.extend(a.iter().map(|x| (x, d + 1)));
            }
            serde_json::Value::Object(o) => {
                max = max.max(d + 1);
                stack.extend(o.values().map(|x| (x, d + 1)));
            }
            _ => max = max.max(d),
        }
    }
    max
}

/// A finite number within `[min, max]`.
pub fn range(field: &'static str, value: f64, min: f64, max: f64) -> Result<(), ValidationError> {
    if !value.is_finite() {
        return Err(ValidationError::NotFinite { field, value });
    }
    if value < min || value > max {
        return Err(ValidationError::OutOfRange {
            field,
            value,
            min,
            max,
        });
    }
    Ok(())
}

/// A vector fit for an index of `dimension`: the right length, finite, not all zeros.
pub fn vector(v: &[f32], dimension: usize) -> Result<(), ValidationError> {
    if v.len() != dimension {
        return Err(ValidationError::WrongDimension {
            expected: dimension,
            got: v.len(),
        });
    }
    if let Some(x) = v.iter().find(|x| !x.is_finite()) {
        return Err(ValidationError::NotFinite {
            field: "vector",
            value: f64::from(*x),
        });
    }
    if v.iter().all(|x| *x == 0.0) {
        return Err(ValidationError::ZeroVector);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys() {
        assert!(key("k", "theme").is_ok());
        assert_eq!(key("k", "  "), Err(ValidationError::Empty { field: "k" }));
        assert!(matches!(
            key("k", "a\nb"),
            Err(ValidationError::ForbiddenChar { .. })
        ));
        assert!(matches!(
            key("k", &"x".repeat(MAX_KEY_BYTES + 1)),
            Err(ValidationError::TooLong { .. })
        ));
    }

    #[test]
    fn json_limits() {
        assert_eq!(json_depth(&json!(1)), 0);
        assert_eq!(json_depth(&json!({"a": [1, {"b": 2}]})), 3);
        let mut deep = json!(0);
        for _ in 0..40 {
            deep = json!([deep]);
        }
        assert!(matches!(
            json("m", &deep),
            Err(ValidationError::TooDeep { .. })
        ));
        assert!(matches!(
            parse_json("m", "{not json"),
            Err(ValidationError::MalformedJson { .. })
        ));
    }

    #[test]
    fn vectors() {
        assert!(vector(&[1.0, 0.0], 2).is_ok());
        assert!(matches!(
            vector(&[1.0], 2),
            Err(ValidationError::WrongDimension { .. })
        ));
        assert!(matches!(
            vector(&[f32::NAN, 1.0], 2),
            Err(ValidationError::NotFinite { .. })
        ));
        assert_eq!(vector(&[0.0, 0.0], 2), Err(ValidationError::ZeroVector));
    }

    #[test]
    fn ranges() {
        assert!(range("r", 1.0, -1.0, 1.0).is_ok());
        assert!(matches!(
            range("r", f64::NAN, -1.0, 1.0),
            Err(ValidationError::NotFinite { .. })
        ));
        assert!(matches!(
            range("r", 1.5, -1.0, 1.0),
            Err(ValidationError::OutOfRange { .. })
        ));
    }
}
