//! `cargo xtask layers`: the workspace's internal dependency graph checked against the
//! table in `docs/architecture.md` (the fenced block tagged `layers`).
//!
//! Table lines are `crate: a, b` (what the crate's `[dependencies]` and
//! `[build-dependencies]` may name among workspace crates) and `crate (dev): c, d` (what
//! its `[dev-dependencies]` may name besides those); `#` starts a comment. Every workspace
//! crate needs a line and every name must be a workspace crate, so the table cannot drift
//! from the workspace unnoticed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::{cargo_metadata, workspace_root};

/// The document holding the table, relative to the workspace root.
const DOC: &str = "docs/architecture.md";
/// The info string of the fenced block holding the table.
const FENCE_TAG: &str = "layers";

/// What one crate may depend on, by workspace crate name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Allowed {
    /// Normal and build dependencies.
    deps: BTreeSet<String>,
    /// Dev-dependencies, on top of `deps`.
    dev: BTreeSet<String>,
}

/// The allowed table, by crate.
pub(crate) type Table = BTreeMap<String, Allowed>;

/// The workspace's internal edges, by crate: what it depends on, as `Allowed` names them.
pub(crate) type Graph = BTreeMap<String, Allowed>;

/// Parses the table out of the `layers` block of `doc` (Markdown).
pub(crate) fn parse_doc(doc: &str) -> Result<Table> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<(usize, &str)>> = None;
    for (i, line) in doc.lines().enumerate() {
        let trimmed = line.trim();
        match &mut current {
            None => {
                if trimmed
                    .strip_prefix("```")
                    .is_some_and(|info| info.trim() == FENCE_TAG)
                {
                    current = Some(Vec::new());
                }
            }
            Some(lines) => {
                if trimmed == "```" {
                    blocks.extend(current.take());
                } else {
                    lines.push((i + 1, line));
                }
            }
        }
    }
    if current.is_some() {
        bail!("the ```{FENCE_TAG} block is not closed");
    }
    match blocks.len() {
        0 => bail!("no ```{FENCE_TAG} block"),
        1 => {}
        n => bail!("{n} ```{FENCE_TAG} blocks; there must be one"),
    }
    parse_table(blocks.iter().flatten().copied())
}

/// Parses table lines given with their line numbers (for messages).
fn parse_table<'a>(lines: impl IntoIterator<Item = (usize, &'a str)>) -> Result<Table> {
    let mut table = Table::new();
    let mut dev_lines: Vec<(usize, String, BTreeSet<String>)> = Vec::new();
    for (n, raw) in lines {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (head, rest) = line.split_once(':').with_context(|| {
            format!("line {n}: `{line}` is not `crate: deps` or `crate (dev): deps`")
        })?;
        let head = head.trim();
        let (name, dev) = match head.strip_suffix("(dev)") {
            Some(name) => (name.trim(), true),
            None => (head, false),
        };
        check_name(name).with_context(|| format!("line {n}"))?;
        let mut names = BTreeSet::new();
        for dep in rest.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            check_name(dep).with_context(|| format!("line {n}"))?;
            if !names.insert(dep.to_owned()) {
                bail!("line {n}: `{dep}` is listed twice");
            }
        }
        if dev {
            if dev_lines.iter().any(|(_, c, _)| c == name) {
                bail!("line {n}: a second `{name} (dev)` line");
            }
            dev_lines.push((n, name.to_owned(), names));
        } else {
            if table.contains_key(name) {
                bail!("line {n}: a second `{name}` line");
            }
            table.insert(
                name.to_owned(),
                Allowed {
                    deps: names,
                    dev: BTreeSet::new(),
                },
            );
        }
    }
    for (n, name, names) in dev_lines {
        let allowed = table
            .get_mut(&name)
            .with_context(|| format!("line {n}: `{name} (dev)` without a `{name}:` line"))?;
        allowed.dev = names;
    }
    Ok(table)
}

/// A crate name as cargo allows it (letters, digits, `-`, `_`).
fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("`{name}` is not a crate name");
    }
    Ok(())
}

/// The internal edges of the workspace from `cargo metadata --no-deps` output: a
/// dependency counts when it names a workspace package and comes from a path (a registry
/// crate may share a member's name).
pub(crate) fn graph_from_metadata(meta: &Value) -> Result<Graph> {
    let packages = meta["packages"]
        .as_array()
        .context("`cargo metadata` has no packages")?;
    let mut names = BTreeSet::new();
    for p in packages {
        names.insert(
            p["name"]
                .as_str()
                .context("a package without a name in `cargo metadata`")?
                .to_owned(),
        );
    }
    let mut graph = Graph::new();
    for p in packages {
        let name = p["name"].as_str().unwrap_or_default().to_owned();
        let mut edges = Allowed::default();
        for dep in p["dependencies"].as_array().into_iter().flatten() {
            let Some(dep_name) = dep["name"].as_str() else {
                continue;
            };
            if !names.contains(dep_name) || !dep["source"].is_null() {
                continue;
            }
            match dep["kind"].as_str() {
                Some("dev") => edges.dev.insert(dep_name.to_owned()),
                // Normal (null) and build dependencies both reach the built crate.
                _ => edges.deps.insert(dep_name.to_owned()),
            };
        }
        graph.insert(name, edges);
    }
    Ok(graph)
}

/// What the comparison found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Report {
    /// Each way the graph breaks the table; the check fails unless empty.
    pub(crate) violations: Vec<String>,
    /// Allowed edges no crate uses (the table may be looser than the graph): notes only.
    pub(crate) unused: Vec<String>,
}

/// Compares the graph with the table.
pub(crate) fn compare(table: &Table, graph: &Graph) -> Report {
    let mut report = Report::default();
    let v = &mut report.violations;
    for name in graph.keys().filter(|n| !table.contains_key(*n)) {
        v.push(format!(
            "workspace crate `{name}` has no line in the table (add `{name}: <deps>`)"
        ));
    }
    for (name, allowed) in table {
        if !graph.contains_key(name) {
            v.push(format!(
                "the table has a line for `{name}`, which is not a workspace crate"
            ));
        }
        for dep in allowed.deps.iter().chain(&allowed.dev) {
            if !graph.contains_key(dep) {
                v.push(format!(
                    "the table allows `{name}` to depend on `{dep}`, which is not a workspace crate"
                ));
            }
        }
    }
    for (name, edges) in graph {
        let Some(allowed) = table.get(name) else {
            continue;
        };
        for dep in edges.deps.difference(&allowed.deps) {
            v.push(format!(
                "`{name}` depends on `{dep}`, which the table does not allow (allowed: {})",
                list(&allowed.deps)
            ));
        }
        let dev_allowed: BTreeSet<String> = allowed.deps.union(&allowed.dev).cloned().collect();
        for dep in edges.dev.difference(&dev_allowed) {
            v.push(format!(
                "`{name}` dev-depends on `{dep}`, which the table does not allow (allowed: {})",
                list(&dev_allowed)
            ));
        }
        for dep in allowed.deps.difference(&edges.deps) {
            // A dependency allowed but used only by the tests is still used.
            if !edges.dev.contains(dep) {
                report
                    .unused
                    .push(format!("`{name}` may depend on `{dep}` but does not"));
            }
        }
        for dep in allowed.dev.difference(&edges.dev) {
            report
                .unused
                .push(format!("`{name}` may dev-depend on `{dep}` but does not"));
        }
    }
    report
}

fn list(names: &BTreeSet<String>) -> String {
    if names.is_empty() {
        return "no workspace crate".to_owned();
    }
    names
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs the check on this workspace; an error listing every violation.
pub(crate) fn check() -> Result<()> {
    let path = workspace_root().join(DOC);
    let doc =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let table = parse_doc(&doc).with_context(|| format!("the layers table in {DOC}"))?;
    let graph = graph_from_metadata(&cargo_metadata()?)?;
    let report = compare(&table, &graph);
    for note in &report.unused {
        eprintln!("xtask: layers: note: {note}");
    }
    if !report.violations.is_empty() {
        let mut msg = format!(
            "{} layering violation(s) against the table in {DOC}:",
            report.violations.len()
        );
        for violation in &report.violations {
            let _ = write!(msg, "\n  - {violation}");
        }
        bail!("{msg}");
    }
    let edges: usize = graph.values().map(|e| e.deps.len() + e.dev.len()).sum();
    eprintln!(
        "xtask: layers ok: {} crates, {edges} internal dependency edges match {DOC}",
        graph.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    fn allowed(deps: &[&str], dev: &[&str]) -> Allowed {
        Allowed {
            deps: set(deps),
            dev: set(dev),
        }
    }

    const DOC_TEXT: &str = "# Title\n\n```text\ncore: not a table\n```\n\n\
        ```layers\n\
        # the core\n\
        core:\n\
        store: core   # a sibling\n\
        app: core, store\n\
        store (dev): app\n\
        ```\n";

    fn sample_table() -> Table {
        Table::from([
            ("core".to_owned(), allowed(&[], &[])),
            ("store".to_owned(), allowed(&["core"], &["app"])),
            ("app".to_owned(), allowed(&["core", "store"], &[])),
        ])
    }

    #[test]
    fn parses_the_layers_block_only() -> Result<()> {
        assert_eq!(parse_doc(DOC_TEXT)?, sample_table());
        Ok(())
    }

    #[test]
    fn rejects_malformed_tables() {
        let bad = |body: &str| parse_doc(&format!("```layers\n{body}\n```\n")).is_err();
        assert!(bad("core"), "no colon");
        assert!(bad("core:\ncore:"), "a crate twice");
        assert!(bad("a: core, core"), "a dependency twice");
        assert!(bad("a (dev): core"), "dev line without a main line");
        assert!(bad("a:\na (dev): b\na (dev): c"), "two dev lines");
        assert!(bad("a b: core"), "not a crate name");
        assert!(parse_doc("no table here").is_err());
        assert!(parse_doc("```layers\na:\n").is_err(), "unclosed block");
        assert!(parse_doc("```layers\na:\n```\n```layers\nb:\n```\n").is_err());
    }

    #[test]
    fn reads_internal_edges_from_metadata() -> Result<()> {
        let meta = json!({"packages": [
            {"name": "core", "dependencies": [
                {"name": "serde", "source": "registry+https://github.com/rust-lang/crates.io-index", "kind": null}
            ]},
            {"name": "store", "dependencies": [
                {"name": "core", "source": null, "kind": null},
                {"name": "app", "source": null, "kind": "dev"}
            ]},
            {"name": "app", "dependencies": [
                {"name": "core", "source": null, "kind": "build"},
                {"name": "store", "source": null, "kind": null, "optional": true},
                // A registry crate that shares a member's name is not internal.
                {"name": "store", "source": "registry+https://github.com/rust-lang/crates.io-index", "kind": "dev"}
            ]}
        ]});
        let graph = graph_from_metadata(&meta)?;
        assert_eq!(graph, sample_table());
        Ok(())
    }

    #[test]
    fn a_matching_graph_passes() {
        assert_eq!(compare(&sample_table(), &sample_table()), Report::default());
    }

    #[test]
    fn reports_each_violation() {
        let mut graph = sample_table();
        // A sibling depending on the app, a dev edge not listed, a crate not in the table.
        graph.insert("core".to_owned(), allowed(&["store"], &["app"]));
        graph.insert("new".to_owned(), allowed(&["core"], &[]));
        let mut table = sample_table();
        table.insert("gone".to_owned(), allowed(&["ghost"], &[]));
        let report = compare(&table, &graph);
        assert_eq!(
            report.violations,
            vec![
                "workspace crate `new` has no line in the table (add `new: <deps>`)",
                "the table has a line for `gone`, which is not a workspace crate",
                "the table allows `gone` to depend on `ghost`, which is not a workspace crate",
                "`core` depends on `store`, which the table does not allow (allowed: no workspace crate)",
                "`core` dev-depends on `app`, which the table does not allow (allowed: no workspace crate)",
            ]
        );
    }

    #[test]
    fn dev_dependencies_may_use_the_normal_allowance() {
        let table = Table::from([
            ("core".to_owned(), allowed(&[], &[])),
            ("store".to_owned(), allowed(&["core"], &[])),
        ]);
        // store's tests use core (with test features, say): allowed by its normal line.
        let graph = Table::from([
            ("core".to_owned(), allowed(&[], &[])),
            ("store".to_owned(), allowed(&[], &["core"])),
        ]);
        assert_eq!(compare(&table, &graph), Report::default());
    }

    #[test]
    fn notes_unused_allowances() {
        let mut graph = sample_table();
        graph.insert("app".to_owned(), allowed(&["core"], &[]));
        graph.insert("store".to_owned(), allowed(&["core"], &[]));
        let report = compare(&sample_table(), &graph);
        assert!(report.violations.is_empty());
        assert_eq!(
            report.unused,
            vec![
                "`app` may depend on `store` but does not",
                "`store` may dev-depend on `app` but does not",
            ]
        );
    }
}
