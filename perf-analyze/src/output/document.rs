//! The one presentation model: a document as [`Block`]s, which the text,
//! Markdown and HTML renderers draw alike. The report, the comparison, the trend
//! and the session list are built as blocks; no renderer knows which it draws.

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
pub(super) fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => text.into(),
        Some(_) => {
            let end = text
                .char_indices()
                .nth(max.saturating_sub(3))
                .map_or(text.len(), |(i, _)| i);
            format!("{}...", &text[..end]).into()
        }
    }
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
