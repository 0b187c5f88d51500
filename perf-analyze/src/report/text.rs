//! The plain-text report: the old report's headings, tables by comfy-table at a pinned width.

use comfy_table::{presets, CellAlignment, ColumnConstraint, ContentArrangement, Table};

use super::document::{clip, Block, CELL, LINE};

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
                let mut table = Table::new();
                table
                    .load_preset(presets::ASCII_BORDERS_ONLY_CONDENSED)
                    .force_no_tty()
                    .set_content_arrangement(ContentArrangement::Dynamic)
                    .set_width(width)
                    .set_header(header.iter().copied());
                for row in rows {
                    table.add_row(row.iter().map(|c| clip(c, CELL)));
                }
                // Only the column with the longest text wraps; the others keep their width.
                let widest = (0..header.len())
                    .max_by_key(|&i| {
                        rows.iter()
                            .map(|r| r[i].chars().count().min(CELL))
                            .max()
                            .unwrap_or(0)
                    })
                    .unwrap_or(0);
                for i in 0..header.len() {
                    if let Some(c) = table.column_mut(i) {
                        if right.contains(&i) {
                            c.set_cell_alignment(CellAlignment::Right);
                        }
                        if i != widest {
                            c.set_constraint(ColumnConstraint::ContentWidth);
                        }
                    }
                }
                out.push_str(&table.to_string());
                out.push('\n');
            }
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
