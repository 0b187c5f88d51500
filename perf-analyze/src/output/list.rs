//! The session list of `perf-analyze list`: performance over time at a glance.

use super::document::{Block, Frame};
use super::text;
use crate::analysis::Summary;
use crate::duration::human;
use crate::Error;

/// A table of sessions, each given by its name and its summary (or why it has
/// none), oldest first (by start time, then name; unreadable ones first).
#[must_use]
pub fn session_table(sessions: &[(String, Result<Summary, Error>)], width: u16) -> String {
    let mut rows: Vec<(String, Vec<String>)> = sessions
        .iter()
        .map(|(name, summary)| match summary {
            Ok(s) => {
                let top = s
                    .by_name
                    .first()
                    .map(|r| format!("{} ({}, {:.1}%)", r.name, human(r.self_ns), r.pct_of_wall))
                    .unwrap_or_else(|| "-".into());
                let state = if s.ended_abruptly {
                    " (no end line)"
                } else {
                    ""
                };
                (
                    s.started_at.clone().unwrap_or_default(),
                    vec![
                        name.clone(),
                        s.started_at.clone().unwrap_or_else(|| "-".into()),
                        human(s.wall_ns),
                        s.operations.to_string(),
                        format!("{}/{}{state}", s.open, s.dropped),
                        top,
                    ],
                )
            }
            Err(e) => (
                String::new(),
                vec![
                    name.clone(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    format!("error: {e}"),
                ],
            ),
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1[0].cmp(&b.1[0])));
    let table = Block::Framed {
        frame: Frame::Ascii,
        header: [
            "Session",
            "Started at",
            "Wall",
            "Operations",
            "Open/dropped",
            "Top operation (self)",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: rows.into_iter().map(|(_, row)| row).collect(),
        right: vec![2, 3, 4],
    };
    text::render(&[table], width)
}
