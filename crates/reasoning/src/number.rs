//! A scanner for the numbers in a model's answer: signs, decimals, fractions (`8/10`,
//! `7 out of 10`), percentages, and ranges (`-1 to 1`, `between 0 and 1`, `1-10`), which are
//! skipped because a range states a scale, not a value.

/// One number read from text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Number {
    /// The number as written (NaN when the text says `NaN`, `inf` or `infinity`).
    pub(crate) value: f64,
    /// The denominator of a fraction (`8/10`, `7 out of 10`).
    pub(crate) denominator: Option<f64>,
    /// Followed by `%`.
    pub(crate) percent: bool,
    /// Written with an explicit `+` or `-`.
    pub(crate) signed: bool,
    /// Directly followed by another `/` (a date such as `3/5/2024`).
    pub(crate) date_like: bool,
}

impl Number {
    /// The value on a unit scale: a fraction divided out, a percentage over 100.
    /// `None` when the denominator is zero or the result is not finite.
    pub(crate) fn unit_value(&self) -> Option<f64> {
        let v = match self.denominator {
            Some(0.0) => return None,
            Some(d) => self.value / d,
            None if self.percent => self.value / 100.0,
            None => self.value,
        };
        v.is_finite().then_some(v)
    }
}

/// The numbers in `s`, in order. Linear in the length of `s`.
pub(crate) fn numbers(s: &str) -> Numbers<'_> {
    Numbers {
        b: s.as_bytes(),
        i: 0,
        between: false,
    }
}

/// Iterator over the numbers of a text; see [`numbers`].
pub(crate) struct Numbers<'a> {
    b: &'a [u8],
    i: usize,
    between: bool,
}

const MINUS: &[u8] = "\u{2212}".as_bytes();
const EN_DASH: &[u8] = "\u{2013}".as_bytes();

fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn skip_spaces(b: &[u8], mut i: usize) -> usize {
    while at(b, i) == b' ' || at(b, i) == b'\t' {
        i += 1;
    }
    i
}

/// Whether `b[i..]` starts with the ASCII word `w` (case-insensitive) followed by a non-word
/// byte.
fn word_at(b: &[u8], i: usize, w: &str) -> bool {
    let end = i + w.len();
    b.get(i..end)
        .is_some_and(|s| s.eq_ignore_ascii_case(w.as_bytes()))
        && !is_word_byte(at(b, end))
}

/// The end of a parenthesis of at most 40 bytes opening at `i`.
fn skip_parenthesis(b: &[u8], i: usize) -> Option<usize> {
    if at(b, i) != b'(' {
        return None;
    }
    (i + 1..b.len().min(i + 40))
        .find(|&j| at(b, j) == b')')
        .map(|j| j + 1)
}

/// Scans a number at `i`: optional sign (when `signed`), digits with an optional fraction,
/// or a leading `.` and digits, then an optional exponent. Returns the value, the end, and
/// whether a sign was written.
fn scan(b: &[u8], mut i: usize, signed: bool) -> Option<(f64, usize, bool)> {
    let mut text = String::new();
    let mut has_sign = false;
    if signed {
        if at(b, i) == b'+' || at(b, i) == b'-' {
            text.push(char::from(at(b, i)));
            i += 1;
            has_sign = true;
        } else if b.get(i..i + MINUS.len()) == Some(MINUS) {
            text.push('-');
            i += MINUS.len();
            has_sign = true;
        }
    }
    let int_start = i;
    while at(b, i).is_ascii_digit() {
        i += 1;
    }
    let int_len = i - int_start;
    let mut frac_len = 0;
    if at(b, i) == b'.' && at(b, i + 1).is_ascii_digit() {
        let mut j = i + 1;
        while at(b, j).is_ascii_digit() {
            j += 1;
        }
        frac_len = j - i - 1;
        i = j;
    }
    if int_len == 0 && frac_len == 0 {
        return None;
    }
    text.push_str(std::str::from_utf8(b.get(int_start..i)?).ok()?);
    // An exponent: e, optional sign, at least one digit.
    if at(b, i) == b'e' || at(b, i) == b'E' {
        let mut j = i + 1;
        if at(b, j) == b'+' || at(b, j) == b'-' {
            j += 1;
        }
        if at(b, j).is_ascii_digit() {
            while at(b, j).is_ascii_digit() {
                j += 1;
            }
            text.push_str(std::str::from_utf8(b.get(i..j)?).ok()?);
            i = j;
        }
    }
    let v: f64 = text.parse().ok()?;
    Some((v, i, has_sign))
}

/// Whether a number starts at `i` (a digit, `.digit`, or a sign before either).
fn starts_number(b: &[u8], i: usize) -> bool {
    let c = at(b, i);
    let digitish =
        |j: usize| at(b, j).is_ascii_digit() || (at(b, j) == b'.' && at(b, j + 1).is_ascii_digit());
    if digitish(i) {
        return true;
    }
    if c == b'+' || c == b'-' {
        return digitish(i + 1);
    }
    if b.get(i..i + MINUS.len()) == Some(MINUS) {
        return digitish(i + MINUS.len());
    }
    false
}

impl Iterator for Numbers<'_> {
    type Item = Number;

    fn next(&mut self) -> Option<Number> {
        let b = self.b;
        while self.i < b.len() {
            let i = self.i;
            let c = at(b, i);
            if c.is_ascii_alphabetic() || c == b'_' {
                // A word, including any digits glued to it (`gpt4`, `v2`).
                let mut j = i;
                while is_word_byte(at(b, j)) {
                    j += 1;
                }
                let word = b.get(i..j).unwrap_or(&[]);
                self.i = j;
                if word.eq_ignore_ascii_case(b"nan")
                    || word.eq_ignore_ascii_case(b"inf")
                    || word.eq_ignore_ascii_case(b"infinity")
                {
                    return Some(Number {
                        value: f64::NAN,
                        denominator: None,
                        percent: false,
                        signed: false,
                        date_like: false,
                    });
                }
                if word.eq_ignore_ascii_case(b"between") {
                    self.between = true;
                }
                continue;
            }
            if !starts_number(b, i) {
                self.i += 1;
                continue;
            }
            let Some((value, end, signed)) = scan(b, i, true) else {
                self.i += 1;
                continue;
            };
            self.i = end;
            // Glued to a letter (`3rd`, `2x`, `10k`): not a rating.
            if at(b, end).is_ascii_alphabetic() || at(b, end) == b'_' {
                while is_word_byte(at(b, self.i)) {
                    self.i += 1;
                }
                continue;
            }
            // A range: `X to Y`, `between X and Y`, `X-Y`, `X – Y`; also with a short
            // parenthesis after X, as the seed's prompt writes it: `-1 (very negative) to 1`.
            let k = skip_spaces(b, end);
            let after_paren = skip_parenthesis(b, k).map(|p| skip_spaces(b, p));
            let range_next = if word_at(b, k, "to") {
                Some(skip_spaces(b, k + 2))
            } else if let Some(p) = after_paren
                && word_at(b, p, "to")
            {
                Some(skip_spaces(b, p + 2))
            } else if self.between && word_at(b, k, "and") {
                Some(skip_spaces(b, k + 3))
            } else if k == end && at(b, k) == b'-' && at(b, k + 1).is_ascii_digit() {
                Some(k + 1)
            } else if b.get(k..k + EN_DASH.len()) == Some(EN_DASH) {
                Some(skip_spaces(b, k + EN_DASH.len()))
            } else {
                None
            };
            if let Some(r) = range_next
                && starts_number(b, r)
                && let Some((_, end2, _)) = scan(b, r, true)
            {
                self.i = end2;
                self.between = false;
                continue;
            }
            self.between = false;
            let mut number = Number {
                value,
                denominator: None,
                percent: false,
                signed,
                date_like: false,
            };
            if at(b, k) == b'/' {
                let d = skip_spaces(b, k + 1);
                if let Some((den, end2, _)) = scan(b, d, false) {
                    number.denominator = Some(den);
                    number.date_like = at(b, end2) == b'/';
                    self.i = end2;
                }
            } else if word_at(b, k, "out") {
                let of = skip_spaces(b, k + 3);
                if word_at(b, of, "of") {
                    let d = skip_spaces(b, of + 2);
                    if let Some((den, end2, _)) = scan(b, d, false) {
                        number.denominator = Some(den);
                        self.i = end2;
                    }
                }
            } else if at(b, k) == b'%' {
                number.percent = true;
                self.i = k + 1;
            }
            return Some(number);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(s: &str) -> Option<f64> {
        numbers(s).next().and_then(|n| n.unit_value())
    }

    #[test]
    fn reads_plain_and_signed_numbers() {
        assert_eq!(first("0.8"), Some(0.8));
        assert_eq!(first("+1"), Some(1.0));
        assert_eq!(first("-0.5"), Some(-0.5));
        assert_eq!(first(".5"), Some(0.5));
        assert_eq!(first("\u{2212}0.25"), Some(-0.25));
        assert_eq!(first("Rating: 0.7."), Some(0.7));
        assert_eq!(first("1e-1"), Some(0.1));
    }

    #[test]
    fn reads_fractions_and_percentages() {
        assert_eq!(first("8/10"), Some(0.8));
        assert_eq!(first("0.7/1"), Some(0.7));
        assert_eq!(first("7 out of 10"), Some(0.7));
        assert_eq!(first("80%"), Some(0.8));
        assert_eq!(first("3/0"), None);
    }

    #[test]
    fn skips_ranges_and_glued_numbers() {
        assert_eq!(first("from -1 to 1, I'd say 0.6"), Some(0.6));
        assert_eq!(first("between -1 and 1: 0.4"), Some(0.4));
        assert_eq!(first("on a 1-10 scale, 7"), Some(7.0));
        assert_eq!(first("gpt4 says 3rd best, 0.2"), Some(0.2));
        assert_eq!(first("0.5 and 0.6"), Some(0.5));
        assert_eq!(
            first("from -1 (very negative) to 1 (very positive): 0.3"),
            Some(0.3)
        );
        assert_eq!(first("-1 (very negative)"), Some(-1.0));
    }

    #[test]
    fn nan_words_are_not_finite() {
        assert_eq!(first("NaN"), None);
        assert!(numbers("inf").next().is_some_and(|n| n.value.is_nan()));
        assert_eq!(first("N/A"), None);
        assert_eq!(first("1e999"), None);
    }
}
