//! Text helpers shared by the parsers: input caps, cleaning, indentation, normalisation.

use crate::MAX_INPUT_BYTES;

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
pub(crate) fn prefix_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

/// What every parser reads of a model answer: at most [`MAX_INPUT_BYTES`].
pub(crate) fn cap_input(s: &str) -> &str {
    prefix_bytes(s, MAX_INPUT_BYTES)
}

/// One line of at most `max_chars` chars: whitespace and control characters collapse to
/// single spaces, the ends are trimmed.
pub(crate) fn clean_inline(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars.saturating_mul(4)));
    let mut n = 0usize;
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = n > 0;
            continue;
        }
        if pending_space {
            if n + 2 > max_chars {
                break;
            }
            out.push(' ');
            n += 1;
            pending_space = false;
        }
        if n + 1 > max_chars {
            break;
        }
        out.push(c);
        n += 1;
    }
    out
}

/// A step's text: emphasis markers (`**`) removed, then [`clean_inline`].
pub(crate) fn clean_step(s: &str, max_chars: usize) -> String {
    if s.contains("**") {
        clean_inline(&s.replace("**", ""), max_chars)
    } else {
        clean_inline(s, max_chars)
    }
}

/// A multi-line block of at most `max_chars` chars: each line cleaned, blank lines dropped,
/// lines joined with `\n`.
pub(crate) fn clean_block<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    max_chars: usize,
) -> String {
    let mut out = String::new();
    let mut n = 0usize;
    for line in lines {
        if n >= max_chars {
            break;
        }
        let budget = max_chars - n - usize::from(n > 0);
        let l = clean_inline(line, budget);
        if l.is_empty() {
            continue;
        }
        if n > 0 {
            out.push('\n');
            n += 1;
        }
        n += l.chars().count();
        out.push_str(&l);
    }
    out
}

/// Width of the leading whitespace (a tab advances to the next multiple of four) and the
/// rest of the line.
pub(crate) fn split_indent(line: &str) -> (usize, &str) {
    let mut cols = 0usize;
    for (i, c) in line.char_indices() {
        match c {
            '\t' => cols = (cols / 4 + 1) * 4,
            c if c.is_whitespace() => cols += 1,
            _ => return (cols, line.get(i..).unwrap_or("")),
        }
    }
    (cols, "")
}

/// Lower case, emphasis and code marks (`**`, `__`, backticks) removed, whitespace
/// collapsed and trimmed: the form in which option names and labels are compared.
pub(crate) fn normalise(s: &str) -> String {
    let lower = s.to_lowercase().replace("**", "").replace("__", "");
    let mut out = String::with_capacity(lower.len());
    let mut pending_space = false;
    for c in lower.chars() {
        if c == '`' {
            continue;
        }
        if c.is_whitespace() || c.is_control() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    out
}

/// Whether `needle` occurs in `hay` with no letter or digit directly on either side.
pub(crate) fn contains_word(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    hay.match_indices(needle).any(|(pos, _)| {
        let before = hay.get(..pos).and_then(|s| s.chars().next_back());
        let after = hay.get(pos + needle.len()..).and_then(|s| s.chars().next());
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// Strips a leading ASCII case-insensitive `prefix`, returning the rest.
pub(crate) fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// Whether the line opens or closes a code fence (three or more backticks or tildes).
pub(crate) fn fence(line: &str) -> Option<(char, usize, &str)> {
    let s = line.trim_start();
    let ch = s.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = s.chars().take_while(|c| *c == ch).count();
    if len < 3 {
        return None;
    }
    Some((ch, len, s.get(len..).unwrap_or("").trim()))
}

/// The text of an ATX heading (`#` to `######` then a space), if the line is one.
pub(crate) fn heading(s: &str) -> Option<&str> {
    let s = s.trim_start();
    let hashes = s.bytes().take_while(|b| *b == b'#').count();
    if hashes == 0 || hashes > 6 {
        return None;
    }
    let rest = s.get(hashes..)?;
    if rest.is_empty() || rest.starts_with(char::is_whitespace) {
        Some(rest.trim())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_respects_char_boundaries() {
        assert_eq!(prefix_bytes("héllo", 2), "h");
        assert_eq!(prefix_bytes("héllo", 3), "hé");
        assert_eq!(prefix_bytes("abc", 10), "abc");
    }

    #[test]
    fn clean_inline_caps_and_collapses() {
        assert_eq!(clean_inline("  a \t b\u{0}c  ", 100), "a b c");
        assert_eq!(clean_inline("abcdef", 3), "abc");
        assert_eq!(clean_inline("ab cd", 3), "ab");
        assert_eq!(clean_block(["  one ", "", " two"], 100), "one\ntwo");
    }

    #[test]
    fn indentation_counts_tabs_to_four() {
        assert_eq!(split_indent("\t- x"), (4, "- x"));
        assert_eq!(split_indent("  \t- x"), (4, "- x"));
        assert_eq!(split_indent("   "), (3, ""));
    }

    #[test]
    fn words_need_boundaries() {
        assert!(contains_word("use go here", "go"));
        assert!(!contains_word("use google", "go"));
        assert!(contains_word("c++ it is", "c++"));
    }
}
