//! Running the `perf-analyze` binary and laying out its inputs, for the command-line tests.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary, with no logs directory taken from the environment.
pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_perf-analyze"));
    cmd.env_remove("PERF_LOGS_DIR");
    cmd
}

/// Runs the binary with `args` and waits for it.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

/// Runs the binary with `args`, writing `input` to its stdin.
pub fn run_with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The path of fixture `name` in `tests/fixtures/<dir>`.
pub fn fixture(dir: &str, name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests/fixtures", dir, name]
        .iter()
        .collect();
    path.to_string_lossy().into_owned()
}

/// Copies the file `data` into the logs directory `logs` as session `session`.
pub fn install_session(logs: &Path, session: &str, data: impl AsRef<Path>) {
    let dir = logs.join(session);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(data, dir.join("performance_data.jsonl")).unwrap();
}
