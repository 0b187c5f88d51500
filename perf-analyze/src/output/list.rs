//! The session list of `perf-analyze list`: performance over time at a glance.

use super::document::{Block, Frame};
use super::text;
use crate::analysis::Summary;
use crate::duration::{human, percent};
use crate::Error;

/// A table of sessions, each given by its name and its summary (or why it has
/// none), oldest first (by start time, then name; unreadable ones first).
#[must_use]
pub fn session_table(sessions: &[(String, Result<Summary, Error>)], width: u16) -> String {
    let mut rows: Vec<(String, Vec<String>)> = sessions
        .iter()
        .map(|(name, summary)| match summary {
            Ok(s) => {
                // As in the report: long-lived roots wait for requests; shares are of
                // the own time of the rest (never over 100%, however concurrent).
                let top = s
                    .by_name
                    .iter()
                    .find(|r| !s.is_long_lived(r))
                    .map(|r| {
                        let share = percent(r.self_ns, s.work_self_ns());
                        let bg = if s.is_background_only(r) { " (bg)" } else { "" };
                        format!("{}{bg} ({}, {share:.1}%)", r.name, human(r.self_ns))
                    })
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
            "Top operation (self, % of own time)",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: rows.into_iter().map(|(_, row)| row).collect(),
        right: vec![2, 3, 4],
    };
    text::render(&[table], width)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{analyze_reader, Options};

    #[test]
    fn the_top_operation_s_share_is_of_own_time_never_over_100_percent() {
        // Three `fetch` at once for 10 ns, a `parse` after them: fetch's own time is
        // three times the wall time it ran in.
        let span = |id: u64, name: &str, start: u64, end: u64| {
            format!(
                r#"{{"type":"span","id":{id},"parent":null,"name":"{name}","target":"t","start_ns":{start},"end_ns":{end},"busy_ns":{},"enters":1,"thread":"t{id}","status":"ok","fields":{{}}}}"#,
                end - start
            )
        };
        let lines = [
            r#"{"type":"session","format":1,"session":"s","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#.to_owned(),
            span(1, "fetch", 0, 10),
            span(2, "fetch", 0, 10),
            span(3, "fetch", 0, 10),
            span(4, "parse", 10, 20),
        ];
        let data = lines.join("\n") + "\n";
        let a = analyze_reader(data.as_bytes(), "mem", &Options::default()).unwrap();
        let table = session_table(&[("s".to_owned(), Ok(a.summary))], 200);
        assert!(table.contains("fetch (30ns, 75.0%)"), "{table}");
    }
}
