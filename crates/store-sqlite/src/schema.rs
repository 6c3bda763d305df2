//! Schema migrations, versioned with `PRAGMA user_version`.
//!
//! Each migration runs in one `BEGIN IMMEDIATE` transaction that also re-reads the
//! version, so two processes opening a fresh file at once migrate it exactly once.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Result, SqliteError};

/// `PRAGMA application_id` of a brain database ("BRN1").
pub const APPLICATION_ID: i64 = 0x4252_4E31;

/// Migrations in order; the database's `user_version` is the number applied.
const MIGRATIONS: &[&str] = &[MIGRATION_1, MIGRATION_2, MIGRATION_3, MIGRATION_4];

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const MIGRATION_1: &str = r#"
-- The seed's six tables, with its columns and meaning. Each record also carries its
-- owning scope ('' = unset) and times are INTEGER milliseconds since the epoch (UTC).
CREATE TABLE user_preferences (
    id INTEGER PRIMARY KEY,
    scope_user TEXT NOT NULL DEFAULT '',
    scope_agent TEXT NOT NULL DEFAULT '',
    scope_session TEXT NOT NULL DEFAULT '',
    key TEXT NOT NULL,
    value TEXT NOT NULL,                 -- JSON
    category TEXT NOT NULL DEFAULT 'general',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (scope_user, scope_agent, scope_session, key)
);

CREATE TABLE projects (
    id INTEGER PRIMARY KEY,
    scope_user TEXT NOT NULL DEFAULT '',
    scope_agent TEXT NOT NULL DEFAULT '',
    scope_session TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL,
    path TEXT,
    description TEXT,
    tech_stack TEXT NOT NULL DEFAULT '[]', -- JSON array
    status TEXT NOT NULL DEFAULT 'active',
    created_at INTEGER NOT NULL,
    last_accessed INTEGER
);

CREATE TABLE code_patterns (
    id INTEGER PRIMARY KEY,
    scope_user TEXT NOT NULL DEFAULT '',
    scope_agent TEXT NOT NULL DEFAULT '',
    scope_session TEXT NOT NULL DEFAULT '',
    pattern_type TEXT NOT NULL,           -- error_fix, feature, optimization
    context TEXT NOT NULL,                -- what problem it solves
    solution TEXT NOT NULL,               -- the code or command
    language TEXT,
    success_count INTEGER NOT NULL DEFAULT 1,
    failure_count INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (scope_user, scope_agent, scope_session, pattern_type, context)
);
CREATE INDEX code_patterns_rank ON code_patterns (pattern_type, success_count DESC);

CREATE TABLE learning_events (
    id INTEGER PRIMARY KEY,
    scope_user TEXT NOT NULL DEFAULT '',
    scope_agent TEXT NOT NULL DEFAULT '',
    scope_session TEXT NOT NULL DEFAULT '',
    event_type TEXT NOT NULL,             -- success, failure, user_feedback
    task_description TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT '',
    reward REAL NOT NULL CHECK (reward BETWEEN -1.0 AND 1.0),
    metadata TEXT NOT NULL DEFAULT '{}',  -- JSON object
    created_at INTEGER NOT NULL
);
CREATE INDEX learning_events_time ON learning_events (created_at);

CREATE TABLE conversations (
    id INTEGER PRIMARY KEY,
    scope_user TEXT NOT NULL DEFAULT '',
    scope_agent TEXT NOT NULL DEFAULT '',
    scope_session TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL,
    key_decisions TEXT NOT NULL DEFAULT '[]', -- JSON array
    user_feedback TEXT,
    created_at INTEGER NOT NULL
);

CREATE TABLE agent_decisions (
    id INTEGER PRIMARY KEY,
    scope_user TEXT NOT NULL DEFAULT '',
    scope_agent TEXT NOT NULL DEFAULT '',
    scope_session TEXT NOT NULL DEFAULT '',
    agent_type TEXT NOT NULL,
    decision_context TEXT NOT NULL,
    options_considered TEXT NOT NULL DEFAULT '[]', -- JSON array
    chosen_option TEXT NOT NULL,
    reasoning TEXT NOT NULL DEFAULT '',
    outcome TEXT,
    reward REAL CHECK (reward IS NULL OR reward BETWEEN -1.0 AND 1.0),
    created_at INTEGER NOT NULL,
    outcome_at INTEGER
);
CREATE INDEX agent_decisions_agent ON agent_decisions (agent_type, created_at);

-- Generic memories. `pk` is the stable rowid the keyword index refers to; `id` is the
-- public UUIDv7 (16 bytes).
CREATE TABLE memories (
    pk INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE CHECK (length(id) = 16),
    content TEXT NOT NULL,
    kind TEXT NOT NULL,
    scope_user TEXT NOT NULL DEFAULT '',
    scope_agent TEXT NOT NULL DEFAULT '',
    scope_session TEXT NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{}',  -- JSON object
    importance REAL NOT NULL CHECK (importance BETWEEN 0.0 AND 1.0),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER
);
CREATE INDEX memories_scope ON memories (scope_user, scope_agent, scope_session, created_at);
CREATE INDEX memories_created ON memories (created_at);
CREATE INDEX memories_expiry ON memories (expires_at) WHERE expires_at IS NOT NULL;

-- Keyword (BM25) indexes, kept in step with their tables by triggers.
CREATE VIRTUAL TABLE memories_fts USING fts5(
    content, content='memories', content_rowid='pk', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, content) VALUES (new.pk, new.content);
END;
CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content) VALUES ('delete', old.pk, old.content);
END;
CREATE TRIGGER memories_fts_update AFTER UPDATE OF content ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content) VALUES ('delete', old.pk, old.content);
    INSERT INTO memories_fts (rowid, content) VALUES (new.pk, new.content);
END;

CREATE VIRTUAL TABLE code_patterns_fts USING fts5(
    context, solution, content='code_patterns', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER code_patterns_fts_insert AFTER INSERT ON code_patterns BEGIN
    INSERT INTO code_patterns_fts (rowid, context, solution) VALUES (new.id, new.context, new.solution);
END;
CREATE TRIGGER code_patterns_fts_delete AFTER DELETE ON code_patterns BEGIN
    INSERT INTO code_patterns_fts (code_patterns_fts, rowid, context, solution)
        VALUES ('delete', old.id, old.context, old.solution);
END;
CREATE TRIGGER code_patterns_fts_update AFTER UPDATE OF context, solution ON code_patterns BEGIN
    INSERT INTO code_patterns_fts (code_patterns_fts, rowid, context, solution)
        VALUES ('delete', old.id, old.context, old.solution);
    INSERT INTO code_patterns_fts (rowid, context, solution) VALUES (new.id, new.context, new.solution);
END;
"#;

const MIGRATION_2: &str = r#"
-- Stored embeddings: the source of truth the vector index is derived from. Each change to a
-- memory's embedding, to what vector filters read of the memory, or its deletion takes the
-- next sequence number; deleted embeddings stay as tombstones (vector NULL) so an index can
-- catch up on deletions too.
CREATE TABLE brain_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE embedding_seq (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO embedding_seq (id, value) VALUES (1, 0);
CREATE TABLE embeddings (
    id BLOB PRIMARY KEY CHECK (length(id) = 16), -- the memory's id
    seq INTEGER NOT NULL UNIQUE,
    vector BLOB                                   -- f32 little-endian; NULL = deleted
) WITHOUT ROWID;

CREATE TRIGGER embeddings_on_memory_delete AFTER DELETE ON memories
WHEN EXISTS (SELECT 1 FROM embeddings WHERE id = old.id AND vector IS NOT NULL) BEGIN
    UPDATE embedding_seq SET value = value + 1 WHERE id = 1;
    UPDATE embeddings SET vector = NULL, seq = (SELECT value FROM embedding_seq WHERE id = 1)
        WHERE id = old.id;
END;
-- New content makes the old embedding wrong: drop it (the caller stores a new one).
CREATE TRIGGER embeddings_on_content_change AFTER UPDATE OF content ON memories
WHEN old.content IS NOT new.content
    AND EXISTS (SELECT 1 FROM embeddings WHERE id = new.id AND vector IS NOT NULL) BEGIN
    UPDATE embedding_seq SET value = value + 1 WHERE id = 1;
    UPDATE embeddings SET vector = NULL, seq = (SELECT value FROM embedding_seq WHERE id = 1)
        WHERE id = new.id;
END;
-- What filters read changed: log it so the index refreshes the entry.
CREATE TRIGGER embeddings_on_filter_change
AFTER UPDATE OF kind, scope_user, scope_agent, scope_session, metadata, created_at, expires_at
ON memories
WHEN (old.kind IS NOT new.kind OR old.scope_user IS NOT new.scope_user
      OR old.scope_agent IS NOT new.scope_agent OR old.scope_session IS NOT new.scope_session
      OR old.metadata IS NOT new.metadata OR old.created_at IS NOT new.created_at
      OR old.expires_at IS NOT new.expires_at)
    AND EXISTS (SELECT 1 FROM embeddings WHERE id = new.id AND vector IS NOT NULL) BEGIN
    UPDATE embedding_seq SET value = value + 1 WHERE id = 1;
    UPDATE embeddings SET seq = (SELECT value FROM embedding_seq WHERE id = 1)
        WHERE id = new.id;
END;
"#;

/// Keyword recall, measured on LoCoMo: porter stemming, and a second column for a
/// memory's context (neighbouring turns, date) ranked at half the content's weight.
const MIGRATION_3: &str = r#"
ALTER TABLE memories ADD COLUMN context TEXT NOT NULL DEFAULT '';

DROP TRIGGER memories_fts_insert;
DROP TRIGGER memories_fts_delete;
DROP TRIGGER memories_fts_update;
DROP TABLE memories_fts;
CREATE VIRTUAL TABLE memories_fts USING fts5(
    content, context, content='memories', content_rowid='pk',
    tokenize='porter unicode61 remove_diacritics 2'
);
INSERT INTO memories_fts (memories_fts) VALUES ('rebuild');
CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, content, context) VALUES (new.pk, new.content, new.context);
END;
CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content, context)
        VALUES ('delete', old.pk, old.content, old.context);
END;
CREATE TRIGGER memories_fts_update AFTER UPDATE OF content, context ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content, context)
        VALUES ('delete', old.pk, old.content, old.context);
    INSERT INTO memories_fts (rowid, content, context) VALUES (new.pk, new.content, new.context);
END;

DROP TRIGGER code_patterns_fts_insert;
DROP TRIGGER code_patterns_fts_delete;
DROP TRIGGER code_patterns_fts_update;
DROP TABLE code_patterns_fts;
CREATE VIRTUAL TABLE code_patterns_fts USING fts5(
    context, solution, content='code_patterns', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2'
);
INSERT INTO code_patterns_fts (code_patterns_fts) VALUES ('rebuild');
CREATE TRIGGER code_patterns_fts_insert AFTER INSERT ON code_patterns BEGIN
    INSERT INTO code_patterns_fts (rowid, context, solution) VALUES (new.id, new.context, new.solution);
END;
CREATE TRIGGER code_patterns_fts_delete AFTER DELETE ON code_patterns BEGIN
    INSERT INTO code_patterns_fts (code_patterns_fts, rowid, context, solution)
        VALUES ('delete', old.id, old.context, old.solution);
END;
CREATE TRIGGER code_patterns_fts_update AFTER UPDATE OF context, solution ON code_patterns BEGIN
    INSERT INTO code_patterns_fts (code_patterns_fts, rowid, context, solution)
        VALUES ('delete', old.id, old.context, old.solution);
    INSERT INTO code_patterns_fts (rowid, context, solution) VALUES (new.id, new.context, new.solution);
END;
"#;

/// Learned policies (Q-tables, bandits), saved whole with a version for optimistic
/// concurrency; decisions gain metadata so outcomes can find what they teach.
const MIGRATION_4: &str = r#"
CREATE TABLE policies (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

ALTER TABLE agent_decisions ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE code_patterns ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
"#;

/// Brings the database at `path` (already open as `conn`) to [`SCHEMA_VERSION`].
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let app: i64 = tx.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    if app != 0 && app != APPLICATION_ID {
        return Err(SqliteError::ForeignDatabase {
            path: path.to_owned(),
            found: app,
        });
    }
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(SqliteError::SchemaTooNew {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        tracing::info!(target: "store_sqlite", to = i + 1, "migrating schema");
        tx.execute_batch(sql)?;
    }
    tx.execute_batch(&format!(
        "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
    ))?;
    tx.commit()?;
    Ok(())
}
