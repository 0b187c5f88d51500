//! Helpers shared by the behaviour tests: build a layer into a temp dir, read the
//! session file back through `perf_layer::record`.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use perf_layer::record::{EndRecord, Record, SessionRecord, SpanRecord};
use perf_layer::{Builder, FlushGuard, PerfHandle, PerfLayer};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

/// A layer writing into its own temp dir.
pub struct Session {
    pub dir: tempfile::TempDir,
    pub dispatch: Dispatch,
    pub guard: FlushGuard,
    pub handle: PerfHandle,
}

/// A builder whose logs dir is `dir`.
pub fn builder(dir: &Path) -> Builder {
    PerfLayer::builder()
        .logs_dir(dir)
        .session_id("test_session")
}

/// Builds with `configure` applied to a builder into a fresh temp dir.
pub fn session_with(configure: impl FnOnce(Builder) -> Builder) -> Session {
    let dir = tempfile::tempdir().expect("temp dir");
    let (layer, guard) = configure(builder(dir.path())).build().expect("build");
    let handle = guard.handle();
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
    Session {
        dir,
        dispatch,
        guard,
        handle,
    }
}

pub fn session() -> Session {
    session_with(|b| b)
}

impl Session {
    /// Runs `f` with this session's subscriber as the thread's default.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        tracing::dispatcher::with_default(&self.dispatch, f)
    }

    /// Drops the guard (writing the end line) and reads the file back.
    pub fn finish(self) -> Records {
        let path = self.handle.data_path();
        drop(self.guard);
        let records = read(&path);
        drop(self.dir);
        records
    }
}

/// Every record of a session file, in order.
#[derive(Debug)]
pub struct Records(pub Vec<Record>);

pub fn read(path: &Path) -> Records {
    let text = std::fs::read_to_string(path).expect("read session file");
    Records(
        text.lines()
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("{}:{}: {e}: {line}", path.display(), i + 1))
            })
            .collect(),
    )
}

impl Records {
    pub fn sessions(&self) -> Vec<&SessionRecord> {
        self.0
            .iter()
            .filter_map(|r| match r {
                Record::Session(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    pub fn spans(&self) -> Vec<&SpanRecord<'static>> {
        self.0
            .iter()
            .filter_map(|r| match r {
                Record::Span(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    pub fn ends(&self) -> Vec<&EndRecord> {
        self.0
            .iter()
            .filter_map(|r| match r {
                Record::End(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    /// The one span named `name`.
    pub fn span(&self, name: &str) -> &SpanRecord<'static> {
        let found: Vec<_> = self
            .spans()
            .into_iter()
            .filter(|s| s.name == name)
            .collect();
        assert_eq!(found.len(), 1, "expected one span named {name}: {found:?}");
        found[0]
    }

    /// The single segment's end line.
    pub fn end(&self) -> &EndRecord {
        let ends = self.ends();
        assert_eq!(ends.len(), 1, "expected one end line");
        assert!(
            matches!(self.0.last(), Some(Record::End(_))),
            "the end line must come last"
        );
        ends[0]
    }
}

/// The environment variable that tells a test it runs as its own child process.
pub const CHILD: &str = "PERF_LAYER_TEST_CHILD";

/// Runs the test `name` of this test binary again, as a child process with `CHILD` set to
/// `arg`, under `sh` with `SIGXFSZ` ignored (so a file size limit fails writes instead of
/// killing the process); returns its output.
pub fn rerun_as_child(name: &str, arg: &Path) -> Output {
    let exe = std::env::current_exe().expect("the test binary's path");
    Command::new("sh")
        .arg("-c")
        .arg(r#"trap '' XFSZ; exec "$0" "$@""#)
        .arg(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD, arg)
        .output()
        .expect("run the test binary again")
}

/// Runs `child` and returns `None` when this test is its own child process; otherwise
/// runs the test `name` again as a child (see [`rerun_as_child`]) with a fresh temp dir,
/// checks that it succeeded, and returns the dir and the child's output.
pub fn in_child(name: &str, child: fn(std::path::PathBuf)) -> Option<(tempfile::TempDir, Output)> {
    if let Some(dir) = std::env::var_os(CHILD) {
        child(dir.into());
        return None;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let out = rerun_as_child(name, dir.path());
    assert!(
        out.status.success(),
        "the program goes on: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((dir, out))
}

/// The pairs of unsigned fields `a` and `b` of every span line.
pub fn field_pairs(records: &Records, a: &str, b: &str) -> std::collections::HashSet<(u64, u64)> {
    records
        .spans()
        .iter()
        .map(|s| (s.fields[a].as_u64().unwrap(), s.fields[b].as_u64().unwrap()))
        .collect()
}

/// The `[perf-layer]` warnings in a child's stderr.
pub fn warnings(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|l| l.starts_with("[perf-layer]"))
        .map(str::to_owned)
        .collect()
}
