//! Writes a session of N spans:
//! `cargo run --release -p perf-analyze --example gen-session -- N out.jsonl [SEED] [--server CONNECTIONS | --shape SHAPE]`.
//!
//! By default an agent's turns with their background work; with `--server`, a server's
//! requests under CONNECTIONS long-lived connection roots that close at the end; with
//! `--shape`, a worst case: `deep`, `overlapping`, `wide` or `outliving`.

use std::io::{BufWriter, Write};

use perf_analyze::generate::Shape;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut server = None;
    if let Some(at) = args.iter().position(|a| a == "--server") {
        let connections: u64 = args
            .get(at + 1)
            .ok_or("--server needs CONNECTIONS")?
            .parse()?;
        server = Some(connections);
        args.drain(at..=at + 1);
    }
    let mut shape = None;
    if let Some(at) = args.iter().position(|a| a == "--shape") {
        shape = Some(match args.get(at + 1).map(String::as_str) {
            Some("deep") => Shape::Deep,
            Some("overlapping") => Shape::Overlapping,
            Some("wide") => Shape::Wide,
            Some("outliving") => Shape::Outliving,
            _ => return Err("--shape needs deep, overlapping, wide or outliving".into()),
        });
        args.drain(at..=at + 1);
    }
    let (Some(n), Some(path)) = (args.first(), args.get(1)) else {
        eprintln!("usage: gen-session N out.jsonl [SEED] [--server CONNECTIONS | --shape SHAPE]");
        std::process::exit(2);
    };
    let n: u64 = n.parse()?;
    let seed: u64 = args.get(2).map_or(Ok(42), |s| s.parse())?;
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    match (server, shape) {
        (_, Some(shape)) => perf_analyze::generate::write_worst_case(&mut out, shape, n)?,
        (Some(connections), None) => {
            perf_analyze::generate::write_server_session(&mut out, n, connections, seed)?;
        }
        (None, None) => perf_analyze::generate::write_session(&mut out, n, seed)?,
    }
    out.flush()?;
    Ok(())
}
