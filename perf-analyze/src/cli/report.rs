//! `perf-analyze report`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use perf_analyze::output::printable;
use perf_analyze::output::PageData;
use perf_analyze::{analyze_path, analyze_reader, Format, Input, RenderOptions};

use super::{Source, Width};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    Table,
    Json,
    Markdown,
    /// One self-contained HTML page, with a timeline and a flamegraph.
    Html,
}

impl FormatArg {
    /// The library's format; `None` for the HTML page, which reads what it draws too.
    fn report(self) -> Option<Format> {
        match self {
            FormatArg::Table => Some(Format::Table),
            FormatArg::Json => Some(Format::Json),
            FormatArg::Markdown => Some(Format::Markdown),
            FormatArg::Html => None,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: Source,
    /// Add bottlenecks, recommendations, parallelization, critical path, async analysis, resources.
    #[arg(long)]
    detailed: bool,
    /// Write performance_summary.json next to the data and print its path.
    #[arg(long)]
    save: bool,
    /// Output format; json prints the performance_summary.json document.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    format: FormatArg,
    #[command(flatten)]
    width: Width,
    /// Write the report to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = args.source.options();
    let input = args.source.resolve()?;
    if args.save && input == Input::Stdin {
        bail!("--save needs a session or a data file, not stdin");
    }
    let render = RenderOptions {
        detailed: args.detailed,
        width: args.width.width,
    };
    let stdin = || std::io::BufReader::new(std::io::stdin());
    let (analysis, text) = match args.format.report() {
        // The page needs the analysis, the stacks and the recent roots: from one reading.
        None => {
            let (analysis, page) = match &input {
                Input::Stdin => PageData::read(stdin(), "<stdin>", &options)?,
                Input::File(path) => PageData::read_path(path, &options)?,
            };
            let html = analysis.html_report(&render, &page);
            let name = match &input {
                Input::Stdin => "<stdin>".to_owned(),
                Input::File(path) => perf_analyze::data_file(path).display().to_string(),
            };
            for note in &html.notes {
                eprintln!("warning: {name}: {note}");
            }
            (analysis, html.page)
        }
        Some(format) => {
            let analysis = match &input {
                Input::Stdin => analyze_reader(stdin(), "<stdin>", &options)?,
                Input::File(path) => analyze_path(path, &options)?,
            };
            let text = analysis.render(format, &render);
            (analysis, text)
        }
    };
    if analysis.segments.is_empty() {
        let name = match &input {
            Input::Stdin => "<stdin>".to_owned(),
            Input::File(path) => perf_analyze::data_file(path).display().to_string(),
        };
        bail!(
            "{name}: no readable records ({} lines): tried perf-layer's format 1 (a \"session\" line, then \"span\" lines), the Python tracker's JSON Lines (operation_name, start_time, end_time), OTLP JSON lines (resourceSpans) and Jaeger JSON (data[].spans)",
            analysis.lines
        );
    }
    // Said where people look even when the report goes to a file.
    const STDERR_WARNINGS: usize = 10;
    let warnings = analysis.warnings();
    for w in warnings.iter().take(STDERR_WARNINGS) {
        eprintln!("warning: {}", printable(&w.to_string()));
    }
    let more =
        warnings.len().saturating_sub(STDERR_WARNINGS) as u64 + analysis.warnings.suppressed();
    if more > 0 {
        eprintln!("warning: ... and {more} more (in the report)");
    }
    if analysis.summary.operations == 0 {
        eprintln!("warning: {}", perf_analyze::output::NO_SPANS);
    }
    super::write_output(args.output.as_deref(), |out| out.write_all(text.as_bytes()))?;
    if let (true, Input::File(path)) = (args.save, &input) {
        let line = format!(
            "Summary saved to {}",
            super::save_summary(&analysis, path)?.display()
        );
        // Only the table and Markdown reports say it on stdout, after the report.
        match args.format {
            FormatArg::Table | FormatArg::Markdown => super::print(&format!("{line}\n"))?,
            FormatArg::Json | FormatArg::Html => eprintln!("{line}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
