//! Learned policies, saved with optimistic versions.

use super::*;

fn policy_row(row: &Row<'_>) -> rusqlite::Result<PolicyState> {
    let state: String = row.get(2)?;
    Ok(PolicyState {
        name: row.get(0)?,
        kind: row.get(1)?,
        state: from_json(2, &state)?,
        version: row.get::<_, i64>(3)?.max(0) as u64,
        updated_at: ts(row.get(4)?),
    })
}

pub(crate) fn get_policy(c: &Connection, name: &str) -> Result<Option<PolicyState>> {
    c.prepare_cached("SELECT name, kind, state, version, updated_at FROM policies WHERE name = ?")?
        .query_row(params![name], policy_row)
        .optional()
        .map_err(corrupt("policy"))
}

pub(crate) fn put_policy(
    c: &Connection,
    name: &str,
    kind: &str,
    state: &serde_json::Value,
    expected: Option<u64>,
    now: Timestamp,
) -> Result<u64> {
    memory_core::validate_policy(name, kind, state)?;
    let stored: Option<i64> = c
        .prepare_cached("SELECT version FROM policies WHERE name = ?")?
        .query_row(params![name], |r| r.get(0))
        .optional()?;
    let stored = stored.map(|v| v.max(0) as u64);
    if stored != expected {
        return Err(SqliteError::Conflict(format!(
            "policy `{name}` is at version {} but the save expected {}",
            stored.map_or("none".to_owned(), |v| v.to_string()),
            expected.map_or("none".to_owned(), |v| v.to_string()),
        )));
    }
    let version = stored.unwrap_or(0) + 1;
    let text = serde_json::to_string(state).map_err(|e| {
        SqliteError::Invalid(memory_core::ValidationError::MalformedJson {
            field: "policy state",
            message: e.to_string(),
        })
    })?;
    c.prepare_cached(
        "INSERT INTO policies (name, kind, state, version, updated_at) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, state = excluded.state, \
         version = excluded.version, updated_at = excluded.updated_at",
    )?
    .execute(params![name, kind, text, version as i64, now.as_millis()])?;
    Ok(version)
}

pub(crate) fn list_policies(c: &Connection) -> Result<Vec<String>> {
    c.prepare_cached("SELECT name FROM policies ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()
        .map_err(Into::into)
}

pub(crate) fn delete_policy(c: &Connection, name: &str) -> Result<bool> {
    Ok(c.prepare_cached("DELETE FROM policies WHERE name = ?")?
        .execute(params![name])?
        > 0)
}
