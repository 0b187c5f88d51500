//! Session ids that try to leave the logs directory are refused: by the layer before it
//! creates anything, and by the analyzer before it reads anything. Span names and fields
//! reach the HTML report escaped.

use std::path::Path;
use std::time::Duration;

use perf_layer::{Error, PerfLayer};
use perf_tests::{perf_analyze, run_with_deadline};

/// Ids that would put the session somewhere else than one directory inside the logs dir.
fn hostile_ids() -> Vec<String> {
    vec![
        "../x".into(),
        "a/b".into(),
        "..".into(),
        ".".into(),
        "/tmp/absolute".into(),
        "a\\b".into(),
        "a\0b".into(),
        "".into(),
        "x".repeat(200),
        "~root".into(),
        "x\n".into(),
    ]
}

/// Every path under `dir`, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            found.push(
                path.strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn the_layer_refuses_them_and_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("root").join("logs");
    for id in hostile_ids() {
        let result = PerfLayer::builder()
            .session_id(id.clone())
            .logs_dir(&logs)
            .build();
        match result {
            Err(Error::InvalidSessionId { id: given, reason }) => {
                assert_eq!(given, id);
                assert!(!reason.is_empty());
            }
            Err(other) => panic!("{id:?}: expected an invalid id error, got {other}"),
            Ok(_) => panic!("{id:?} was accepted"),
        }
    }
    assert!(
        tree(tmp.path()).is_empty(),
        "created {:?}",
        tree(tmp.path())
    );
    assert!(!Path::new("/tmp/absolute").exists());
    // The longest accepted id is 128 characters.
    let (_layer, guard) = PerfLayer::builder()
        .session_id("x".repeat(128))
        .logs_dir(&logs)
        .build()
        .expect("128 characters are fine");
    drop(guard);
}

#[test]
fn the_analyzer_refuses_them_without_reading_outside_the_logs_directory() {
    // <tmp>/root/logs is the logs directory; <tmp>/root/x holds a session that a
    // traversal from it would reach; the analyzer runs in <tmp>/cwd, from which none of
    // the hostile ids names an existing path.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let logs = root.join("logs");
    std::fs::create_dir_all(logs.join("a")).unwrap();
    let secret = r#"{"type":"session","format":1,"session":"secret_session","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}
{"type":"span","id":1,"parent":null,"name":"secret_operation","target":"t","start_ns":0,"end_ns":10,"busy_ns":10,"enters":1,"thread":"main","status":"ok","fields":{}}
{"type":"end","end_ns":10,"spans":1,"open":0,"dropped":0}
"#;
    for dir in [root.join("x"), logs.join("a").join("b"), root.clone()] {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("performance_data.jsonl"), secret).unwrap();
    }
    let cwd = tmp.path().join("cwd").join("deeper");
    std::fs::create_dir_all(&cwd).unwrap();

    let ids = ["../x", "a/b", "..", "../../../x", &"x".repeat(200), "a\\b"];
    for id in ids {
        for command in [
            &["report", id][..],
            &["report", id, "--format", "json"],
            &["export", id, "--format", "chrome"],
            &["flamegraph", id, "-o", "flame.svg"],
        ] {
            let out = run_with_deadline(
                perf_analyze()
                    .args(command)
                    .arg("--logs-dir")
                    .arg(&logs)
                    .current_dir(&cwd),
                Duration::from_secs(20),
            );
            assert_eq!(out.code(), Some(2), "{command:?}: {}", out.stderr);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                !stdout.contains("secret") && !out.stderr.contains("secret_operation"),
                "{command:?} read outside the logs directory:\n{stdout}\n{}",
                out.stderr
            );
            assert!(
                out.stderr.starts_with("error: "),
                "{command:?}: {}",
                out.stderr
            );
        }
    }
    assert!(!cwd.join("flame.svg").exists());

    // The library says the same, NUL included.
    for id in ["../x", "a/b", "..", "/etc", "a\0b", &"x".repeat(200)] {
        assert!(
            matches!(
                perf_analyze::validate_session_name(id),
                Err(perf_analyze::Error::InvalidSessionName { .. })
            ),
            "{id:?}"
        );
    }
}

#[test]
fn the_html_report_escapes_span_names_and_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("performance_data.jsonl");
    let attack = "<script>alert(1)</script><img src=x onerror=alert(2)>";
    let session = r#"{"type":"session","format":1,"session":"html","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#;
    let root = serde_json::json!({
        "type": "span", "id": 1, "parent": null, "name": attack, "target": attack,
        "start_ns": 0, "end_ns": 5_000_000, "busy_ns": 5_000_000, "enters": 1,
        "thread": attack, "status": "ok",
        "fields": { attack: attack, "gen_ai.request.model": attack },
    });
    let child = serde_json::json!({
        "type": "span", "id": 2, "parent": 1, "name": "llm_generation\"'><svg onload=alert(3)>",
        "target": "t", "start_ns": 1_000_000, "end_ns": 4_000_000, "busy_ns": 3_000_000,
        "enters": 1, "thread": "main", "status": "error",
        "fields": { "gen_ai.request.model": attack, "note": "</textarea></style></title>" },
    });
    std::fs::write(
        &data,
        format!(
            "{session}\n{child}\n{root}\n{}\n",
            r#"{"type":"end","end_ns":5000000,"spans":2,"open":0,"dropped":0}"#
        ),
    )
    .unwrap();
    let out = run_with_deadline(
        perf_analyze()
            .args(["report", "--detailed", "--format", "html", "-o"])
            .arg(tmp.path().join("report.html"))
            .arg(&data),
        Duration::from_secs(20),
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let html = std::fs::read_to_string(tmp.path().join("report.html")).unwrap();
    for raw in [
        "<script>alert",
        "<img src=x",
        "<svg onload",
        "</textarea>",
        "</style></title>",
    ] {
        assert!(!html.contains(raw), "the report holds {raw:?} unescaped");
    }
    assert!(
        html.contains("alert(1)"),
        "the name is in the report, escaped"
    );
}
