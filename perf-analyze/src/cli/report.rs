//! `perf-analyze report`.

use std::path::PathBuf;

use anyhow::{bail, Context};
use perf_analyze::{analyze_path, analyze_reader, resolve, Format, Input, Options, RenderOptions};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    Table,
    Json,
    Markdown,
    /// One self-contained HTML page, with a timeline and a flamegraph.
    Html,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A session id (looked up as <LOGS_DIR>/<SESSION>/performance_data.jsonl), a data file,
    /// a session directory, or - for stdin.
    #[arg(value_name = "SESSION|PATH|-")]
    target: String,
    /// Add bottlenecks, recommendations, parallelization, critical path, async analysis, resources.
    #[arg(long)]
    detailed: bool,
    /// Write performance_summary.json next to the data and print its path.
    #[arg(long)]
    save: bool,
    /// Where sessions live.
    #[arg(long, env = "PERF_LOGS_DIR", default_value = "logs")]
    logs_dir: PathBuf,
    /// Output format; json prints the performance_summary.json document.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    format: FormatArg,
    /// Make a malformed line an error (exit 2) instead of a warning.
    #[arg(long)]
    strict: bool,
    /// Table width in columns.
    #[arg(long, default_value_t = 120)]
    width: u16,
    /// Write the report to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let options = Options {
        strict: args.strict,
        ..Options::default()
    };
    let input = resolve(&args.target, &args.logs_dir)?;
    if args.save && input == Input::Stdin {
        bail!("--save needs a session or a data file, not stdin");
    }
    let render = RenderOptions {
        detailed: args.detailed,
        width: args.width,
    };
    let format = match args.format {
        FormatArg::Table => Format::Table,
        FormatArg::Json => Format::Json,
        FormatArg::Markdown => Format::Markdown,
        FormatArg::Html => {
            let output = args.output.as_deref();
            return super::export::html_report(&input, &options, &render, args.save, output);
        }
    };
    let analysis = match &input {
        Input::Stdin => analyze_reader(
            std::io::BufReader::new(std::io::stdin()),
            "<stdin>",
            &options,
        )?,
        Input::File(path) => analyze_path(path, &options)?,
    };
    let text = analysis.render(format, &render);
    super::export::write_output(args.output.as_deref(), |out| out.write_all(text.as_bytes()))?;
    if let (true, Input::File(path)) = (args.save, &input) {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let saved = analysis
            .save_summary(dir)
            .with_context(|| format!("saving the summary of {}", path.display()))?;
        let line = format!("Summary saved to {}", saved.display());
        match format {
            Format::Json => eprintln!("{line}"),
            _ => super::print(&format!("{line}\n"))?,
        }
    }
    Ok(())
}
