//! The language-independent part: a tree of structural units becomes sized, merged,
//! trimmed chunks.
//!
//! A front end (markdown, code, text) describes the document as a [`Unit`] tree whose
//! ranges partition the text. [`chunk_units`] then
//!
//! 1. walks the tree: a unit that fits in `max_chars` (and need not be split) is one piece;
//!    a larger unit with children becomes its head plus its children's pieces; a larger
//!    leaf is cut at its preferred breaks, then blank lines, then lines, then whitespace,
//!    then characters ([`split_range`]);
//! 2. trims each piece to its meaningful text (leading blank lines and trailing whitespace
//!    out; the first line keeps its indentation) and drops blank pieces;
//! 3. merges pieces shorter than `min_chars` into a sibling while the result fits;
//! 4. extends the later pieces of a cut unit backwards by `overlap_chars`;
//! 5. renders each piece as a [`Chunk`].

use std::ops::Range;

use crate::{Chunk, ChunkKind, ChunkOptions};

/// The longest a single heading-path element may be in a chunk's context line.
pub(crate) const MAX_LABEL_CHARS: usize = 100;

/// A structural unit of a document: a markdown section, a code item, a whole file.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    /// Byte range in the document. Children partition `children[0].range.start..range.end`;
    /// the part before the first child is the unit's head (a heading line, `impl Foo {`).
    pub range: Range<usize>,
    /// Heading path of this unit, its own label last.
    pub path: Vec<String>,
    pub kind: ChunkKind,
    pub symbol: Option<String>,
    pub children: Vec<Unit>,
    /// Split into the children even when the whole unit fits (the file root, markdown).
    pub split_always: bool,
    /// Preferred cut positions inside the unit (markdown block starts), sorted.
    pub breaks: Vec<usize>,
    /// Breaks that start blocks not to be cut to fill a small piece (code fences), sorted.
    pub atomic: Vec<usize>,
}

impl Unit {
    pub(crate) fn leaf(range: Range<usize>, path: Vec<String>, kind: ChunkKind) -> Unit {
        Unit {
            range,
            path,
            kind,
            symbol: None,
            children: Vec::new(),
            split_always: false,
            breaks: Vec::new(),
            atomic: Vec::new(),
        }
    }
}

/// What a piece holds: kept in O(depth) space however many units were merged into it.
///
/// A merged piece's heading path is the common prefix of its members' paths, leaving out a
/// member whose path is a proper prefix of the next member's (the head of a section adds
/// nothing that the path of the content right after it does not already say). Its kind and
/// symbol are those of its largest member (the first on ties).
#[derive(Debug, Clone)]
struct Label {
    /// Common prefix of the counted members' paths, all but the last member; `None` if
    /// there is only one member.
    prefix: Option<Vec<String>>,
    /// The last member's path.
    last: Vec<String>,
    kind: ChunkKind,
    symbol: Option<String>,
    /// Chars of the largest member.
    dominant_chars: usize,
}

impl Label {
    fn path(&self) -> Vec<String> {
        lcp(self.prefix.as_deref(), &self.last)
    }

    /// The label of `self` followed by `next`.
    fn join(&self, next: &Label, next_first: &[String]) -> Label {
        let last_is_head = next_first.len() > self.last.len() && next_first.starts_with(&self.last);
        let mut prefix = self.prefix.clone();
        if !last_is_head {
            prefix = Some(lcp(prefix.as_deref(), &self.last));
        }
        if let Some(next_prefix) = &next.prefix {
            prefix = Some(lcp(prefix.as_deref(), next_prefix));
        }
        let (kind, symbol, dominant_chars) = if next.dominant_chars > self.dominant_chars {
            (next.kind, next.symbol.clone(), next.dominant_chars)
        } else {
            (self.kind, self.symbol.clone(), self.dominant_chars)
        };
        Label {
            prefix,
            last: next.last.clone(),
            kind,
            symbol,
            dominant_chars,
        }
    }
}

/// The common prefix of `a` (if any) and `b`.
fn lcp(a: Option<&[String]>, b: &[String]) -> Vec<String> {
    match a {
        None => b.to_vec(),
        Some(a) => b[..common_prefix(a, b)].to_vec(),
    }
}

/// A candidate chunk: a trimmed range and what it is.
#[derive(Debug, Clone)]
struct Piece {
    range: Range<usize>,
    chars: usize,
    label: Label,
    /// The first member's path.
    first: Vec<String>,
    /// A later piece of a cut unit: its start is pulled back by the overlap.
    extend: bool,
    /// The first of several pieces of a cut unit: it holds the unit's start (a heading, a
    /// signature), so it never joins the piece before it.
    first_of_cut: bool,
}

struct Ctx<'a> {
    text: &'a str,
    options: &'a ChunkOptions,
    pieces: Vec<Piece>,
}

/// Turns a unit tree over `text` into chunks. `file_path` starts each context line.
pub(crate) fn chunk_units(
    text: &str,
    file_path: &str,
    root: &Unit,
    options: &ChunkOptions,
) -> Vec<Chunk> {
    let mut ctx = Ctx {
        text,
        options,
        pieces: Vec::new(),
    };
    emit(&mut ctx, root);
    let pieces = merge_small(text, options, ctx.pieces);
    let pieces = apply_overlap(text, options, pieces);
    let lines = LineIndex::new(text);
    let file_label = clean_label(file_path, usize::MAX);
    pieces
        .into_iter()
        .map(|p| render(text, &file_label, &lines, p))
        .collect()
}

fn emit(ctx: &mut Ctx<'_>, unit: &Unit) {
    let text = ctx.text;
    let max = ctx.options.max_chars;
    let range = unit.range.clone();
    let whole = char_len(text, range.clone());
    let first_child = unit.children.first().map(|c| c.range.start);
    match first_child {
        Some(child_start) if unit.split_always || whole > max => {
            emit_leaf(ctx, unit, range.start..child_start);
            for child in &unit.children {
                emit(ctx, child);
            }
        }
        _ => emit_leaf(ctx, unit, range),
    }
}

/// Emits `range` (part of `unit`) as one piece, or cut into pieces if it is too long.
fn emit_leaf(ctx: &mut Ctx<'_>, unit: &Unit, range: Range<usize>) {
    let text = ctx.text;
    let options = ctx.options;
    let Some(trimmed) = trim(text, range.clone()) else {
        return;
    };
    let chars = char_len(text, trimmed.clone());
    let label = |chars| Label {
        prefix: None,
        last: unit.path.clone(),
        kind: unit.kind,
        symbol: unit.symbol.clone(),
        dominant_chars: chars,
    };
    if chars <= options.max_chars {
        ctx.pieces.push(Piece {
            range: trimmed,
            chars,
            label: label(chars),
            first: unit.path.clone(),
            extend: false,
            first_of_cut: false,
        });
        return;
    }
    // Later pieces grow by the overlap, so all are cut to leave room for it.
    let limit = options.max_chars - options.overlap_chars;
    let breaks: Vec<usize> = unit
        .breaks
        .iter()
        .copied()
        .filter(|&b| b > trimmed.start && b < trimmed.end)
        .collect();
    let rules = CutRules {
        breaks: &breaks,
        atomic: &unit.atomic,
        limit,
        min: options.min_chars,
    };
    let parts: Vec<Range<usize>> = split_range(text, trimmed, &rules)
        .into_iter()
        .filter_map(|part| trim(text, part))
        .collect();
    let several = parts.len() > 1;
    for (i, part) in parts.into_iter().enumerate() {
        let chars = char_len(text, part.clone());
        ctx.pieces.push(Piece {
            range: part,
            chars,
            label: label(chars),
            first: unit.path.clone(),
            extend: i > 0 && options.overlap_chars > 0,
            first_of_cut: i == 0 && several,
        });
    }
}

/// Levels of cutting, coarsest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Breaks,
    Paragraphs,
    Lines,
    Words,
    Chars,
}

impl Level {
    fn finer(self) -> Level {
        match self {
            Level::Breaks => Level::Paragraphs,
            Level::Paragraphs => Level::Lines,
            Level::Lines => Level::Words,
            Level::Words | Level::Chars => Level::Chars,
        }
    }
}

/// Where and how finely a long range may be cut.
pub(crate) struct CutRules<'a> {
    /// Preferred cut positions (markdown block starts), sorted.
    pub breaks: &'a [usize],
    /// Breaks that start a block never cut just to fill a small piece (code fences), sorted.
    pub atomic: &'a [usize],
    /// Most chars per piece (at least 1).
    pub limit: usize,
    /// A piece shorter than this takes the first part of a following segment that does not
    /// fit whole, rather than being left small.
    pub min: usize,
}

/// Cuts `range` into consecutive ranges of at most `rules.limit` chars, at the coarsest
/// boundaries that allow it: breaks, blank lines, line ends, whitespace, and finally any
/// character boundary. Greedy: each piece takes as many whole segments as fit. The result
/// partitions `range`.
pub(crate) fn split_range(
    text: &str,
    range: Range<usize>,
    rules: &CutRules<'_>,
) -> Vec<Range<usize>> {
    let limit = rules.limit.max(1);
    let first = if rules.breaks.is_empty() {
        Level::Paragraphs
    } else {
        Level::Breaks
    };
    let mut stack: Vec<(Range<usize>, Level)> = segments(text, range, rules.breaks, first)
        .into_iter()
        .rev()
        .map(|s| (s, first))
        .collect();
    let mut out = Vec::new();
    let mut current: Option<(Range<usize>, usize)> = None;
    while let Some((segment, level)) = stack.pop() {
        if level == Level::Chars {
            pack_chars(text, segment, limit, &mut current, &mut out);
            continue;
        }
        let chars = char_len(text, segment.clone());
        let current_chars = current.as_ref().map_or(0, |c| c.1);
        if current_chars + chars <= limit {
            current = Some(match current.take() {
                Some((r, c)) => (r.start..segment.end, c + chars),
                None => (segment, chars),
            });
            continue;
        }
        let atomic = level == Level::Breaks && rules.atomic.binary_search(&segment.start).is_ok();
        let fill_small = current.is_some() && current_chars < rules.min && !atomic;
        if chars > limit || fill_small {
            let finer = level.finer();
            if finer == Level::Chars {
                stack.push((segment, Level::Chars));
            } else {
                let parts = segments(text, segment, rules.breaks, finer);
                stack.extend(parts.into_iter().rev().map(|s| (s, finer)));
            }
            continue;
        }
        if let Some((r, _)) = current.take() {
            out.push(r);
        }
        current = Some((segment, chars));
    }
    if let Some((r, _)) = current {
        out.push(r);
    }
    out
}

/// Appends `segment` to the current piece char by char, starting a new piece whenever the
/// current one is full.
fn pack_chars(
    text: &str,
    segment: Range<usize>,
    limit: usize,
    current: &mut Option<(Range<usize>, usize)>,
    out: &mut Vec<Range<usize>>,
) {
    let (mut start, mut count) = match current.take() {
        Some((r, c)) => (r.start, c),
        None => (segment.start, 0),
    };
    for (i, _) in text[segment.clone()].char_indices() {
        if count >= limit {
            out.push(start..segment.start + i);
            start = segment.start + i;
            count = 0;
        }
        count += 1;
    }
    *current = Some((start..segment.end, count));
}

/// The boundaries of one level inside `range`, as consecutive segments covering it.
fn segments(text: &str, range: Range<usize>, breaks: &[usize], level: Level) -> Vec<Range<usize>> {
    let slice = &text[range.clone()];
    let base = range.start;
    let mut cuts: Vec<usize> = Vec::new();
    match level {
        Level::Breaks => cuts.extend(
            breaks
                .iter()
                .copied()
                .filter(|&b| b > base && b < range.end),
        ),
        Level::Paragraphs => {
            // A cut at the start of every non-blank line that follows a blank line.
            let mut offset = 0;
            let mut previous_blank = false;
            for line in slice.split_inclusive('\n') {
                let blank = line.trim().is_empty();
                if !blank && previous_blank && offset > 0 {
                    cuts.push(base + offset);
                }
                previous_blank = blank;
                offset += line.len();
            }
        }
        Level::Lines => {
            let mut offset = 0;
            for line in slice.split_inclusive('\n') {
                offset += line.len();
                if offset < slice.len() {
                    cuts.push(base + offset);
                }
            }
        }
        Level::Words => {
            // A cut before each non-whitespace character that follows whitespace.
            let mut previous_space = false;
            for (i, c) in slice.char_indices() {
                let space = c.is_whitespace();
                if !space && previous_space && i > 0 {
                    cuts.push(base + i);
                }
                previous_space = space;
            }
        }
        Level::Chars => {}
    }
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut start = range.start;
    for cut in cuts {
        if cut > start && cut < range.end {
            out.push(start..cut);
            start = cut;
        }
    }
    out.push(start..range.end);
    out
}

/// The meaningful part of `range`: trailing whitespace dropped, and the start moved to the
/// line holding the first non-whitespace character (keeping its indentation) or to that
/// character if the line starts before `range`. `None` if the range is blank.
pub(crate) fn trim(text: &str, range: Range<usize>) -> Option<Range<usize>> {
    let slice = text.get(range.clone())?;
    let end = range.start + slice.trim_end().len();
    let first = range.start + (slice.len() - slice.trim_start().len());
    if first >= end {
        return None;
    }
    let line_start = text[..first].rfind('\n').map_or(0, |i| i + 1);
    Some(line_start.max(range.start)..end)
}

pub(crate) fn char_len(text: &str, range: Range<usize>) -> usize {
    text.get(range).map_or(0, |s| s.chars().count())
}

/// Merges pieces shorter than `min_chars` into a sibling: first forwards (a small piece
/// absorbs the next one), then backwards (a still-small piece joins the previous one).
fn merge_small(text: &str, options: &ChunkOptions, pieces: Vec<Piece>) -> Vec<Piece> {
    if options.min_chars == 0 {
        return pieces;
    }
    let small = |p: &Piece| p.chars < options.min_chars;
    let mut forward: Vec<Piece> = Vec::with_capacity(pieces.len());
    for piece in pieces {
        if let Some(last) = forward.last_mut()
            && small(last)
            && related(last, &piece)
            && let Some(merged) = try_merge(text, options, last, &piece)
        {
            *last = merged;
            continue;
        }
        forward.push(piece);
    }
    let mut backward: Vec<Piece> = Vec::with_capacity(forward.len());
    for piece in forward {
        if small(&piece)
            && !piece.first_of_cut
            && let Some(last) = backward.last_mut()
            && related(&piece, last)
            && let Some(merged) = try_merge(text, options, last, &piece)
        {
            *last = merged;
            continue;
        }
        backward.push(piece);
    }
    backward
}

/// Whether `small` may merge with `other`: `other` lies inside `small`'s parent (a
/// sibling, a sibling's descendant, or `small`'s own child).
fn related(small: &Piece, other: &Piece) -> bool {
    let a = small.label.path();
    let b = other.label.path();
    common_prefix(&a, &b) + 1 >= a.len()
}

/// `a` and `b` (in document order) as one piece, if it fits.
fn try_merge(text: &str, options: &ChunkOptions, a: &Piece, b: &Piece) -> Option<Piece> {
    let range = a.range.start..b.range.end;
    let chars = a.chars + char_len(text, a.range.end..b.range.start) + b.chars;
    let room = if a.extend {
        options.max_chars - options.overlap_chars
    } else {
        options.max_chars
    };
    if chars > room {
        return None;
    }
    Some(Piece {
        range,
        chars,
        label: a.label.join(&b.label, &b.first),
        first: a.first.clone(),
        extend: a.extend,
        first_of_cut: a.first_of_cut,
    })
}

fn common_prefix(a: &[String], b: &[String]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Pulls the start of each later piece of a cut unit back by up to `overlap_chars`
/// characters, never to or before the previous piece's start, and then forward to the
/// next word start inside that window.
fn apply_overlap(text: &str, options: &ChunkOptions, mut pieces: Vec<Piece>) -> Vec<Piece> {
    if options.overlap_chars == 0 {
        return pieces;
    }
    for i in 1..pieces.len() {
        if !pieces[i].extend {
            continue;
        }
        let floor = pieces[i - 1].range.start;
        let start = pieces[i].range.start;
        let before = &text[floor..start];
        // Candidate starts strictly after `floor`, at most `overlap_chars` back.
        let mut new_start = start;
        for (taken, (offset, _)) in before.char_indices().rev().enumerate() {
            if taken >= options.overlap_chars || offset == 0 {
                break;
            }
            new_start = floor + offset;
        }
        // Start at a word if the window holds one.
        if let Some(ws) = text[new_start..start].find(char::is_whitespace) {
            let after = new_start + ws;
            let skip = text[after..start]
                .char_indices()
                .find(|(_, c)| !c.is_whitespace())
                .map_or(start - after, |(o, _)| o);
            new_start = (after + skip).min(start);
        }
        let extra = char_len(text, new_start..start);
        pieces[i].range.start = new_start;
        pieces[i].chars += extra;
    }
    pieces
}

fn render(text: &str, file_label: &str, lines: &LineIndex, piece: Piece) -> Chunk {
    let heading_path = piece.label.path();
    let (kind, symbol) = (piece.label.kind, piece.label.symbol);
    let body = &text[piece.range.clone()];
    let mut context = String::new();
    for part in std::iter::once(file_label).chain(heading_path.iter().map(String::as_str)) {
        if part.is_empty() {
            continue;
        }
        if !context.is_empty() {
            context.push_str(" > ");
        }
        context.push_str(part);
    }
    let mut rendered = String::with_capacity(context.len() + 2 + body.len());
    let body_start = if context.is_empty() {
        0
    } else {
        rendered.push_str(&context);
        rendered.push_str("\n\n");
        rendered.len()
    };
    rendered.push_str(body);
    let last_byte = piece.range.end.saturating_sub(1).max(piece.range.start);
    Chunk {
        text: rendered,
        body_start,
        heading_path,
        start_line: lines.line_of(piece.range.start),
        end_line: lines.line_of(last_byte),
        byte_range: piece.range,
        kind,
        symbol,
    }
}

/// One-line, whitespace-collapsed, length-capped form of a heading or name.
pub(crate) fn clean_label(raw: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    for word in raw.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
            count += 1;
        }
        for c in word.chars() {
            if count >= max_chars {
                out.push('…');
                return out;
            }
            out.push(c);
            count += 1;
        }
    }
    out
}

/// 1-based line numbers of byte offsets (lines end at `\n`).
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    fn line_of(&self, byte: usize) -> usize {
        self.starts.partition_point(|&s| s <= byte).max(1)
    }
}
