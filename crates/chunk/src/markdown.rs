//! Markdown: one unit per heading, with the heading path of its ancestors.
//!
//! pulldown-cmark finds the top-level blocks, so headings inside code fences, HTML blocks
//! or front matter are not headings, and setext headings are. Only top-level headings split
//! (a heading inside a block quote or list item belongs to that block). Block starts are the
//! preferred cut positions of a section that is too long, so a fence is only ever cut when it
//! alone is longer than `max_chars`.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::ChunkKind;
use crate::split::{MAX_LABEL_CHARS, Unit, clean_label};

struct Heading {
    start: usize,
    level: u8,
    title: String,
}

pub(crate) fn units(text: &str) -> Unit {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_FOOTNOTES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TASKLISTS);
    options.insert(Options::ENABLE_YAML_STYLE_METADATA_BLOCKS);
    options.insert(Options::ENABLE_PLUSES_DELIMITED_METADATA_BLOCKS);

    let mut block_starts: Vec<usize> = Vec::new();
    let mut fences: Vec<usize> = Vec::new();
    let mut headings: Vec<Heading> = Vec::new();
    let mut depth = 0usize;
    let mut current: Option<Heading> = None;
    for (event, range) in Parser::new_ext(text, options).into_offset_iter() {
        match event {
            Event::Start(tag) => {
                if depth == 0 {
                    block_starts.push(range.start);
                    if matches!(tag, Tag::CodeBlock(_) | Tag::Table(_) | Tag::HtmlBlock) {
                        fences.push(range.start);
                    }
                    if let Tag::Heading { level, .. } = tag {
                        current = Some(Heading {
                            start: range.start,
                            level: level_number(level),
                            title: String::new(),
                        });
                    }
                }
                depth += 1;
            }
            Event::End(tag) => {
                depth = depth.saturating_sub(1);
                if depth == 0
                    && matches!(tag, TagEnd::Heading(_))
                    && let Some(heading) = current.take()
                {
                    headings.push(heading);
                }
            }
            Event::Text(t) | Event::Code(t) | Event::InlineHtml(t) | Event::Html(t) => {
                if depth == 0 {
                    block_starts.push(range.start);
                }
                if let Some(heading) = current.as_mut() {
                    heading.title.push_str(&t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(heading) = current.as_mut() {
                    heading.title.push(' ');
                }
            }
            _ => {
                if depth == 0 {
                    block_starts.push(range.start);
                }
            }
        }
    }
    block_starts.retain(|&b| b <= text.len() && text.is_char_boundary(b));
    block_starts.sort_unstable();
    block_starts.dedup();

    let mut root = Unit::leaf(0..text.len(), Vec::new(), ChunkKind::Section);
    root.split_always = true;
    fences.sort_unstable();

    let mut stack: Vec<(u8, String)> = Vec::new();
    let mut sections: Vec<Unit> = Vec::new();
    for heading in headings {
        if !text.is_char_boundary(heading.start)
            || sections
                .last()
                .is_some_and(|s| s.range.start >= heading.start)
        {
            continue;
        }
        if let Some(last) = sections.last_mut() {
            last.range.end = heading.start;
        }
        while stack
            .last()
            .is_some_and(|(level, _)| *level >= heading.level)
        {
            stack.pop();
        }
        let mut title = clean_label(&heading.title, MAX_LABEL_CHARS);
        if title.is_empty() {
            title = "(untitled)".to_owned();
        }
        stack.push((heading.level, title));
        let path = stack.iter().map(|(_, t)| t.clone()).collect();
        let mut section = Unit::leaf(heading.start..text.len(), path, ChunkKind::Section);
        section.split_always = true;
        sections.push(section);
    }
    for section in &mut sections {
        section.breaks = within(&block_starts, &section.range);
        section.atomic = within(&fences, &section.range);
    }
    let preamble = 0..sections.first().map_or(text.len(), |s| s.range.start);
    root.breaks = within(&block_starts, &preamble);
    root.atomic = within(&fences, &preamble);
    root.children = sections;
    root
}

/// The sorted positions in `sorted` that lie inside `range`.
fn within(sorted: &[usize], range: &std::ops::Range<usize>) -> Vec<usize> {
    let from = sorted.partition_point(|&p| p < range.start);
    let to = sorted.partition_point(|&p| p < range.end);
    sorted
        .get(from..to)
        .map(<[usize]>::to_vec)
        .unwrap_or_default()
}

fn level_number(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}
