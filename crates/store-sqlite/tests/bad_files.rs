//! Files that are not a brain database give typed errors, never a panic, and are left
//! untouched.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use memory_core::{ErrorKind, LongTermStore, NewLearningEvent, NewMemory, Reward, Scope};
use memory_core::{MemoryStore, RecordStoreExt};
use rusqlite::Connection;
use store_sqlite::{SCHEMA_VERSION, SqliteError, SqliteOptions, SqliteStore};

#[tokio::test]
async fn a_text_file_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.db");
    let text = "these are my notes, not a database\n".repeat(200);
    std::fs::write(&path, &text).unwrap();
    let err = SqliteStore::open(&path).await.unwrap_err();
    assert!(matches!(err, SqliteError::NotADatabase { .. }), "{err:?}");
    assert!(err.to_string().contains("not an SQLite database"));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "the file is untouched"
    );
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memory.db");
    drop(SqliteStore::open(&path).await.unwrap());
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).await.unwrap_err();
    match &err {
        SqliteError::SchemaTooNew {
            found, supported, ..
        } => {
            assert_eq!((*found, *supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    assert!(err.to_string().contains("upgrade brain"));
}

#[tokio::test]
async fn another_applications_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA application_id = 1234; CREATE TABLE t (x);")
        .unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).await.unwrap_err();
    assert!(
        matches!(err, SqliteError::ForeignDatabase { found: 1234, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn missing_file_without_create_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        create: false,
        ..SqliteOptions::default()
    };
    let err = SqliteStore::open_with(dir.path().join("absent.db"), options)
        .await
        .unwrap_err();
    assert!(matches!(err, SqliteError::Sqlite(_)), "{err:?}");
    assert!(!dir.path().join("absent.db").exists());
}

#[tokio::test]
async fn nested_directories_are_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/c/memory.db");
    let store = SqliteStore::open(&path).await.unwrap();
    store.put_memory(NewMemory::new("hello")).await.unwrap();
    assert!(path.exists());
}

#[tokio::test]
async fn corrupt_stored_json_is_a_backend_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memory.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let m = store
        .put_memory(NewMemory::new("will be damaged"))
        .await
        .unwrap();
    store
        .record_learning_event(NewLearningEvent {
            scope: Scope::default(),
            event_type: "success".into(),
            task_description: "t".into(),
            outcome: "o".into(),
            reward: Reward::MAX,
            metadata: Default::default(),
        })
        .await
        .unwrap();
    // Damage rows behind the store's back.
    let conn = Connection::open(&path).unwrap();
    conn.execute("UPDATE memories SET metadata = '{broken'", [])
        .unwrap();
    drop(conn);
    let err = store.get_memory(m.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Backend);
    assert!(err.to_string().contains("corrupt"), "{err}");
    // The CHECK constraint keeps out-of-range rewards out of the table entirely.
    let conn = Connection::open(&path).unwrap();
    assert!(
        conn.execute("UPDATE learning_events SET reward = 2.0", [])
            .is_err()
    );
    assert!(
        conn.execute("UPDATE learning_events SET reward = NULL", [])
            .is_err()
    );
}

fn tables_and_journal(path: &std::path::Path) -> (Vec<String>, String) {
    let conn =
        Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let tables = conn
        .prepare("SELECT name FROM sqlite_master ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<Vec<String>>>()
        .unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    (tables, mode)
}

#[tokio::test]
async fn a_foreign_file_with_application_id_zero_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("brain.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices (total) VALUES (9.5);")
        .unwrap();
    drop(conn);
    let bytes = std::fs::read(&path).unwrap();
    let before = tables_and_journal(&path);
    assert_eq!(before, (vec!["invoices".to_owned()], "delete".to_owned()));

    let err = SqliteStore::open(&path).await.unwrap_err();
    assert!(matches!(err, SqliteError::NotABrain { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("another application") && msg.contains("application_id 0, 1 table"),
        "{msg}"
    );
    assert_eq!(
        memory_core::Error::from(err).kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        tables_and_journal(&path),
        before,
        "no tables added, not switched to WAL"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "the file is byte for byte unchanged"
    );
}

#[tokio::test]
async fn a_zero_byte_file_is_refused_and_stays_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("brain.db");
    std::fs::write(&path, b"").unwrap();
    let err = SqliteStore::open(&path).await.unwrap_err();
    assert!(matches!(err, SqliteError::EmptyFile { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("is empty (0 bytes)") && msg.contains("move it away"),
        "{msg}"
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
}

#[tokio::test]
async fn random_bytes_are_refused_and_left_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("brain.db");
    // A fixed pseudo-random sequence (xorshift), 8 KiB.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let bytes: Vec<u8> = (0..8192)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(&path, &bytes).unwrap();
    let err = SqliteStore::open(&path).await.unwrap_err();
    assert!(matches!(err, SqliteError::NotADatabase { .. }), "{err:?}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert!(!dir.path().join("brain.db-wal").exists());
}

#[tokio::test]
async fn an_empty_sqlite_database_is_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("brain.db");
    // A valid database with no schema objects (page size set, so it is not 0 bytes).
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA page_size = 4096; VACUUM;")
        .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).await.unwrap();
    store.put_memory(NewMemory::new("first")).await.unwrap();
}

#[tokio::test]
async fn a_new_path_and_an_existing_brain_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new").join("brain.db");
    let store = SqliteStore::open(&path).await.unwrap();
    store.put_memory(NewMemory::new("kept")).await.unwrap();
    drop(store);
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.stats().await.unwrap().memories, 1);
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("brain.db"))
        .collect();
    assert!(names.is_empty(), "no temporary files left: {names:?}");
}
