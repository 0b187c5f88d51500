//! The one presentation model: a document as [`Block`]s, which the text,
//! Markdown and HTML renderers draw alike. The report, the comparison, the trend
//! and the session list are built as blocks; no renderer knows which it draws.

use std::borrow::Cow;

/// A piece of a document.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Block {
    /// The report's title line.
    Title(String),
    /// A section heading, e.g. `TOP OPERATIONS BY TIME`.
    Heading(&'static str),
    /// A line of text.
    Line(String),
    /// A bulleted line, indented by `level`.
    Bullet(u8, String),
    /// A table; `right` lists right-aligned columns. Only the columns of
    /// [`FREE_TEXT`] may wrap; names and numbers never do.
    Table {
        header: Vec<&'static str>,
        rows: Vec<Vec<String>>,
        right: Vec<usize>,
    },
    /// A table drawn with a frame (`--format table` of the comparison and the lists),
    /// its cells never cut; `right` lists right-aligned columns.
    Framed {
        frame: Frame,
        header: Vec<String>,
        rows: Vec<Vec<String>>,
        right: Vec<usize>,
    },
    /// Preformatted lines (trees).
    Pre(Vec<String>),
    /// The document's end.
    End,
}

/// Cuts text longer than `max` characters, marking the cut with `...`: a report line
/// stays readable (and tables stay fast) whatever length of name a file holds.
/// Control characters are made [printable] first.
pub(super) fn clip(text: &str, max: usize) -> Cow<'_, str> {
    let text = printable(text);
    match text.char_indices().nth(max) {
        None => text,
        Some(_) => {
            let end = text
                .char_indices()
                .nth(max.saturating_sub(3))
                .map_or(text.len(), |(i, _)| i);
            format!("{}...", &text[..end]).into()
        }
    }
}

/// Text safe to print on a terminal: each control character (an escape sequence's
/// `ESC`, a line break, `BEL`, ...) and each bidirectional override is written as its
/// Rust escape (`\u{1b}`), so a name read from a file cannot move the cursor, clear
/// the screen, set the window title or reorder the text around it.
///
/// ```
/// use perf_analyze::output::printable;
///
/// assert_eq!(printable("llm_generation"), "llm_generation");
/// assert_eq!(printable("a\x1b[2Jb\n"), "a\\u{1b}[2Jb\\u{a}");
/// ```
#[must_use]
pub fn printable(text: &str) -> Cow<'_, str> {
    let hidden =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.contains(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Longest table cell, in characters.
pub(super) const CELL: usize = 160;
/// Table columns of sentences, which may wrap to fit the width.
pub(super) const FREE_TEXT: &[&str] = &[REASONS, SEQUENTIAL];
pub(super) const REASONS: &str = "Reasons";
pub(super) const SEQUENTIAL: &str = "Sequential operations";

/// Longest name in a table cell, in characters: names take their natural width up to this.
pub(super) const NAME: usize = 60;
/// Longest line, in characters.
pub(super) const LINE: usize = 400;

/// How a [`Block::Framed`] table is drawn as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Frame {
    /// UTF-8 box lines around every cell; right-aligned columns keep a left-aligned header.
    Box,
    /// ASCII lines around the table and under the header only.
    Ascii,
}
