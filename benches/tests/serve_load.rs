//! A CI-sized run of the load test (`cargo xtask bench serve` runs the full one): a few
//! clients for a few seconds against a real server on loopback; every acknowledged write
//! must be stored afterwards, and no client may see another user's memories.

use std::time::Duration;

use brain::config::EmbedderKind;
use brain_benches::load::{LoadOptions, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_a_loaded_server() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let report = run(&LoadOptions {
        clients: 6,
        duration: Duration::from_secs(3),
        write_share: 0.5,
        embedder: EmbedderKind::Hashing,
        data_dir: dir.path().join("brain"),
        sentences: Vec::new(),
        server_threads: 2,
    })
    .await?;
    eprintln!("{}", serde_json::to_string(&report)?);
    assert!(
        report.acknowledged_writes > 0 && report.recall.count > 0,
        "{report:?}"
    );
    assert_eq!(report.errors, 0, "{report:?}");
    assert_eq!(report.lost_writes, 0, "{report:?}");
    assert_eq!(report.verified_writes, report.acknowledged_writes);
    assert!(report.stored_memories >= report.acknowledged_writes as u64);
    Ok(())
}
