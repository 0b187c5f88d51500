//! Every malformed session file in `fixtures/bad/`, and three large ones made here (a
//! tree nested 100,000 deep, a 10 MB field, a 10 MB line of garbage), goes through the
//! analyzer's library and each of its commands: a clear message naming the file (and
//! the line where one applies), exit 0 or 2, never a panic (101) or a signal, never a hang.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, OnceLock};
use std::thread;
use std::time::Duration;

use perf_analyze::{analyze_path, Options};
use perf_tests::{perf_analyze, run_with_deadline};

const DEADLINE: Duration = Duration::from_secs(20);

/// The generated large files, made once per test run in cargo's temporary directory.
fn large_files() -> &'static [PathBuf] {
    static FILES: OnceLock<Vec<PathBuf>> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bad_large");
        std::fs::create_dir_all(&dir).unwrap();
        let session = r#"{"type":"session","format":1,"session":"bad","started_at":"2026-11-24T10:00:00.000000Z","pid":1,"program":"t"}"#;
        let mut files = Vec::new();
        let mut make = |name: &str, body: &dyn Fn(&mut dyn Write) -> std::io::Result<()>| {
            let path = dir.join(name);
            let tmp = dir.join(format!(".{name}.{}", std::process::id()));
            let mut out = BufWriter::new(std::fs::File::create(&tmp).unwrap());
            body(&mut out).unwrap();
            out.into_inner().unwrap().sync_all().unwrap();
            std::fs::rename(&tmp, &path).unwrap();
            files.push(path);
        };
        make("nested_100000_deep.jsonl", &|out| {
            // Written as the layer would: the deepest span closes first.
            const DEPTH: u64 = 100_000;
            writeln!(out, "{session}")?;
            for id in (1..=DEPTH).rev() {
                let parent = if id == 1 { "null".to_owned() } else { (id - 1).to_string() };
                let (start, end) = (id, 2 * DEPTH - id);
                writeln!(
                    out,
                    r#"{{"type":"span","id":{id},"parent":{parent},"name":"level","target":"t","start_ns":{start},"end_ns":{end},"busy_ns":{},"enters":1,"thread":"main","status":"ok","fields":{{}}}}"#,
                    end - start
                )?;
            }
            writeln!(out, r#"{{"type":"end","end_ns":{},"spans":{DEPTH},"open":0,"dropped":0}}"#, 2 * DEPTH)
        });
        make("ten_mb_field.jsonl", &|out| {
            writeln!(out, "{session}")?;
            write!(out, r#"{{"type":"span","id":1,"parent":null,"name":"big","target":"t","start_ns":0,"end_ns":10,"busy_ns":10,"enters":1,"thread":"main","status":"ok","fields":{{"prompt":""#)?;
            out.write_all(&vec![b'a'; 10 << 20])?;
            writeln!(out, r#""}}}}"#)?;
            writeln!(out, r#"{{"type":"end","end_ns":10,"spans":1,"open":0,"dropped":0}}"#)
        });
        make("ten_mb_garbage_line.jsonl", &|out| {
            writeln!(out, "{session}")?;
            out.write_all(&vec![b'{'; 10 << 20])?;
            out.write_all(b"\n")
        });
        files
    })
}

/// The corpus and the large files, sorted by name.
fn bad_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/bad");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    assert!(files.len() >= 25, "the corpus has {} files", files.len());
    files.sort();
    files.extend(large_files().iter().cloned());
    files
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Runs the library on every file, each on a thread with a deadline: no panic, no
/// hang, and every message names the file.
#[test]
fn the_library_reads_every_bad_file_with_messages_that_name_it() {
    let mut failures = String::new();
    for path in bad_files() {
        let (tx, rx) = mpsc::channel();
        let file = path.clone();
        let worker = thread::Builder::new()
            .name(name(&path))
            .spawn(move || {
                let result = analyze_path(&file, &Options::default()).map(|a| {
                    (
                        a.warnings().to_vec(),
                        a.render(
                            perf_analyze::Format::Json,
                            &perf_analyze::RenderOptions {
                                detailed: true,
                                width: 100,
                            },
                        ),
                    )
                });
                let _ = tx.send(result);
            })
            .unwrap();
        match rx.recv_timeout(DEADLINE) {
            Err(mpsc::RecvTimeoutError::Timeout) => {
                writeln!(
                    failures,
                    "{}: still running after {DEADLINE:?}",
                    name(&path)
                )
                .unwrap();
                continue; // the thread is left behind
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let panic = worker
                    .join()
                    .expect_err("a thread that did not answer panicked");
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                writeln!(failures, "{}: panicked: {message}", name(&path)).unwrap();
            }
            Ok(Err(error)) => {
                let message = error.to_string();
                if !message.contains(&name(&path)) {
                    writeln!(
                        failures,
                        "{}: error does not name the file: {message}",
                        name(&path)
                    )
                    .unwrap();
                }
            }
            Ok(Ok((warnings, json))) => {
                for warning in &warnings {
                    let text = warning.to_string();
                    if !warning.source.contains(&name(&path)) || !text.contains(&name(&path)) {
                        writeln!(
                            failures,
                            "{}: warning does not name the file: {text}",
                            name(&path)
                        )
                        .unwrap();
                    }
                }
                if let Err(e) = serde_json::from_str::<serde_json::Value>(&json) {
                    writeln!(failures, "{}: the summary is not JSON: {e}", name(&path)).unwrap();
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{failures}");
}

/// Runs one `perf-analyze` command on every file and returns what went wrong; `args`
/// follow the file argument and may name `{out}`, an output file.
fn cli_on_every_file(command: &str, args: &[&str]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = String::new();
    for path in bad_files() {
        let out_file = tmp.path().join("out");
        let mut cmd = perf_analyze();
        cmd.arg(command).arg(&path).current_dir(tmp.path());
        for arg in args {
            cmd.arg(arg.replace("{out}", &out_file.to_string_lossy()));
        }
        let out = run_with_deadline(&mut cmd, DEADLINE);
        let file = name(&path);
        let mut fail = |what: String| {
            writeln!(failures, "perf-analyze {command} {file} {args:?}: {what}").unwrap();
        };
        match out.code() {
            None if out.status.is_none() => fail(format!("hung, killed after {DEADLINE:?}")),
            None => fail(format!("died of a signal ({:?})", out.status)),
            Some(0) => {}
            Some(2) => {
                let error = out.stderr.lines().find(|l| l.starts_with("error: "));
                match error {
                    Some(line) if line.contains(&file) => {}
                    Some(line) => fail(format!(
                        "exit 2, the error does not name the file: {line:?}"
                    )),
                    None => fail(format!("exit 2 without an error line: {:?}", out.stderr)),
                }
            }
            Some(code) => {
                let panic = out.stderr.lines().find(|l| l.contains("panicked at"));
                fail(format!(
                    "exit {code}: {}",
                    panic.unwrap_or(last_line(&out.stderr))
                ));
            }
        }
    }
    failures
}

fn last_line(text: &str) -> &str {
    text.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or_default()
}

fn assert_every_bad_file_handled(command: &str, args: &[&str]) {
    let failures = cli_on_every_file(command, args);
    assert!(failures.is_empty(), "\n{failures}");
}

#[test]
fn report_as_json_handles_every_bad_file() {
    assert_every_bad_file_handled("report", &["--format", "json"]);
}

#[test]
fn report_as_markdown_handles_every_bad_file() {
    assert_every_bad_file_handled("report", &["--detailed", "--format", "markdown"]);
}

#[test]
fn report_as_a_table_handles_every_bad_file() {
    assert_every_bad_file_handled("report", &["--detailed"]);
}

#[test]
fn report_as_html_handles_every_bad_file() {
    assert_every_bad_file_handled("report", &["--detailed", "--format", "html", "-o", "{out}"]);
}

#[test]
fn export_as_chrome_trace_handles_every_bad_file() {
    assert_every_bad_file_handled("export", &["--format", "chrome", "-o", "{out}"]);
}

#[test]
fn export_as_speedscope_handles_every_bad_file() {
    assert_every_bad_file_handled("export", &["--format", "speedscope", "-o", "{out}"]);
}

#[test]
fn export_as_folded_stacks_handles_every_bad_file() {
    assert_every_bad_file_handled("export", &["--format", "folded", "-o", "{out}"]);
}

#[test]
fn flamegraphs_handle_every_bad_file() {
    assert_every_bad_file_handled("flamegraph", &["-o", "{out}"]);
}

#[test]
fn strict_mode_stops_at_the_first_bad_line_with_its_number() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/bad");
    let out = run_with_deadline(
        perf_analyze()
            .args(["report", "--strict"])
            .arg(dir.join("wrong_types.jsonl")),
        DEADLINE,
    );
    assert_eq!(out.code(), Some(2), "{}", out.stderr);
    assert!(
        out.stderr.starts_with("error: ") && out.stderr.contains("wrong_types.jsonl:2:"),
        "{}",
        out.stderr
    );
}
