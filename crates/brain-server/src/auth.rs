//! Who is calling, and what they may reach.
//!
//! A bearer token is bound to a scope and an access level. The server keeps only the
//! SHA-256 digest of each token (from the config file, or hashed at start from an
//! environment variable), compares digests in constant time, and never logs a token.
//! Every request runs as a [`Principal`]: its scope narrows whatever scope the request
//! names, so a token bound to user `alice` can neither read nor write `bob`'s records.

use memory_core::Scope;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// What a token may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Recall, list and recommend; no writes.
    Read,
    /// Everything within the scope.
    #[default]
    ReadWrite,
}

/// One token as configured under `[[serve.tokens]]`.
///
/// ```toml
/// [[serve.tokens]]
/// name = "alice-laptop"
/// sha256 = "<hex digest printed by `brain token new`>"   # or: env = "BRAIN_TOKEN_ALICE"
/// user = "alice"          # the scope the token is bound to; omit parts to leave them open
/// access = "read_write"   # or "read"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// A name for logs and errors (never the token itself).
    pub name: String,
    /// The hex SHA-256 digest of the token, so config files hold no secret.
    #[serde(default)]
    pub sha256: Option<String>,
    /// An environment variable holding the token itself.
    #[serde(default)]
    pub env: Option<String>,
    /// The user the token is bound to; every user when absent.
    #[serde(default)]
    pub user: Option<String>,
    /// The agent the token is bound to; every agent when absent.
    #[serde(default)]
    pub agent: Option<String>,
    /// The session the token is bound to; every session when absent.
    #[serde(default)]
    pub session: Option<String>,
    /// What it may do.
    #[serde(default)]
    pub access: Access,
}

/// Who a request runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's name (`local` for an unauthenticated loopback or stdio server).
    pub name: String,
    /// The scope every request is narrowed to.
    pub scope: Scope,
    /// What it may do.
    pub access: Access,
}

impl Principal {
    /// The principal of a server without tokens (loopback or stdio): the given scope,
    /// read and write.
    pub fn local(scope: Scope) -> Self {
        Principal {
            name: "local".to_owned(),
            scope,
            access: Access::ReadWrite,
        }
    }

    /// The scope a request acts in: the parts it names, with the parts the token is
    /// bound to filled in. A part that names something else than the token's binding is
    /// refused.
    pub fn narrow(&self, requested: Option<Scope>) -> Result<Scope, ApiError> {
        let mut scope = requested.unwrap_or_default();
        let name = &self.name;
        for (field, mine, theirs) in [
            ("user", &self.scope.user, &mut scope.user),
            ("agent", &self.scope.agent, &mut scope.agent),
            ("session", &self.scope.session, &mut scope.session),
        ] {
            match (mine, theirs.as_ref()) {
                (Some(m), None) => *theirs = Some(m.clone()),
                (Some(m), Some(t)) if m != t => {
                    return Err(ApiError::forbidden(format!(
                        "the token '{name}' is bound to {field} '{m}' and cannot reach {field} '{t}'"
                    )));
                }
                _ => {}
            }
        }
        Ok(scope)
    }

    /// Whether a record owned by `owner` is within reach.
    pub fn can_see(&self, owner: &Scope) -> bool {
        self.scope.matches(owner)
    }

    /// Refuses a write to a read-only token.
    pub fn require_write(&self) -> Result<(), ApiError> {
        match self.access {
            Access::ReadWrite => Ok(()),
            Access::Read => Err(ApiError::forbidden(format!(
                "the token '{}' is read-only",
                self.name
            ))),
        }
    }
}

struct Grant {
    digest: [u8; 32],
    principal: Principal,
}

/// The configured tokens, ready to check bearer headers against.
pub struct Tokens {
    grants: Vec<Grant>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self
            .grants
            .iter()
            .map(|g| g.principal.name.as_str())
            .collect();
        f.debug_struct("Tokens").field("names", &names).finish()
    }
}

impl Tokens {
    /// No tokens: only a loopback or stdio server may run without.
    pub fn none() -> Self {
        Tokens { grants: Vec::new() }
    }

    /// Resolves the configured tokens, reading `env` ones from `env`.
    pub fn from_config(
        configs: &[TokenConfig],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ApiError> {
        let mut grants: Vec<Grant> = Vec::new();
        for c in configs {
            let bad = |m: String| ApiError::invalid(format!("serve.tokens '{}': {m}", c.name));
            if c.name.trim().is_empty() {
                return Err(ApiError::invalid("serve.tokens: a token has an empty name"));
            }
            let digest = match (&c.sha256, &c.env) {
                (Some(hex), None) => parse_digest(hex).ok_or_else(|| {
                    bad("sha256 must be 64 hex digits (the digest `brain token new` prints)".into())
                })?,
                (None, Some(var)) => {
                    let token = env(var)
                        .ok_or_else(|| bad(format!("the environment variable {var} is not set")))?;
                    if token.len() < MIN_TOKEN_LEN {
                        return Err(bad(format!(
                            "the token in {var} is shorter than {MIN_TOKEN_LEN} characters"
                        )));
                    }
                    digest(&token)
                }
                _ => return Err(bad("give exactly one of `sha256` and `env`".into())),
            };
            let scope = Scope {
                user: c.user.clone(),
                agent: c.agent.clone(),
                session: c.session.clone(),
            };
            scope.validate().map_err(|e| bad(e.to_string()))?;
            if grants.iter().any(|g| g.principal.name == c.name) {
                return Err(bad("two tokens have this name".into()));
            }
            if grants.iter().any(|g| g.digest == digest) {
                return Err(bad("the same token is configured twice".into()));
            }
            grants.push(Grant {
                digest,
                principal: Principal {
                    name: c.name.clone(),
                    scope,
                    access: c.access,
                },
            });
        }
        Ok(Tokens { grants })
    }

    /// Whether any token is configured (then every HTTP request needs one).
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }

    /// The principal a presented token stands for. Every digest is compared, in
    /// constant time, so timing says nothing about which one nearly matched.
    pub fn verify(&self, token: &str) -> Option<Principal> {
        let presented = digest(token);
        let mut found = None;
        for g in &self.grants {
            if bool::from(g.digest.ct_eq(&presented)) {
                found = Some(g.principal.clone());
            }
        }
        found
    }
}

/// The shortest token accepted from the environment.
pub const MIN_TOKEN_LEN: usize = 16;

/// The SHA-256 digest of a token.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The hex form of a token's digest, for `sha256 = "..."`.
pub fn digest_hex(token: &str) -> String {
    digest(token).iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// A new random token (`brn_` and 256 bits in hex) from the operating system's source.
pub fn generate_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::unavailable(format!("no randomness for a token: {e}")))?;
    Ok(format!(
        "brn_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(name: &str, token: &str, user: Option<&str>) -> TokenConfig {
        TokenConfig {
            name: name.into(),
            sha256: Some(digest_hex(token)),
            env: None,
            user: user.map(Into::into),
            agent: None,
            session: None,
            access: Access::ReadWrite,
        }
    }

    #[test]
    fn verify_finds_the_right_principal() -> Result<(), ApiError> {
        let t = Tokens::from_config(
            &[
                cfg("a", "alice-secret-token-1", Some("alice")),
                cfg("b", "bob-secret-token-22", Some("bob")),
            ],
            |_| None,
        )?;
        assert_eq!(
            t.verify("bob-secret-token-22").map(|p| p.name),
            Some("b".into())
        );
        assert_eq!(t.verify("bob-secret-token-2"), None);
        assert_eq!(t.verify(""), None);
        Ok(())
    }

    #[test]
    fn env_tokens_are_hashed_and_checked() -> Result<(), ApiError> {
        let c = TokenConfig {
            env: Some("TOK".into()),
            sha256: None,
            ..cfg("e", "x", None)
        };
        let t = Tokens::from_config(std::slice::from_ref(&c), |v| {
            (v == "TOK").then(|| "an-env-token-long-enough".to_owned())
        })?;
        assert!(t.verify("an-env-token-long-enough").is_some());
        let short = Tokens::from_config(std::slice::from_ref(&c), |_| Some("short".into()));
        assert!(short.is_err());
        let missing = Tokens::from_config(&[c], |_| None);
        assert!(missing.is_err_and(|e| e.message.contains("TOK is not set")));
        Ok(())
    }

    #[test]
    fn bad_configs_are_refused() {
        let mut both = cfg("x", "tok-tok-tok-tok-tok", None);
        both.env = Some("V".into());
        assert!(Tokens::from_config(&[both], |_| Some("v".repeat(20))).is_err());
        let mut hex = cfg("x", "t", None);
        hex.sha256 = Some("zz".repeat(32));
        assert!(Tokens::from_config(&[hex], |_| None).is_err());
        let dup = [
            cfg("x", "same-token-value-1", None),
            cfg("y", "same-token-value-1", None),
        ];
        assert!(Tokens::from_config(&dup, |_| None).is_err());
    }

    #[test]
    fn narrowing_fills_and_refuses() -> Result<(), ApiError> {
        let p = Principal {
            name: "a".into(),
            scope: Scope::user("alice"),
            access: Access::Read,
        };
        assert_eq!(p.narrow(None)?, Scope::user("alice"));
        assert_eq!(
            p.narrow(Some(Scope::global().with_agent("coder")))?,
            Scope::user("alice").with_agent("coder")
        );
        let e = p.narrow(Some(Scope::user("bob")));
        assert!(e.is_err_and(|e| e.status == 403));
        assert!(p.require_write().is_err());
        assert!(p.can_see(&Scope::user("alice").with_session("s")));
        assert!(!p.can_see(&Scope::user("bob")));
        assert!(!p.can_see(&Scope::global()));
        Ok(())
    }

    #[test]
    fn generated_tokens_are_distinct_and_long() -> Result<(), ApiError> {
        let a = generate_token()?;
        let b = generate_token()?;
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        Ok(())
    }
}
