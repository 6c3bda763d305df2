//! Throwaway PostgreSQL and Redis servers for the tests that need them.
//!
//! When `BRAIN_TEST_POSTGRES_URL` or `BRAIN_TEST_REDIS_URL` is unset, [`Services::start`]
//! starts that server on a free loopback port with its data in a temporary directory, and
//! hands its URL to the commands it is applied to (never to xtask's own environment).
//! Dropping the [`Services`] stops the servers and removes their directories, so a run
//! that fails or panics leaves nothing behind. Missing servers are installed with apt-get
//! as `.ci/services` does, but only as root; otherwise the error says what to install.
//!
//! The servers are for tests only: PostgreSQL runs without fsync and with trust auth on
//! loopback (any local user may connect while it runs), Redis without persistence.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::describe;

/// The variable naming the PostgreSQL server the tests use.
pub(crate) const POSTGRES_URL_VAR: &str = "BRAIN_TEST_POSTGRES_URL";
/// The variable naming the Redis server the tests use.
pub(crate) const REDIS_URL_VAR: &str = "BRAIN_TEST_REDIS_URL";

/// Where Debian (and the PGDG packages) put each major version's server binaries.
const DEBIAN_POSTGRES_LIB: &str = "/usr/lib/postgresql";
/// The superuser of the throwaway cluster, and the owner of its database.
const POSTGRES_ROLE: &str = "brain";
/// The database the tests connect to (they make a schema each inside it).
const POSTGRES_DB: &str = "brain_test";
/// The system user PostgreSQL runs as when xtask is root (the server refuses root).
const POSTGRES_SYSTEM_USER: &str = "postgres";

/// How long a server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server may take to stop after being asked, before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(15);
/// How often a starting server is polled.
const POLL: Duration = Duration::from_millis(100);

/// The servers started for one run and the variables naming every server the tests use.
/// Dropping it stops what it started.
pub(crate) struct Services {
    env: Vec<(&'static str, String)>,
    // Held only to be dropped, which stops the server and removes its directory.
    _postgres: Option<Postgres>,
    _redis: Option<Redis>,
}

impl Services {
    /// Starts each server whose URL variable is unset or empty; a set one is used as is.
    pub(crate) fn start() -> Result<Self> {
        let mut env = Vec::new();
        let postgres = match non_empty_var(POSTGRES_URL_VAR) {
            Some(url) => {
                env.push((POSTGRES_URL_VAR, url));
                None
            }
            None => {
                let pg = Postgres::start().context("starting a throwaway PostgreSQL")?;
                env.push((POSTGRES_URL_VAR, postgres_url(pg.port)));
                Some(pg)
            }
        };
        let redis = match non_empty_var(REDIS_URL_VAR) {
            Some(url) => {
                env.push((REDIS_URL_VAR, url));
                None
            }
            None => {
                let redis = Redis::start().context("starting a throwaway Redis")?;
                env.push((REDIS_URL_VAR, redis_url(redis.port)));
                Some(redis)
            }
        };
        Ok(Services {
            env,
            _postgres: postgres,
            _redis: redis,
        })
    }

    /// Gives `cmd` the URL variables.
    pub(crate) fn apply(&self, cmd: &mut Command) {
        for (var, url) in &self.env {
            cmd.env(var, url);
        }
    }
}

fn non_empty_var(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

/// The URL of the throwaway cluster (trust auth on loopback: no password).
fn postgres_url(port: u16) -> String {
    format!("postgres://{POSTGRES_ROLE}@127.0.0.1:{port}/{POSTGRES_DB}")
}

/// The URL of the throwaway Redis.
fn redis_url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}")
}

/// A loopback port nobody listens on now: the kernel picks it for a listener we close.
/// Another process may take it before the server binds, which the server then reports.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("binding 127.0.0.1:0 to find a free port")?;
    Ok(listener
        .local_addr()
        .context("reading the bound port")?
        .port())
}

/// A version directory's name as numbers (`"9.6"` → `[9, 6]`); `None` if it is not one.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|p| p.parse().ok()).collect()
}

/// The highest version among directory names, ignoring names that are not versions.
fn highest_version<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    names
        .into_iter()
        .filter_map(|n| version_key(n).map(|k| (k, n)))
        .max()
        .map(|(_, n)| n)
}

/// The major version in `postgres --version` output (`postgres (PostgreSQL) 15.18 …` → `15`;
/// before 10 the major version had two parts: `9.6`).
fn postgres_major(version_output: &str) -> Option<String> {
    let rest = version_output.split("(PostgreSQL)").nth(1)?;
    let version = rest.split_whitespace().next()?;
    let mut parts = version.split('.');
    let first = parts.next()?;
    let n: u32 = first.parse().ok()?;
    if n >= 10 {
        Some(first.to_owned())
    } else {
        Some(format!("{first}.{}", parts.next()?))
    }
}

/// The version in `redis-server --version` output (`Redis server v=7.0.15 sha=…` → `7.0.15`).
fn redis_version(version_output: &str) -> Option<String> {
    version_output
        .split_whitespace()
        .find_map(|w| w.strip_prefix("v="))
        .map(str::to_owned)
}

/// The effective uid in the text of `/proc/self/status` (`Uid: real effective saved fs`).
fn euid_from_status(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|id| id.parse().ok())
}

/// Whether xtask runs as root (PostgreSQL then needs another user; apt-get is allowed).
fn is_root() -> bool {
    if let Some(uid) = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| euid_from_status(&s))
    {
        return uid == 0;
    }
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `name` as found on PATH (an executable file), like `command -v`.
fn which(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Whether missing servers may be installed: as root with apt-get, as `.ci/services` does.
fn can_install() -> bool {
    is_root() && which("apt-get").is_some()
}

/// `apt-get update` then `apt-get install` of `package`, quietly and without questions.
fn apt_install(package: &str) -> Result<()> {
    eprintln!("xtask: installing {package} with apt-get");
    let mut update = Command::new("apt-get");
    update.args(["update", "-qq"]);
    let mut install = Command::new("apt-get");
    install.args(["install", "-y", "-qq", package]);
    for mut cmd in [update, install] {
        let status = cmd
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .status()
            .with_context(|| format!("running `{}`", describe(&cmd)))?;
        if !status.success() {
            bail!("`{}` failed ({status})", describe(&cmd));
        }
    }
    Ok(())
}

/// The last `n` lines of a server's log, for an error message.
fn log_tail(path: &Path, n: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(n)..].join("\n");
            if tail.trim().is_empty() {
                format!("(its log {} is empty)", path.display())
            } else {
                format!("last lines of its log:\n{tail}")
            }
        }
        Err(e) => format!("(its log {} could not be read: {e})", path.display()),
    }
}

/// Runs `cmd` with its output captured; an error holding that output unless it succeeds.
fn run_quiet(mut cmd: Command) -> Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running `{}`", describe(&cmd)))?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}):\n{}{}",
            describe(&cmd),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// The first line of `program --version`, or empty when it cannot run.
fn version_output(program: &Path) -> String {
    Command::new(program)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// A running server process, asked to stop when dropped and killed if it does not.
struct ServerProcess {
    child: Child,
    /// The signal (for `kill -s`) that stops the server cleanly and promptly.
    stop_signal: &'static str,
}

impl ServerProcess {
    /// Fails, with the log's tail, if the server has exited.
    fn check_alive(&mut self, what: &str, log: &Path) -> Result<()> {
        if let Some(status) = self.child.try_wait().context("polling the server")? {
            bail!(
                "{what} exited ({status}) while starting; {}",
                log_tail(log, 20)
            );
        }
        Ok(())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        // std can only SIGKILL, which would orphan PostgreSQL's backends; `kill` asks politely
        // (the workspace forbids the unsafe a libc call would need).
        let _ = Command::new("kill")
            .args(["-s", self.stop_signal, &self.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) => std::thread::sleep(POLL),
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binaries of one PostgreSQL installation.
struct PgTools {
    initdb: PathBuf,
    postgres: PathBuf,
    pg_isready: PathBuf,
    createdb: PathBuf,
}

impl PgTools {
    /// The highest version under `/usr/lib/postgresql/*/bin`, else the tools on PATH.
    fn find() -> Option<Self> {
        if let Some(bin) = debian_bin_dir(Path::new(DEBIAN_POSTGRES_LIB)) {
            let tool = |name: &str| {
                let p = bin.join(name);
                if p.is_file() { Some(p) } else { which(name) }
            };
            return Some(PgTools {
                initdb: tool("initdb")?,
                postgres: tool("postgres")?,
                pg_isready: tool("pg_isready")?,
                createdb: tool("createdb")?,
            });
        }
        Some(PgTools {
            initdb: which("initdb")?,
            postgres: which("postgres")?,
            pg_isready: which("pg_isready")?,
            createdb: which("createdb")?,
        })
    }
}

/// `<lib>/<highest version>/bin` among the versions that have a server and initdb.
fn debian_bin_dir(lib: &Path) -> Option<PathBuf> {
    let names: Vec<String> = std::fs::read_dir(lib)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| {
            let bin = lib.join(n).join("bin");
            bin.join("postgres").is_file() && bin.join("initdb").is_file()
        })
        .collect();
    let best = highest_version(names.iter().map(String::as_str))?;
    Some(lib.join(best).join("bin"))
}

/// A throwaway PostgreSQL cluster. Fields drop in order: the server stops, then its
/// directory goes.
struct Postgres {
    _process: ServerProcess,
    _dir: TempDir,
    port: u16,
}

impl Postgres {
    fn start() -> Result<Self> {
        let tools = match PgTools::find() {
            Some(t) => t,
            None if can_install() => {
                apt_install("postgresql")?;
                PgTools::find().with_context(|| {
                    format!(
                        "PostgreSQL was installed but initdb, postgres, pg_isready and createdb \
                         are still not under {DEBIAN_POSTGRES_LIB}/*/bin or on PATH"
                    )
                })?
            }
            None => bail!(
                "PostgreSQL is not installed (no initdb, postgres, pg_isready and createdb under \
                 {DEBIAN_POSTGRES_LIB}/*/bin or on PATH), and xtask installs it only as root with \
                 apt-get: install PostgreSQL (Debian: `apt-get install postgresql`), or set \
                 {POSTGRES_URL_VAR} to a server whose role may create schemas, e.g. \
                 postgres://brain:brain@127.0.0.1:5432/brain_test"
            ),
        };
        let major = postgres_major(&version_output(&tools.postgres));

        // PostgreSQL refuses to run as root: as root, the server and initdb run as the
        // `postgres` system user (setpriv execs, so the child we hold is the server itself).
        let run_as = if is_root() {
            let known = Command::new("id")
                .arg("-u")
                .arg(POSTGRES_SYSTEM_USER)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !known {
                bail!(
                    "PostgreSQL refuses to run as root and there is no `{POSTGRES_SYSTEM_USER}` \
                     user to run it as: create one (the Debian package does), run xtask as \
                     another user, or set {POSTGRES_URL_VAR}"
                );
            }
            Some(POSTGRES_SYSTEM_USER)
        } else {
            None
        };
        let command = |program: &Path, dir: &Path| {
            let mut cmd = match run_as {
                Some(user) => {
                    let mut c = Command::new("setpriv");
                    c.arg(format!("--reuid={user}"))
                        .arg(format!("--regid={user}"))
                        .arg("--clear-groups")
                        .arg("--")
                        .arg(program);
                    c
                }
                None => Command::new(program),
            };
            // A directory the server's user can enter (not the root-owned checkout).
            cmd.current_dir(dir).stdin(Stdio::null());
            cmd
        };

        let dir = tempfile::Builder::new()
            .prefix("brain-xtask-postgres-")
            .tempdir()
            .context("creating the cluster's temporary directory")?;
        if let Some(user) = run_as {
            let mut chown = Command::new("chown");
            chown.arg(format!("{user}:")).arg(dir.path());
            run_quiet(chown)?;
        }
        let data = dir.path().join("data");
        let log = dir.path().join("postgres.log");

        let mut initdb = command(&tools.initdb, dir.path());
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", POSTGRES_ROLE, "--auth=trust", "--no-sync"])
            // UTF-8 as on CI's Debian cluster, whatever the caller's locale.
            .args(["--encoding=UTF8", "--locale=C.UTF-8"]);
        run_quiet(initdb).context("creating the cluster")?;

        let port = free_port()?;
        let log_file = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let log_err = log_file
            .try_clone()
            .context("duplicating the log's handle")?;
        let mut server = command(&tools.postgres, dir.path());
        server
            .arg("-D")
            .arg(&data)
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-k"])
            .arg(dir.path())
            // Enough connections for the tests' pools in parallel; durability is not wanted.
            .args(["-c", "max_connections=300"])
            .args(["-c", "fsync=off"])
            .args(["-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off"])
            .stdout(log_file)
            .stderr(log_err);
        let child = server
            .spawn()
            .with_context(|| format!("starting `{}`", describe(&server)))?;
        let mut process = ServerProcess {
            child,
            stop_signal: "INT", // fast shutdown: clients disconnected, no waiting on them
        };

        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            process.check_alive("PostgreSQL", &log)?;
            let ready = Command::new(&tools.pg_isready)
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .args(["-U", POSTGRES_ROLE, "-d", "postgres"])
                .stdin(Stdio::null())
                .status()
                .context("running pg_isready")?;
            if ready.success() {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "PostgreSQL did not accept connections on 127.0.0.1:{port} within {}s; {}",
                    START_TIMEOUT.as_secs(),
                    log_tail(&log, 20)
                );
            }
            std::thread::sleep(POLL);
        }

        let mut createdb = Command::new(&tools.createdb);
        createdb
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                POSTGRES_ROLE,
            ])
            .arg(POSTGRES_DB)
            .current_dir(dir.path());
        run_quiet(createdb).context("creating the test database")?;

        let version = major.map_or_else(|| "PostgreSQL".to_owned(), |m| format!("PostgreSQL {m}"));
        eprintln!("xtask: started {version} on 127.0.0.1:{port} (throwaway)");
        Ok(Postgres {
            _process: process,
            _dir: dir,
            port,
        })
    }
}

/// A throwaway Redis without persistence. Fields drop in order: the server stops, then
/// its directory goes.
struct Redis {
    _process: ServerProcess,
    _dir: TempDir,
    port: u16,
}

impl Redis {
    fn start() -> Result<Self> {
        let server = match which("redis-server") {
            Some(p) => p,
            None if can_install() => {
                apt_install("redis-server")?;
                which("redis-server").context("redis-server was installed but is not on PATH")?
            }
            None => bail!(
                "redis-server is not on PATH, and xtask installs it only as root with apt-get: \
                 install Redis 7 or later (Debian: `apt-get install redis-server`), or set \
                 {REDIS_URL_VAR}, e.g. redis://127.0.0.1:6379"
            ),
        };
        let version = redis_version(&version_output(&server));
        let dir = tempfile::Builder::new()
            .prefix("brain-xtask-redis-")
            .tempdir()
            .context("creating Redis's temporary directory")?;
        let log = dir.path().join("redis.log");
        let log_file = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let log_err = log_file
            .try_clone()
            .context("duplicating the log's handle")?;
        let port = free_port()?;
        let mut cmd = Command::new(&server);
        // In the foreground (not daemonized), so the child we hold is the server.
        cmd.args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir.path())
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting `{}`", describe(&cmd)))?;
        let mut process = ServerProcess {
            child,
            stop_signal: "TERM", // Redis exits at once (it has nothing to save)
        };

        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            process.check_alive("Redis", &log)?;
            if redis_pings(addr) {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "Redis did not answer PING on {addr} within {}s; {}",
                    START_TIMEOUT.as_secs(),
                    log_tail(&log, 20)
                );
            }
            std::thread::sleep(POLL);
        }
        let name = version.map_or_else(|| "Redis".to_owned(), |v| format!("Redis {v}"));
        eprintln!("xtask: started {name} on {addr} (throwaway)");
        Ok(Redis {
            _process: process,
            _dir: dir,
            port,
        })
    }
}

/// Whether a Redis on `addr` answers `PING` with `+PONG`.
fn redis_pings(addr: SocketAddr) -> bool {
    let attempt = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
        stream.set_read_timeout(Some(Duration::from_secs(1)))?;
        stream.write_all(b"PING\r\n")?;
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf)?;
        Ok(buf[..n].starts_with(b"+PONG"))
    };
    attempt().unwrap_or(false)
}

/// Runs `program args…` with the services' URLs; an error unless it succeeds.
pub(crate) fn run_with(services: &Services, program: &OsStr, args: &[String]) -> Result<()> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    services.apply(&mut cmd);
    eprintln!("xtask: [services] {}", describe(&cmd));
    let status = cmd
        .status()
        .with_context(|| format!("could not start `{}`", describe(&cmd)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", describe(&cmd));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_a_free_loopback_port() -> Result<()> {
        let port = free_port()?;
        assert_ne!(port, 0);
        // Free means a server can bind it now.
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
        assert_eq!(listener.local_addr()?.port(), port);
        Ok(())
    }

    #[test]
    fn highest_version_compares_numerically() {
        assert_eq!(highest_version(["9.6", "15", "10", "common"]), Some("15"));
        assert_eq!(highest_version(["9.6", "9.10"]), Some("9.10"));
        assert_eq!(highest_version(["16", "15.2"]), Some("16"));
        assert_eq!(highest_version(["common", "", "x.1"]), None);
        assert_eq!(highest_version([]), None);
    }

    #[test]
    fn finds_the_highest_installed_bin_dir() -> Result<()> {
        let lib = tempfile::tempdir()?;
        for (version, complete) in [("9.6", true), ("15", true), ("16", false), ("x", true)] {
            let bin = lib.path().join(version).join("bin");
            std::fs::create_dir_all(&bin)?;
            File::create(bin.join("postgres"))?;
            if complete {
                File::create(bin.join("initdb"))?;
            }
        }
        // 16 has no initdb (a client-only install), so 15 is the highest usable.
        assert_eq!(
            debian_bin_dir(lib.path()),
            Some(lib.path().join("15").join("bin"))
        );
        assert_eq!(debian_bin_dir(&lib.path().join("missing")), None);
        Ok(())
    }

    #[test]
    fn builds_urls() {
        assert_eq!(
            postgres_url(54321),
            "postgres://brain@127.0.0.1:54321/brain_test"
        );
        assert_eq!(redis_url(6380), "redis://127.0.0.1:6380");
    }

    #[test]
    fn parses_versions() {
        assert_eq!(
            postgres_major("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n").as_deref(),
            Some("15")
        );
        assert_eq!(
            postgres_major("postgres (PostgreSQL) 9.6.24").as_deref(),
            Some("9.6")
        );
        assert_eq!(postgres_major("").as_deref(), None);
        assert_eq!(
            redis_version("Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0").as_deref(),
            Some("7.0.15")
        );
        assert_eq!(redis_version("nothing").as_deref(), None);
    }

    #[test]
    fn reads_the_effective_uid() {
        let status = "Name:\txtask\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n";
        assert_eq!(euid_from_status(status), Some(0));
        assert_eq!(euid_from_status("Name:\tx\n"), None);
    }
}
