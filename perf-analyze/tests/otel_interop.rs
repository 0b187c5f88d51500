//! OpenTelemetry interop from the command line: OTLP JSON and Jaeger JSON read by every
//! subcommand, `export --format otlp` read back and decoded by the OpenTelemetry
//! project's own Python decoder, `--endpoint` against a receiver on loopback, and files
//! written by the OpenTelemetry Python SDK.
//!
//! The Python tests use the venv `scripts/otel-venv.sh` makes. Without Python (or without
//! the packages and no way to install them) they are skipped with a notice, unless `CI`
//! is set: in CI they must run (`.ci/run` makes the venv).

mod cli_common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use cli_common::{fixture, install_session, run, stderr, stdout};
use serde_json::Value;

/// Per name: (count, total_ns, self_ns).
type ByName = BTreeMap<String, (u64, u64, u64)>;

fn report_json(path: &str) -> Value {
    let out = run(&["report", path, "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

fn by_name(summary: &Value) -> ByName {
    summary["by_name"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let n = |k: &str| row[k].as_u64().unwrap();
            let name = row["name"].as_str().unwrap().to_owned();
            (name, (n("count"), n("total_ns"), n("self_ns")))
        })
        .collect()
}

/// The `by_name` row of `name` in a summary.
fn row<'a>(summary: &'a Value, name: &str) -> &'a Value {
    let rows = summary["by_name"].as_array().unwrap();
    rows.iter().find(|r| r["name"] == name).unwrap()
}

/// The agent-turn fixture exported as OTLP JSON into `dir`.
fn exported(dir: &Path) -> String {
    let out_path = dir.join("exported.jsonl");
    let out = run(&[
        "export",
        &fixture("", "agent_turn.jsonl"),
        "--format",
        "otlp",
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    out_path.to_string_lossy().into_owned()
}

#[test]
fn a_jaeger_document_is_read_with_the_totals_computed_by_hand() {
    let path = fixture("otel", "jaeger_trace.json");
    let out = run(&["report", &path, "--format", "json"]);
    assert!(out.status.success());
    assert_eq!(stderr(&out), "", "no warnings");
    let summary: Value = serde_json::from_str(&stdout(&out)).unwrap();
    // Trace 1: the request [0,1000] µs has children [100,400], [450,700] and [300,800]
    // (their union is 700 µs); cache_refresh [1200,1500] follows from it and has a
    // 50 µs child. Trace 2: a request of 600 µs with a 100 µs child.
    let expected: ByName = [
        ("HTTP GET /dispatch", (2, 1_600_000, 300_000 + 500_000)),
        ("SQL SELECT", (4, 700_000, 700_000)),
        ("render", (1, 500_000, 500_000)),
        ("cache_refresh", (1, 300_000, 250_000)),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v))
    .collect();
    assert_eq!(by_name(&summary), expected);
    assert_eq!(summary["wall_ns"], 2_600_000);
    assert_eq!(
        row(&summary, "SQL SELECT")["errors"],
        1,
        "the error tag makes an error"
    );
    let text = stdout(&run(&["report", &path, "--detailed"]));
    // A file that names no session is named by its stem.
    assert!(text.contains("Session: jaeger_trace"), "{text}");
}

#[test]
fn every_subcommand_reads_otlp_and_jaeger_files() {
    let dir = tempfile::tempdir().unwrap();
    let otlp = exported(dir.path());
    let jaeger = fixture("otel", "jaeger_trace.json");
    let logs = dir.path().join("logs");
    install_session(&logs, "from_jaeger", &jaeger);
    install_session(&logs, "from_otlp", &otlp);
    let logs = logs.to_str().unwrap();
    let list = run(&["list", "--logs-dir", logs]);
    assert!(list.status.success(), "{}", stderr(&list));
    for session in ["from_jaeger", "from_otlp"] {
        assert!(stdout(&list).contains(session), "{}", stdout(&list));
    }
    for input in [&otlp, &jaeger] {
        let svg = run(&["flamegraph", input]);
        assert!(svg.status.success(), "{}", stderr(&svg));
        assert!(stdout(&svg).contains("<svg"));
        let chrome = run(&["export", input, "--format", "chrome"]);
        assert!(chrome.status.success(), "{}", stderr(&chrome));
        let html = run(&["report", input, "--format", "html"]);
        assert!(html.status.success(), "{}", stderr(&html));
        let compare = run(&["compare", input, input]);
        assert!(compare.status.success(), "{}", stderr(&compare));
    }
}

#[test]
fn exported_otlp_reads_back_with_the_same_totals() {
    let dir = tempfile::tempdir().unwrap();
    let otlp = exported(dir.path());
    let original = report_json(&fixture("", "agent_turn.jsonl"));
    let back = report_json(&otlp);
    assert_eq!(by_name(&back), by_name(&original));
    for key in ["wall_ns", "active_ns", "operations"] {
        assert_eq!(back[key], original[key], "{key}");
    }
    assert_eq!(back["llm_calls"], original["llm_calls"]);
    let first: Value = serde_json::from_str(
        std::fs::read_to_string(&otlp)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let resource = &first["resourceSpans"][0]["resource"]["attributes"][0];
    assert_eq!(resource["key"], "service.name");
    assert_eq!(resource["value"]["stringValue"], "agent-demo");
}

/// One HTTP request as a receiver saw it.
#[derive(Debug)]
struct Received {
    path: String,
    content_type: String,
    body: Vec<u8>,
}

/// An OTLP/HTTP receiver on loopback answering every request with `status` and `reply`;
/// returns its base URL and what it received.
fn receiver(status: &'static str, reply: &'static str) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || serve(stream, status, reply, &log));
        }
    });
    (url, received)
}

/// Serves the requests of one (keep-alive) connection.
fn serve(stream: TcpStream, status: &str, reply: &str, log: &Mutex<Vec<Received>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line.split(' ').nth(1).unwrap_or("").to_owned();
        let (mut length, mut content_type) = (0, String::new());
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap(),
                "content-type" => content_type = value.trim().to_owned(),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        log.lock().unwrap().push(Received {
            path,
            content_type,
            body,
        });
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{reply}",
            reply.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

#[test]
fn endpoint_sends_every_span_to_v1_traces() {
    let (url, received) = receiver("200 OK", "{}");
    let path = fixture("", "agent_turn.jsonl");
    let out = run(&["export", &path, "--format", "otlp", "--endpoint", &url]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "nothing written when sending");
    let operations = report_json(&path)["operations"].as_u64().unwrap();
    assert!(
        stderr(&out).contains(&format!(
            "Sent {operations} spans in 1 requests to {url}/v1/traces"
        )),
        "{}",
        stderr(&out)
    );
    let received = received.lock().unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, "/v1/traces");
    assert_eq!(received[0].content_type, "application/json");
    let request: Value = serde_json::from_slice(&received[0].body).unwrap();
    let spans: usize = request["resourceSpans"][0]["scopeSpans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|scope| scope["spans"].as_array().unwrap().len())
        .sum();
    assert_eq!(spans as u64, operations);
}

#[test]
fn endpoint_problems_are_clear_errors() {
    let path = fixture("", "agent_turn.jsonl");
    // Nothing listens on a port just freed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = run(&["export", &path, "--format", "otlp", "--endpoint", &url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!(
            "cannot reach the OTLP receiver at {url}/v1/traces (request 1 ("
        )),
        "{}",
        stderr(&out)
    );
    let (url, _) = receiver("400 Bad Request", r#"{"message":"bad span"}"#);
    let out = run(&["export", &path, "--format", "otlp", "--endpoint", &url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("refused request 1 (") && stderr(&out).contains("HTTP 400"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("bad span"), "{}", stderr(&out));
    let (url, _) = receiver(
        "200 OK",
        r#"{"partialSuccess":{"rejectedSpans":"2","errorMessage":"too old"}}"#,
    );
    let out = run(&["export", &path, "--format", "otlp", "--endpoint", &url]);
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("rejected 2 spans: too old"),
        "{}",
        stderr(&out)
    );
    let out = run(&["export", &path, "--format", "chrome", "--endpoint", &url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("use it with --format otlp"));
}

/// The venv's python, made by `scripts/otel-venv.sh` once per test run; `None` (with a
/// notice) if it cannot be made and `CI` is unset.
fn python() -> Option<&'static Path> {
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
            let made = Command::new("bash")
                .arg(root.join("scripts/otel-venv.sh"))
                .current_dir(root)
                .output();
            match made {
                Ok(out) if out.status.success() => {
                    let python = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                    Some(root.join(python))
                }
                other => {
                    let why = match other {
                        Ok(out) => String::from_utf8_lossy(&out.stderr).into_owned(),
                        Err(e) => e.to_string(),
                    };
                    assert!(
                        std::env::var_os("CI").is_none(),
                        "CI is set but scripts/otel-venv.sh failed: {why}"
                    );
                    eprintln!("skipped: no OpenTelemetry Python venv ({why})");
                    None
                }
            }
        })
        .as_deref()
}

/// Runs the fixture's `otel_tool.py` command on `file`; returns its stdout.
fn otel_tool(python: &Path, command: &str, file: &str) -> String {
    let out = Command::new(python)
        .arg(fixture("otel", "otel_tool.py"))
        .args([command, file])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "otel_tool.py {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `otel_tool.py expect` or `decode` output as [`ByName`].
fn tool_by_name(json: &str) -> ByName {
    let map: BTreeMap<String, BTreeMap<String, u64>> = serde_json::from_str(json).unwrap();
    map.into_iter()
        .map(|(name, row)| (name, (row["count"], row["total_ns"], row["self_ns"])))
        .collect()
}

#[test]
fn files_of_the_opentelemetry_python_sdk_are_read_with_its_counts_and_times() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("traces.jsonl");
    let file = file.to_str().unwrap();
    otel_tool(python, "produce", file);
    let lines = std::fs::read_to_string(file).unwrap().lines().count();
    assert!(
        lines > 1,
        "the SDK wrote {lines} lines: spans of a trace span lines"
    );
    let expected = tool_by_name(&otel_tool(python, "expect", file));
    let out = run(&["report", file, "--format", "json"]);
    assert!(out.status.success());
    assert_eq!(stderr(&out), "", "no warnings");
    let summary: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(by_name(&summary), expected);
    assert_eq!(expected["fetch_price"].0, 6);
    assert_eq!(
        row(&summary, "payment")["errors"],
        1,
        "status code 2 is an error"
    );
    let calls = summary["llm_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 3, "gen_ai attributes make LLM calls");
    assert_eq!(calls[0]["model"], "gemma3");
    assert_eq!(calls[0]["output_tokens"], 40);
}

#[test]
fn exported_otlp_decodes_with_opentelemetry_proto_json() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let otlp = exported(dir.path());
    let decoded = tool_by_name(&otel_tool(python, "decode", &otlp));
    let original = by_name(&report_json(&fixture("", "agent_turn.jsonl")));
    assert_eq!(decoded, original);
}
