//! Which splitter a file gets, from its path.

/// The language of a document, which decides how it is split.
///
/// [`Language::from_path`] detects it from the file extension; anything unknown is
/// [`Language::Text`], which is split at blank lines, then lines, then characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Language {
    /// Markdown (`md`, `markdown`, `mdx`, …): split at headings.
    Markdown,
    /// Rust (`rs`).
    Rust,
    /// Python (`py`, `pyi`).
    Python,
    /// JavaScript (`js`, `mjs`, `cjs`, `jsx`).
    JavaScript,
    /// TypeScript (`ts`, `mts`, `cts`).
    TypeScript,
    /// TypeScript with JSX (`tsx`).
    Tsx,
    /// Go (`go`).
    Go,
    /// C (`c`, `h`).
    C,
    /// C++ (`cc`, `cpp`, `cxx`, `hpp`, `hh`, `hxx`, …).
    Cpp,
    /// Java (`java`).
    Java,
    /// TOML (`toml`): split as text.
    Toml,
    /// YAML (`yaml`, `yml`): split as text.
    Yaml,
    /// JSON (`json`, `jsonc`, `jsonl`): split as text.
    Json,
    /// Anything else: split at blank lines, then lines, then characters.
    Text,
}

impl Language {
    /// Detects the language from the extension of `path` (case-insensitive); unknown or
    /// missing extensions are [`Language::Text`].
    ///
    /// ```
    /// use chunk::Language;
    /// assert_eq!(Language::from_path("docs/Guide.MD"), Language::Markdown);
    /// assert_eq!(Language::from_path("src/lib.rs"), Language::Rust);
    /// assert_eq!(Language::from_path("Makefile"), Language::Text);
    /// ```
    pub fn from_path(path: &str) -> Language {
        let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
        let Some((stem, ext)) = file.rsplit_once('.') else {
            return Language::Text;
        };
        if stem.is_empty() {
            // A dotfile such as `.gitignore` has no extension.
            return Language::Text;
        }
        match ext.to_ascii_lowercase().as_str() {
            "md" | "markdown" | "mdown" | "mkd" | "mkdn" | "mdx" => Language::Markdown,
            "rs" => Language::Rust,
            "py" | "pyi" | "pyw" => Language::Python,
            "js" | "mjs" | "cjs" | "jsx" => Language::JavaScript,
            "ts" | "mts" | "cts" => Language::TypeScript,
            "tsx" => Language::Tsx,
            "go" => Language::Go,
            "c" | "h" => Language::C,
            "cc" | "cpp" | "cxx" | "c++" | "hpp" | "hh" | "hxx" | "h++" | "ipp" | "tpp" => {
                Language::Cpp
            }
            "java" => Language::Java,
            "toml" => Language::Toml,
            "yaml" | "yml" => Language::Yaml,
            "json" | "jsonc" | "jsonl" | "json5" => Language::Json,
            _ => Language::Text,
        }
    }

    /// A short lower-case name, such as `"rust"` or `"markdown"`.
    pub fn name(self) -> &'static str {
        match self {
            Language::Markdown => "markdown",
            Language::Rust => "rust",
            Language::Python => "python",
            Language::JavaScript => "javascript",
            Language::TypeScript => "typescript",
            Language::Tsx => "tsx",
            Language::Go => "go",
            Language::C => "c",
            Language::Cpp => "cpp",
            Language::Java => "java",
            Language::Toml => "toml",
            Language::Yaml => "yaml",
            Language::Json => "json",
            Language::Text => "text",
        }
    }

    /// Whether the language is source code split at items by a tree-sitter grammar.
    pub fn is_code(self) -> bool {
        self.grammar().is_some()
    }

    /// The tree-sitter grammar, for the languages split at items.
    pub(crate) fn grammar(self) -> Option<tree_sitter::Language> {
        let grammar = match self {
            Language::Rust => tree_sitter_rust::LANGUAGE,
            Language::Python => tree_sitter_python::LANGUAGE,
            Language::JavaScript => tree_sitter_javascript::LANGUAGE,
            Language::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT,
            Language::Tsx => tree_sitter_typescript::LANGUAGE_TSX,
            Language::Go => tree_sitter_go::LANGUAGE,
            Language::C => tree_sitter_c::LANGUAGE,
            Language::Cpp => tree_sitter_cpp::LANGUAGE,
            Language::Java => tree_sitter_java::LANGUAGE,
            Language::Markdown
            | Language::Toml
            | Language::Yaml
            | Language::Json
            | Language::Text => return None,
        };
        Some(grammar.into())
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
