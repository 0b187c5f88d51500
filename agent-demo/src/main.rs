//! `agent-demo`: an instrumented LLM agent. See the crate README.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};

use agent_demo::llm::{OllamaClient, OllamaConfig, SimConfig, SimModel};
use agent_demo::repl::Input;
use agent_demo::{sessions, DomainConfig, Llm, MemoryManager, Perf, PerfOptions, Session};

/// An LLM agent with a memory manager; every step is recorded by perf-layer and
/// reported by perf-analyze.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The session id: files go to <logs-dir>/<guid>/; an existing session resumes.
    #[arg(long)]
    guid: Option<String>,
    /// The domain the agent plays.
    #[arg(long, default_value = "dnd", value_parser = clap::builder::PossibleValuesParser::new(DomainConfig::names()))]
    config: String,
    /// The model: a real Ollama server or the built-in simulation
    /// [default: ollama if OLLAMA_BASE_URL is set, else sim]
    #[arg(long, value_enum)]
    llm: Option<LlmKind>,
    /// The Ollama server.
    #[arg(long, env = "OLLAMA_BASE_URL")]
    ollama_url: Option<String>,
    /// The Ollama generation model.
    #[arg(long, env = "OLLAMA_MODEL", default_value = "gemma3")]
    model: String,
    /// The Ollama embedding model.
    #[arg(long, env = "OLLAMA_EMBED_MODEL", default_value = "mxbai-embed-large")]
    embed_model: String,
    /// Multiplies the simulated model's latency: 1 is a small model on a laptop GPU,
    /// 0 answers instantly.
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
    sim_speed: f64,
    /// Where sessions are stored: this flag, else PERF_LOGS_DIR, else `logs`.
    #[arg(long, env = "PERF_LOGS_DIR", default_value = "logs")]
    logs_dir: PathBuf,
    /// List the saved sessions and exit.
    #[arg(long)]
    list: bool,
    /// Run without recording (to measure what recording costs).
    #[arg(long)]
    no_perf: bool,
    /// Show live PERF_START/PERF_END lines (DEV_MODE=true or 1 turns them on too).
    #[arg(long)]
    dev: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LlmKind {
    /// The built-in simulated model (no server needed).
    Sim,
    /// An Ollama server (OLLAMA_BASE_URL, default http://localhost:11434).
    Ollama,
}

fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a number >= 0")),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(run(args));
    // Do not wait for a blocked terminal read or stuck background work.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    if args.list {
        return list(&args);
    }
    let guid = args.guid.clone().unwrap_or_else(|| {
        chrono::Utc::now()
            .format("session_%Y%m%d_%H%M%S")
            .to_string()
    });
    // The guid names the session directory: the layer's rule, checked before anything is written.
    perf_layer::validate_session_id(&guid)?;
    let domain = DomainConfig::named(&args.config).context("unknown config")?;
    let session_dir = args.logs_dir.join(&guid);
    let resumed = session_dir.join(agent_demo::memory::HISTORY_FILE).is_file();

    let perf = Perf::install(&PerfOptions {
        session_id: guid.clone(),
        logs_dir: args.logs_dir.clone(),
        echo: args.dev,
        enabled: !args.no_perf,
    })
    .context("cannot start performance recording")?;

    let kind = args.llm.unwrap_or(if args.ollama_url.is_some() {
        LlmKind::Ollama
    } else {
        LlmKind::Sim
    });
    let llm = match kind {
        LlmKind::Sim => Llm::Sim(SimModel::new(SimConfig::new(args.sim_speed))),
        LlmKind::Ollama => {
            let url = args
                .ollama_url
                .clone()
                .unwrap_or_else(|| "http://localhost:11434".into());
            Llm::Ollama(OllamaClient::new(OllamaConfig::new(
                url,
                &args.model,
                &args.embed_model,
            ))?)
        }
    };
    let model = match &llm {
        Llm::Ollama(c) => format!(
            "{} at {} (embeddings: {})",
            c.config().model,
            c.config().base_url,
            c.config().embed_model
        ),
        Llm::Sim(_) => format!("simulated (latency x{})", args.sim_speed),
    };

    let memory = MemoryManager::open(&session_dir, domain, Arc::new(llm))
        .await
        .context("cannot open the session's memory")?;
    let stats = memory.stats();
    println!("agent-demo · {} ({})", domain.name, domain.title);
    println!("model: {model}");
    if resumed {
        println!(
            "session {guid} resumed: {} entries, {} entities, {} relationships remembered",
            stats.entries, stats.entities, stats.relationships
        );
    } else {
        println!("session {guid} (new), stored in {}/", session_dir.display());
    }
    println!("Type 'help' for commands, 'quit' to end with the performance report.");
    let history = session_dir.join("repl_history.txt");
    Session::new(memory, perf).run(Input::detect(history)).await;
    Ok(())
}

fn list(args: &Args) -> anyhow::Result<()> {
    let sessions = sessions::list(&args.logs_dir)
        .with_context(|| format!("cannot list {}", args.logs_dir.display()))?;
    if sessions.is_empty() {
        println!("No saved sessions in {}/", args.logs_dir.display());
        return Ok(());
    }
    println!(
        "{:<32} {:>8} {:>5}  LAST RUN STARTED",
        "SESSION", "ENTRIES", "RUNS"
    );
    for s in sessions {
        println!(
            "{:<32} {:>8} {:>5}  {}",
            s.guid,
            s.entries,
            s.runs,
            s.last_started.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}
