//! The seed's six record kinds, written once over a table description per kind: reads,
//! inserts, restores, lists, changes and deletes are the same SQL shape for every kind.
//! Only the two upserts (a preference's key, a pattern's type and context) and the
//! pattern keyword search are kind-specific.

use super::*;

/// How one record kind is laid out in its table.
struct Table {
    name: &'static str,
    /// Every column, `id` and the three scope columns first, in [`values`] order.
    cols: &'static str,
    read: fn(&Row<'_>) -> rusqlite::Result<Record>,
    /// The order of a list.
    order: &'static str,
}

const PREFERENCES: Table = Table {
    name: "user_preferences",
    cols: "id, scope_user, scope_agent, scope_session, key, value, category, created_at, \
           updated_at",
    read: |row| {
        Ok(Record::Preference(Preference {
            id: row.get(0)?,
            scope: scope_from(row, 1)?,
            key: row.get(4)?,
            value: from_json(5, &row.get::<_, String>(5)?)?,
            category: row.get(6)?,
            created_at: ts(row.get(7)?),
            updated_at: ts(row.get(8)?),
        }))
    },
    order: "key, scope_user, scope_agent, scope_session",
};

const PROJECTS: Table = Table {
    name: "projects",
    cols: "id, scope_user, scope_agent, scope_session, name, path, description, tech_stack, \
           status, created_at, last_accessed",
    read: |row| {
        Ok(Record::Project(Project {
            id: row.get(0)?,
            scope: scope_from(row, 1)?,
            name: row.get(4)?,
            path: row.get(5)?,
            description: row.get(6)?,
            tech_stack: from_json(7, &row.get::<_, String>(7)?)?,
            status: row.get(8)?,
            created_at: ts(row.get(9)?),
            last_accessed: row.get::<_, Option<i64>>(10)?.map(ts),
        }))
    },
    order: "COALESCE(last_accessed, created_at) DESC, id DESC",
};

const PATTERNS: Table = Table {
    name: "code_patterns",
    cols: "id, scope_user, scope_agent, scope_session, pattern_type, context, solution, \
           language, success_count, failure_count, created_at, updated_at, metadata",
    read: |row| pattern_row(row).map(Record::Pattern),
    order: "success_count DESC, created_at DESC, id DESC",
};

const EVENTS: Table = Table {
    name: "learning_events",
    cols: "id, scope_user, scope_agent, scope_session, event_type, task_description, outcome, \
           reward, metadata, created_at",
    read: |row| {
        Ok(Record::LearningEvent(LearningEvent {
            id: row.get(0)?,
            scope: scope_from(row, 1)?,
            event_type: row.get(4)?,
            task_description: row.get(5)?,
            outcome: row.get(6)?,
            reward: Reward::new(row.get(7)?).map_err(|e| conversion(7, e))?,
            metadata: from_json(8, &row.get::<_, String>(8)?)?,
            created_at: ts(row.get(9)?),
        }))
    },
    order: "created_at DESC, id DESC",
};

const CONVERSATIONS: Table = Table {
    name: "conversations",
    cols: "id, scope_user, scope_agent, scope_session, summary, key_decisions, user_feedback, \
           created_at",
    read: |row| {
        Ok(Record::Conversation(ConversationSummary {
            id: row.get(0)?,
            scope: scope_from(row, 1)?,
            summary: row.get(4)?,
            key_decisions: from_json(5, &row.get::<_, String>(5)?)?,
            user_feedback: row.get(6)?,
            created_at: ts(row.get(7)?),
        }))
    },
    order: "created_at DESC, id DESC",
};

const DECISIONS: Table = Table {
    name: "agent_decisions",
    cols: "id, scope_user, scope_agent, scope_session, agent_type, decision_context, \
           options_considered, chosen_option, reasoning, outcome, reward, created_at, \
           outcome_at, metadata",
    read: |row| {
        let reward: Option<f64> = row.get(10)?;
        Ok(Record::Decision(AgentDecision {
            id: row.get(0)?,
            scope: scope_from(row, 1)?,
            agent_type: row.get(4)?,
            context: row.get(5)?,
            options: from_json(6, &row.get::<_, String>(6)?)?,
            chosen_option: row.get(7)?,
            reasoning: row.get(8)?,
            outcome: row.get(9)?,
            reward: reward
                .map(Reward::new)
                .transpose()
                .map_err(|e| conversion(10, e))?,
            created_at: ts(row.get(11)?),
            outcome_at: row.get::<_, Option<i64>>(12)?.map(ts),
            metadata: from_json(13, &row.get::<_, String>(13)?)?,
        }))
    },
    order: "created_at DESC, id DESC",
};

fn table(kind: RecordKind) -> &'static Table {
    match kind {
        RecordKind::Preference => &PREFERENCES,
        RecordKind::Project => &PROJECTS,
        RecordKind::Pattern => &PATTERNS,
        RecordKind::LearningEvent => &EVENTS,
        RecordKind::Conversation => &CONVERSATIONS,
        RecordKind::Decision => &DECISIONS,
    }
}

/// Pattern columns qualified by `p.`, for the keyword search's join.
const PATTERN_COLS: &str = "p.id, p.scope_user, p.scope_agent, p.scope_session, p.pattern_type, \
     p.context, p.solution, p.language, p.success_count, p.failure_count, p.created_at, \
     p.updated_at, p.metadata";

fn pattern_row(row: &Row<'_>) -> rusqlite::Result<CodePattern> {
    Ok(CodePattern {
        id: row.get(0)?,
        scope: scope_from(row, 1)?,
        pattern_type: row.get(4)?,
        context: row.get(5)?,
        solution: row.get(6)?,
        language: row.get(7)?,
        success_count: count(row.get(8)?),
        failure_count: count(row.get(9)?),
        created_at: ts(row.get(10)?),
        updated_at: ts(row.get(11)?),
        metadata: from_json(12, &row.get::<_, String>(12)?)?,
    })
}

fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Every column of `r` after `id`, in its table's `cols` order.
fn values(r: &Record) -> Vec<SqlValue> {
    let text = |s: &str| SqlValue::Text(s.to_owned());
    let opt = |s: &Option<String>| s.clone().map_or(SqlValue::Null, SqlValue::Text);
    let time = |t: Timestamp| SqlValue::Integer(t.as_millis());
    let mut v: Vec<SqlValue> = scope_params(r.scope())
        .into_iter()
        .map(SqlValue::Text)
        .collect();
    match r {
        Record::Preference(p) => v.extend([
            text(&p.key),
            SqlValue::Text(to_json(&p.value)),
            text(&p.category),
            time(p.created_at),
            time(p.updated_at),
        ]),
        Record::Project(p) => v.extend([
            text(&p.name),
            opt(&p.path),
            opt(&p.description),
            SqlValue::Text(to_json(&p.tech_stack)),
            text(&p.status),
            time(p.created_at),
            p.last_accessed.map_or(SqlValue::Null, time),
        ]),
        Record::Pattern(p) => v.extend([
            text(&p.pattern_type),
            text(&p.context),
            text(&p.solution),
            opt(&p.language),
            SqlValue::Integer(big(p.success_count)),
            SqlValue::Integer(big(p.failure_count)),
            time(p.created_at),
            time(p.updated_at),
            SqlValue::Text(p.metadata.to_json_string()),
        ]),
        Record::LearningEvent(e) => v.extend([
            text(&e.event_type),
            text(&e.task_description),
            text(&e.outcome),
            SqlValue::Real(e.reward.get()),
            SqlValue::Text(e.metadata.to_json_string()),
            time(e.created_at),
        ]),
        Record::Conversation(n) => v.extend([
            text(&n.summary),
            SqlValue::Text(to_json(&n.key_decisions)),
            opt(&n.user_feedback),
            time(n.created_at),
        ]),
        Record::Decision(d) => v.extend([
            text(&d.agent_type),
            text(&d.context),
            SqlValue::Text(to_json(&d.options)),
            text(&d.chosen_option),
            text(&d.reasoning),
            opt(&d.outcome),
            d.reward.map_or(SqlValue::Null, |r| SqlValue::Real(r.get())),
            time(d.created_at),
            d.outcome_at.map_or(SqlValue::Null, time),
            SqlValue::Text(d.metadata.to_json_string()),
        ]),
    }
    v
}

/// Inserts `r` whole; with `keep_id` its id too (a restore), otherwise the table assigns
/// one. Returns the row as stored.
fn insert(c: &Connection, r: &Record, keep_id: bool) -> Result<Record> {
    let t = table(r.record_kind());
    let mut args = values(r);
    let cols = if keep_id {
        args.insert(0, SqlValue::Integer(r.id()));
        t.cols
    } else {
        t.cols.trim_start_matches("id, ")
    };
    let marks = vec!["?"; args.len()].join(", ");
    c.prepare_cached(&format!(
        "INSERT INTO {} ({cols}) VALUES ({marks}) RETURNING {}",
        t.name, t.cols
    ))?
    .query_row(params_from_iter(args), t.read)
    .map_err(corrupt(r.record_kind().as_str()))
}

pub(crate) fn put_record(c: &Connection, new: NewRecord, now: Timestamp) -> Result<RecordWrite> {
    new.validate()?;
    match new {
        NewRecord::Preference(p) => store_preference(c, p, now),
        NewRecord::Pattern(p) => store_pattern(c, p, now),
        other => Ok(RecordWrite {
            record: insert(c, &other.into_record(now), false)?,
            inserted: true,
        }),
    }
}

/// The preference upsert: a `None` category keeps the stored one, and `updated_at` never
/// moves back.
fn store_preference(c: &Connection, p: NewPreference, now: Timestamp) -> Result<RecordWrite> {
    let key = RecordKey::Preference {
        scope: p.scope.clone(),
        key: p.key.clone(),
    };
    let inserted = get_record(c, &key)?.is_none();
    let [u, a, s] = scope_params(&p.scope);
    let record = c
        .prepare_cached(&format!(
            "INSERT INTO user_preferences (scope_user, scope_agent, scope_session, key, value, \
             category, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, COALESCE(?6, '{}'), \
             ?7, ?7) ON CONFLICT (scope_user, scope_agent, scope_session, key) DO UPDATE SET \
             value = excluded.value, category = COALESCE(?6, category), \
             updated_at = max(?7, updated_at) RETURNING {}",
            DEFAULT_CATEGORY, PREFERENCES.cols
        ))?
        .query_row(
            params![
                u,
                a,
                s,
                p.key,
                to_json(&p.value),
                p.category,
                now.as_millis()
            ],
            PREFERENCES.read,
        )
        .map_err(corrupt("preference"))?;
    Ok(RecordWrite { record, inserted })
}

/// The seed's pattern semantics: the same (scope, type, context) counts one more success.
fn store_pattern(c: &Connection, p: NewPattern, now: Timestamp) -> Result<RecordWrite> {
    let [u, a, s] = scope_params(&p.scope);
    let bumped = c
        .prepare_cached(&format!(
            "UPDATE code_patterns SET success_count = success_count + 1, \
             updated_at = max(?, updated_at) WHERE scope_user = ? AND scope_agent = ? \
             AND scope_session = ? AND pattern_type = ? AND context = ? RETURNING {}",
            PATTERNS.cols
        ))?
        .query_row(
            params![now.as_millis(), u, a, s, p.pattern_type, p.context],
            PATTERNS.read,
        )
        .optional()
        .map_err(corrupt("pattern"))?;
    Ok(match bumped {
        Some(record) => RecordWrite {
            record,
            inserted: false,
        },
        None => RecordWrite {
            record: insert(c, &NewRecord::Pattern(p).into_record(now), false)?,
            inserted: true,
        },
    })
}

pub(crate) fn get_record(c: &Connection, key: &RecordKey) -> Result<Option<Record>> {
    match key {
        RecordKey::Id { kind, id } => {
            let t = table(*kind);
            c.prepare_cached(&format!("SELECT {} FROM {} WHERE id = ?", t.cols, t.name))?
                .query_row([id], t.read)
                .optional()
                .map_err(corrupt(kind.as_str()))
        }
        RecordKey::Preference { scope, key } => {
            let [u, a, s] = scope_params(scope);
            c.prepare_cached(&format!(
                "SELECT {} FROM user_preferences \
                 WHERE scope_user = ? AND scope_agent = ? AND scope_session = ? AND key = ?",
                PREFERENCES.cols
            ))?
            .query_row(params![u, a, s, key], PREFERENCES.read)
            .optional()
            .map_err(corrupt("preference"))
        }
    }
}

/// One statement for all of `ids`: they travel as one JSON array, so no limit on bound
/// parameters applies.
pub(crate) fn get_records(
    c: &Connection,
    kind: RecordKind,
    ids: &[RecordId],
) -> Result<Vec<Record>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let t = table(kind);
    let rows = c
        .prepare_cached(&format!(
            "SELECT {} FROM {} WHERE id IN (SELECT value FROM json_each(?))",
            t.cols, t.name
        ))?
        .query_map([to_json(&ids)], t.read)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(corrupt(kind.as_str()))?;
    Ok(order_by_ids(ids, rows))
}

fn pattern_filter(q: &PatternQuery, prefix: &str, sql: &mut String, args: &mut Vec<SqlValue>) {
    if let Some(t) = &q.pattern_type {
        sql.push_str(&format!(" AND {prefix}pattern_type = ?"));
        args.push(SqlValue::Text(t.clone()));
    }
    if let Some(l) = &q.language {
        sql.push_str(&format!(" AND {prefix}language = ?"));
        args.push(SqlValue::Text(l.clone()));
    }
}

pub(crate) fn list_records(c: &Connection, q: &RecordQuery) -> Result<Vec<Record>> {
    q.scope().validate()?;
    let t = table(q.kind());
    let mut sql = format!("SELECT {} FROM {} WHERE 1", t.cols, t.name);
    let mut args = Vec::new();
    scope_filter(q.scope(), "", &mut sql, &mut args);
    let mut eq = |col: &str, v: &Option<String>| {
        if let Some(v) = v {
            sql.push_str(&format!(" AND {col} = ?"));
            args.push(SqlValue::Text(v.clone()));
        }
    };
    match q {
        RecordQuery::Preferences { category, .. } => eq("category", category),
        RecordQuery::Projects { status, .. } => eq("status", status),
        RecordQuery::LearningEvents(e) => {
            eq("event_type", &e.event_type);
            if let Some(since) = e.since {
                sql.push_str(" AND created_at >= ?");
                args.push(SqlValue::Integer(since.as_millis()));
            }
        }
        RecordQuery::Decisions(d) => {
            eq("agent_type", &d.agent_type);
            match d.with_outcome {
                Some(true) => sql.push_str(" AND outcome IS NOT NULL"),
                Some(false) => sql.push_str(" AND outcome IS NULL"),
                None => {}
            }
        }
        RecordQuery::Patterns(p) => pattern_filter(p, "", &mut sql, &mut args),
        RecordQuery::Conversations { .. } => {}
    }
    sql.push_str(&format!(" ORDER BY {}", t.order));
    if let Some(limit) = q.limit() {
        sql.push_str(" LIMIT ?");
        args.push(SqlValue::Integer(lim(limit)));
    }
    c.prepare_cached(&sql)?
        .query_map(params_from_iter(args), t.read)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(corrupt(q.kind().as_str()))
}

pub(crate) fn change_record(
    c: &Connection,
    id: RecordId,
    change: &RecordChange,
    now: Timestamp,
) -> Result<Record> {
    change.validate()?;
    let now = SqlValue::Integer(now.as_millis());
    let (set, mut args) = match change {
        RecordChange::TouchProject => (
            "last_accessed = max(?, COALESCE(last_accessed, 0))",
            vec![now],
        ),
        RecordChange::ProjectStatus { status } => {
            ("status = ?", vec![SqlValue::Text(status.clone())])
        }
        RecordChange::PatternOutcome {
            outcome: PatternOutcome::Success,
        } => (
            "success_count = success_count + 1, updated_at = max(?, updated_at)",
            vec![now],
        ),
        RecordChange::PatternOutcome {
            outcome: PatternOutcome::Failure,
        } => (
            "failure_count = failure_count + 1, updated_at = max(?, updated_at)",
            vec![now],
        ),
        RecordChange::PatchPattern { patch } => {
            let opt = |s: &Option<String>| s.clone().map_or(SqlValue::Null, SqlValue::Text);
            (
                "context = coalesce(?, context), solution = coalesce(?, solution), \
                 success_count = coalesce(?, success_count), metadata = coalesce(?, metadata), \
                 updated_at = max(?, updated_at)",
                vec![
                    opt(&patch.context),
                    opt(&patch.solution),
                    patch
                        .success_count
                        .map_or(SqlValue::Null, |n| SqlValue::Integer(big(n))),
                    patch
                        .metadata
                        .as_ref()
                        .map_or(SqlValue::Null, |m| SqlValue::Text(m.to_json_string())),
                    now,
                ],
            )
        }
        RecordChange::DecisionOutcome { outcome, reward } => (
            "outcome = ?, reward = ?, outcome_at = ?",
            vec![
                SqlValue::Text(outcome.clone()),
                SqlValue::Real(reward.get()),
                now,
            ],
        ),
    };
    let kind = change.kind();
    let t = table(kind);
    args.push(SqlValue::Integer(id));
    c.prepare_cached(&format!(
        "UPDATE {} SET {set} WHERE id = ? RETURNING {}",
        t.name, t.cols
    ))?
    .query_row(params_from_iter(args), t.read)
    .optional()
    .map_err(corrupt(kind.as_str()))?
    .ok_or_else(|| SqliteError::NotFound(format!("{kind} {id}")))
}

pub(crate) fn delete_record(c: &Connection, key: &RecordKey) -> Result<bool> {
    let n = match key {
        RecordKey::Id { kind, id } => c
            .prepare_cached(&format!("DELETE FROM {} WHERE id = ?", table(*kind).name))?
            .execute([id])?,
        RecordKey::Preference { scope, key } => {
            let [u, a, s] = scope_params(scope);
            c.prepare_cached(
                "DELETE FROM user_preferences \
                 WHERE scope_user = ? AND scope_agent = ? AND scope_session = ? AND key = ?",
            )?
            .execute(params![u, a, s, key])?
        }
    };
    Ok(n > 0)
}

pub(crate) fn search_patterns(
    c: &Connection,
    text: &str,
    q: &PatternQuery,
) -> Result<Vec<PatternHit>> {
    q.scope.validate()?;
    let Some(fts) = fts_query(text) else {
        return Ok(Vec::new());
    };
    let mut sql = format!(
        "SELECT {PATTERN_COLS}, -bm25(code_patterns_fts) FROM code_patterns_fts \
         JOIN code_patterns p ON p.id = code_patterns_fts.rowid WHERE code_patterns_fts MATCH ?"
    );
    let mut args = vec![SqlValue::Text(fts)];
    scope_filter(&q.scope, "p.", &mut sql, &mut args);
    pattern_filter(q, "p.", &mut sql, &mut args);
    sql.push_str(" ORDER BY bm25(code_patterns_fts) LIMIT ?");
    args.push(SqlValue::Integer(lim(q.limit)));
    c.prepare_cached(&sql)?
        .query_map(params_from_iter(args), |r| {
            Ok(PatternHit {
                pattern: pattern_row(r)?,
                score: r.get(13)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(corrupt("pattern"))
}

/// Inserts a record exactly as exported. The id or a unique key already taken is a
/// conflict (checked first, so the message names the record).
pub(crate) fn restore(c: &Connection, r: Record) -> Result<Record> {
    r.validate()?;
    let id = r.id();
    if get_record(c, &RecordKey::id(r.record_kind(), id))?.is_some() {
        return Err(SqliteError::Conflict(format!(
            "{} {id} already exists (restore into an empty brain)",
            r.kind()
        )));
    }
    match insert(c, &r, true) {
        Err(SqliteError::Sqlite(rusqlite::Error::SqliteFailure(f, _)))
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(SqliteError::Conflict(format!(
                "{} {id} has the same key as a stored one",
                r.kind()
            )))
        }
        other => other,
    }
}
