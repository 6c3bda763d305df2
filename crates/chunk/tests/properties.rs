//! Property tests: on arbitrary text, generated markdown and generated code, chunking never
//! panics, covers every non-whitespace character exactly once, keeps chunks in order and
//! within `max_chars`, and reports consistent lines and context.

mod common;

use chunk::{ChunkOptions, chunk};
use common::check_invariants;
use proptest::prelude::*;

const PATHS: &[&str] = &[
    "doc.md",
    "lib.rs",
    "app.py",
    "app.js",
    "app.ts",
    "app.tsx",
    "main.go",
    "x.c",
    "x.cpp",
    "X.java",
    "Cargo.toml",
    "conf.yaml",
    "data.json",
    "notes.txt",
    "",
];

fn options() -> impl Strategy<Value = ChunkOptions> {
    (1usize..400).prop_flat_map(|max| {
        (Just(max), 0..=max, 0..=(max.saturating_sub(1) / 2)).prop_map(
            |(max_chars, min_chars, overlap_chars)| ChunkOptions {
                max_chars,
                min_chars,
                overlap_chars,
            },
        )
    })
}

/// Options without overlap, where exact once-coverage is checked.
fn options_no_overlap() -> impl Strategy<Value = ChunkOptions> {
    options().prop_map(|o| ChunkOptions {
        overlap_chars: 0,
        ..o
    })
}

/// Text rich in the characters that structure documents and code, plus anything at all.
fn structured_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ \\n\\r\\t#=`~{}()\\[\\]<>:;,'\"/*!@\\\\a-z0-9é中😀-]{0,600}",
    ]
}

fn markdown_line() -> impl Strategy<Value = String> {
    prop_oneof![
        "#{1,7} ?[A-Za-zé ]{0,20}",
        Just("===".to_owned()),
        Just("---".to_owned()),
        Just("```".to_owned()),
        Just("```rust".to_owned()),
        Just("~~~".to_owned()),
        Just("# inside a fence?".to_owned()),
        Just(String::new()),
        Just("    indented code".to_owned()),
        "[A-Za-z ,.é中]{0,120}",
        "- [a-z ]{0,30}",
        "> #? [a-z ]{0,30}",
        Just("<div>".to_owned()),
        Just("| a | b |\n|---|---|\n| 1 | 2 |".to_owned()),
        "[a-z]{200,400}",
    ]
}

fn markdown() -> impl Strategy<Value = String> {
    (prop::collection::vec(markdown_line(), 0..60), any::<bool>())
        .prop_map(|(lines, crlf)| lines.join(if crlf { "\r\n" } else { "\n" }))
}

fn code_token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "fn f() {",
        "pub fn g(x: u8) -> u8 {",
        "}",
        "{",
        "impl A {",
        "impl<T> B for C<T> {",
        "struct S;",
        "enum E { A, B }",
        "trait T {",
        "mod m {",
        "\"str { \"",
        "r#\"raw } \"#",
        "'c'",
        "'{'",
        "'a",
        "// comment {",
        "/* block {",
        "*/",
        "#[derive(Debug)]",
        "/// doc",
        "//! inner",
        "\n",
        "\n\n",
        "    ",
        "let x = 1;",
        "class A:",
        "class B(A):",
        "def f(self):",
        "@decorator",
        "    return 1",
        "\"\"\"doc\"\"\"",
        "function h() {",
        "export class K {",
        "const k = () => {",
        "func main() {",
        "int main(void) {",
        "public class J {",
        "namespace n {",
        "template <typename T>",
        "x",
        "é中😀",
        ")",
        "(",
    ])
}

fn code() -> impl Strategy<Value = String> {
    prop::collection::vec(code_token(), 0..200).prop_map(|tokens| tokens.join(" "))
}

proptest! {
    #[test]
    fn arbitrary_text_in_any_language(
        text in structured_text(),
        path in prop::sample::select(PATHS),
        options in options(),
    ) {
        let chunks = chunk(path, &text, &options).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_invariants(&text, &chunks, &options);
    }

    #[test]
    fn arbitrary_text_covered_once(
        text in structured_text(),
        path in prop::sample::select(PATHS),
        options in options_no_overlap(),
    ) {
        let chunks = chunk(path, &text, &options).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_invariants(&text, &chunks, &options);
    }

    #[test]
    fn generated_markdown(text in markdown(), options in options()) {
        let chunks = chunk("docs/guide.md", &text, &options).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_invariants(&text, &chunks, &options);
        for c in &chunks {
            prop_assert!(c.heading_path.len() <= 6, "markdown nests at most 6 headings");
        }
    }

    #[test]
    fn generated_markdown_covered_once(text in markdown(), options in options_no_overlap()) {
        let chunks = chunk("docs/guide.md", &text, &options).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_invariants(&text, &chunks, &options);
    }

    #[test]
    fn generated_code(
        text in code(),
        path in prop::sample::select(&["lib.rs", "app.py", "app.ts", "x.cpp", "X.java", "main.go"][..]),
        options in options(),
    ) {
        let chunks = chunk(path, &text, &options).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_invariants(&text, &chunks, &options);
    }

    #[test]
    fn generated_code_covered_once(
        text in code(),
        path in prop::sample::select(&["lib.rs", "app.py", "app.js", "x.c", "X.java", "main.go"][..]),
        options in options_no_overlap(),
    ) {
        let chunks = chunk(path, &text, &options).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_invariants(&text, &chunks, &options);
    }

    /// Same input, same chunks.
    #[test]
    fn deterministic(text in markdown(), options in options()) {
        let a = chunk("a.md", &text, &options).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let b = chunk("a.md", &text, &options).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(a, b);
    }
}
