//! Files that are not a brain database give typed errors, never a panic, and are left
//! untouched.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use memory_core::{ErrorKind, LongTermStore, NewLearningEvent, NewMemory, Reward, Scope};
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
