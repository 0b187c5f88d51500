//! `perf-analyze export`, `flamegraph` and `report --format html` from the command line.

mod cli_common;

use cli_common::run as perf_analyze;

fn fixture(name: &str) -> String {
    cli_common::fixture("export", name)
}

#[test]
fn export_writes_each_format_to_stdout_or_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let session = fixture("agent_session.jsonl");
    for format in ["chrome", "folded", "speedscope"] {
        let stdout = perf_analyze(&["export", &session, "--format", format]);
        assert!(
            stdout.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&stdout.stderr)
        );
        let file = dir.path().join(format);
        let to_file = perf_analyze(&[
            "export",
            &session,
            "--format",
            format,
            "-o",
            file.to_str().unwrap(),
        ]);
        assert!(to_file.status.success());
        assert!(to_file.stdout.is_empty());
        assert_eq!(std::fs::read(&file).unwrap(), stdout.stdout, "{format}");
        if format != "folded" {
            let _: serde_json::Value = serde_json::from_slice(&stdout.stdout).unwrap();
        }
    }
}

#[test]
fn flamegraph_and_html_report_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("flame.svg");
    let out = perf_analyze(&[
        "flamegraph",
        &fixture("agent_session.jsonl"),
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(svg.contains("<svg") && svg.contains("llm_generation"));

    let html = dir.path().join("report.html");
    let out = perf_analyze(&[
        "report",
        &fixture("agent_session.jsonl"),
        "--format",
        "html",
        "--detailed",
        "-o",
        html.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(html).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for section in [
        "TOP OPERATIONS BY TIME",
        "LATEST OPERATION BREAKDOWN",
        "BOTTLENECKS",
        "TIMELINE",
        "FLAMEGRAPH",
    ] {
        assert!(html.contains(section), "{section} missing");
    }
    // Self-contained: nothing is fetched from elsewhere.
    for fetch in ["http://", "https://", "src=\"//"] {
        let outside_svg = html.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !outside_svg.contains(&format!("src=\"{fetch}"))
                && !outside_svg.contains(&format!("href=\"{fetch}"))
        );
    }

    // stdin works too (the page needs the input twice).
    let data = std::fs::read(fixture("hostile_names.jsonl")).unwrap();
    let out = cli_common::run_with_stdin(&["report", "-", "--format", "html"], &data);
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"));
    assert!(!page.contains("<script>document"));
}

#[test]
fn a_missing_session_is_an_error_with_exit_2() {
    let out = perf_analyze(&[
        "export",
        "no_such_session",
        "--format",
        "chrome",
        "--logs-dir",
        "/nonexistent",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));
}
