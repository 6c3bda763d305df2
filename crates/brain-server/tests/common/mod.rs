//! A real server on a loopback port over a brain in a temporary directory, with three
//! tokens: alice (read-write, bound to user alice), bob (read-write, user bob) and
//! alice-reader (read-only, user alice).
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;

use brain::BrainConfig;
use brain::config::EmbedderKind;
use brain_server::auth::digest_hex;
use brain_server::http::{HttpOptions, serve};
use brain_server::{Access, Api, Principal, ServeConfig, TokenConfig};
use memory_core::Scope;
use tokio::sync::oneshot;

pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

pub const ALICE: &str = "alice-token-0123456789abcdef";
pub const BOB: &str = "bob-token-0123456789abcdef";
pub const ALICE_READER: &str = "alice-reader-token-0123456789";

pub fn config(dir: &std::path::Path) -> BrainConfig {
    let mut c = BrainConfig {
        data_dir: dir.to_path_buf(),
        ..BrainConfig::default()
    };
    c.embedder.kind = EmbedderKind::Hashing;
    c
}

fn token(name: &str, token: &str, user: &str, access: Access) -> TokenConfig {
    TokenConfig {
        name: name.into(),
        sha256: Some(digest_hex(token)),
        env: None,
        user: Some(user.into()),
        agent: None,
        session: None,
        access,
    }
}

pub fn serve_config() -> ServeConfig {
    ServeConfig {
        max_body_bytes: 16 * 1024,
        tokens: vec![
            token("alice", ALICE, "alice", Access::ReadWrite),
            token("bob", BOB, "bob", Access::ReadWrite),
            token("alice-reader", ALICE_READER, "alice", Access::Read),
        ],
        ..ServeConfig::default()
    }
}

/// A running server; dropping `stop` (or sending on it) shuts it down.
pub struct Running {
    pub addr: SocketAddr,
    pub stop: Option<oneshot::Sender<()>>,
    pub done: tokio::task::JoinHandle<Result<(), brain_server::ApiError>>,
    pub dir: tempfile::TempDir,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Shuts down gracefully and waits for the brain to close.
    pub async fn shutdown(mut self) -> TestResult<tempfile::TempDir> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.done.await??;
        Ok(self.dir)
    }
}

pub async fn start_with(serve_cfg: ServeConfig) -> TestResult<Running> {
    let dir = tempfile::tempdir()?;
    let c = config(dir.path());
    start_brain(dir, c, serve_cfg).await
}

/// Serves a brain opened with `brain_config` (whose data lives in `dir`).
pub async fn start_brain(
    dir: tempfile::TempDir,
    brain_config: BrainConfig,
    serve_cfg: ServeConfig,
) -> TestResult<Running> {
    let brain = brain_engines::open(brain_config).await?;
    let api = Api::new(Arc::new(brain));
    let tokens = serve_cfg.tokens()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let opts = HttpOptions {
        config: serve_cfg,
        tokens,
        local: Principal::local(Scope::global()),
        addr: None,
    };
    let done = tokio::spawn(serve(api, listener, opts, async move {
        let _ = rx.await;
    }));
    Ok(Running {
        addr,
        stop: Some(tx),
        done,
        dir,
    })
}

pub async fn start() -> TestResult<Running> {
    start_with(serve_config()).await
}
