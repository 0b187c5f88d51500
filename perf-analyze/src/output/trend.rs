//! A [`Trend`] rendered as a table.

use super::document::{Block, Frame};
use super::text;
use crate::analysis::trend::Trend;
use crate::duration::human;

impl Trend {
    /// A table: session, start, wall, then one self-time column per operation.
    #[must_use]
    pub fn render_table(&self, width: u16) -> String {
        let mut header = vec![
            "Session".to_owned(),
            "Started at".to_owned(),
            "Wall".to_owned(),
        ];
        header.extend(self.operations.iter().map(|op| format!("{op} (self)")));
        let rows = self
            .rows
            .iter()
            .map(|row| {
                let mut cells = vec![
                    row.session.clone(),
                    row.started_at.clone().unwrap_or_else(|| "-".into()),
                    human(row.wall_ns),
                ];
                cells.extend(
                    row.self_ns
                        .iter()
                        .map(|ns| ns.map_or_else(|| "-".into(), human)),
                );
                cells
            })
            .collect();
        let table = Block::Framed {
            frame: Frame::Ascii,
            header,
            rows,
            right: (2..3 + self.operations.len()).collect(),
        };
        text::render(&[table], width)
    }
}
