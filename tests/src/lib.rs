//! Helpers shared by the cross-crate tests: reading a session file back, collecting the
//! analyzer's spans, and running child processes with a deadline.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use perf_analyze::{Span, Tree, Visitor};
use perf_layer::record::{Record, SpanRecord};

/// Every line of a session file written by perf-layer, parsed with the shared schema.
///
/// # Panics
/// On a line that is not a record: files written by the layer must parse completely.
#[must_use]
pub fn read_records(path: &Path) -> Vec<Record> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}:{}: {e}: {line}", path.display(), i + 1))
        })
        .collect()
}

/// The `span` records of `records`.
pub fn spans(records: &[Record]) -> impl Iterator<Item = &SpanRecord<'static>> {
    records.iter().filter_map(|r| match r {
        Record::Span(span) => Some(span),
        _ => None,
    })
}

/// A [`Visitor`] that keeps every span the analyzer delivers, in tree order.
#[derive(Debug, Default)]
pub struct CollectSpans {
    /// The spans, root first within each tree.
    pub spans: Vec<Span>,
    /// How many root trees were delivered.
    pub trees: usize,
}

impl Visitor for CollectSpans {
    fn tree(&mut self, tree: Tree) {
        self.trees += 1;
        self.spans
            .extend(tree.nodes().iter().map(|n| n.span.clone()));
    }
}

/// What a child process did within its deadline.
#[derive(Debug)]
pub struct Outcome {
    /// The exit status, `None` if it was killed for running past the deadline.
    pub status: Option<ExitStatus>,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr, as text (lossy).
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl Outcome {
    /// The exit code, `None` if it hung (and was killed) or died of a signal.
    #[must_use]
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }
}

/// Runs `command` with stdin closed and the outputs captured; kills it (SIGKILL) once it
/// has run for `deadline`.
///
/// # Panics
/// If the program cannot be started.
#[must_use]
pub fn run_with_deadline(command: &mut Command, deadline: Duration) -> Outcome {
    let start = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = wait_until(&mut child, start + deadline);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let elapsed = start.elapsed();
    Outcome {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned(),
        elapsed,
    }
}

/// Reads a pipe to its end on a thread of its own (so a full pipe never stalls the child).
fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// Waits for `child` until `deadline`; `None` if it is still running then.
fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// A [`Command`] for the `perf-child` helper program of this package (see
/// `src/bin/perf_child.rs`). A macro, because cargo tells only the integration tests
/// where the binary is.
#[macro_export]
macro_rules! perf_child {
    () => {
        ::std::process::Command::new(env!("CARGO_BIN_EXE_perf-child"))
    };
}

/// The `perf-analyze` binary, built from the current sources.
///
/// It belongs to another package, so cargo does not hand its path to these tests. It is
/// taken from `PERF_ANALYZE_BIN` when set; otherwise `cargo build -p perf-analyze` is
/// run once (a no-op when it is up to date) into the target directory and profile these
/// tests were built in, and the binary is taken from there.
///
/// # Panics
/// If the build fails.
#[must_use]
pub fn perf_analyze_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("PERF_ANALYZE_BIN").filter(|b| !b.is_empty()) {
            return bin.into();
        }
        // <target>/<profile dir>/deps/<test executable>
        let exe = std::env::current_exe().expect("the test executable's path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test executable lives in <target>/<profile>/deps");
        let target_dir = profile_dir.parent().expect("a target directory");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev",
            Some(other) => other,
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "perf-analyze",
                "--bin",
                "perf-analyze",
            ])
            .arg("--profile")
            .arg(profile)
            .arg("--manifest-path")
            .arg(&manifest)
            .arg("--target-dir")
            .arg(target_dir)
            .stdin(Stdio::null())
            .status()
            .expect("cannot run cargo to build perf-analyze");
        assert!(status.success(), "building perf-analyze failed: {status}");
        let bin = profile_dir.join(format!("perf-analyze{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.is_file(), "{} was not built", bin.display());
        bin
    })
}

/// A `perf-analyze` command.
#[must_use]
pub fn perf_analyze() -> Command {
    Command::new(perf_analyze_bin())
}

/// The repository's README: its Rust snippet compiles as written.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct RootReadme;
