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
    read: fn(&Row) -> Result<Record>,
    /// The order of a list.
    order: &'static str,
}

const PREFERENCES: Table = Table {
    name: "user_preferences",
    cols: "id, scope_user, scope_agent, scope_session, key, value, category, created_at, \
           updated_at",
    read: |row| {
        const W: &str = "preference";
        Ok(Record::Preference(Preference {
            id: get(row, 0, W)?,
            scope: scope_from(row, 1, W)?,
            key: get(row, 4, W)?,
            value: from_json(W, get(row, 5, W)?)?,
            category: get(row, 6, W)?,
            created_at: ts(get(row, 7, W)?),
            updated_at: ts(get(row, 8, W)?),
        }))
    },
    order: "key, scope_user, scope_agent, scope_session",
};

const PROJECTS: Table = Table {
    name: "projects",
    cols: "id, scope_user, scope_agent, scope_session, name, path, description, tech_stack, \
           status, created_at, last_accessed",
    read: |row| {
        const W: &str = "project";
        Ok(Record::Project(Project {
            id: get(row, 0, W)?,
            scope: scope_from(row, 1, W)?,
            name: get(row, 4, W)?,
            path: get(row, 5, W)?,
            description: get(row, 6, W)?,
            tech_stack: from_json(W, get(row, 7, W)?)?,
            status: get(row, 8, W)?,
            created_at: ts(get(row, 9, W)?),
            last_accessed: get::<Option<i64>>(row, 10, W)?.map(ts),
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
        const W: &str = "learning event";
        Ok(Record::LearningEvent(LearningEvent {
            id: get(row, 0, W)?,
            scope: scope_from(row, 1, W)?,
            event_type: get(row, 4, W)?,
            task_description: get(row, 5, W)?,
            outcome: get(row, 6, W)?,
            reward: Reward::new(get(row, 7, W)?).map_err(corrupt(W))?,
            metadata: from_json(W, get(row, 8, W)?)?,
            created_at: ts(get(row, 9, W)?),
        }))
    },
    order: "created_at DESC, id DESC",
};

const CONVERSATIONS: Table = Table {
    name: "conversations",
    cols: "id, scope_user, scope_agent, scope_session, summary, key_decisions, user_feedback, \
           created_at",
    read: |row| {
        const W: &str = "conversation";
        Ok(Record::Conversation(ConversationSummary {
            id: get(row, 0, W)?,
            scope: scope_from(row, 1, W)?,
            summary: get(row, 4, W)?,
            key_decisions: from_json(W, get(row, 5, W)?)?,
            user_feedback: get(row, 6, W)?,
            created_at: ts(get(row, 7, W)?),
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
        const W: &str = "decision";
        Ok(Record::Decision(AgentDecision {
            id: get(row, 0, W)?,
            scope: scope_from(row, 1, W)?,
            agent_type: get(row, 4, W)?,
            context: get(row, 5, W)?,
            options: from_json(W, get(row, 6, W)?)?,
            chosen_option: get(row, 7, W)?,
            reasoning: get(row, 8, W)?,
            outcome: get(row, 9, W)?,
            reward: get::<Option<f64>>(row, 10, W)?
                .map(Reward::new)
                .transpose()
                .map_err(corrupt(W))?,
            created_at: ts(get(row, 11, W)?),
            outcome_at: get::<Option<i64>>(row, 12, W)?.map(ts),
            metadata: from_json(W, get(row, 13, W)?)?,
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

/// Pattern columns qualified by `p.`, for the keyword search.
const PATTERN_COLS: &str = "p.id, p.scope_user, p.scope_agent, p.scope_session, p.pattern_type, \
     p.context, p.solution, p.language, p.success_count, p.failure_count, p.created_at, \
     p.updated_at, p.metadata";

fn pattern_row(row: &Row) -> Result<CodePattern> {
    const W: &str = "pattern";
    Ok(CodePattern {
        id: get(row, 0, W)?,
        scope: scope_from(row, 1, W)?,
        pattern_type: get(row, 4, W)?,
        context: get(row, 5, W)?,
        solution: get(row, 6, W)?,
        language: get(row, 7, W)?,
        success_count: count(get(row, 8, W)?),
        failure_count: count(get(row, 9, W)?),
        created_at: ts(get(row, 10, W)?),
        updated_at: ts(get(row, 11, W)?),
        metadata: from_json(W, get(row, 12, W)?)?,
    })
}

/// Binds every column of `r` after `id`, in its table's `cols` order; returns the
/// placeholders.
fn values(r: &Record, args: &mut Args) -> Vec<String> {
    let [u, a, s] = scope_params(r.scope());
    let mut p = vec![args.push(u), args.push(a), args.push(s)];
    let time = |t: Timestamp| t.as_millis();
    match r {
        Record::Preference(x) => p.extend([
            args.push(x.key.clone()),
            args.push(to_json(&x.value)),
            args.push(x.category.clone()),
            args.push(time(x.created_at)),
            args.push(time(x.updated_at)),
        ]),
        Record::Project(x) => p.extend([
            args.push(x.name.clone()),
            args.push(x.path.clone()),
            args.push(x.description.clone()),
            args.push(to_json(&x.tech_stack)),
            args.push(x.status.clone()),
            args.push(time(x.created_at)),
            args.push(x.last_accessed.map(time)),
        ]),
        Record::Pattern(x) => p.extend([
            args.push(x.pattern_type.clone()),
            args.push(x.context.clone()),
            args.push(x.solution.clone()),
            args.push(x.language.clone()),
            args.push(big(x.success_count)),
            args.push(big(x.failure_count)),
            args.push(time(x.created_at)),
            args.push(time(x.updated_at)),
            args.push(x.metadata.to_json_string()),
        ]),
        Record::LearningEvent(x) => p.extend([
            args.push(x.event_type.clone()),
            args.push(x.task_description.clone()),
            args.push(x.outcome.clone()),
            args.push(x.reward.get()),
            args.push(x.metadata.to_json_string()),
            args.push(time(x.created_at)),
        ]),
        Record::Conversation(x) => p.extend([
            args.push(x.summary.clone()),
            args.push(to_json(&x.key_decisions)),
            args.push(x.user_feedback.clone()),
            args.push(time(x.created_at)),
        ]),
        Record::Decision(x) => p.extend([
            args.push(x.agent_type.clone()),
            args.push(x.context.clone()),
            args.push(to_json(&x.options)),
            args.push(x.chosen_option.clone()),
            args.push(x.reasoning.clone()),
            args.push(x.outcome.clone()),
            args.push(x.reward.map(Reward::get)),
            args.push(time(x.created_at)),
            args.push(x.outcome_at.map(time)),
            args.push(x.metadata.to_json_string()),
        ]),
    }
    p
}

/// Inserts `r` whole; with `keep_id` its id too (a restore), otherwise the table assigns
/// one. Returns the row as stored.
async fn insert<C: GenericClient>(c: &C, r: &Record, keep_id: bool) -> Result<Record> {
    let t = table(r.record_kind());
    let mut args = Args::default();
    let id = keep_id.then(|| args.push(r.id()));
    let marks = id
        .into_iter()
        .chain(values(r, &mut args))
        .collect::<Vec<_>>();
    let cols = if keep_id {
        t.cols
    } else {
        t.cols.trim_start_matches("id, ")
    };
    let sql = format!(
        "INSERT INTO {} ({cols}) VALUES ({}) RETURNING {}",
        t.name,
        marks.join(", "),
        t.cols
    );
    let rows = shaped_rows(c, &sql, &args).await?;
    (t.read)(rows.first().ok_or_else(|| PostgresError::Corrupt {
        what: "record",
        message: "an INSERT returned no row".into(),
    })?)
}

pub(crate) async fn put_record<C: GenericClient>(
    c: &C,
    new: NewRecord,
    now: Timestamp,
) -> Result<RecordWrite> {
    new.validate()?;
    match new {
        NewRecord::Preference(p) => store_preference(c, p, now).await,
        NewRecord::Pattern(p) => store_pattern(c, p, now).await,
        other => Ok(RecordWrite {
            record: insert(c, &other.into_record(now), false).await?,
            inserted: true,
        }),
    }
}

/// The preference upsert: a `None` category keeps the stored one, and `updated_at` never
/// moves back. `xmax = 0` tells a fresh row from an updated one.
async fn store_preference<C: GenericClient>(
    c: &C,
    p: NewPreference,
    now: Timestamp,
) -> Result<RecordWrite> {
    let [u, a, s] = scope_params(&p.scope);
    let row = one_row(
        c,
        &format!(
            "INSERT INTO user_preferences AS up (scope_user, scope_agent, scope_session, key, \
             value, category, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, COALESCE($6::text, '{DEFAULT_CATEGORY}'), $7, $7) \
             ON CONFLICT (scope_user, scope_agent, scope_session, key) DO UPDATE SET \
             value = excluded.value, category = COALESCE($6::text, up.category), \
             updated_at = GREATEST($7, up.updated_at) RETURNING {}, (up.xmax = 0)",
            PREFERENCES.cols
        ),
        &[
            &u,
            &a,
            &s,
            &p.key,
            &to_json(&p.value),
            &p.category,
            &now.as_millis(),
        ],
    )
    .await?;
    Ok(RecordWrite {
        record: (PREFERENCES.read)(&row)?,
        inserted: get(&row, 9, "preference")?,
    })
}

/// The seed's pattern semantics: the same (scope, type, context) counts one more success.
/// One upsert, so concurrent stores of the same pattern never collide.
async fn store_pattern<C: GenericClient>(
    c: &C,
    p: NewPattern,
    now: Timestamp,
) -> Result<RecordWrite> {
    let [u, a, s] = scope_params(&p.scope);
    let row = one_row(
        c,
        &format!(
            "INSERT INTO code_patterns AS p (scope_user, scope_agent, scope_session, \
             pattern_type, context, solution, language, created_at, updated_at, metadata) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) \
             ON CONFLICT (scope_user, scope_agent, scope_session, pattern_type, context) \
             DO UPDATE SET success_count = p.success_count + 1, \
             updated_at = GREATEST($8, p.updated_at) \
             RETURNING {PATTERN_COLS}, (p.xmax = 0) AS inserted"
        ),
        &[
            &u,
            &a,
            &s,
            &p.pattern_type,
            &p.context,
            &p.solution,
            &p.language,
            &now.as_millis(),
            &p.metadata.to_json_string(),
        ],
    )
    .await?;
    Ok(RecordWrite {
        record: Record::Pattern(pattern_row(&row)?),
        inserted: get(&row, 13, "pattern")?,
    })
}

pub(crate) async fn get_record<C: GenericClient>(c: &C, key: &RecordKey) -> Result<Option<Record>> {
    match key {
        RecordKey::Id { kind, id } => {
            let t = table(*kind);
            let sql = format!("SELECT {} FROM {} WHERE id = $1", t.cols, t.name);
            opt_row(c, &sql, &[id])
                .await?
                .as_ref()
                .map(t.read)
                .transpose()
        }
        RecordKey::Preference { scope, key } => {
            let [u, a, s] = scope_params(scope);
            let sql = format!(
                "SELECT {} FROM user_preferences \
                 WHERE scope_user = $1 AND scope_agent = $2 AND scope_session = $3 AND key = $4",
                PREFERENCES.cols
            );
            opt_row(c, &sql, &[&u, &a, &s, key])
                .await?
                .as_ref()
                .map(PREFERENCES.read)
                .transpose()
        }
    }
}

/// One query for all of `ids`.
pub(crate) async fn get_records<C: GenericClient>(
    c: &C,
    kind: RecordKind,
    ids: &[RecordId],
) -> Result<Vec<Record>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let t = table(kind);
    let wanted: Vec<RecordId> = ids.to_vec();
    let sql = format!("SELECT {} FROM {} WHERE id = ANY($1)", t.cols, t.name);
    let found = rows(c, &sql, &[&wanted])
        .await?
        .iter()
        .map(t.read)
        .collect::<Result<Vec<_>>>()?;
    Ok(order_by_ids(ids, found))
}

fn pattern_filter(q: &PatternQuery, prefix: &str, sql: &mut String, args: &mut Args) {
    if let Some(t) = &q.pattern_type {
        let p = args.push(t.clone());
        sql.push_str(&format!(" AND {prefix}pattern_type = {p}"));
    }
    if let Some(l) = &q.language {
        let p = args.push(l.clone());
        sql.push_str(&format!(" AND {prefix}language = {p}"));
    }
}

pub(crate) async fn list_records<C: GenericClient>(c: &C, q: &RecordQuery) -> Result<Vec<Record>> {
    q.scope().validate()?;
    let t = table(q.kind());
    let mut sql = format!("SELECT {} FROM {} WHERE TRUE", t.cols, t.name);
    let mut args = Args::default();
    scope_filter(q.scope(), "", &mut sql, &mut args);
    let mut eq = |col: &str, v: &Option<String>, sql: &mut String| {
        if let Some(v) = v {
            let p = args.push(v.clone());
            sql.push_str(&format!(" AND {col} = {p}"));
        }
    };
    match q {
        RecordQuery::Preferences { category, .. } => eq("category", category, &mut sql),
        RecordQuery::Projects { status, .. } => eq("status", status, &mut sql),
        RecordQuery::LearningEvents(e) => {
            eq("event_type", &e.event_type, &mut sql);
            if let Some(since) = e.since {
                let p = args.push(since.as_millis());
                sql.push_str(&format!(" AND created_at >= {p}"));
            }
        }
        RecordQuery::Decisions(d) => {
            eq("agent_type", &d.agent_type, &mut sql);
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
        let l = args.push(lim(limit));
        sql.push_str(&format!(" LIMIT {l}"));
    }
    dyn_rows(c, &sql, &args).await?.iter().map(t.read).collect()
}

pub(crate) async fn change_record<C: GenericClient>(
    c: &C,
    id: RecordId,
    change: &RecordChange,
    now: Timestamp,
) -> Result<Record> {
    change.validate()?;
    let mut args = Args::default();
    let now = now.as_millis();
    let set = match change {
        RecordChange::TouchProject => format!(
            "last_accessed = GREATEST({}, COALESCE(last_accessed, 0))",
            args.push(now)
        ),
        RecordChange::ProjectStatus { status } => format!("status = {}", args.push(status.clone())),
        RecordChange::PatternOutcome { outcome } => {
            let column = match outcome {
                PatternOutcome::Success => "success_count",
                PatternOutcome::Failure => "failure_count",
            };
            format!(
                "{column} = {column} + 1, updated_at = GREATEST({}, updated_at)",
                args.push(now)
            )
        }
        RecordChange::PatchPattern { patch } => format!(
            "context = COALESCE({}, context), solution = COALESCE({}, solution), \
             success_count = COALESCE({}, success_count), metadata = COALESCE({}, metadata), \
             updated_at = GREATEST({}, updated_at)",
            args.push(patch.context.clone()),
            args.push(patch.solution.clone()),
            args.push(patch.success_count.map(big)),
            args.push(patch.metadata.as_ref().map(Metadata::to_json_string)),
            args.push(now)
        ),
        RecordChange::DecisionOutcome { outcome, reward } => format!(
            "outcome = {}, reward = {}, outcome_at = {}",
            args.push(outcome.clone()),
            args.push(reward.get()),
            args.push(now)
        ),
    };
    let kind = change.kind();
    let t = table(kind);
    let p = args.push(id);
    let sql = format!(
        "UPDATE {} SET {set} WHERE id = {p} RETURNING {}",
        t.name, t.cols
    );
    shaped_rows(c, &sql, &args)
        .await?
        .first()
        .map(t.read)
        .transpose()?
        .ok_or_else(|| PostgresError::NotFound(format!("{kind} {id}")))
}

pub(crate) async fn delete_record<C: GenericClient>(c: &C, key: &RecordKey) -> Result<bool> {
    let n = match key {
        RecordKey::Id { kind, id } => {
            let sql = format!("DELETE FROM {} WHERE id = $1", table(*kind).name);
            exec(c, &sql, &[id]).await?
        }
        RecordKey::Preference { scope, key } => {
            let [u, a, s] = scope_params(scope);
            exec(
                c,
                "DELETE FROM user_preferences \
                 WHERE scope_user = $1 AND scope_agent = $2 AND scope_session = $3 AND key = $4",
                &[&u, &a, &s, key],
            )
            .await?
        }
    };
    Ok(n > 0)
}

pub(crate) async fn search_patterns<C: GenericClient>(
    c: &C,
    text: &str,
    q: &PatternQuery,
) -> Result<Vec<PatternHit>> {
    q.scope.validate()?;
    let Some(tsq) = ts_query(text) else {
        return Ok(Vec::new());
    };
    let mut args = Args::default();
    let p = args.push(tsq);
    let mut sql = format!(
        "SELECT {PATTERN_COLS}, ts_rank_cd(p.tsv, q, {RANK_NORMALIZATION})::float8 AS score \
         FROM code_patterns p, to_tsquery('brain_english', {p}) q WHERE p.tsv @@ q"
    );
    scope_filter(&q.scope, "p.", &mut sql, &mut args);
    pattern_filter(q, "p.", &mut sql, &mut args);
    let l = args.push(lim(q.limit));
    sql.push_str(&format!(" ORDER BY score DESC, p.id LIMIT {l}"));
    dyn_rows(c, &sql, &args)
        .await?
        .iter()
        .map(|r| {
            Ok(PatternHit {
                pattern: pattern_row(r)?,
                score: get(r, 13, "pattern")?,
            })
        })
        .collect()
}

/// Inserts a record exactly as exported. The id or a unique key already taken is a
/// conflict (the id is checked first, so the message names the record). The table's id
/// sequence is moved past the restored id so later inserts do not collide with it.
pub(crate) async fn restore<C: GenericClient>(c: &C, r: Record) -> Result<Record> {
    r.validate()?;
    let id = r.id();
    let t = table(r.record_kind());
    if get_record(c, &RecordKey::id(r.record_kind(), id))
        .await?
        .is_some()
    {
        return Err(PostgresError::Conflict(format!(
            "{} {id} already exists (restore into an empty brain)",
            r.kind()
        )));
    }
    let stored = insert(c, &r, true).await.map_err(|e| match e {
        PostgresError::Conflict(_) => PostgresError::Conflict(format!(
            "{} {id} has the same key as a stored one",
            r.kind()
        )),
        other => other,
    })?;
    let sql = format!(
        "SELECT setval(pg_get_serial_sequence('{0}', 'id'), \
         GREATEST((SELECT max(id) FROM {0}), 1))",
        t.name
    );
    rows(c, &sql, &[]).await?;
    Ok(stored)
}
