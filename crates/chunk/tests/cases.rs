//! Real cases: markdown with nested headings and fences, Rust with docs, attributes, impl
//! blocks and strings holding braces, Python with decorators and classes, the other
//! languages, options, and this repository's own files.

// Helpers here are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;

use chunk::{Chunk, ChunkError, ChunkKind, ChunkOptions, Language, chunk, chunk_as, content_hash};
use common::check_invariants;

fn opts(max_chars: usize, min_chars: usize) -> ChunkOptions {
    ChunkOptions {
        max_chars,
        min_chars,
        overlap_chars: 0,
    }
}

/// Chunks `text` and checks the invariants on the way.
fn split(path: &str, text: &str, options: &ChunkOptions) -> Vec<Chunk> {
    let chunks = chunk(path, text, options).unwrap();
    check_invariants(text, &chunks, options);
    chunks
}

fn paths(chunks: &[Chunk]) -> Vec<Vec<String>> {
    chunks.iter().map(|c| c.heading_path.clone()).collect()
}

fn find<'a>(chunks: &'a [Chunk], needle: &str) -> &'a Chunk {
    chunks
        .iter()
        .find(|c| c.body().contains(needle))
        .unwrap_or_else(|| panic!("no chunk holds {needle:?}"))
}

const GUIDE: &str = "\
Intro before any heading.

# Guide

Read this first.

## Install

### Linux

```sh
# not a heading
## nor this
cargo build
```

Usage
-----

Run it.

> # quoted, not split
";

#[test]
fn markdown_nested_headings_and_fences() {
    let chunks = split("docs/guide.md", GUIDE, &opts(1500, 0));
    assert_eq!(
        paths(&chunks),
        vec![
            vec![],
            vec!["Guide".to_owned()],
            vec!["Guide".to_owned(), "Install".to_owned()],
            vec!["Guide".to_owned(), "Install".to_owned(), "Linux".to_owned()],
            vec!["Guide".to_owned(), "Usage".to_owned()],
        ]
    );
    assert!(chunks.iter().all(|c| c.kind == ChunkKind::Section));
    let linux = &chunks[3];
    assert!(
        linux
            .body()
            .contains("# not a heading\n## nor this\ncargo build\n```")
    );
    assert_eq!(
        linux.text,
        format!(
            "docs/guide.md > Guide > Install > Linux\n\n{}",
            linux.body()
        )
    );
    assert_eq!((linux.start_line, linux.end_line), (9, 15));
    // A setext heading, and a heading inside a block quote stays in its section.
    assert!(chunks[4].body().starts_with("Usage\n-----"));
    assert!(chunks[4].body().ends_with("> # quoted, not split"));
    assert_eq!(chunks[0].text, "docs/guide.md\n\nIntro before any heading.");
}

#[test]
fn markdown_tiny_sections_merge_with_next_sibling() {
    let doc =
        "## A\n\nshort\n\n## B\n\nalso short\n\n## C\n\n".to_owned() + &"long text ".repeat(30);
    let chunks = split("x.md", &doc, &opts(1500, 100));
    // A and B are tiny: they merge forward into C; the path is what they share (nothing).
    assert_eq!(chunks.len(), 1);
    assert!(chunks[0].heading_path.is_empty());
    // A heading alone merges with its first subsection and keeps the longer path.
    let doc = "# Top\n\n## Sub\n\n".to_owned() + &"words ".repeat(40);
    let chunks = split("x.md", &doc, &opts(1500, 100));
    assert_eq!(
        paths(&chunks),
        vec![vec!["Top".to_owned(), "Sub".to_owned()]]
    );
}

#[test]
fn long_markdown_section_cuts_between_blocks_not_inside_fences() {
    let mut doc = String::from("# Big\n\n");
    for i in 0..12 {
        doc.push_str(&format!(
            "Paragraph {i} says something fairly ordinary here.\n\n"
        ));
        if i % 4 == 1 {
            doc.push_str("```rust\nfn main() {\n\n    println!(\"hi\");\n\n}\n```\n\n");
        }
    }
    let options = opts(200, 50);
    let chunks = split("big.md", &doc, &options);
    assert!(chunks.len() > 3);
    for c in &chunks {
        assert_eq!(c.heading_path, ["Big"]);
        // Fences stay whole: each chunk has both fence lines or none.
        assert_eq!(
            c.body().matches("```").count() % 2,
            0,
            "fence cut: {:?}",
            c.body()
        );
        // Cuts are between blocks: no chunk starts mid-paragraph.
        assert!(
            c.body().starts_with('#')
                || c.body().starts_with("Paragraph")
                || c.body().starts_with("```"),
            "{:?}",
            c.body()
        );
    }
}

#[test]
fn fence_longer_than_max_is_cut_at_lines() {
    let mut doc = String::from("# Code\n\n```\n");
    for i in 0..50 {
        doc.push_str(&format!("let line_{i} = {i};\n"));
    }
    doc.push_str("```\n");
    let chunks = split("c.md", &doc, &opts(120, 0));
    assert!(chunks.len() > 5);
    for c in &chunks[1..] {
        assert!(c.body().starts_with("let line_") || c.body().starts_with("```"));
    }
}

#[test]
fn markdown_crlf_setext_and_front_matter() {
    let doc = "---\r\ntitle: not a heading\r\n---\r\n\r\nTitle\r\n=====\r\n\r\ntext\r\n\r\nSub\r\n---\r\n\r\nmore\r\n";
    let chunks = split("a.md", doc, &opts(1500, 0));
    assert_eq!(
        paths(&chunks),
        vec![
            vec![],
            vec!["Title".to_owned()],
            vec!["Title".to_owned(), "Sub".to_owned()]
        ]
    );
    assert_eq!((chunks[1].start_line, chunks[1].end_line), (5, 8));
    assert!(chunks[0].body().contains("title: not a heading"));
}

const WIDGET_RS: &str = r##"//! Crate docs.
//! More docs.

use std::fmt;

/// A widget with a name.
///
/// Has braces in docs: `{`.
#[derive(Debug, Clone)]
pub struct Widget {
    name: String,
}

impl Widget {
    /// Makes one.
    pub fn new(name: &str) -> Self {
        let braces = "}}}{{{";
        let raw = r#"a "quoted" } brace"#;
        let c = '}';
        Widget { name: format!("{name}{braces}{raw}{c}") }
    }

    /// The name, with a lifetime.
    pub fn name<'a>(&'a self) -> &'a str {
        /* a block comment with } */
        &self.name
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.name.len()
    }
}

impl<T: fmt::Debug> fmt::Display for Wrapper<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds() {
        assert_eq!(Widget::new("a").len(), 8);
    }
}
"##;

#[test]
fn rust_items_with_docs_attributes_and_impl_methods() {
    let chunks = split("src/widget.rs", WIDGET_RS, &opts(300, 40));
    let summary: Vec<(Vec<String>, ChunkKind, Option<String>)> = chunks
        .iter()
        .map(|c| (c.heading_path.clone(), c.kind, c.symbol.clone()))
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        summary,
        vec![
            (vec![], ChunkKind::Module, None),
            (
                s(&["struct Widget"]),
                ChunkKind::Type,
                Some("Widget".to_owned())
            ),
            (
                s(&["impl Widget", "fn new"]),
                ChunkKind::Function,
                Some("new".to_owned())
            ),
            (
                s(&["impl Widget", "fn name"]),
                ChunkKind::Function,
                Some("name".to_owned())
            ),
            (
                s(&["impl Widget", "fn len"]),
                ChunkKind::Function,
                Some("len".to_owned())
            ),
            (
                s(&["impl<T: fmt::Debug> fmt::Display for Wrapper<T>"]),
                ChunkKind::Type,
                Some("Wrapper".to_owned())
            ),
            (
                s(&["mod tests"]),
                ChunkKind::Module,
                Some("tests".to_owned())
            ),
        ]
    );
    // Doc comments and attributes travel with their item.
    assert!(chunks[1].body().starts_with("/// A widget with a name."));
    assert!(chunks[1].body().contains("#[derive(Debug, Clone)]"));
    // The impl head joins the first method; braces in strings and chars do not confuse.
    assert!(
        chunks[2]
            .body()
            .starts_with("impl Widget {\n    /// Makes one.")
    );
    assert!(
        chunks[2]
            .body()
            .ends_with("Widget { name: format!(\"{name}{braces}{raw}{c}\") }\n    }")
    );
    assert!(chunks[4].body().starts_with("    #[inline]"));
    assert!(chunks[4].body().ends_with("}\n}"));
    assert_eq!(
        chunks[2].text.lines().next(),
        Some("src/widget.rs > impl Widget > fn new")
    );
}

#[test]
fn rust_block_that_fits_stays_whole() {
    let chunks = split("src/widget.rs", WIDGET_RS, &opts(1500, 0));
    let widget = find(&chunks, "impl Widget {");
    assert!(widget.body().starts_with("impl Widget {"));
    assert!(widget.body().contains("pub fn len"));
    assert_eq!(widget.heading_path, ["impl Widget"]);
    assert_eq!(widget.symbol.as_deref(), Some("Widget"));
    assert_eq!((widget.start_line, widget.end_line), (14, 33));
}

const VERSION_PY: &str = r#""""Module docstring."""

import functools


@functools.total_ordering
class Version:
    """A version number."""

    def __init__(self, major, minor):
        self.major = major
        self.minor = minor

    @property
    def text(self):
        return f"{self.major}.{self.minor}"

    def __lt__(self, other):
        return (self.major, self.minor) < (other.major, other.minor)


# A helper.
def parse(text):
    major, minor = text.split(".")
    return Version(int(major), int(minor))
"#;

#[test]
fn python_decorators_classes_and_methods() {
    let chunks = split("pkg/version.py", VERSION_PY, &opts(200, 0));
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        paths(&chunks),
        vec![
            s(&[]), // the module docstring
            s(&[]), // the import
            s(&["class Version"]),
            s(&["class Version"]), // the class docstring
            s(&["class Version", "def __init__"]),
            s(&["class Version", "def text"]),
            s(&["class Version", "def __lt__"]),
            s(&["def parse"]),
        ]
    );
    assert!(
        chunks[2]
            .body()
            .starts_with("@functools.total_ordering\nclass Version:")
    );
    assert!(
        chunks[5]
            .body()
            .starts_with("    @property\n    def text(self):")
    );
    assert_eq!(chunks[5].symbol.as_deref(), Some("text"));
    assert_eq!(chunks[5].kind, ChunkKind::Function);
    assert!(chunks[7].body().starts_with("# A helper.\ndef parse"));
    // Whole class when it fits.
    let chunks = split("pkg/version.py", VERSION_PY, &opts(1500, 0));
    let class = find(&chunks, "class Version");
    assert_eq!(class.heading_path, ["class Version"]);
    assert!(class.body().starts_with("@functools"));
    assert!(class.body().contains("def __lt__"));
}

#[test]
fn other_languages_name_their_items() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "a.js",
            "import x from 'y';\n\nexport function alpha() { return `${'}'}`; }\n\nclass Beta {\n  run() { return /}/; }\n}\n\nconst gamma = () => 1;\n",
            &["alpha", "Beta", "gamma"],
        ),
        (
            "a.ts",
            "export interface Alpha { a: number }\n\nexport default class Beta { m(): void {} }\n\ntype Gamma = string;\n\nnamespace Delta { export const z = 1; }\n",
            &["Alpha", "Beta", "Gamma", "Delta"],
        ),
        (
            "main.go",
            "package main\n\n// Alpha does.\ntype Alpha struct { x int }\n\nfunc (a *Alpha) Beta() {}\n\nfunc gamma() {}\n",
            &["main", "Alpha", "Beta", "gamma"],
        ),
        (
            "x.c",
            "#include <stdio.h>\n\n/* docs */\nstruct alpha { int x; };\n\nstatic int *beta(int a) { return 0; }\n\nint gamma(void) { return '}'; }\n",
            &["alpha", "beta", "gamma"],
        ),
        (
            "x.cpp",
            "namespace alpha {\nclass Beta { public: void run() const {} };\n}\n\ntemplate <typename T> T gamma(T x) { return x; }\n\nint Delta::go() { return 1; }\n",
            &["alpha", "gamma", "Delta::go"],
        ),
        (
            "A.java",
            "package a;\n\n/** Docs. */\n@Deprecated\npublic class Alpha { void beta() {} }\n\ninterface Gamma {}\n",
            &["a", "Alpha", "Gamma"],
        ),
    ];
    for (path, source, expected) in cases {
        let chunks = split(path, source, &opts(1500, 0));
        let symbols: Vec<&str> = chunks.iter().filter_map(|c| c.symbol.as_deref()).collect();
        assert_eq!(&symbols, expected, "{path}: {chunks:#?}");
    }
}

#[test]
fn broken_code_still_chunks() {
    let broken =
        "fn a() {\n    let s = \"unterminated;\n}\n}\n}\nimpl {{{ \nfn b() { r#\"x\n\nclass :\n";
    for path in ["a.rs", "a.py", "a.js", "a.c", "a.go", "a.java"] {
        let chunks = split(path, broken, &opts(30, 5));
        assert!(!chunks.is_empty());
    }
}

#[test]
fn plain_text_splits_at_paragraphs_then_lines() {
    let text = "first paragraph line one\nline two\n\nsecond paragraph\n\nthird\n";
    let chunks = split("notes.txt", text, &opts(40, 0));
    let bodies: Vec<&str> = chunks.iter().map(Chunk::body).collect();
    assert_eq!(
        bodies,
        [
            "first paragraph line one\nline two",
            "second paragraph\n\nthird"
        ]
    );
    assert!(chunks.iter().all(|c| c.kind == ChunkKind::Other));
    let chunks = split("Cargo.toml", "[package]\nname = \"x\"\n", &opts(100, 0));
    assert_eq!(chunks.len(), 1);
}

#[test]
fn empty_and_blank_inputs_give_no_chunks() {
    for text in ["", " ", "\n\n\r\n\t", "\u{3000}\u{a0}"] {
        for path in ["a.md", "a.rs", "a.py", "a.txt"] {
            assert!(split(path, text, &ChunkOptions::default()).is_empty());
        }
    }
}

#[test]
fn giant_non_ascii_line_is_cut_at_char_boundaries() {
    let text = "é😀中x".repeat(5_000);
    for path in ["a.md", "a.rs", "a.txt"] {
        let chunks = split(path, &text, &opts(100, 10));
        assert_eq!(chunks.len(), 200);
        assert!(chunks.iter().all(|c| c.body().chars().count() == 100));
    }
}

#[test]
fn overlap_repeats_the_end_of_the_previous_piece() {
    let text = (0..60)
        .map(|i| format!("word{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let options = ChunkOptions {
        max_chars: 100,
        min_chars: 0,
        overlap_chars: 20,
    };
    let chunks = split("a.txt", &text, &options);
    assert!(chunks.len() > 3);
    for pair in chunks.windows(2) {
        let (a, b) = (&pair[0].byte_range, &pair[1].byte_range);
        assert!(b.start < a.end, "no overlap: {a:?} {b:?}");
        assert!(a.end - b.start <= 20);
        assert!(
            pair[1].body().starts_with("word"),
            "starts mid-word: {:?}",
            pair[1].body()
        );
    }
}

#[test]
fn options_are_validated() {
    let bad = [
        (opts(0, 0), "max_chars"),
        (opts(10, 11), "min_chars"),
        (
            ChunkOptions {
                max_chars: 10,
                min_chars: 0,
                overlap_chars: 5,
            },
            "overlap_chars",
        ),
    ];
    for (options, field) in bad {
        let err = chunk("a.md", "# x", &options).unwrap_err();
        assert!(matches!(err, ChunkError::InvalidOptions(_)));
        assert!(err.to_string().contains(field), "{err}");
    }
    assert!(ChunkOptions::default().validate().is_ok());
    assert!(ChunkOptions::with_max_chars(1).validate().is_ok());
}

#[test]
fn languages_from_paths() {
    let cases = [
        ("README.md", Language::Markdown),
        ("a/b.MARKDOWN", Language::Markdown),
        ("src\\lib.rs", Language::Rust),
        ("x.pyi", Language::Python),
        ("x.mjs", Language::JavaScript),
        ("x.ts", Language::TypeScript),
        ("x.tsx", Language::Tsx),
        ("x.go", Language::Go),
        ("x.h", Language::C),
        ("x.hpp", Language::Cpp),
        ("X.java", Language::Java),
        ("Cargo.toml", Language::Toml),
        ("ci.yml", Language::Yaml),
        ("x.json", Language::Json),
        (".gitignore", Language::Text),
        ("Makefile", Language::Text),
        ("dir.md/file", Language::Text),
    ];
    for (path, language) in cases {
        assert_eq!(Language::from_path(path), language, "{path}");
    }
    assert!(Language::Rust.is_code() && !Language::Markdown.is_code());
    // The language can be forced.
    let chunks = chunk_as(Language::Markdown, "notes", "# A\n\nb\n", &opts(100, 0)).unwrap();
    assert_eq!(chunks[0].heading_path, ["A"]);
}

#[test]
fn content_hash_is_sha256_hex() {
    assert_eq!(
        content_hash(""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_ne!(content_hash("a"), content_hash("a\n"));
}

fn crate_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// This crate's own sources: always there, in the repository or a packaged copy.
#[test]
fn this_crates_sources() {
    let text = std::fs::read_to_string(crate_root().join("src/markdown.rs")).unwrap();
    let chunks = split(
        "crates/chunk/src/markdown.rs",
        &text,
        &ChunkOptions::default(),
    );
    let within = find(&chunks, "fn within(");
    assert_eq!(within.symbol.as_deref(), Some("within"));
    assert_eq!(within.kind, ChunkKind::Function);
    assert_eq!(within.heading_path, ["fn within"]);
    assert!(
        within
            .text
            .starts_with("crates/chunk/src/markdown.rs > fn within\n\n")
    );
    let text = std::fs::read_to_string(crate_root().join("src/lib.rs")).unwrap();
    let chunks = split("crates/chunk/src/lib.rs", &text, &ChunkOptions::default());
    let chunk_type = find(&chunks, "pub struct Chunk {");
    assert_eq!(chunk_type.symbol.as_deref(), Some("Chunk"));
    assert_eq!(chunk_type.kind, ChunkKind::Type);
}

#[test]
fn this_crates_readme() {
    let text = std::fs::read_to_string(crate_root().join("README.md")).unwrap();
    let chunks = split("crates/chunk/README.md", &text, &ChunkOptions::default());
    let guarantees = find(&chunks, "## Guarantees");
    assert_eq!(guarantees.heading_path, ["chunk", "Guarantees"]);
    assert!(guarantees.body().starts_with("## Guarantees"));
    assert!(
        chunks
            .iter()
            .any(|c| c.heading_path == ["chunk", "Why tree-sitter"]),
        "{:#?}",
        paths(&chunks)
    );
}

/// Every Rust, markdown, Python and TOML file of this crate, and of the whole repository
/// when the crate sits in it, keeps the invariants at the default size and at a small one.
#[test]
fn real_files_keep_the_invariants() {
    let root = crate_root();
    let mut dirs = vec![root.clone()];
    let repo = root.join("../..");
    let in_repository = repo.join("docs/architecture.md").is_file();
    if in_repository {
        dirs = vec![repo.join("crates"), repo.join("docs"), repo.join("xtask")];
    }
    let mut files = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target") {
                    dirs.push(path);
                }
            } else if path
                .extension()
                .is_some_and(|e| e == "rs" || e == "md" || e == "py" || e == "toml")
            {
                files.push(path);
            }
        }
    }
    let least = if in_repository { 100 } else { 8 };
    assert!(files.len() >= least, "found only {} files", files.len());
    let small = opts(200, 30);
    let mut total = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let name = file.to_string_lossy();
        for options in [ChunkOptions::default(), small] {
            let chunks = chunk(&name, &text, &options).unwrap();
            check_invariants(&text, &chunks, &options);
            total += chunks.len();
        }
    }
    assert!(
        total > 10 * files.len(),
        "{total} chunks of {} files",
        files.len()
    );
}

/// Many tiny sections or items with `min_chars == max_chars`: merging stays linear.
#[test]
fn many_tiny_units_merge_in_linear_time() {
    let options = ChunkOptions {
        max_chars: 1500,
        min_chars: 1500,
        overlap_chars: 0,
    };
    let markdown: String = (0..20_000).map(|i| format!("# h{i}\n")).collect();
    let chunks = split("many.md", &markdown, &options);
    assert!(chunks.len() < 200);
    let rust: String = (0..20_000).map(|i| format!("fn f{i}() {{}}\n")).collect();
    let chunks = split("many.rs", &rust, &options);
    assert!(chunks.len() < 300);
}

/// The example in the crate README.
#[test]
fn readme_example() {
    let doc = "# Guide\n\nRead this first.\n\n## Install\n\nRun `cargo build`.\n";
    let options = ChunkOptions {
        max_chars: 1500,
        min_chars: 0,
        overlap_chars: 0,
    };
    let chunks = split("docs/guide.md", doc, &options);
    assert_eq!(chunks[1].heading_path, ["Guide", "Install"]);
    assert_eq!(
        chunks[1].text,
        "docs/guide.md > Guide > Install\n\n## Install\n\nRun `cargo build`."
    );
    assert_eq!(&doc[chunks[1].byte_range.clone()], chunks[1].body());
    assert_eq!(chunks[1].context(), "docs/guide.md > Guide > Install");
    // Without a path the context is the headings alone; without either, just the body.
    let chunks = chunk_as(Language::Markdown, "", doc, &options).unwrap();
    assert!(chunks[1].text.starts_with("Guide > Install\n\n"));
    let chunks = chunk_as(Language::Text, "", "plain", &options).unwrap();
    assert_eq!(chunks[0].text, "plain");
    assert_eq!(chunks[0].context(), "");
}
