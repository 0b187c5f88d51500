//! The command line: one module per subcommand, the flags they share here.

mod compare;
mod export;
mod list;
mod otlp_http;
mod report;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use perf_analyze::Analysis;

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
  perf-analyze compare run1,run2,run3 new1,new2 --format markdown

Limits (each warned about on stderr when it applies):
  a line over 16 MiB is skipped; a line with no end in 1 GiB stops the reading;
  folded stacks and flamegraphs merge spans nested deeper than 128 levels;
  the HTML timeline draws at most 2,000 spans of the latest turn, 100 levels deep.";

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

/// Where sessions live: every subcommand that names sessions has it.
#[derive(Debug, clap::Args)]
struct LogsDir {
    /// Where sessions live.
    #[arg(long, env = "PERF_LOGS_DIR", default_value = "logs")]
    logs_dir: PathBuf,
}

/// One session to read: `report`, `export` and `flamegraph` have it.
#[derive(Debug, clap::Args)]
struct Source {
    /// A session id (looked up as <LOGS_DIR>/<SESSION>/performance_data.jsonl), a data file,
    /// a session directory, or - for stdin.
    #[arg(value_name = "SESSION|PATH|-")]
    target: String,
    #[command(flatten)]
    logs: LogsDir,
    /// Make a malformed line an error (exit 2) instead of a warning.
    #[arg(long)]
    strict: bool,
}

impl Source {
    /// The session to read.
    fn resolve(&self) -> anyhow::Result<perf_analyze::Input> {
        Ok(perf_analyze::resolve(&self.target, &self.logs.logs_dir)?)
    }

    fn options(&self) -> perf_analyze::Options {
        perf_analyze::Options {
            strict: self.strict,
            ..perf_analyze::Options::default()
        }
    }
}

/// The width of tables: the subcommands that draw them have it.
#[derive(Debug, clap::Args)]
struct Width {
    /// Table width in columns.
    #[arg(long, default_value_t = 120)]
    width: u16,
}

/// Runs a parsed command line; its result, a verdict included, is the exit code.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
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

/// Runs `write` on the output file, or on stdout.
fn write_output(
    output: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    match output {
        Some(path) => {
            let mut file = std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?,
            );
            write(&mut file)
                .and_then(|()| file.flush())
                .with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            let mut out = std::io::stdout().lock();
            write(&mut out)?;
            out.flush()?;
            Ok(())
        }
    }
}

/// Writes `performance_summary.json` next to the data file `data` and returns its path.
fn save_summary(analysis: &Analysis, data: &Path) -> anyhow::Result<PathBuf> {
    let dir = data
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    analysis
        .save_summary(dir)
        .with_context(|| format!("saving the summary of {}", data.display()))
}

/// The error and its causes, `: `-separated, each said once: the library's errors
/// already end with their cause (`cannot read FILE: Is a directory (os error 21)`).
pub fn error_message(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

/// True if the error is a broken pipe (`perf-analyze ... | head`): not a failure.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
