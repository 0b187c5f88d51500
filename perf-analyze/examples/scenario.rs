//! Writes a session with one planted cause: `cargo run -p perf-analyze --example scenario -- NAME out.jsonl`
//! (NAME: clean, sequential_siblings, repeated_calls, llm_queueing, llm_model_load,
//! llm_prompt_growth, llm_generation, hot_operation, waiting, server).

use std::io::{BufWriter, Write};

use perf_analyze::generate::scenario::Scenario;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scenario = args
        .first()
        .and_then(|name| Scenario::ALL.into_iter().find(|s| s.name() == name));
    let (Some(scenario), Some(path)) = (scenario, args.get(1)) else {
        let names: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
        eprintln!(
            "usage: scenario NAME out.jsonl (NAME: {})",
            names.join(", ")
        );
        std::process::exit(2);
    };
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    scenario.write(&mut out)?;
    out.flush()?;
    Ok(())
}
