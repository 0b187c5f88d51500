//! `perf-analyze list` and `perf-analyze list --trend`.

use std::process::ExitCode;

use perf_analyze::analysis::trend::Trend;
use perf_analyze::output::session_table;
use perf_analyze::{analyze_path, list_sessions, Options};

use super::{LogsDir, Width};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    logs: LogsDir,
    #[command(flatten)]
    width: Width,
    /// Show the trend instead: sessions oldest first, wall time and the top operations' self times.
    #[arg(long)]
    trend: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let logs_dir = &args.logs.logs_dir;
    let sessions = list_sessions(logs_dir)?;
    let options = Options::default();
    let analyzed = sessions.iter().map(|dir| {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (name, dir, analyze_path(dir, &options).map(|a| a.summary))
    });
    let text = if args.trend {
        let mut summaries = Vec::new();
        for (_, dir, summary) in analyzed {
            match summary {
                Ok(summary) => summaries.push(summary),
                Err(error) => eprintln!(
                    "warning: {}",
                    perf_analyze::output::printable(&format!("{}: {error}", dir.display()))
                ),
            }
        }
        if summaries.is_empty() {
            format!("No sessions in {}\n", logs_dir.display())
        } else {
            format!(
                "TREND in {} (oldest first):\n{}",
                logs_dir.display(),
                Trend::new(summaries, 4).render_table(args.width.width)
            )
        }
    } else if sessions.is_empty() {
        format!("No sessions in {}\n", logs_dir.display())
    } else {
        let rows: Vec<_> = analyzed.map(|(name, _, summary)| (name, summary)).collect();
        format!(
            "SESSIONS in {}:\n{}",
            logs_dir.display(),
            session_table(&rows, args.width.width)
        )
    };
    super::print(&text)?;
    Ok(ExitCode::SUCCESS)
}
