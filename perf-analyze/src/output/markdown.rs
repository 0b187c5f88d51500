//! The Markdown report: the same content as the table, as headings, tables and code blocks.

use super::document::{clip, Block, CELL, LINE};

/// A line of prose, clipped, with the characters Markdown would take for emphasis escaped.
fn prose(text: &str) -> String {
    clip(text, LINE).replace('_', "\\_").replace('*', "\\*")
}

fn cell(text: &str) -> String {
    clip(text, CELL).replace('|', "\\|").replace('\n', " ")
}

pub(super) fn render(blocks: &[Block]) -> String {
    let mut out = String::new();
    let mut in_lines = false;
    for block in blocks {
        let is_line = matches!(block, Block::Line(_) | Block::Bullet(..));
        if in_lines && !is_line {
            out.push('\n');
        }
        in_lines = is_line;
        match block {
            Block::Title(title) => {
                out.push_str("# ");
                out.push_str(&clip(title, LINE));
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
            } => {
                out.push('|');
                for h in header {
                    out.push_str(&format!(" {} |", cell(h)));
                }
                out.push_str("\n|");
                for i in 0..header.len() {
                    out.push_str(if right.contains(&i) { "---:|" } else { "---|" });
                }
                out.push('\n');
                for row in rows {
                    out.push('|');
                    for c in row {
                        out.push_str(&format!(" {} |", cell(c)));
                    }
                    out.push('\n');
                }
                out.push('\n');
            }
            Block::Pre(lines) => {
                out.push_str("```text\n");
                for line in lines {
                    out.push_str(&clip(line, LINE));
                    out.push('\n');
                }
                out.push_str("```\n\n");
            }
            Block::End => {}
        }
    }
    out
}
