//! When the disk fails the program goes on: a logs directory that cannot be created is an
//! error from `build()` (the program runs without the layer), and a data file whose writes
//! all fail (a file size limit of zero) costs one `[perf-layer]` warning on stderr and
//! counted drops.
//!
//! Tests run as root, for whom permission bits stop nothing, so the unwritable places
//! here are ones that fail for root too: a path under a regular file, a session
//! directory that is a file, a data file that is a directory.

use std::time::Duration;

use perf_layer::{Error, PerfLayer};
use perf_tests::{perf_child, run_with_deadline};

const SPANS: u64 = 1000;

fn stdout_lines(out: &perf_tests::Outcome) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn warnings(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("[perf-layer]"))
        .collect()
}

#[test]
fn an_uncreatable_logs_directory_is_a_build_error_naming_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a_file");
    std::fs::write(&file, "not a directory").unwrap();
    let session_is_a_file = tmp.path().join("logs2");
    std::fs::create_dir_all(&session_is_a_file).unwrap();
    std::fs::write(session_is_a_file.join("s"), "").unwrap();
    let data_is_a_dir = tmp.path().join("logs3");
    std::fs::create_dir_all(data_is_a_dir.join("s").join("performance_data.jsonl")).unwrap();

    for (logs, failing) in [
        (file.join("sub"), file.join("sub").join("s")),
        (session_is_a_file.clone(), session_is_a_file.join("s")),
        (
            data_is_a_dir.clone(),
            data_is_a_dir.join("s").join("performance_data.jsonl"),
        ),
    ] {
        let error = PerfLayer::builder()
            .session_id("s")
            .logs_dir(&logs)
            .build()
            .expect_err("the layer cannot write there");
        match &error {
            Error::Io { path, .. } => assert_eq!(path, &failing, "{error}"),
            other => panic!("expected an I/O error, got {other:?}"),
        }
        assert!(
            error.to_string().contains(&*failing.to_string_lossy()),
            "{error}"
        );
    }
}

#[test]
fn the_program_goes_on_without_the_layer_when_it_cannot_be_built() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a_file");
    std::fs::write(&file, "").unwrap();
    let out = run_with_deadline(
        perf_child!()
            .arg("disk")
            .arg(file.join("sub"))
            .arg("s")
            .arg(SPANS.to_string()),
        Duration::from_secs(20),
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let lines = stdout_lines(&out);
    assert!(
        lines[0].starts_with("build failed: cannot open "),
        "{lines:?}"
    );
    assert_eq!(lines.last().map(String::as_str), Some("finished"));
    assert!(warnings(&out.stderr).is_empty(), "{}", out.stderr);
}

#[test]
fn a_full_disk_warns_once_and_counts_every_record_as_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    // No file may grow at all (`RLIMIT_FSIZE` 0): every write fails with EFBIG, and
    // SIGXFSZ, ignored by the shell, stays ignored across `exec`.
    let out = run_with_deadline(
        std::process::Command::new("sh")
            .arg("-c")
            .arg(r#"trap '' XFSZ; ulimit -f 0; exec "$0" "$@""#)
            .arg(env!("CARGO_BIN_EXE_perf-child"))
            .arg("disk")
            .arg(&logs)
            .arg("full")
            .arg(SPANS.to_string()),
        Duration::from_secs(20),
    );
    assert_eq!(out.code(), Some(0), "the program goes on: {}", out.stderr);
    let lines = stdout_lines(&out);
    assert_eq!(
        lines,
        [format!("dropped {SPANS}"), "finished".to_owned()],
        "every span record is counted as dropped"
    );
    let warned = warnings(&out.stderr);
    assert_eq!(warned.len(), 1, "exactly one warning: {}", out.stderr);
    assert!(
        warned[0].contains("performance_data.jsonl"),
        "{}",
        warned[0]
    );
    assert!(warned[0].contains("File too large"), "{}", warned[0]);
    // Nothing else on stderr: no panic, no second complaint at shutdown.
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.elapsed < Duration::from_secs(10),
        "took {:?}",
        out.elapsed
    );
}
