//! Snapshots: crash-safe files of an engine, verified before they are trusted.
//!
//! Layout of a snapshot directory `dir`:
//!
//! ```text
//! dir/CURRENT                       the name of the live snapshot, one line
//! dir/snapshot-<seq>-<unique>/      one complete snapshot:
//!     manifest.json                 format, seq, counts, parameters, sha256 of each file
//!                                   (and of the manifest's own body)
//!     graph.hnsw.graph              hnsw_rs's dump of the graph (absent when empty)
//!     graph.hnsw.data               hnsw_rs's dump of the unit vectors
//!     entries.jsonl                 one line per live entry: internal id, memory id,
//!                                   filter fields
//!     tombstones.json               the internal ids that are tombstones
//! ```
//!
//! Writing: everything goes into a fresh `dir/.tmp-snapshot-…` directory; each file and
//! the directory are fsynced; the directory is renamed to `dir/snapshot-…` and `dir` is
//! fsynced; then `CURRENT` is replaced atomically (written to `dir/.tmp-CURRENT-…`,
//! fsynced, renamed over `CURRENT`, `dir` fsynced), and only then is the previous snapshot
//! removed. A crash at any point leaves `CURRENT` naming a complete snapshot (the old or
//! the new one) or no snapshot at all.
//!
//! Several writers (processes sharing a data directory, or index handles in one process)
//! may snapshot into one directory at once. Every name a writer creates is its own
//! (sequence, time, pid, a per-process counter and 64 random bits), so no two writers
//! ever touch the same temporary file. A writer removes only snapshots that `CURRENT`
//! named before its own rename (no writer ever points `CURRENT` at them again) and its
//! own snapshot once another writer's has replaced it; leftovers of other writers
//! (temporaries, orphaned snapshots) are removed only when stale: their writer's process
//! is gone and they are over a minute old, or they are over an hour old. `CURRENT` is
//! re-read before each such removal and its snapshot is never removed.
//!
//! Reading: `CURRENT`, then the manifest (its own checksum first), then the size and
//! sha256 of every file, and only then are the files parsed — hnsw_rs's loader asserts,
//! panics and even reads out of bounds on damaged input, so it never sees a file whose
//! checksum did not verify (and it runs under `catch_unwind` as a second guard). When a
//! snapshot fails to load because another writer replaced and removed it meanwhile, the
//! new `CURRENT` is read again.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hnsw_rs::prelude::{AnnT, HnswIo};
use memory_core::MemoryId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::distance::{CosineDistance, dot};
use crate::engine::{Engine, Graph, Slot, Table, guarded};
use crate::error::{Result, VectorError};
use crate::filter::EntryMeta;
use crate::params::HnswParams;
use crate::util::{hex, read};

const FORMAT: &str = "brain-store-vector-snapshot";
const FORMAT_VERSION: u32 = 1;
const ENGINE: &str = "hnsw_rs 0.3.5";
const CURRENT: &str = "CURRENT";
const MANIFEST: &str = "manifest.json";
const GRAPH_BASENAME: &str = "graph";
const GRAPH_FILE: &str = "graph.hnsw.graph";
const DATA_FILE: &str = "graph.hnsw.data";
const ENTRIES_FILE: &str = "entries.jsonl";
const TOMBSTONES_FILE: &str = "tombstones.json";
const SNAPSHOT_PREFIX: &str = "snapshot-";
const TMP_PREFIX: &str = ".tmp-snapshot-";
const CURRENT_TMP_PREFIX: &str = ".tmp-CURRENT-";
/// Leftovers (unfinished or superseded snapshots) older than this are removed whoever
/// wrote them.
const STALE_AFTER: Duration = Duration::from_secs(3600);
/// Leftovers of a process that is gone are removed once this old. The wait covers a
/// writer in another pid namespace (a container sharing the directory), which looks
/// gone from here: a snapshot's files are written within seconds of each other.
const DEAD_WRITER_AFTER: Duration = Duration::from_secs(60);
/// How often a load starts again when the snapshot it read was replaced meanwhile.
const LOAD_ATTEMPTS: usize = 5;

/// What a snapshot holds, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SnapshotInfo {
    /// The snapshot's own directory (inside the directory given).
    pub path: PathBuf,
    /// The embedding-log sequence number it covers.
    pub seq: u64,
    /// Live entries.
    pub live: usize,
    /// Tombstones.
    pub tombstones: usize,
    /// Total size of its files in bytes.
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FileDigest {
    bytes: u64,
    sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: String,
    format_version: u32,
    seq: u64,
    dimension: usize,
    m: usize,
    ef_construction: usize,
    live: usize,
    tombstones: usize,
    internal: usize,
    engine: String,
    distance: String,
    platform: String,
    created_at_ms: u64,
    files: BTreeMap<String, FileDigest>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    manifest: Manifest,
    /// sha256 of the compact JSON of `manifest` (serialisation is deterministic: fixed
    /// field order, sorted map, no floats).
    sha256: String,
}

#[derive(Serialize)]
struct EntryRef<'a> {
    iid: usize,
    id: MemoryId,
    meta: &'a EntryMeta,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryRecord {
    iid: usize,
    id: MemoryId,
    meta: EntryMeta,
}

fn platform() -> String {
    let endian = if cfg!(target_endian = "little") {
        "little"
    } else {
        "big"
    };
    format!("{endian}-endian, {}-bit usize", usize::BITS)
}

fn distance_name() -> String {
    std::any::type_name::<CosineDistance>().to_owned()
}

/// `{seq}-{nanos}-{pid}-{counter}-{random}`: unique per writer and per write, and naming
/// the writing process so others can tell whether it is still alive.
fn unique_suffix(seq: u64) -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
    // std's hasher keys are random per process (and step per instance): 64 random bits
    // without a dependency, so writers with the same pid (containers) still differ.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(counter);
    h.write_u128(nanos);
    let random = h.finish();
    format!(
        "{seq:020}-{nanos}-{}-{counter}-{random:016x}",
        std::process::id()
    )
}

/// The writer's pid in a name made by [`unique_suffix`] (after any prefix), if it is one.
fn writer_pid(name: &str) -> Option<u32> {
    let parts: Vec<&str> = name.rsplitn(4, '-').collect();
    // Reversed: random, counter, pid, rest.
    match parts.as_slice() {
        [random, counter, pid, _]
            if random.len() == 16
                && random.bytes().all(|b| b.is_ascii_hexdigit())
                && counter.bytes().all(|b| b.is_ascii_digit()) =>
        {
            pid.parse().ok()
        }
        _ => None,
    }
}

/// Whether process `pid` may still be running. Unknown (no `/proc`) counts as alive.
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    proc.join(pid.to_string()).exists()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(Sha256::digest(bytes).as_slice())
}

/// Size and sha256 of a file, streamed.
fn digest_file(path: &Path) -> Result<FileDigest> {
    let mut f = File::open(path).map_err(|e| VectorError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| VectorError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(FileDigest {
        bytes,
        sha256: hex(h.finalize().as_slice()),
    })
}

fn sync_file(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| VectorError::io(path, e))
}

/// fsyncs a directory, so the names in it (creations, renames) are durable.
fn sync_dir(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(path)
            .and_then(|f| f.sync_all())
            .map_err(|e| VectorError::io(path, e))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Writes `engine` (which covers the log up to `seq`) as the new current snapshot in
/// `dir`. The caller keeps writers out of the engine meanwhile.
pub(crate) fn write(dir: &Path, engine: &Engine, seq: u64) -> Result<SnapshotInfo> {
    if !dir.exists() {
        fs::create_dir_all(dir).map_err(|e| VectorError::io(dir, e))?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
    }
    let name = format!("{SNAPSHOT_PREFIX}{}", unique_suffix(seq));
    let tmp = dir.join(format!(".tmp-{name}"));
    fs::create_dir(&tmp).map_err(|e| VectorError::io(&tmp, e))?;
    let result = write_files(&tmp, engine, seq).and_then(|info| {
        sync_dir(&tmp)?;
        let target = dir.join(&name);
        fs::rename(&tmp, &target).map_err(|e| VectorError::io(&target, e))?;
        sync_dir(dir)?;
        Ok((info, target))
    });
    let (mut info, target) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    // Removed meanwhile as stale (a writer stalled for an hour): never point at it.
    if !target.join(MANIFEST).is_file() {
        return Err(VectorError::io(
            &target,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the new snapshot was removed before it became current",
            ),
        ));
    }
    let previous = read_current(dir).ok().flatten();
    let current_tmp = dir.join(format!("{CURRENT_TMP_PREFIX}{}", unique_suffix(seq)));
    let current = dir.join(CURRENT);
    let replaced = File::create(&current_tmp)
        .and_then(|mut f| {
            f.write_all(format!("{name}\n").as_bytes())?;
            f.sync_all()
        })
        .map_err(|e| VectorError::io(&current_tmp, e))
        .and_then(|()| {
            fs::rename(&current_tmp, &current).map_err(|e| VectorError::io(&current, e))
        });
    if let Err(e) = replaced {
        let _ = fs::remove_file(&current_tmp);
        return Err(e);
    }
    sync_dir(dir)?;
    // `previous` was current before our rename, so its writer is done with it and no
    // writer points `CURRENT` at it again.
    if let Some(prev) = previous.filter(|p| *p != name) {
        remove_snapshot(&dir.join(prev));
    }
    // Replaced already by another writer's rename: ours is nobody's any more.
    if read_current(dir).ok().flatten().as_deref() != Some(name.as_str()) {
        remove_snapshot(&target);
    }
    remove_stale(dir);
    info.path = target;
    Ok(info)
}

/// Removes a superseded snapshot; one already removed (by another writer) is fine.
fn remove_snapshot(path: &Path) {
    match fs::remove_dir_all(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "could not remove a superseded snapshot");
        }
    }
}

fn write_files(tmp: &Path, engine: &Engine, seq: u64) -> Result<SnapshotInfo> {
    let params = engine.params;
    let table = read(&engine.table);
    let internal = table.slots.len();
    let mut names = vec![ENTRIES_FILE, TOMBSTONES_FILE];
    if internal > 0 {
        let base = guarded("dumping the graph", || {
            engine.graph.file_dump(tmp, GRAPH_BASENAME)
        })?
        .map_err(|e| VectorError::Engine(format!("hnsw_rs could not dump the graph: {e}")))?;
        if base != GRAPH_BASENAME {
            return Err(VectorError::Engine(format!(
                "hnsw_rs dumped under an unexpected name {base:?}"
            )));
        }
        names.extend([GRAPH_FILE, DATA_FILE]);
    }
    let entries_path = tmp.join(ENTRIES_FILE);
    let mut tombstones = Vec::new();
    let mut live = 0usize;
    {
        let f = File::create(&entries_path).map_err(|e| VectorError::io(&entries_path, e))?;
        let mut w = BufWriter::new(f);
        for (iid, slot) in table.slots.iter().enumerate() {
            match slot {
                Slot::Live(meta) => {
                    live += 1;
                    let rec = EntryRef {
                        iid,
                        id: table.ids[iid],
                        meta,
                    };
                    serde_json::to_writer(&mut w, &rec)
                        .map_err(|e| VectorError::io(&entries_path, e.into()))?;
                    w.write_all(b"\n")
                        .map_err(|e| VectorError::io(&entries_path, e))?;
                }
                // The caller holds the writer lock, so nothing is pending; a pending
                // slot would be a failed insert, which is dead.
                Slot::Dead | Slot::Pending => tombstones.push(iid),
            }
        }
        w.flush().map_err(|e| VectorError::io(&entries_path, e))?;
    }
    let tomb_path = tmp.join(TOMBSTONES_FILE);
    let tomb_json =
        serde_json::to_vec(&tombstones).map_err(|e| VectorError::io(&tomb_path, e.into()))?;
    fs::write(&tomb_path, tomb_json).map_err(|e| VectorError::io(&tomb_path, e))?;
    drop(table);

    let mut files = BTreeMap::new();
    let mut bytes = 0;
    for name in names {
        let path = tmp.join(name);
        sync_file(&path)?;
        let d = digest_file(&path)?;
        bytes += d.bytes;
        files.insert(name.to_owned(), d);
    }
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        format_version: FORMAT_VERSION,
        seq,
        dimension: params.dimension,
        m: params.m,
        ef_construction: params.ef_construction,
        live,
        tombstones: tombstones.len(),
        internal,
        engine: ENGINE.to_owned(),
        distance: distance_name(),
        platform: platform(),
        created_at_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
        files,
    };
    let manifest_path = tmp.join(MANIFEST);
    let body =
        serde_json::to_vec(&manifest).map_err(|e| VectorError::io(&manifest_path, e.into()))?;
    let file = ManifestFile {
        sha256: sha256_hex(&body),
        manifest,
    };
    let text =
        serde_json::to_vec_pretty(&file).map_err(|e| VectorError::io(&manifest_path, e.into()))?;
    {
        let mut f = File::create(&manifest_path).map_err(|e| VectorError::io(&manifest_path, e))?;
        f.write_all(&text)
            .and_then(|()| f.sync_all())
            .map_err(|e| VectorError::io(&manifest_path, e))?;
    }
    Ok(SnapshotInfo {
        path: tmp.to_path_buf(),
        seq,
        live,
        tombstones: tombstones.len(),
        bytes: bytes + text.len() as u64,
    })
}

/// The name in `dir/CURRENT`, or `None` when there is no snapshot.
fn read_current(dir: &Path) -> Result<Option<String>> {
    let path = dir.join(CURRENT);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(VectorError::io(&path, e)),
    };
    let name = text.trim();
    let valid = name.starts_with(SNAPSHOT_PREFIX)
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(VectorError::DamagedSnapshot {
            path,
            reason: format!("CURRENT names {name:?}, which is not a snapshot"),
        });
    }
    Ok(Some(name.to_owned()))
}

/// A snapshot that was loaded.
pub(crate) struct Loaded {
    pub(crate) engine: Engine,
    pub(crate) seq: u64,
    pub(crate) path: PathBuf,
}

/// Loads the current snapshot of `dir` if there is one. `Ok(None)`: no snapshot.
/// `Err`: a snapshot that must not be trusted (damaged, another format, dimension or
/// parameters), or one that could not be read.
pub(crate) fn load(dir: &Path, params: &HnswParams) -> Result<Option<Loaded>> {
    remove_stale(dir);
    let mut attempt = 0;
    loop {
        let Some(name) = read_current(dir)? else {
            return Ok(None);
        };
        match load_named(dir, &name, params) {
            Ok(l) => return Ok(Some(l)),
            Err(e) => {
                attempt += 1;
                // Another writer replaced (and removed) it while we read: read the new one.
                let now = read_current(dir).ok().flatten();
                if attempt < LOAD_ATTEMPTS && now.is_some() && now.as_deref() != Some(&name) {
                    continue;
                }
                return Err(e);
            }
        }
    }
}

/// Loads and verifies the snapshot `dir/name`.
fn load_named(dir: &Path, name: &str, params: &HnswParams) -> Result<Loaded> {
    let snap = dir.join(name);
    let damaged = |reason: String| VectorError::DamagedSnapshot {
        path: snap.clone(),
        reason,
    };
    let manifest = read_manifest(&snap).map_err(|e| match e {
        VectorError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            damaged("manifest.json is missing".into())
        }
        other => other,
    })?;
    check_manifest(&manifest, params).map_err(&damaged)?;
    for (file, want) in &manifest.files {
        let got = digest_file(&snap.join(file)).map_err(|e| damaged(e.to_string()))?;
        if got.bytes != want.bytes {
            return Err(damaged(format!(
                "{file} has {} bytes, the manifest says {}",
                got.bytes, want.bytes
            )));
        }
        if got.sha256 != want.sha256 {
            return Err(damaged(format!("{file} does not match its sha256")));
        }
    }
    let table = read_table(&snap, &manifest).map_err(&damaged)?;
    let engine = if manifest.internal == 0 {
        Engine::empty(*params, 0)?
    } else {
        let graph = load_graph(&snap).map_err(|e| damaged(e.to_string()))?;
        let table = fill_vectors(&graph, table, &manifest).map_err(&damaged)?;
        Engine::from_parts(graph, table, *params)
    };
    Ok(Loaded {
        engine,
        seq: manifest.seq,
        path: snap,
    })
}

fn read_manifest(snap: &Path) -> Result<Manifest> {
    let path = snap.join(MANIFEST);
    let text = fs::read(&path).map_err(|e| VectorError::io(&path, e))?;
    let damaged = |reason: String| VectorError::DamagedSnapshot {
        path: path.clone(),
        reason,
    };
    let file: ManifestFile = serde_json::from_slice(&text)
        .map_err(|e| damaged(format!("manifest.json does not parse: {e}")))?;
    let body = serde_json::to_vec(&file.manifest)
        .map_err(|e| damaged(format!("manifest.json does not serialise: {e}")))?;
    if sha256_hex(&body) != file.sha256 {
        return Err(damaged(
            "manifest.json does not match its own sha256".into(),
        ));
    }
    Ok(file.manifest)
}

fn check_manifest(m: &Manifest, params: &HnswParams) -> std::result::Result<(), String> {
    if m.format != FORMAT || m.format_version != FORMAT_VERSION {
        return Err(format!(
            "format {} version {} (this build reads {FORMAT} version {FORMAT_VERSION})",
            m.format, m.format_version
        ));
    }
    if m.engine != ENGINE || m.distance != distance_name() || m.platform != platform() {
        return Err(format!(
            "written by {} with {} on {} (this build is {ENGINE} with {} on {})",
            m.engine,
            m.distance,
            m.platform,
            distance_name(),
            platform()
        ));
    }
    if m.dimension != params.dimension {
        return Err(format!(
            "dimension {} (the index is opened with {})",
            m.dimension, params.dimension
        ));
    }
    if m.m != params.m || m.ef_construction != params.ef_construction {
        return Err(format!(
            "built with m {} and ef_construction {} (opened with {} and {})",
            m.m, m.ef_construction, params.m, params.ef_construction
        ));
    }
    if m.live + m.tombstones != m.internal {
        return Err(format!(
            "counts disagree: {} live + {} tombstones != {} points",
            m.live, m.tombstones, m.internal
        ));
    }
    if m.internal > 0 {
        let data = m.files.get(DATA_FILE).map_or(0, |f| f.bytes);
        let need = (m.internal as u64).saturating_mul(m.dimension as u64 * 4);
        if data < need {
            return Err(format!(
                "{DATA_FILE} has {data} bytes, too few for {} points of dimension {}",
                m.internal, m.dimension
            ));
        }
    }
    if m.live > params.max_elements {
        return Err(format!(
            "{} live entries exceed max_elements {}",
            m.live, params.max_elements
        ));
    }
    let mut want = vec![ENTRIES_FILE, TOMBSTONES_FILE];
    if m.internal > 0 {
        want.extend([GRAPH_FILE, DATA_FILE]);
    }
    want.sort_unstable();
    let have: Vec<&str> = m.files.keys().map(String::as_str).collect();
    if have != want {
        return Err(format!("lists files {have:?}, expected {want:?}"));
    }
    Ok(())
}

/// The table from `entries.jsonl` and `tombstones.json`, vectors not yet filled.
fn read_table(snap: &Path, m: &Manifest) -> std::result::Result<Table, String> {
    let mut slots: Vec<Option<Slot>> = vec![None; m.internal];
    let mut ids = vec![MemoryId::from_bytes([0; 16]); m.internal];
    let mut by_id = HashMap::with_capacity(m.live);
    let mut expiring = 0;
    let f = File::open(snap.join(ENTRIES_FILE)).map_err(|e| e.to_string())?;
    for (n, line) in BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| e.to_string())?;
        let rec: EntryRecord =
            serde_json::from_str(&line).map_err(|e| format!("entries line {}: {e}", n + 1))?;
        let slot = slots
            .get_mut(rec.iid)
            .ok_or_else(|| format!("entry with internal id {} out of range", rec.iid))?;
        if slot.is_some() || by_id.insert(rec.id, rec.iid).is_some() {
            return Err(format!("entry {} ({}) appears twice", rec.iid, rec.id));
        }
        if rec.meta.expires_at.is_some() {
            expiring += 1;
        }
        *slot = Some(Slot::Live(Arc::new(rec.meta)));
        ids[rec.iid] = rec.id;
    }
    let tomb_text = fs::read(snap.join(TOMBSTONES_FILE)).map_err(|e| e.to_string())?;
    let tombstones: Vec<usize> =
        serde_json::from_slice(&tomb_text).map_err(|e| format!("tombstones.json: {e}"))?;
    for iid in &tombstones {
        match slots.get_mut(*iid) {
            Some(s @ None) => *s = Some(Slot::Dead),
            _ => return Err(format!("tombstone {iid} out of range or twice")),
        }
    }
    if by_id.len() != m.live || tombstones.len() != m.tombstones {
        return Err(format!(
            "{} entries and {} tombstones, the manifest says {} and {}",
            by_id.len(),
            tombstones.len(),
            m.live,
            m.tombstones
        ));
    }
    let slots = slots
        .into_iter()
        .enumerate()
        .map(|(i, s)| s.ok_or_else(|| format!("internal id {i} is neither live nor dead")))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Table {
        ids,
        slots,
        vectors: Vec::new(),
        by_id,
        tombstones: m.tombstones,
        pending: 0,
        expiring,
    })
}

/// Loads the hnsw_rs dump in `snap`.
///
/// hnsw_rs ties the loaded graph's lifetime to its loader (`HnswIo::load_hnsw*` return
/// `Hnsw<'b, …>` with the loader borrowed for `'b`), because with memory-mapped data the
/// points would point into the loader's map. We load without mmap (the default
/// `ReloadOptions`), so every point owns its vector and the borrow is only a type-level
/// tie. To own the graph without `unsafe`, the loader is moved into a `Box` and leaked,
/// which makes the borrow `'static`: it costs one small allocation (a path, a name and an
/// `Arc<AtomicUsize>`, well under a kilobyte) per snapshot load, i.e. per open — not per
/// search or write. The alternatives were a self-referential struct (needs `unsafe` or
/// a macro that expands to it) or a lifetime parameter on every type up to `HnswIndex`.
fn load_graph(snap: &Path) -> Result<Graph> {
    let io: &'static HnswIo = Box::leak(Box::new(HnswIo::new(snap, GRAPH_BASENAME)));
    guarded("loading the graph", || {
        io.load_hnsw_with_dist::<f32, CosineDistance>(CosineDistance)
    })?
    .map_err(|e| VectorError::Engine(format!("hnsw_rs could not load the graph: {e}")))
}

/// Copies the graph's points into the table's vector arena, checking that they are
/// exactly the internal ids `0..internal`, of the right dimension and unit length.
fn fill_vectors(
    graph: &Graph,
    mut table: Table,
    m: &Manifest,
) -> std::result::Result<Table, String> {
    let d = m.dimension;
    if graph.get_nb_point() != m.internal {
        return Err(format!(
            "the graph holds {} points, the manifest says {}",
            graph.get_nb_point(),
            m.internal
        ));
    }
    let mut vectors = vec![0.0f32; m.internal * d];
    let mut seen = vec![false; m.internal];
    for point in graph.get_point_indexation() {
        let iid = point.get_origin_id();
        let v = point.get_v();
        if iid >= m.internal || seen[iid] {
            return Err(format!("graph point {iid} out of range or twice"));
        }
        if v.len() != d || (dot(v, v) - 1.0).abs() > 1e-3 {
            return Err(format!(
                "graph point {iid} is not a unit vector of dimension {d}"
            ));
        }
        seen[iid] = true;
        vectors[iid * d..(iid + 1) * d].copy_from_slice(v);
    }
    if seen.iter().any(|s| !s) {
        return Err("the graph lacks some internal ids".into());
    }
    table.vectors = vectors;
    Ok(table)
}

/// Removes leftovers of other writers — unfinished snapshots, `CURRENT` temporaries and
/// superseded snapshots left by crashes or races — once they are stale: over an hour
/// old, or over a minute old with their writer's process gone. Never the snapshot
/// `CURRENT` names (read again right before each removal), nor anything of a live writer
/// that is younger than an hour.
fn remove_stale(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with(TMP_PREFIX)
            || name.starts_with(CURRENT_TMP_PREFIX)
            || name.starts_with(SNAPSHOT_PREFIX);
        if !ours {
            continue;
        }
        let Ok(meta) = fs::symlink_metadata(entry.path()) else {
            continue;
        };
        let Some(age) = meta.modified().ok().and_then(|t| t.elapsed().ok()) else {
            continue;
        };
        let writer_gone = writer_pid(&name).is_some_and(|pid| !process_alive(pid));
        let stale = age > STALE_AFTER || (writer_gone && age > DEAD_WRITER_AFTER);
        if !stale {
            continue;
        }
        match read_current(dir) {
            Ok(current) if current.as_deref() == Some(name.as_str()) => continue,
            Ok(_) => {}
            // CURRENT unreadable: which snapshot is live is unknown, so leave everything.
            Err(_) => return,
        }
        let removed = if meta.is_dir() {
            fs::remove_dir_all(entry.path())
        } else {
            fs::remove_file(entry.path())
        };
        match removed {
            Ok(()) => {
                tracing::info!(path = %entry.path().display(), "removed a stale snapshot leftover")
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %entry.path().display(), error = %e, "could not remove a stale snapshot leftover");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_writers_pid_and_differ() {
        let a = unique_suffix(7);
        let b = unique_suffix(7);
        assert_ne!(a, b);
        assert_eq!(writer_pid(&a), Some(std::process::id()));
        assert_eq!(
            writer_pid(&format!("{TMP_PREFIX}{SNAPSHOT_PREFIX}{a}")),
            Some(std::process::id())
        );
        assert_eq!(
            writer_pid(&format!("{CURRENT_TMP_PREFIX}{b}")),
            Some(std::process::id())
        );
        // Names of older versions (no random part) have no pid we trust.
        assert_eq!(writer_pid("snapshot-00000000000000000099-1-1-1"), None);
        assert_eq!(writer_pid("CURRENT"), None);
    }
}
