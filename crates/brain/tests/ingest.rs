#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The documentation collection: ingest, re-ingest, removal.

use std::path::PathBuf;
use std::sync::Arc;

use brain::{Brain, FileOutcome, NoProgress, RecallMode, RecallQuery};
use memory_core::{MemoryFilter, MemoryKind, Scope};

async fn brain() -> Brain {
    Brain::builder()
        .store(brain_engines::sqlite_in_memory().unwrap())
        .embedder(Arc::new(embed::HashingEmbedder::new(384).unwrap()))
        .index(brain_engines::exact_index(384).unwrap())
        .splitter(Arc::new(brain_engines::ChunkSplitter))
        .build()
        .await
        .unwrap()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test]
async fn ingest_this_repository_and_find_the_right_chunk() {
    let b = brain().await;
    let s = Scope::user("dev");
    let paths = [repo().join("docs"), repo().join("crates/memory-core/src")];
    let r = b.ingest_paths(&paths, &s, &NoProgress).await.unwrap();
    assert!(r.added >= 10 && r.chunks > r.added, "{r:?}");
    let hits = b
        .recall(
            &RecallQuery::new(
                "pub fn fuse reciprocal rank fusion keyword vector",
                s.clone(),
            )
            .with_k(5),
        )
        .await
        .unwrap();
    let top = &hits[0].memory;
    assert_eq!(top.kind, MemoryKind::doc_chunk());
    assert!(
        top.metadata
            .get("path")
            .unwrap()
            .as_str()
            .unwrap()
            .ends_with("fusion.rs"),
        "{:?}",
        hits.iter()
            .map(|h| h.memory.metadata.get("path"))
            .collect::<Vec<_>>()
    );
    // Unchanged files are not rewritten.
    let again = b.ingest_paths(&paths, &s, &NoProgress).await.unwrap();
    assert_eq!(
        (again.added, again.replaced, again.unchanged),
        (0, 0, r.added)
    );
    assert_eq!(again.chunks, 0);
}

#[tokio::test]
async fn changed_files_are_replaced_and_removed_files_dropped() {
    let b = brain().await;
    let s = Scope::global();
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.md");
    std::fs::write(&a, "# Deploy\n\nWe deploy with ansible on tuesdays.\n\n# Rollback\n\nRoll back with the previous tag.\n").unwrap();
    std::fs::write(
        dir.path().join("b.rs"),
        "/// Parses the port.\nfn parse_port(s: &str) -> u16 { s.parse().unwrap_or(80) }\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("blob.bin"), [0u8, 159, 146, 150, 0, 1]).unwrap();
    std::fs::write(dir.path().join(".gitignore"), "ignored.md\n").unwrap();
    std::fs::write(
        dir.path().join("ignored.md"),
        "# Secret\n\nnot for the brain\n",
    )
    .unwrap();
    let r = b
        .ingest_paths(&[dir.path().to_path_buf()], &s, &NoProgress)
        .await
        .unwrap();
    assert_eq!(r.added, 2, "{r:?}");
    assert_eq!(r.skipped.len(), 1, "the binary file: {r:?}");
    assert_eq!(r.skipped[0].path, dir.path().join("blob.bin"));
    assert!(r.skipped[0].reason.contains("UTF-8"), "{r:?}");
    let docs = MemoryFilter::scoped(s.clone()).with_kind(MemoryKind::doc_chunk());
    let before = b.count(&docs).await.unwrap();
    assert!(before >= 2);
    let kw = |q: &str| RecallQuery::new(q, s.clone()).with_mode(RecallMode::Keyword);
    assert!(
        b.recall(&kw("secret")).await.unwrap().is_empty(),
        "gitignored file not ingested"
    );

    // Change a.md: its chunks are replaced, the old text is gone.
    std::fs::write(&a, "# Deploy\n\nWe deploy with nomad on fridays.\n").unwrap();
    let r = b
        .ingest_paths(&[dir.path().to_path_buf()], &s, &NoProgress)
        .await
        .unwrap();
    assert_eq!((r.replaced, r.unchanged), (1, 1), "{r:?}");
    assert!(b.recall(&kw("ansible")).await.unwrap().is_empty());
    let hits = b.recall(&kw("nomad")).await.unwrap();
    assert!(hits[0].memory.content.contains("nomad"), "{hits:?}");
    assert_eq!(hits[0].memory.metadata.get("start_line").unwrap(), 1);

    // Delete b.rs: its chunks go on the next ingest of the directory.
    std::fs::remove_file(dir.path().join("b.rs")).unwrap();
    let r = b
        .ingest_paths(&[dir.path().to_path_buf()], &s, &NoProgress)
        .await
        .unwrap();
    assert_eq!(r.removed_files, 1);
    assert!(b.recall(&kw("parse_port")).await.unwrap().is_empty());
    let st = b.stats().await.unwrap();
    assert_eq!(
        st.indexed as u64, st.store.memories,
        "index agrees with the store"
    );

    // A path that does not exist is a clear error.
    let e = b
        .ingest_paths(&[dir.path().join("nope")], &s, &NoProgress)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
    // Single files work too, and report Unchanged through ingest_document.
    let key = a.canonicalize().unwrap();
    let text = std::fs::read_to_string(&a).unwrap();
    let out = b
        .ingest_document(&key, "a.md", dir.path(), &text, &s)
        .await
        .unwrap();
    assert_eq!(out, FileOutcome::Unchanged);
}

/// Removes a file when the walk is done, before the files are read: a file that
/// vanishes (or cannot be opened) between the two, whoever runs the test (root too).
struct RemoveWhenWalked(PathBuf);

impl brain::Progress for RemoveWhenWalked {
    fn start(&self, _: &str, _: Option<u64>) {
        let _ = std::fs::remove_file(&self.0);
    }
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

#[cfg(unix)]
#[tokio::test]
async fn unreadable_and_special_files_are_skipped_with_their_reason_and_the_rest_ingested() {
    use std::os::unix::fs::symlink;
    let b = brain().await;
    let s = Scope::user("dev");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.md"), "# Alpha\n\nalpha files come first.\n").unwrap();
    std::fs::write(d.join("m.md"), "# Middle\n\nthis one vanishes.\n").unwrap();
    std::fs::write(
        d.join("z.md"),
        "# Zulu\n\nzulu files come after the bad ones.\n",
    )
    .unwrap();
    symlink("loop.md", d.join("loop.md")).unwrap();
    symlink("nowhere.md", d.join("dangling.md")).unwrap();
    symlink("a.md", d.join("link.md")).unwrap();
    let fifo = d.join("pipe.md");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let r = b
        .ingest_paths(&[d.to_path_buf()], &s, &RemoveWhenWalked(d.join("m.md")))
        .await
        .unwrap();
    assert_eq!(r.added, 2, "a.md and z.md: {r:?}");
    let reason = |name: &str| {
        r.skipped
            .iter()
            .find(|k| k.path == d.join(name))
            .unwrap_or_else(|| panic!("{name} not reported: {r:?}"))
            .reason
            .clone()
    };
    assert!(reason("loop.md").contains("loop"), "{r:?}");
    assert!(reason("dangling.md").contains("dangling"), "{r:?}");
    assert!(reason("link.md").contains("not followed"), "{r:?}");
    assert!(reason("pipe.md").contains("FIFO"), "{r:?}");
    assert!(reason("m.md").starts_with("cannot read"), "{r:?}");
    assert_eq!(r.skipped.len(), 5, "{r:?}");
    let kw = |q: &str| RecallQuery::new(q, s.clone()).with_mode(RecallMode::Keyword);
    let hits = b.recall(&kw("zulu")).await.unwrap();
    let path = hits[0]
        .memory
        .metadata
        .get("path")
        .unwrap()
        .as_str()
        .unwrap();
    assert!(
        path.ends_with("z.md"),
        "the file after the bad ones: {hits:?}"
    );

    // A FIFO given directly is reported too, and never read (which would block).
    let r = b
        .ingest_paths(std::slice::from_ref(&fifo), &s, &NoProgress)
        .await
        .unwrap();
    assert_eq!(r.added + r.unchanged, 0, "{r:?}");
    assert_eq!(r.skipped.len(), 1, "{r:?}");
    assert!(r.skipped[0].reason.contains("FIFO"), "{r:?}");
}
