//! `perf-analyze list`.

use std::path::PathBuf;

use comfy_table::{presets, CellAlignment, ContentArrangement, Table};
use perf_analyze::duration::human;
use perf_analyze::{analyze_path, list_sessions, Options};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where sessions live.
    #[arg(long, env = "PERF_LOGS_DIR", default_value = "logs")]
    logs_dir: PathBuf,
    /// Table width in columns.
    #[arg(long, default_value_t = 120)]
    width: u16,
    /// Show the trend instead: sessions oldest first, wall time and the top operations' self times.
    #[arg(long)]
    trend: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.trend {
        return super::compare::trend(&args.logs_dir, args.width);
    }
    let sessions = list_sessions(&args.logs_dir)?;
    let options = Options::default();
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    for dir in &sessions {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let row = match analyze_path(dir, &options) {
            Ok(a) => {
                let s = &a.summary;
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
                        name,
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
                    name,
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    format!("error: {e}"),
                ],
            ),
        };
        rows.push(row);
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1[0].cmp(&b.1[0])));
    let mut table = Table::new();
    table
        .load_preset(presets::ASCII_BORDERS_ONLY_CONDENSED)
        .force_no_tty()
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(args.width)
        .set_header([
            "Session",
            "Started at",
            "Wall",
            "Operations",
            "Open/dropped",
            "Top operation (self)",
        ]);
    for (_, row) in rows {
        table.add_row(row);
    }
    for column in [2, 3, 4] {
        if let Some(c) = table.column_mut(column) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    let text = if sessions.is_empty() {
        format!("No sessions in {}\n", args.logs_dir.display())
    } else {
        format!("SESSIONS in {}:\n{table}\n", args.logs_dir.display())
    };
    super::print(&text)
}
