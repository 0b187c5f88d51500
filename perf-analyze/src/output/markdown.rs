//! Documents as Markdown: headings, tables and code blocks, every piece of text
//! escaped by [`escape`].

use std::fmt::Write as _;

use super::document::{clip, Block, CELL, LINE};

/// Escapes text for Markdown (CommonMark, GitHub tables): a backslash before each
/// character that could start code (`` ` ``), HTML or an entity (`<`, `>`, `&`), end
/// a link's or an image's text before its target (`](`, `][`, `]:`), end a table
/// cell (`|`) or escape the next one (`\`), and, with `emphasis`, before `*`, `_`
/// and `~`. A line break becomes a space; the
/// text comes [clipped](clip), so other control characters are already printable.
///
/// Names in the report's tables keep their `_`: in a cell they are identifiers.
fn escape(text: &str, emphasis: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' | '`' | '<' | '>' | '&' | '|' => out.push('\\'),
            // A `]` that a link, an image or a link definition needs next.
            ']' if matches!(chars.peek(), Some('(' | '[' | ':')) => out.push('\\'),
            '*' | '_' | '~' if emphasis => out.push('\\'),
            '\n' | '\r' => {
                out.push(' ');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// A line of prose, clipped.
fn prose(text: &str) -> String {
    escape(&clip(text, LINE), true)
}

/// A code fence longer than any run of backticks in `lines`, so none closes it.
fn fence(lines: &[String]) -> String {
    let longest = lines
        .iter()
        .flat_map(|line| line.split(|c| c != '`'))
        .map(str::len)
        .max()
        .unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

/// A table: header, alignment row, rows, each cell clipped and escaped; a blank
/// line after it unless it ends the document.
fn table<H: AsRef<str>>(
    out: &mut String,
    header: &[H],
    rows: &[Vec<String>],
    right: &[usize],
    emphasis: bool,
    last: bool,
) {
    let cell = |text: &str| escape(&clip(text, CELL), emphasis);
    out.push('|');
    for h in header {
        let _ = write!(out, " {} |", cell(h.as_ref()));
    }
    out.push_str("\n|");
    for i in 0..header.len() {
        out.push_str(if right.contains(&i) { "---:|" } else { "---|" });
    }
    out.push('\n');
    for row in rows {
        out.push('|');
        for c in row {
            let _ = write!(out, " {} |", cell(c));
        }
        out.push('\n');
    }
    if !last {
        out.push('\n');
    }
}

pub(super) fn render(blocks: &[Block]) -> String {
    let mut out = String::new();
    let mut in_lines = false;
    for (i, block) in blocks.iter().enumerate() {
        let is_line = matches!(block, Block::Line(_) | Block::Bullet(..));
        if in_lines && !is_line {
            out.push('\n');
        }
        in_lines = is_line;
        let last = i + 1 == blocks.len();
        match block {
            Block::Title(title) => {
                out.push_str("# ");
                out.push_str(&escape(&clip(title, LINE), false));
                out.push_str("\n\n");
            }
            Block::Heading(heading) => {
                out.push_str("## ");
                out.push_str(heading);
                out.push_str("\n\n");
            }
            Block::Line(line) => {
                out.push_str(&prose(line));
                out.push_str("  \n");
            }
            Block::Bullet(level, line) => {
                out.push_str(&"  ".repeat(usize::from(*level)));
                out.push_str("- ");
                out.push_str(&prose(line));
                out.push('\n');
            }
            Block::Table {
                header,
                rows,
                right,
            } => table(&mut out, header, rows, right, false, last),
            Block::Framed {
                header,
                rows,
                right,
                ..
            } => table(&mut out, header, rows, right, true, last),
            Block::Pre(lines) => {
                let fence = fence(lines);
                let _ = writeln!(out, "{fence}text");
                for line in lines {
                    out.push_str(&clip(line, LINE));
                    out.push('\n');
                }
                let _ = write!(out, "{fence}\n\n");
            }
            Block::End => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_keeps_cells_and_markup_closed() {
        assert_eq!(escape(r"a\|b", false), r"a\\\|b");
        assert_eq!(escape("<script>&`x`", false), r"\<script\>\&\`x\`");
        assert_eq!(escape("llm_generation", false), "llm_generation");
        assert_eq!(escape("*llm_generation*", true), r"\*llm\_generation\*");
        assert_eq!(escape("two\nlines", false), "two lines");
        assert_eq!(
            escape("![p](x) [a][b] [c]: y", false),
            r"![p\](x) [a\][b] [c\]: y"
        );
        assert_eq!(escape("[llm] generation", false), "[llm] generation");
    }

    #[test]
    fn a_fence_outlasts_the_backticks_inside() {
        assert_eq!(fence(&["plain".into()]), "```");
        assert_eq!(fence(&["a ```` b".into()]), "`````");
    }
}
