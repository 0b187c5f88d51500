//! `perf-analyze compare` and `perf-analyze list --trend`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use perf_analyze::compare::{compare, CompareFormat, RunStats};
use perf_analyze::trend::Trend;
use perf_analyze::{analyze_path, list_sessions, resolve, Input, Options};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    Table,
    Json,
    Markdown,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The base side: a session id, a data file or a session directory; several
    /// runs separated by commas (a,b,c) for statistics across runs.
    #[arg(value_name = "BASE")]
    base: String,
    /// The new side, in the same form.
    #[arg(value_name = "NEW")]
    new: String,
    /// The smallest change, in percent, that can count as a regression.
    #[arg(long, default_value_t = 10.0, value_name = "PCT")]
    threshold: f64,
    /// Exit with status 1 when a regression is found (a performance gate for CI).
    #[arg(long)]
    fail_on_regression: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    format: FormatArg,
    /// Where sessions live.
    #[arg(long, env = "PERF_LOGS_DIR", default_value = "logs")]
    logs_dir: PathBuf,
    /// Table width in columns.
    #[arg(long, default_value_t = 120)]
    width: u16,
}

/// The runs of one side: each comma-separated entry analyzed.
fn side(list: &str, logs_dir: &Path) -> anyhow::Result<Vec<RunStats>> {
    let mut runs = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let path = match resolve(entry, logs_dir)? {
            Input::File(path) => path,
            Input::Stdin => anyhow::bail!("compare reads files, not stdin"),
        };
        let analysis = analyze_path(&path, &Options::default())
            .with_context(|| format!("analyzing {entry}"))?;
        runs.push(RunStats::from_summary(entry, &analysis.summary));
    }
    anyhow::ensure!(!runs.is_empty(), "no session given in {list:?}");
    Ok(runs)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.threshold.is_finite() && args.threshold >= 0.0,
        "--threshold must be a percentage of at least 0"
    );
    let base = side(&args.base, &args.logs_dir)?;
    let new = side(&args.new, &args.logs_dir)?;
    let comparison = compare(&base, &new, args.threshold);
    let format = match args.format {
        FormatArg::Table => CompareFormat::Table,
        FormatArg::Json => CompareFormat::Json,
        FormatArg::Markdown => CompareFormat::Markdown,
    };
    super::print(&comparison.render(format, args.width))?;
    if args.fail_on_regression && comparison.has_regression() {
        // The gate's verdict, not an error (errors exit 2); stdout is flushed.
        eprintln!("regression found: exiting with status 1 (--fail-on-regression)");
        std::process::exit(1);
    }
    Ok(())
}

/// `list --trend`: every session in time order with wall time and the top operations' self times.
pub fn trend(logs_dir: &Path, width: u16) -> anyhow::Result<()> {
    let mut summaries = Vec::new();
    for dir in list_sessions(logs_dir)? {
        match analyze_path(&dir, &Options::default()) {
            Ok(analysis) => summaries.push(analysis.summary),
            Err(error) => eprintln!("warning: {}: {error}", dir.display()),
        }
    }
    if summaries.is_empty() {
        return super::print(&format!("No sessions in {}\n", logs_dir.display()));
    }
    let trend = Trend::new(summaries, 4);
    super::print(&format!(
        "TREND in {} (oldest first):\n{}",
        logs_dir.display(),
        trend.render_table(width)
    ))
}
