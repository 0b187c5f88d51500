//! The command line: one module per subcommand.

mod compare;
mod export;
mod list;
mod otlp_http;
mod report;

use std::io::Write;

use clap::{Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  perf-analyze report test_performance             # logs/test_performance/performance_data.jsonl
  perf-analyze report test_performance --detailed --save
  perf-analyze report logs/old_run/ --format json | jq '.by_name[0]'
  perf-analyze report - < performance_data.jsonl   # read stdin
  PERF_LOGS_DIR=/var/log/agent perf-analyze list
  perf-analyze list --trend                         # wall and top self times, oldest first
  perf-analyze report test_performance --format html -o report.html
  perf-analyze export test_performance --format chrome -o trace.json   # ui.perfetto.dev
  perf-analyze export test_performance --format otlp --endpoint http://localhost:4318
  perf-analyze report traces.jsonl                  # OTLP JSON or Jaeger JSON files too
  perf-analyze flamegraph test_performance -o flame.svg
  perf-analyze compare base_run new_run --fail-on-regression
  perf-analyze compare run1,run2,run3 new1,new2 --format markdown";

/// Reads perf-layer session files (and the older Python tracker's, OTLP JSON and Jaeger JSON) and says where the time goes.
#[derive(Debug, Parser)]
#[command(name = "perf-analyze", version, about, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Report one session: top operations, latest operation, LLM calls (--detailed for more).
    #[command(after_help = EXAMPLES)]
    Report(report::Args),
    /// List every session in the logs directory: performance over time at a glance.
    #[command(after_help = EXAMPLES)]
    List(list::Args),
    /// Export a session for Perfetto / chrome://tracing, flamegraph tools, speedscope or OpenTelemetry.
    #[command(after_help = EXAMPLES)]
    Export(export::ExportArgs),
    /// Draw a session's self time as an SVG flamegraph.
    #[command(after_help = EXAMPLES)]
    Flamegraph(export::FlamegraphArgs),
    /// Compare sessions (one or several runs a side): deltas, regressions, a CI gate.
    #[command(after_help = EXAMPLES)]
    Compare(compare::Args),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Report(args) => report::run(args),
        Command::List(args) => list::run(args),
        Command::Export(args) => export::run_export(args),
        Command::Flamegraph(args) => export::run_flamegraph(args),
        Command::Compare(args) => compare::run(args),
    }
}

/// Writes to stdout; a closed pipe surfaces as an error that [`is_broken_pipe`] recognises.
fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// True if the error is a broken pipe (`perf-analyze ... | head`): not a failure.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
