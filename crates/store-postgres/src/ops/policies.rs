//! Learned policies, saved with optimistic versions.

use super::*;

fn policy_row(row: &Row) -> Result<PolicyState> {
    const W: &str = "policy";
    let state: String = get(row, 2, W)?;
    Ok(PolicyState {
        name: get(row, 0, W)?,
        kind: get(row, 1, W)?,
        state: from_json(W, &state)?,
        version: count(get(row, 3, W)?),
        updated_at: ts(get(row, 4, W)?),
    })
}

pub(crate) async fn get_policy<C: GenericClient>(c: &C, name: &str) -> Result<Option<PolicyState>> {
    opt_row(
        c,
        "SELECT name, kind, state, version, updated_at FROM policies WHERE name = $1",
        &[&name],
    )
    .await?
    .as_ref()
    .map(policy_row)
    .transpose()
}

/// Saves a policy if its stored version is `expected`, as one conditional statement, so
/// of two concurrent saves from the same version exactly one matches.
pub(crate) async fn put_policy<C: GenericClient>(
    c: &C,
    name: &str,
    kind: &str,
    state: &Value,
    expected: Option<u64>,
    now: Timestamp,
) -> Result<u64> {
    memory_core::validate_policy(name, kind, state)?;
    let text = serde_json::to_string(state).map_err(|e| {
        PostgresError::Invalid(ValidationError::MalformedJson {
            field: "policy state",
            message: e.to_string(),
        })
    })?;
    let saved = match expected {
        None => {
            opt_row(
                c,
                "INSERT INTO policies (name, kind, state, version, updated_at) \
                 VALUES ($1, $2, $3, 1, $4) ON CONFLICT (name) DO NOTHING RETURNING version",
                &[&name, &kind, &text, &now.as_millis()],
            )
            .await?
        }
        Some(v) => {
            opt_row(
                c,
                "UPDATE policies SET kind = $2, state = $3, version = version + 1, \
                 updated_at = $4 WHERE name = $1 AND version = $5 RETURNING version",
                &[&name, &kind, &text, &now.as_millis(), &big(v)],
            )
            .await?
        }
    };
    if let Some(r) = saved {
        return Ok(count(get(&r, 0, "policy")?));
    }
    let stored = opt_row(c, "SELECT version FROM policies WHERE name = $1", &[&name])
        .await?
        .map(|r| get::<i64>(&r, 0, "policy"))
        .transpose()?
        .map(count);
    Err(PostgresError::Conflict(format!(
        "policy `{name}` is at version {} but the save expected {}",
        stored.map_or("none".to_owned(), |v| v.to_string()),
        expected.map_or("none".to_owned(), |v| v.to_string()),
    )))
}

pub(crate) async fn list_policies<C: GenericClient>(c: &C) -> Result<Vec<String>> {
    rows(c, "SELECT name FROM policies ORDER BY name", &[])
        .await?
        .iter()
        .map(|r| get(r, 0, "policy"))
        .collect()
}

pub(crate) async fn delete_policy<C: GenericClient>(c: &C, name: &str) -> Result<bool> {
    Ok(exec(c, "DELETE FROM policies WHERE name = $1", &[&name]).await? > 0)
}
