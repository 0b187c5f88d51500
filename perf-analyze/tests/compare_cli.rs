//! `perf-analyze compare` and `list --trend` on fixtures: five runs of one
//! workload (`base_1..3`, `same_workload`) and a run where the LLM got 50%
//! slower and the embedding calls tripled (`slower_llm`).

mod cli_common;

use cli_common::run as perf_analyze;
use serde_json::Value;

fn fixture(name: &str) -> String {
    cli_common::fixture("compare", name)
}

/// `compare --format json --fail-on-regression`: the parsed comparison and the exit code.
fn compare(base: &[&str], new: &[&str]) -> (Value, i32) {
    let base = base
        .iter()
        .map(|n| fixture(n))
        .collect::<Vec<_>>()
        .join(",");
    let new = new.iter().map(|n| fixture(n)).collect::<Vec<_>>().join(",");
    let out = perf_analyze(&[
        "compare",
        &base,
        &new,
        "--format",
        "json",
        "--fail-on-regression",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    (json, out.status.code().unwrap())
}

fn verdict<'a>(comparison: &'a Value, operation: &str) -> &'a str {
    comparison["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == operation)
        .unwrap_or_else(|| panic!("{operation} missing"))["verdict"]
        .as_str()
        .unwrap()
}

fn regressions(comparison: &Value) -> Vec<&str> {
    comparison["operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["verdict"] == "regression")
        .map(|o| o["name"].as_str().unwrap())
        .collect()
}

#[test]
fn runs_of_the_same_workload_flag_nothing() {
    let runs = [
        "base_1.jsonl",
        "base_2.jsonl",
        "base_3.jsonl",
        "same_workload.jsonl",
    ];
    for base in runs {
        for new in runs {
            let (comparison, code) = compare(&[base], &[new]);
            assert_eq!(
                regressions(&comparison),
                Vec::<&str>::new(),
                "{base} -> {new}"
            );
            assert_ne!(
                comparison["wall_ns"]["verdict"], "regression",
                "{base} -> {new}"
            );
            assert_eq!(code, 0, "{base} -> {new}");
        }
    }
    let (comparison, code) = compare(&runs[..3], &runs[3..]);
    assert_eq!(comparison["base"].as_array().unwrap().len(), 3);
    assert_eq!(regressions(&comparison), Vec::<&str>::new());
    assert_eq!(code, 0);
}

#[test]
fn a_slower_llm_and_more_embedding_calls_are_flagged() {
    for base in [
        &["base_1.jsonl"][..],
        &["base_1.jsonl", "base_2.jsonl", "base_3.jsonl"],
    ] {
        let (comparison, code) = compare(base, &["slower_llm.jsonl"]);
        assert_eq!(code, 1, "--fail-on-regression exits 1");
        assert_eq!(verdict(&comparison, "llm_generation"), "regression");
        // Same median duration, three times the calls: self time regressed.
        assert_eq!(verdict(&comparison, "embed_query"), "regression");
        let embed = comparison["operations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == "embed_query")
            .unwrap();
        assert_eq!(embed["p50_ns"]["verdict"], "unchanged");
        assert!(
            embed["count"]["new"].as_f64().unwrap()
                >= 3.0 * embed["count"]["base"].as_f64().unwrap()
        );
        // Untouched operations are not flagged.
        assert_eq!(verdict(&comparison, "add_user_entry"), "unchanged");
        assert_eq!(verdict(&comparison, "add_agent_entry"), "unchanged");
        assert_eq!(comparison["tokens_per_s"]["verdict"], "regression");
        assert_eq!(comparison["wall_ns"]["verdict"], "regression");
    }
    // Without the flag the verdict is printed but the exit status is 0.
    let out = perf_analyze(&[
        "compare",
        &fixture("base_1.jsonl"),
        &fixture("slower_llm.jsonl"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("REGRESSION"));
}

#[test]
fn markdown_output_is_a_table_and_bad_arguments_exit_2() {
    let out = perf_analyze(&[
        "compare",
        &fixture("base_1.jsonl"),
        &fixture("slower_llm.jsonl"),
        "--format",
        "markdown",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("| llm\\_generation |") && l.ends_with("| REGRESSION |")),
        "{text}"
    );

    let missing = perf_analyze(&["compare", &fixture("base_1.jsonl"), &fixture("nope.jsonl")]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).starts_with("error: "));
    let negative = perf_analyze(&[
        "compare",
        &fixture("base_1.jsonl"),
        &fixture("base_2.jsonl"),
        "--threshold",
        "-5",
    ]);
    assert_eq!(negative.status.code(), Some(2));
}

#[test]
fn list_trend_shows_sessions_oldest_first_with_top_self_times() {
    let logs = tempfile::tempdir().unwrap();
    // Created newest first: the order must come from the sessions' start times.
    for name in [
        "slower_llm.jsonl",
        "same_workload.jsonl",
        "base_2.jsonl",
        "base_1.jsonl",
    ] {
        cli_common::install_session(logs.path(), name.trim_end_matches(".jsonl"), fixture(name));
    }
    let out = perf_analyze(&[
        "list",
        "--trend",
        "--logs-dir",
        logs.path().to_str().unwrap(),
        "--width",
        "160",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let position = |name: &str| {
        text.find(name)
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
    };
    assert!(position("base_1") < position("base_2"));
    assert!(position("base_2") < position("same_workload"));
    assert!(position("same_workload") < position("slower_llm"));
    // The operation with the most self time heads the columns.
    assert!(text.contains("llm_generation (self)"), "{text}");
}

#[test]
fn the_gate_fails_on_a_regression_even_when_stdout_is_closed_early() {
    // `compare ... --fail-on-regression | head -n 0`: the reader goes away first.
    let mut child = cli_common::bin()
        .args([
            "compare",
            &fixture("base_1.jsonl"),
            &fixture("slower_llm.jsonl"),
            "--fail-on-regression",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", cli_common::stderr(&out));
}
