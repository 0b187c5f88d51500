//! `perf-analyze export` and `perf-analyze flamegraph`.

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use perf_analyze::export::folded::{self, Stacks, MAX_DEPTH, MERGED_FRAME};
use perf_analyze::export::{flamegraph, ExportFormat, Session};
use perf_analyze::{resolve, Input, Options};

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

/// Where a session comes from, shared by `export` and `flamegraph`.
#[derive(Debug, clap::Args)]
pub struct Source {
    /// A session id (looked up as <LOGS_DIR>/<SESSION>/performance_data.jsonl), a data file,
    /// a session directory, or - for stdin.
    #[arg(value_name = "SESSION|PATH|-")]
    target: String,
    /// Where sessions live.
    #[arg(long, env = "PERF_LOGS_DIR", default_value = "logs")]
    logs_dir: PathBuf,
    /// Make a malformed line an error (exit 2) instead of a warning.
    #[arg(long)]
    strict: bool,
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

/// Reads the whole session, printing the loader's warnings on stderr; returns
/// it with the name of its input for messages.
pub fn read_session(
    target: &str,
    logs_dir: &Path,
    strict: bool,
) -> anyhow::Result<(Session, String)> {
    let options = Options {
        strict,
        ..Options::default()
    };
    let (input, (session, report)) = match resolve(target, logs_dir)? {
        Input::Stdin => (
            "<stdin>".to_owned(),
            Session::read(BufReader::new(std::io::stdin()), "<stdin>", &options)?,
        ),
        Input::File(path) => (
            path.display().to_string(),
            Session::read_path(&path, &options)?,
        ),
    };
    for warning in report.warnings.list() {
        eprintln!("warning: {warning}");
    }
    Ok((session, input))
}

/// Folds the session's stacks, warning when deep nesting was merged.
fn fold(session: &Session, input: &str) -> Stacks {
    let stacks = Stacks::of(session);
    if stacks.merged_spans > 0 {
        eprintln!(
            "warning: {input}: {} spans nested deeper than {MAX_DEPTH} levels are merged into the frame \"{MERGED_FRAME}\"",
            stacks.merged_spans
        );
    }
    stacks
}

/// Runs `write` on the output file, or on stdout.
pub fn write_output(
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

pub fn run_export(args: ExportArgs) -> anyhow::Result<()> {
    if args.endpoint.is_some() && !matches!(args.format, FormatArg::Otlp) {
        anyhow::bail!("--endpoint sends OTLP: use it with --format otlp");
    }
    let (session, input) = read_session(
        &args.source.target,
        &args.source.logs_dir,
        args.source.strict,
    )?;
    let format = match args.format {
        FormatArg::Chrome => ExportFormat::Chrome,
        FormatArg::Folded => {
            let stacks = fold(&session, &input);
            return write_output(args.output.as_deref(), |out| {
                folded::write_stacks(&stacks, out)
            });
        }
        FormatArg::Speedscope => ExportFormat::Speedscope,
        FormatArg::Otlp => match &args.endpoint {
            Some(endpoint) => return super::otlp_http::run(&session, &input, endpoint),
            None => ExportFormat::Otlp,
        },
    };
    write_output(args.output.as_deref(), |out| format.write(&session, out))
}

pub fn run_flamegraph(args: FlamegraphArgs) -> anyhow::Result<()> {
    let (session, input) = read_session(
        &args.source.target,
        &args.source.logs_dir,
        args.source.strict,
    )?;
    let stacks = fold(&session, &input);
    if stacks.stacks.is_empty() {
        // Said before the output file is made, so no empty SVG is left behind.
        match session.trees().iter().map(|t| t.len()).sum::<usize>() {
            0 => anyhow::bail!("{input}: no complete spans: no flamegraph to draw"),
            n => anyhow::bail!(
                "{input}: none of its {n} spans has measurable self time: no flamegraph to draw"
            ),
        }
    }
    write_output(args.output.as_deref(), |out| {
        flamegraph::write_stacks(&stacks, session.name(), out).map_err(|e| match e {
            flamegraph::Error::Io(e) => e,
            e @ flamegraph::Error::NothingToDraw => std::io::Error::other(e),
        })
    })
}

/// `report --format html`: the report as one self-contained page, written to
/// `output` or stdout; with `save`, the summary as with the other formats.
pub fn html_report(
    input: &Input,
    options: &Options,
    render: &perf_analyze::RenderOptions,
    save: bool,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    // The page needs the analysis and every tree: read the input twice (stdin
    // is buffered for that).
    let (analysis, (session, _)) = match input {
        Input::Stdin => {
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut data)?;
            (
                perf_analyze::analyze_reader(&data[..], "<stdin>", options)?,
                Session::read(&data[..], "<stdin>", options)?,
            )
        }
        Input::File(path) => (
            perf_analyze::analyze_path(path, options)?,
            Session::read_path(path, options)?,
        ),
    };
    let html = analysis.render_html(render, &session);
    write_output(output, |out| out.write_all(html.as_bytes()))?;
    if let (true, Input::File(path)) = (save, input) {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let saved = analysis
            .save_summary(dir)
            .with_context(|| format!("saving the summary of {}", path.display()))?;
        eprintln!("Summary saved to {}", saved.display());
    }
    Ok(())
}
