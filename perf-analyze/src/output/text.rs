//! Documents as plain text: the old report's headings, and tables by comfy-table,
//! set up here only: light ones (columns separated by spaces, the header
//! underlined, no box) and [framed](Frame) ones.

use comfy_table::{presets, Cell, CellAlignment, ColumnConstraint, ContentArrangement, Table};

use super::document::{clip, printable, Block, Frame, CELL, FREE_TEXT, LINE, NAME};

/// A comfy-table table as every text table starts: `style`, `width` columns wide
/// (whatever the terminal), the header given.
fn new_table<T: Into<Cell>>(style: &str, width: u16, header: impl IntoIterator<Item = T>) -> Table {
    let mut table = Table::new();
    table
        .load_preset(style)
        .force_no_tty()
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(width)
        .set_header(header);
    table
}

/// A framed table; its cells are not cut.
fn framed(
    frame: Frame,
    header: &[String],
    rows: &[Vec<String>],
    right: &[usize],
    width: u16,
) -> String {
    let style = match frame {
        Frame::Box => presets::UTF8_FULL_CONDENSED,
        Frame::Ascii => presets::ASCII_BORDERS_ONLY_CONDENSED,
    };
    let mut table = new_table(style, width, header.iter().map(|h| printable(h)));
    for row in rows {
        table.add_row(row.iter().enumerate().map(|(i, text)| {
            let cell = Cell::new(printable(text));
            if frame == Frame::Box && right.contains(&i) {
                cell.set_alignment(CellAlignment::Right)
            } else {
                cell
            }
        }));
    }
    if frame == Frame::Ascii {
        for &i in right {
            if let Some(column) = table.column_mut(i) {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
    }
    format!("{table}\n")
}

/// No borders, no column lines: only the line under the header.
const STYLE: &str = "     -             ";

/// A table in which names and numbers keep their natural width (a name longer than
/// [`NAME`] characters is cut with `...`); only the free-text column `wrap`, if any,
/// wraps so that the table fits in `width` columns. Lines carry no trailing spaces.
fn table(
    header: &[&str],
    rows: &[Vec<String>],
    right: &[usize],
    wrap: Option<usize>,
    width: u16,
) -> String {
    let mut table = new_table(STYLE, width, header.iter().copied());
    for row in rows {
        table.add_row(row.iter().enumerate().map(|(i, cell)| {
            let max = if Some(i) == wrap { CELL } else { NAME };
            clip(cell, max)
        }));
    }
    for (i, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, 2));
        if right.contains(&i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
        if Some(i) != wrap {
            column.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
    let lines: Vec<String> = table
        .lines()
        .map(|line| line.trim_end().to_owned())
        .collect();
    // The underline spans the table's text, not the last column's right padding.
    let widest = lines
        .iter()
        .filter(|l| !l.starts_with('-'))
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for line in &lines {
        if line.starts_with('-') {
            text.push_str(&"-".repeat(widest));
        } else {
            text.push_str(line);
        }
        text.push('\n');
    }
    text
}

pub(super) fn render(blocks: &[Block], width: u16) -> String {
    let rule = usize::from(width.clamp(20, 80));
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Title(title) => {
                out.push_str(&"=".repeat(rule));
                out.push('\n');
                out.push_str(&clip(title, LINE));
                out.push('\n');
                out.push_str(&"=".repeat(rule));
                out.push('\n');
            }
            Block::Heading(heading) => {
                out.push('\n');
                out.push_str(heading);
                out.push_str(":\n");
                out.push_str(&"-".repeat(50));
                out.push('\n');
            }
            Block::Line(line) => {
                out.push_str(&clip(line, LINE));
                out.push('\n');
            }
            Block::Bullet(level, line) => {
                out.push_str(&"   ".repeat(usize::from(*level)));
                out.push_str("- ");
                out.push_str(&clip(line, LINE));
                out.push('\n');
            }
            Block::Table {
                header,
                rows,
                right,
            } => {
                let wrap = header.iter().position(|h| FREE_TEXT.contains(h));
                out.push_str(&table(header, rows, right, wrap, width));
            }
            Block::Framed {
                frame,
                header,
                rows,
                right,
            } => out.push_str(&framed(*frame, header, rows, right, width)),
            Block::Pre(lines) => {
                for line in lines {
                    out.push_str(&clip(line, LINE));
                    out.push('\n');
                }
            }
            Block::End => {
                out.push_str(&"=".repeat(rule));
                out.push('\n');
            }
        }
    }
    out
}
