//! Where a scope's short-term memory lives in Redis: the key layout and the scope tag.
//!
//! Every key of a scope starts with `<prefix>:{<tag>}`, where `<tag>` is
//! [`scope_tag`]: an injective, printable encoding of the [`Scope`] without braces, so
//! it is also the key's Redis Cluster hash tag and all keys of a scope share a slot.
//!
//! | key                       | type       | holds                                          |
//! |---------------------------|------------|------------------------------------------------|
//! | `<base>:v:<name>`         | string     | variable `name` as JSON, with `PX` when it has a TTL |
//! | `<base>:vars`             | sorted set | every variable name set, scored by its expiry (ms since the epoch, server clock; `+inf` without TTL) |
//! | `<base>:win`              | list       | the context window, oldest first, one JSON [`memory_core::ContextMessage`] per element |
//! | `<base>:wtok`             | list       | the estimated tokens of each window element, in step with `win` |

use memory_core::Scope;

/// The injective encoding of a scope used in keys: `u<user>,a<agent>,s<session>`, where
/// each absent part is just its letter and a present part is its letter, `=`, and the
/// value percent-encoded (every byte outside `A-Z a-z 0-9 - . _ ~` becomes `%XX`).
///
/// So `Scope::user("alice").with_session("s 1")` is `u=alice,a,s=s%201`. The tag never
/// holds `,` (except as the separator), `{`, `}`, `:`, `%` (except in escapes), spaces,
/// control characters or non-ASCII bytes, and [`parse_scope_tag`] inverts it: two
/// different scopes never share a tag, whatever characters they contain.
pub fn scope_tag(scope: &Scope) -> String {
    let mut out = String::with_capacity(16);
    for (i, (letter, part)) in [
        ('u', &scope.user),
        ('a', &scope.agent),
        ('s', &scope.session),
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        out.push(letter);
        if let Some(v) = part {
            out.push('=');
            percent_encode(v, &mut out);
        }
    }
    out
}

/// The scope a [`scope_tag`] encodes, or `None` when `tag` is not one.
pub fn parse_scope_tag(tag: &str) -> Option<Scope> {
    let mut parts = tag.split(',');
    let user = parse_part(parts.next()?, 'u')?;
    let agent = parse_part(parts.next()?, 'a')?;
    let session = parse_part(parts.next()?, 's')?;
    if parts.next().is_some() {
        return None;
    }
    Some(Scope {
        user,
        agent,
        session,
    })
}

fn parse_part(part: &str, letter: char) -> Option<Option<String>> {
    let rest = part.strip_prefix(letter)?;
    if rest.is_empty() {
        return Some(None);
    }
    let encoded = rest.strip_prefix('=')?;
    percent_decode(encoded).map(Some)
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn percent_encode(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hi = hex(*bytes.get(i + 1)?)?;
            let lo = hex(*bytes.get(i + 2)?)?;
            let decoded = (hi << 4) | lo;
            // Canonical form only: an unreserved byte is never escaped.
            if unreserved(decoded) {
                return None;
            }
            out.push(decoded);
            i += 3;
        } else if unreserved(b) {
            out.push(b);
            i += 1;
        } else {
            return None;
        }
    }
    String::from_utf8(out).ok()
}

/// Checks a key prefix: non-empty, printable, without `{` or `}` (so the scope tag stays
/// the hash tag of every key).
pub(crate) fn check_prefix(prefix: &str) -> Result<(), memory_core::ValidationError> {
    memory_core::validate::key("prefix", prefix)?;
    if let Some(ch) = prefix.chars().find(|c| matches!(c, '{' | '}')) {
        return Err(memory_core::ValidationError::ForbiddenChar {
            field: "prefix",
            ch,
        });
    }
    Ok(())
}

/// The Redis keys of one scope under one prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScopeKeys {
    base: String,
}

impl ScopeKeys {
    /// The keys of `scope` under `prefix`.
    pub fn new(prefix: &str, scope: &Scope) -> Self {
        ScopeKeys {
            base: format!("{prefix}:{{{}}}", scope_tag(scope)),
        }
    }

    /// `<prefix>:{<tag>}`, the start of every key of the scope.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The key holding variable `name`: `<base>:v:<name>` (the name as given).
    pub fn variable(&self, name: &str) -> String {
        format!("{}{name}", self.variable_prefix())
    }

    /// `<base>:v:`, which every variable key of the scope starts with.
    pub fn variable_prefix(&self) -> String {
        format!("{}:v:", self.base)
    }

    /// The sorted set of variable names: `<base>:vars`.
    pub fn index(&self) -> String {
        format!("{}:vars", self.base)
    }

    /// The list of window messages: `<base>:win`.
    pub fn window(&self) -> String {
        format!("{}:win", self.base)
    }

    /// The list of window token estimates: `<base>:wtok`.
    pub fn window_tokens(&self) -> String {
        format!("{}:wtok", self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples() {
        assert_eq!(scope_tag(&Scope::global()), "u,a,s");
        assert_eq!(
            scope_tag(&Scope::user("alice").with_session("s 1")),
            "u=alice,a,s=s%201"
        );
        assert_eq!(
            scope_tag(&Scope::user("").with_agent("{x}:,é")),
            "u=,a=%7Bx%7D%3A%2C%C3%A9,s"
        );
        let k = ScopeKeys::new("brain", &Scope::user("alice"));
        assert_eq!(k.window(), "brain:{u=alice,a,s}:win");
        assert_eq!(k.variable("task"), "brain:{u=alice,a,s}:v:task");
    }

    #[test]
    fn rejects_non_canonical_tags() {
        assert_eq!(parse_scope_tag("u=%61,a,s"), None);
        assert_eq!(parse_scope_tag("u=%7b,a,s"), None);
        assert_eq!(parse_scope_tag("u,a,s,"), None);
        assert_eq!(parse_scope_tag("a,u,s"), None);
        assert_eq!(parse_scope_tag("u=a b,a,s"), None);
        assert_eq!(parse_scope_tag("u,a,s"), Some(Scope::global()));
    }

    #[test]
    fn prefixes() {
        assert!(check_prefix("brain").is_ok());
        assert!(check_prefix("").is_err());
        assert!(check_prefix("a{b").is_err());
        assert!(check_prefix("a}b").is_err());
    }
}
