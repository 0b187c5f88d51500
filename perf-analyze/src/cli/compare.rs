//! `perf-analyze compare`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use perf_analyze::analysis::compare::{compare, RunStats};
use perf_analyze::output::CompareFormat;
use perf_analyze::{analyze_path, resolve, Input, Options};

use super::{LogsDir, Width};

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
    #[command(flatten)]
    logs: LogsDir,
    #[command(flatten)]
    width: Width,
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

/// Prints the comparison; with `--fail-on-regression`, a regression exits 1.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.threshold.is_finite() && args.threshold >= 0.0,
        "--threshold must be a percentage of at least 0"
    );
    let base = side(&args.base, &args.logs.logs_dir)?;
    let new = side(&args.new, &args.logs.logs_dir)?;
    let comparison = compare(&base, &new, args.threshold);
    let format = match args.format {
        FormatArg::Table => CompareFormat::Table,
        FormatArg::Json => CompareFormat::Json,
        FormatArg::Markdown => CompareFormat::Markdown,
    };
    let printed = super::print(&comparison.render(format, args.width.width));
    if args.fail_on_regression && comparison.has_regression() {
        // The gate's verdict, not an error (errors exit 2); it stands when the
        // reader of stdout stopped early.
        eprintln!("regression found: exiting with status 1 (--fail-on-regression)");
        return match printed {
            Err(error) if !super::is_broken_pipe(&error) => Err(error),
            _ => Ok(ExitCode::from(1)),
        };
    }
    printed.map(|()| ExitCode::SUCCESS)
}
