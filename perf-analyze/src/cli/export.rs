//! `perf-analyze export` and `perf-analyze flamegraph`.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use perf_analyze::export::folded::{self, Stacks, MAX_DEPTH, MERGED_FRAME};
use perf_analyze::export::{flamegraph, ExportFormat};
use perf_analyze::output::printable;
use perf_analyze::{Error, Input, Options, VisitReport};

use super::{write_output, Source};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    /// Chrome's Trace Event JSON: open in https://ui.perfetto.dev or chrome://tracing.
    Chrome,
    /// Folded stacks weighted by self time in µs, for inferno-flamegraph or flamegraph.pl.
    Folded,
    /// speedscope's JSON: open in https://www.speedscope.app.
    Speedscope,
    /// OTLP JSON lines: for a Collector's otlpjsonfile receiver, or sent with --endpoint.
    Otlp,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    source: Source,
    /// The output format.
    #[arg(long, value_enum)]
    format: FormatArg,
    /// Write to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// With --format otlp: send to this OTLP/HTTP receiver (e.g. http://localhost:4318;
    /// /v1/traces is appended unless given) instead of writing.
    #[arg(long, value_name = "URL", conflicts_with = "output")]
    endpoint: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct FlamegraphArgs {
    #[command(flatten)]
    source: Source,
    /// Write the SVG to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Reads the session with `from_stdin` or `from_path`, printing the loader's warnings
/// on stderr; returns what was read with the name of its input for messages.
fn read_with<T>(
    source: &Source,
    from_stdin: impl FnOnce(BufReader<std::io::Stdin>, &Options) -> Result<(T, VisitReport), Error>,
    from_path: impl FnOnce(&Path, &Options) -> Result<(T, VisitReport), Error>,
) -> anyhow::Result<(T, String)> {
    let options = source.options();
    let (input, (read, report)) = match source.resolve()? {
        Input::Stdin => (
            "<stdin>".to_owned(),
            from_stdin(BufReader::new(std::io::stdin()), &options)?,
        ),
        Input::File(path) => (path.display().to_string(), from_path(&path, &options)?),
    };
    for warning in report.warnings.list() {
        eprintln!("warning: {}", printable(&warning.to_string()));
    }
    Ok((read, input))
}

/// Reads and folds the session tree by tree (no session held), warning on stderr when
/// deep nesting was merged.
fn fold(source: &Source) -> anyhow::Result<(Stacks, String)> {
    let (stacks, input) = read_with(
        source,
        |stdin, options| Stacks::read(stdin, "<stdin>", options),
        Stacks::read_path,
    )?;
    if stacks.merged_spans > 0 {
        eprintln!(
            "warning: {}: {} spans nested deeper than {MAX_DEPTH} levels are merged into the frame \"{MERGED_FRAME}\"",
            printable(&input),
            stacks.merged_spans
        );
    }
    Ok((stacks, input))
}

/// Reads the session and writes it in `format` as it is read (Chrome and speedscope
/// stream), printing the loader's warnings on stderr.
fn write_streamed(
    source: &Source,
    format: ExportFormat,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    let options = source.options();
    let input = source.resolve()?;
    if let Input::File(path) = &input {
        // Said before the output file is made.
        let data = perf_analyze::input::data_file(path);
        std::fs::File::open(&data).map_err(|source| Error::Io { path: data, source })?;
    }
    let mut failed = None;
    write_output(output, |out| {
        let result = match &input {
            Input::Stdin => {
                format.write_read(BufReader::new(std::io::stdin()), "<stdin>", &options, out)
            }
            Input::File(path) => format.write_path(path, &options, out),
        };
        match result {
            Ok(report) => {
                for warning in report.warnings.list() {
                    eprintln!("warning: {}", printable(&warning.to_string()));
                }
                Ok(())
            }
            Err(Error::Write { source, .. }) => Err(source),
            Err(e) => {
                failed = Some(e);
                Ok(())
            }
        }
    })?;
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

pub fn run_export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    if args.endpoint.is_some() && !matches!(args.format, FormatArg::Otlp) {
        anyhow::bail!("--endpoint sends OTLP: use it with --format otlp");
    }
    let format = match args.format {
        FormatArg::Chrome => ExportFormat::Chrome,
        FormatArg::Folded => {
            let (stacks, _) = fold(&args.source)?;
            write_output(args.output.as_deref(), |out| {
                folded::write_stacks(&stacks, out)
            })?;
            return Ok(ExitCode::SUCCESS);
        }
        FormatArg::Speedscope => ExportFormat::Speedscope,
        FormatArg::Otlp => match &args.endpoint {
            Some(endpoint) => {
                super::otlp_http::run(&args.source, endpoint)?;
                return Ok(ExitCode::SUCCESS);
            }
            None => ExportFormat::Otlp,
        },
    };
    write_streamed(&args.source, format, args.output.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

pub fn run_flamegraph(args: FlamegraphArgs) -> anyhow::Result<ExitCode> {
    let (stacks, input) = fold(&args.source)?;
    if stacks.stacks.is_empty() {
        // Said before the output file is made, so no empty SVG is left behind.
        match stacks.spans {
            0 => anyhow::bail!("{input}: no complete spans: no flamegraph to draw"),
            n => anyhow::bail!(
                "{input}: none of its {n} spans has measurable self time: no flamegraph to draw"
            ),
        }
    }
    write_output(args.output.as_deref(), |out| {
        flamegraph::write_stacks(&stacks, &stacks.session, out).map_err(|e| match e {
            flamegraph::Error::Io(e) => e,
            e @ flamegraph::Error::NothingToDraw => std::io::Error::other(e),
        })
    })?;
    Ok(ExitCode::SUCCESS)
}
