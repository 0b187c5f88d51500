//! The `perf-analyze` binary on files, directories, session names and stdin.

mod cli_common;

use std::io::Read;
use std::path::Path;
use std::process::Stdio;

use cli_common::{bin, run, run_with_stdin, stderr, stdout};

const FIXTURE: &str = "tests/fixtures/agent_turn.jsonl";

/// A logs directory holding the fixture as session `sess`.
fn logs_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    cli_common::install_session(dir.path(), "sess", FIXTURE);
    dir
}

#[test]
fn report_on_a_file_keeps_the_old_headings() {
    let o = run(&["report", FIXTURE]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for heading in [
        "PERFORMANCE REPORT - Session: test_performance",
        "TOP OPERATIONS BY TIME:",
        "LATEST OPERATION BREAKDOWN:",
        "LLM CALLS:",
    ] {
        assert!(out.contains(heading), "{heading} missing in\n{out}");
    }
    assert!(!out.contains("BOTTLENECKS:"));
    let detailed = stdout(&run(&["report", FIXTURE, "--detailed"]));
    for heading in [
        "BOTTLENECKS:",
        "RECOMMENDATIONS:",
        "PARALLELIZATION OPPORTUNITIES:",
        "CRITICAL PATH",
        "ASYNC ANALYSIS:",
        "RESOURCE USE BY CATEGORY:",
    ] {
        assert!(detailed.contains(heading), "{heading} missing");
    }
}

#[test]
fn session_names_resolve_in_the_logs_dir_flag_or_env() {
    let logs = logs_dir();
    let dir = logs.path().to_str().unwrap();
    let by_flag = run(&["report", "sess", "--logs-dir", dir, "--format", "json"]);
    assert!(by_flag.status.success(), "{}", stderr(&by_flag));
    let by_env = bin()
        .args(["report", "sess", "--format", "json"])
        .env("PERF_LOGS_DIR", dir)
        .output()
        .unwrap();
    assert_eq!(stdout(&by_flag), stdout(&by_env));
    let by_dir = run(&[
        "report",
        logs.path().join("sess").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(stdout(&by_flag), stdout(&by_dir));
    let json: serde_json::Value = serde_json::from_str(&stdout(&by_flag)).unwrap();
    assert_eq!(json["session"], "test_performance");
}

#[test]
fn stdin_is_read_with_a_dash() {
    let o = run_with_stdin(
        &["report", "-", "--format", "json"],
        &std::fs::read(FIXTURE).unwrap(),
    );
    assert!(o.status.success());
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(json["operations"], 20);
}

#[test]
fn save_writes_the_same_document_as_format_json() {
    let logs = logs_dir();
    let dir = logs.path().to_str().unwrap();
    let o = run(&["report", "sess", "--logs-dir", dir, "--save"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let saved_path = logs.path().join("sess/performance_summary.json");
    assert!(stdout(&o).contains(&saved_path.display().to_string()));
    let saved = std::fs::read_to_string(&saved_path).unwrap();
    let json = stdout(&run(&[
        "report",
        "sess",
        "--logs-dir",
        dir,
        "--format",
        "json",
    ]));
    assert_eq!(saved, json);
    let no_stdin = run(&["report", "-", "--save"]);
    assert_eq!(no_stdin.status.code(), Some(2));
}

#[test]
fn errors_go_to_stderr_with_exit_2() {
    let logs = logs_dir();
    let dir = logs.path().to_str().unwrap();
    for (args, needle) in [
        (
            vec!["report", "../sess", "--logs-dir", dir],
            "; not a session name either",
        ),
        (
            vec!["report", "nosuch", "--logs-dir", dir],
            "no session \"nosuch\"",
        ),
        (
            vec!["report", "tests/fixtures/abrupt.jsonl", "--strict"],
            "tests/fixtures/abrupt.jsonl:3:",
        ),
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
        assert!(
            stderr(&o).contains(needle),
            "{needle} not in {}",
            stderr(&o)
        );
        assert!(o.stdout.is_empty());
    }
    let unsupported = logs.path().join("v2.jsonl");
    std::fs::write(&unsupported, "{\"type\":\"session\",\"format\":2}\n").unwrap();
    let o = run(&["report", unsupported.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("v2.jsonl:1: unsupported format 2"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_abrupt_end_is_a_warning_not_an_error() {
    let o = run(&["report", "tests/fixtures/abrupt.jsonl"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(
        out.contains("the session is still running or ended abruptly"),
        "{out}"
    );
    assert!(
        out.contains("tests/fixtures/abrupt.jsonl:3: skipped"),
        "{out}"
    );
}

#[test]
fn list_shows_every_session() {
    let logs = logs_dir();
    let second = logs.path().join("old");
    std::fs::create_dir(&second).unwrap();
    std::fs::copy(
        "tests/fixtures/python_legacy.jsonl",
        second.join("performance_data.jsonl"),
    )
    .unwrap();
    let o = run(&["list", "--logs-dir", logs.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("sess") && out.contains("old"), "{out}");
    assert!(
        out.contains("ollama_generate"),
        "top operation missing: {out}"
    );
}

#[test]
fn help_has_examples() {
    let o = run(&["--help"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("Examples:"));
    assert!(stdout(&run(&["report", "--help"])).contains("--detailed"));
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.jsonl");
    let mut data = Vec::new();
    perf_analyze::generate::write_session(&mut data, 30_000, 1).unwrap();
    std::fs::write(&path, data).unwrap();
    let mut child = bin()
        .args(["report", path.to_str().unwrap(), "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{:?} {}", o.status, stderr(&o));
    assert!(Path::new(&path).exists());
}

#[cfg(unix)]
#[test]
fn save_never_writes_through_a_planted_link() {
    let dir = tempfile::tempdir().unwrap();
    cli_common::install_session(dir.path(), "s", FIXTURE);
    let session = dir.path().join("s");
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    // Links at the names a summary could be written through.
    for name in [".performance_summary.json.tmp", "performance_summary.json"] {
        std::os::unix::fs::symlink(&victim, session.join(name)).unwrap();
    }
    let out = cli_common::run(&["report", session.to_str().unwrap(), "--save"]);
    assert!(out.status.success(), "{}", cli_common::stderr(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let summary = session.join("performance_summary.json");
    assert!(!summary.symlink_metadata().unwrap().is_symlink());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    assert_eq!(json["format"], 1);
}

#[test]
fn an_os_error_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    // The data file is a directory: reading it fails with the OS's reason.
    std::fs::create_dir_all(dir.path().join("s/performance_data.jsonl")).unwrap();
    let out = cli_common::run(&[
        "report",
        dir.path()
            .join("s/performance_data.jsonl")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = cli_common::stderr(&out);
    assert_eq!(stderr.matches("(os error").count(), 1, "{stderr}");
}

#[test]
fn an_over_long_line_is_warned_about_on_stderr_by_every_reading_command() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("long.jsonl");
    let mut data = std::fs::read(FIXTURE).unwrap();
    data.extend(std::iter::repeat(b'x').take(perf_analyze::input::MAX_LINE_BYTES + 1));
    data.push(b'\n');
    std::fs::write(&file, data).unwrap();
    let lines = std::fs::read_to_string(FIXTURE).unwrap().lines().count();
    let file = file.to_str().unwrap();
    for args in [
        vec!["report", file],
        vec!["report", file, "--format", "json"],
        vec!["export", file, "--format", "folded"],
        vec!["flamegraph", file],
    ] {
        let out = run(&args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let said = format!("{file}:{}: skipped: the line is", lines + 1);
        assert!(stderr(&out).contains(&said), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn help_states_the_caps_the_library_applies() {
    use perf_analyze::export::folded::MAX_DEPTH;
    use perf_analyze::input::{MAX_LINE_BYTES, MAX_SKIP_BYTES};
    use perf_analyze::output::{MAX_DRAWN, MAX_ROWS};
    let help = stdout(&run(&["--help"]));
    let thousands = |n: usize| match n {
        0..=999 => n.to_string(),
        _ => format!("{},{:03}", n / 1000, n % 1000),
    };
    for said in [
        format!("a line over {} MiB is skipped", MAX_LINE_BYTES >> 20),
        format!("no end in {} GiB", MAX_SKIP_BYTES >> 30),
        format!("deeper than {MAX_DEPTH} levels"),
        format!(
            "at most {} spans of the latest turn, {MAX_ROWS} levels deep",
            thousands(MAX_DRAWN)
        ),
    ] {
        assert!(
            help.contains(&said),
            "--help does not say {said:?}:\n{help}"
        );
    }
}

#[test]
fn a_file_without_readable_records_is_an_error_naming_it_and_the_formats_tried() {
    let o = run_with_stdin(&["report", "-"], b"hello\n{\"a\":1}\n");
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains("<stdin>: no readable records"), "{err}");
    assert!(err.contains("format 1") && err.contains("Python"), "{err}");
}

#[test]
fn warnings_and_an_empty_session_are_said_on_stderr_too() {
    let session = r#"{"type":"session","format":1,"session":"x","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#;
    let o = run_with_stdin(
        &["report", "-"],
        format!("{session}\nnot json\n").as_bytes(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("warning: <stdin>:2:"), "{err}");
    assert!(err.contains("No spans were recorded"), "{err}");
    assert!(err.contains("filter"), "{err}");
    assert!(stdout(&o).contains("No spans were recorded"));
}
