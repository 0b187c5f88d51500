//! Writes a realistic session of N spans: `cargo run --release -p perf-analyze --example gen-session -- N out.jsonl [SEED]`.

use std::io::{BufWriter, Write};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(n), Some(path)) = (args.first(), args.get(1)) else {
        eprintln!("usage: gen-session N out.jsonl [SEED]");
        std::process::exit(2);
    };
    let n: u64 = n.parse()?;
    let seed: u64 = args.get(2).map_or(Ok(42), |s| s.parse())?;
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    perf_analyze::generate::write_session(&mut out, n, seed)?;
    out.flush()?;
    Ok(())
}
