//! `perf-analyze`: where the time of a recorded session went.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(code) => code,
        Err(error) if cli::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let error = cli::error_message(&error);
            eprintln!("error: {}", perf_analyze::output::printable(&error));
            ExitCode::from(2)
        }
    }
}
