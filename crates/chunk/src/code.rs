//! Source code: one unit per top-level item, found with a tree-sitter grammar.
//!
//! An item (function, type, impl/class block, module, statement) starts at its leading
//! comments, doc comments, attributes and decorators, and runs to the start of the next
//! item, so the units partition the file. Container items (impl and trait blocks, classes,
//! interfaces, modules and namespaces) hold their members as children, which the splitter
//! uses only when the container is too long to be one chunk. Syntax errors are fine:
//! tree-sitter recovers, and an `ERROR` node is just an item without a name.

use tree_sitter::{Node, Parser};

use crate::split::{MAX_LABEL_CHARS, Unit, clean_label};
use crate::{ChunkKind, Language};

/// Containers nested deeper than this are not split into their members.
const MAX_DEPTH: usize = 6;

/// The unit tree of `text`, or `None` if the grammar could not be loaded or the parse did
/// not finish (the caller then splits the text as plain text).
pub(crate) fn units(language: Language, text: &str) -> Option<Unit> {
    let grammar = language.grammar()?;
    let mut parser = Parser::new();
    parser.set_language(&grammar).ok()?;
    let tree = parser.parse(text, None)?;
    let root_node = tree.root_node();
    let scanner = Scanner { language, text };
    let items = scanner.items(root_node);
    let mut root = Unit::leaf(0..text.len(), Vec::new(), ChunkKind::Module);
    root.split_always = true;
    root.children = scanner.build(&items, 0..text.len(), &[], 0);
    Some(root)
}

/// What an item is, read from its syntax node.
struct Item<'t> {
    /// Where the item's unit starts: its first leading comment or attribute.
    start: usize,
    kind: ChunkKind,
    label: Option<String>,
    symbol: Option<String>,
    /// The node whose named children are the members, for containers.
    body: Option<Node<'t>>,
}

struct Scanner<'a> {
    language: Language,
    text: &'a str,
}

impl<'a> Scanner<'a> {
    fn node_text(&self, node: Node<'_>) -> &'a str {
        self.text
            .get(node.start_byte()..node.end_byte())
            .unwrap_or("")
    }

    /// The items among `container`'s named children, each with its leading comments.
    fn items<'t>(&self, container: Node<'t>) -> Vec<Item<'t>> {
        let mut items: Vec<Item<'t>> = Vec::new();
        let mut pending: Option<usize> = None;
        let mut previous_end_row: Option<usize> = None;
        let mut cursor = container.walk();
        for child in container.named_children(&mut cursor) {
            let trailing = previous_end_row == Some(child.start_position().row);
            if self.is_leading(child) && !(trailing && is_comment(child)) {
                pending.get_or_insert(child.start_byte());
            } else if trailing && is_comment(child) {
                // `x = 1; // note` stays with the item on its line.
            } else {
                let start = pending.take().unwrap_or(child.start_byte());
                items.push(self.classify(child, start));
            }
            previous_end_row = Some(child.end_position().row);
        }
        if let Some(start) = pending
            && items.is_empty()
        {
            items.push(Item {
                start,
                kind: ChunkKind::Other,
                label: None,
                symbol: None,
                body: None,
            });
        }
        items
    }

    /// Comments and attributes that belong to the next item. Rust inner docs and inner
    /// attributes describe the enclosing module, so they stand alone.
    fn is_leading(&self, node: Node<'_>) -> bool {
        let kind = node.kind();
        if kind == "attribute_item" || kind == "decorator" {
            return true;
        }
        if !is_comment(node) {
            return false;
        }
        let text = self.node_text(node);
        !(self.language == Language::Rust && (text.starts_with("//!") || text.starts_with("/*!")))
    }

    /// Units for `items` inside `range` (items' starts, clamped to be increasing).
    fn build(
        &self,
        items: &[Item<'_>],
        range: std::ops::Range<usize>,
        parent: &[String],
        depth: usize,
    ) -> Vec<Unit> {
        let mut starts: Vec<(usize, &Item<'_>)> = Vec::new();
        for item in items {
            let start = line_start_if_indented(self.text, floor_boundary(self.text, item.start));
            if start < range.start || start >= range.end {
                continue;
            }
            if starts.last().is_some_and(|(s, _)| *s >= start) {
                continue;
            }
            starts.push((start, item));
        }
        let mut units = Vec::with_capacity(starts.len());
        for (i, &(start, item)) in starts.iter().enumerate() {
            let end = starts.get(i + 1).map_or(range.end, |(s, _)| *s);
            let mut path = parent.to_vec();
            if let Some(label) = &item.label {
                path.push(label.clone());
            }
            let mut unit = Unit::leaf(start..end, path, item.kind);
            unit.symbol = item.symbol.clone();
            if let Some(body) = item.body
                && depth < MAX_DEPTH
            {
                let members = self.items(body);
                unit.children = self.build(&members, start..end, &unit.path, depth + 1);
                // The container's head is `start..first member`, so a member may not start
                // where the container does.
                if unit
                    .children
                    .first()
                    .is_some_and(|c| c.range.start <= start)
                {
                    unit.children.clear();
                }
            }
            units.push(unit);
        }
        units
    }

    fn classify<'t>(&self, node: Node<'t>, start: usize) -> Item<'t> {
        // Wrappers whose meaning is the declaration inside them.
        let inner = match node.kind() {
            "decorated_definition" => node.child_by_field_name("definition"),
            "export_statement" => node.child_by_field_name("declaration"),
            "template_declaration" => last_named_child(node),
            "expression_statement" | "ambient_declaration" => {
                first_named_child(node).filter(|n| n.kind().ends_with("module"))
            }
            _ => None,
        };
        let decl = inner.unwrap_or(node);
        let Some((kind, keyword, body_field)) = self.describe(decl) else {
            // Imports, statements, expressions: no name worth a path element.
            return Item {
                start,
                kind: ChunkKind::Other,
                label: None,
                symbol: None,
                body: None,
            };
        };
        let name = self.name_of(decl);
        let label = match (kind, name.as_deref()) {
            (_, _) if decl.kind() == "impl_item" => Some(self.impl_header(decl)),
            (ChunkKind::Function, Some(name)) if keyword.is_empty() => Some(format!("{name}()")),
            (_, Some(name)) if !keyword.is_empty() => Some(format!("{keyword} {name}")),
            (_, Some(name)) => Some(name.to_owned()),
            (_, None) => None,
        }
        .map(|l| clean_label(&l, MAX_LABEL_CHARS));
        let symbol = if decl.kind() == "impl_item" {
            decl.child_by_field_name("type")
                .map(|t| base_name(self.node_text(t)))
        } else {
            name
        };
        let body = body_field.and_then(|f| decl.child_by_field_name(f));
        Item {
            start,
            kind,
            label,
            symbol,
            body,
        }
    }

    /// Kind, label keyword and the field holding members, for the node kinds that declare
    /// something; `None` for the rest.
    fn describe(&self, node: Node<'_>) -> Option<(ChunkKind, &'static str, Option<&'static str>)> {
        use ChunkKind::{Function, Module, Other, Type};
        let kind = node.kind();
        let described = match self.language {
            Language::Rust => match kind {
                "function_item" | "function_signature_item" => (Function, "fn", None),
                "struct_item" => (Type, "struct", None),
                "enum_item" => (Type, "enum", None),
                "union_item" => (Type, "union", None),
                "type_item" => (Type, "type", None),
                "trait_item" => (Type, "trait", Some("body")),
                "impl_item" => (Type, "impl", Some("body")),
                "mod_item" => (Module, "mod", Some("body")),
                "foreign_mod_item" => (Module, "extern", Some("body")),
                "const_item" => (Other, "const", None),
                "static_item" => (Other, "static", None),
                "macro_definition" => (Function, "macro_rules!", None),
                "line_comment" | "block_comment" | "inner_attribute_item" => (Module, "", None),
                "use_declaration" | "extern_crate_declaration" => return None,
                _ => return None,
            },
            Language::Python => match kind {
                "function_definition" => (Function, "def", None),
                "class_definition" => (Type, "class", Some("body")),
                _ => return None,
            },
            Language::JavaScript | Language::TypeScript | Language::Tsx => match kind {
                "function_declaration" | "generator_function_declaration" => {
                    (Function, "function", None)
                }
                "function_signature" => (Function, "function", None),
                "method_definition" | "method_signature" | "abstract_method_signature" => {
                    (Function, "", None)
                }
                "class_declaration" | "abstract_class_declaration" | "class" => {
                    (Type, "class", Some("body"))
                }
                "interface_declaration" => (Type, "interface", Some("body")),
                "type_alias_declaration" => (Type, "type", None),
                "enum_declaration" => (Type, "enum", None),
                "internal_module" | "module" => (Module, "namespace", Some("body")),
                "lexical_declaration" | "variable_declaration" => {
                    if self.declares_function(node) {
                        (Function, "const", None)
                    } else {
                        (Other, "const", None)
                    }
                }
                _ => return None,
            },
            Language::Go => match kind {
                "function_declaration" | "method_declaration" => (Function, "func", None),
                "type_declaration" => (Type, "type", None),
                "const_declaration" => (Other, "const", None),
                "var_declaration" => (Other, "var", None),
                "package_clause" => (Module, "package", None),
                _ => return None,
            },
            Language::C | Language::Cpp => match kind {
                "function_definition" => (Function, "", None),
                "struct_specifier" => (Type, "struct", Some("body")),
                "union_specifier" => (Type, "union", None),
                "enum_specifier" => (Type, "enum", None),
                "class_specifier" => (Type, "class", Some("body")),
                "type_definition" | "alias_declaration" => (Type, "typedef", None),
                "namespace_definition" => (Module, "namespace", Some("body")),
                "linkage_specification" => (Module, "extern", Some("body")),
                _ => return None,
            },
            Language::Java => match kind {
                "method_declaration" | "constructor_declaration" => (Function, "", None),
                "class_declaration" => (Type, "class", Some("body")),
                "interface_declaration" => (Type, "interface", Some("body")),
                "enum_declaration" => (Type, "enum", Some("body")),
                "record_declaration" => (Type, "record", Some("body")),
                "annotation_type_declaration" => (Type, "@interface", Some("body")),
                "package_declaration" => (Module, "package", None),
                _ => return None,
            },
            Language::Markdown
            | Language::Toml
            | Language::Yaml
            | Language::Json
            | Language::Text => return None,
        };
        Some(described)
    }

    /// `const f = () => …` and `let f = function …`.
    fn declares_function(&self, node: Node<'_>) -> bool {
        let mut cursor = node.walk();
        node.named_children(&mut cursor).any(|d| {
            d.child_by_field_name("value").is_some_and(|v| {
                matches!(
                    v.kind(),
                    "arrow_function" | "function_expression" | "function" | "generator_function"
                )
            })
        })
    }

    /// The declared name: the `name` field, or the first declarator's or spec's name, or
    /// the innermost identifier of a C declarator chain.
    fn name_of(&self, node: Node<'_>) -> Option<String> {
        if let Some(name) = node.child_by_field_name("name") {
            return Some(clean_label(self.node_text(name), MAX_LABEL_CHARS))
                .filter(|n| !n.is_empty());
        }
        match node.kind() {
            "package_clause" | "package_declaration" => node
                .named_child(0)
                .map(|n| clean_label(self.node_text(n), MAX_LABEL_CHARS)),
            // Go `type X struct`, JS `const x = …`: the first spec or declarator.
            "type_declaration"
            | "lexical_declaration"
            | "variable_declaration"
            | "const_declaration"
            | "var_declaration" => {
                let mut cursor = node.walk();
                let first = node
                    .named_children(&mut cursor)
                    .find(|c| c.child_by_field_name("name").is_some());
                first.and_then(|c| self.name_of(c))
            }
            _ => {
                // C and C++: follow `declarator` fields down to the identifier.
                let mut current = node.child_by_field_name("declarator")?;
                for _ in 0..16 {
                    match current.child_by_field_name("declarator") {
                        Some(next) if !is_name_node(current) => current = next,
                        _ => break,
                    }
                }
                is_name_node(current)
                    .then(|| clean_label(self.node_text(current), MAX_LABEL_CHARS))
                    .filter(|n| !n.is_empty())
            }
        }
    }

    /// `impl<T> Display for Foo<T>`: the text before the body, on one line.
    fn impl_header(&self, node: Node<'_>) -> String {
        let end = node
            .child_by_field_name("body")
            .map_or(node.end_byte(), |b| b.start_byte());
        let header = self.text.get(node.start_byte()..end).unwrap_or("impl");
        clean_label(header, MAX_LABEL_CHARS)
    }
}

fn is_comment(node: Node<'_>) -> bool {
    node.kind().contains("comment")
}

fn is_name_node(node: Node<'_>) -> bool {
    matches!(
        node.kind(),
        "identifier"
            | "field_identifier"
            | "type_identifier"
            | "qualified_identifier"
            | "destructor_name"
            | "operator_name"
    )
}

fn first_named_child(node: Node<'_>) -> Option<Node<'_>> {
    node.named_child(0)
}

fn last_named_child(node: Node<'_>) -> Option<Node<'_>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).last()
}

/// `Foo<T>` → `Foo`, `fmt::Display` stays; whitespace collapsed.
fn base_name(text: &str) -> String {
    let base = text.split('<').next().unwrap_or(text);
    clean_label(base, MAX_LABEL_CHARS)
}

/// The start of `i`'s line if only whitespace comes before `i` on it, else `i`: an
/// indented method's unit takes its indentation.
fn line_start_if_indented(text: &str, i: usize) -> usize {
    let line_start = text[..i].rfind('\n').map_or(0, |n| n + 1);
    if text[line_start..i].trim().is_empty() {
        line_start
    } else {
        i
    }
}

/// The greatest char boundary at or before `i` (clamped to the text).
pub(crate) fn floor_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}
