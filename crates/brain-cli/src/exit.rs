//! Exit codes, and how an error becomes one line on stderr plus what to do next.

use std::path::PathBuf;
use std::process::ExitCode;

use brain::BrainError;
use memory_core::ErrorKind;

/// What the process's exit status means. Documented in `brain --help` and the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: it worked.
    Ok = 0,
    /// 1: an unexpected failure (a bug, a store the brain cannot read).
    Failure = 1,
    /// 2: the command line could not be parsed (clap's usage errors).
    Usage = 2,
    /// 3: what was asked for does not exist.
    NotFound = 3,
    /// 4: a value, config file or input line was rejected.
    InvalidInput = 4,
    /// 5: the request conflicts with what is stored (e.g. another embedder's vectors).
    Conflict = 5,
    /// 6: the store or a resource is unavailable (locked, busy, unwritable, no network).
    Unavailable = 6,
}

impl Exit {
    /// The exit code for an error kind.
    pub fn from_kind(kind: ErrorKind) -> Exit {
        match kind {
            ErrorKind::NotFound => Exit::NotFound,
            ErrorKind::InvalidInput => Exit::InvalidInput,
            ErrorKind::Conflict => Exit::Conflict,
            ErrorKind::Unavailable => Exit::Unavailable,
            _ => Exit::Failure,
        }
    }

    /// As a process exit code.
    pub fn code(self) -> ExitCode {
        ExitCode::from(self as u8)
    }

    /// The kind's name in JSON output (`not_found`, `invalid_input`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Exit::Ok => "ok",
            Exit::Failure => "failure",
            Exit::Usage => "usage",
            Exit::NotFound => "not_found",
            Exit::InvalidInput => "invalid_input",
            Exit::Conflict => "conflict",
            Exit::Unavailable => "unavailable",
        }
    }
}

/// Failures the command line itself detects.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The data directory holds no brain, and the command only reads.
    #[error("no brain in {}", dir.display())]
    NoBrain {
        /// The data directory.
        dir: PathBuf,
    },
    /// A record asked for does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
        /// What to do next.
        hint: String,
    },
    /// A value was rejected.
    #[error("{message}")]
    Invalid {
        /// What is wrong.
        message: String,
        /// What to do next, if there is something particular.
        hint: Option<String>,
    },
    /// The model is missing and fetching it is not allowed.
    #[error("no embedding model in {} and --offline forbids fetching it", dir.display())]
    ModelOffline {
        /// Where it was looked for.
        dir: PathBuf,
    },
}

impl CliError {
    /// A rejected value with no particular hint.
    pub fn invalid(message: impl Into<String>) -> Self {
        CliError::Invalid {
            message: message.into(),
            hint: None,
        }
    }

    fn exit(&self) -> Exit {
        match self {
            CliError::NoBrain { .. }
            | CliError::NotFound { .. }
            | CliError::ModelOffline { .. } => Exit::NotFound,
            CliError::Invalid { .. } => Exit::InvalidInput,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            CliError::NoBrain { .. } => Some(
                "run `brain init` to create one there, or point --data-dir (or BRAIN_DATA_DIR) at an existing brain"
                    .into(),
            ),
            CliError::NotFound { hint, .. } => Some(hint.clone()),
            CliError::Invalid { hint, .. } => hint.clone(),
            CliError::ModelOffline { .. } => Some(
                "run `brain model fetch` once with network access, or set BRAIN_EMBEDDER__KIND=hashing to work without a model"
                    .into(),
            ),
        }
    }
}

/// The exit code an error ends the process with: the first error in its chain that has
/// a known kind decides.
pub fn classify(error: &anyhow::Error) -> Exit {
    for cause in error.chain() {
        if let Some(e) = cause.downcast_ref::<CliError>() {
            return e.exit();
        }
        if let Some(e) = cause.downcast_ref::<BrainError>() {
            return Exit::from_kind(e.kind());
        }
        if let Some(e) = cause.downcast_ref::<memory_core::Error>() {
            return Exit::from_kind(e.kind());
        }
        if let Some(e) = cause.downcast_ref::<brain_server::ApiError>() {
            return match e.status {
                400 | 413 | 415 => Exit::InvalidInput,
                401 | 403 | 404 => Exit::NotFound,
                409 => Exit::Conflict,
                503 => Exit::Unavailable,
                _ => Exit::Failure,
            };
        }
        if let Some(e) = cause.downcast_ref::<brain::llm_router::LlmError>() {
            return Exit::from_kind(memory_core::Error::from(e.clone()).kind());
        }
        if cause.is::<memory_core::ValidationError>() || cause.is::<serde_json::Error>() {
            return Exit::InvalidInput;
        }
        if let Some(e) = cause.downcast_ref::<brain_engines::embed::EmbedError>() {
            return Exit::from_kind(e.kind());
        }
        if let Some(e) = cause.downcast_ref::<std::io::Error>() {
            // Bad bytes read (invalid UTF-8 on stdin) are the input's fault, not the disk's.
            return if e.kind() == std::io::ErrorKind::InvalidData {
                Exit::InvalidInput
            } else {
                Exit::Unavailable
            };
        }
    }
    Exit::Failure
}

/// The error as one line: each cause after the first, unless its text is already in
/// the line (many errors print their source themselves). Multi-line messages (a TOML
/// parser's, with a source excerpt) keep their text lines joined by `; ` and lose the
/// excerpt.
pub fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&flatten(&text));
    }
    line
}

/// A message's lines joined by `; `, without blank lines and source excerpts
/// (`  |`, `2 | [recall`, `  |    ^`).
fn flatten(text: &str) -> String {
    let is_excerpt = |l: &str| {
        let t = l
            .trim_start()
            .trim_start_matches(|c: char| c.is_ascii_digit());
        t.trim_start().starts_with('|')
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !is_excerpt(l))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What to do next about an error, when there is something to say.
pub fn hint(
    error: &anyhow::Error,
    code: Exit,
    data_dir: Option<&std::path::Path>,
) -> Option<String> {
    for cause in error.chain() {
        if let Some(e) = cause.downcast_ref::<CliError>() {
            return e.hint();
        }
        if let Some(e) = cause.downcast_ref::<BrainError>() {
            match e {
                // These messages already say what to do.
                BrainError::ModelMissing { .. } | BrainError::EmbedderMismatch { .. } => {
                    return None;
                }
                BrainError::Import { .. } => {
                    return Some(
                        "fix or remove that line (or forget the memory already here), then import again"
                            .into(),
                    );
                }
                // A file outside the data directory (an ingested or imported path): say
                // so, rather than blame the data directory.
                BrainError::Io { path, .. } if data_dir.is_none_or(|d| !path.starts_with(d)) => {
                    return Some(format!(
                        "check that {} exists and can be read, then retry",
                        path.display()
                    ));
                }
                BrainError::Llm(brain::llm_router::LlmError::NotConfigured) => return None,
                BrainError::Llm(e) if e.to_string().contains("is not configured") => {
                    return Some(
                        "add that provider to [llm] providers in the configuration, or name a configured model with --model; `brain llm models` lists the configured providers".into(),
                    );
                }
                BrainError::Llm(_) => {
                    return Some(
                        "check that the provider's server is running and its key is set; `brain llm route` shows where the task was sent".into(),
                    );
                }
                BrainError::Config(_) => {
                    return Some(
                        "fix the configuration file (or the BRAIN_* variable) it names; `brain --help` describes the configuration"
                            .into(),
                    );
                }
                _ => break,
            }
        }
        if cause
            .downcast_ref::<brain_engines::embed::EmbedError>()
            .is_some()
        {
            // The embed crate's messages say what to do.
            return None;
        }
    }
    let dir = data_dir
        .map(|d| d.display().to_string())
        .unwrap_or_else(|| "the data directory".into());
    // The store refused a file that is not a brain (store-sqlite's NotABrain, EmptyFile):
    // the way out is another directory, not another value.
    let text = one_line(error);
    if text.contains("refusing to turn it into a brain") || text.contains("is empty (0 bytes)") {
        return Some(format!(
            "the file was not changed; point --data-dir (or BRAIN_DATA_DIR) at another directory, or move the file out of {dir}"
        ));
    }
    match code {
        Exit::InvalidInput => Some("nothing was changed; see `brain <command> --help` for the accepted values".into()),
        Exit::Unavailable => Some(format!(
            "check that {dir} is a writable directory with free space and that no other process holds the brain locked, then retry"
        )),
        Exit::NotFound => None,
        Exit::Conflict => Some("nothing was changed".into()),
        Exit::Failure => Some(
            "this may be a bug or a damaged store; rerun with RUST_LOG=debug and report it with the output".into(),
        ),
        Exit::Ok | Exit::Usage => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_file_outside_the_data_dir_is_named_not_the_data_dir() {
        let io = |p: &str| {
            anyhow::Error::from(BrainError::Io {
                path: p.into(),
                source: std::io::Error::other("boom"),
            })
        };
        let data = std::path::Path::new("/data/brain");
        let outside = hint(&io("/docs/a.md"), Exit::Unavailable, Some(data)).unwrap();
        assert!(
            outside.contains("/docs/a.md") && !outside.contains("/data/brain"),
            "{outside}"
        );
        let inside = hint(&io("/data/brain/memory.db"), Exit::Unavailable, Some(data)).unwrap();
        assert!(
            inside.contains("/data/brain is a writable directory"),
            "{inside}"
        );
    }
}
