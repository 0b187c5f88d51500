//! The built binary, end to end in sim mode (instant): a piped session writes its files,
//! the span tree is what the issue promises, and a resumed guid appends a segment and
//! keeps its memory.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use perf_layer::record::{llm, Record, SpanRecord, Status, DATA_FILE};

struct Run {
    stdout: String,
    stderr: String,
}

fn run(logs: &Path, guid: &str, input: &str, extra: &[&str]) -> Run {
    // Instant answers unless `extra` sets the pace.
    let speed: &[&str] = if extra.contains(&"--sim-speed") {
        &[]
    } else {
        &["--sim-speed", "0"]
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_agent-demo"))
        .args(["--guid", guid, "--config", "dnd", "--llm", "sim"])
        .args(speed)
        .arg("--logs-dir")
        .arg(logs)
        .args(extra)
        .env_remove("OLLAMA_BASE_URL")
        .env_remove("DEV_MODE")
        .env_remove("PERF_LOGS_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("agent-demo starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let run = Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        out.status.success(),
        "exit {:?}\n{}\n{}",
        out.status,
        run.stdout,
        run.stderr
    );
    run
}

/// The records of the data file, split into segments.
fn segments(dir: &Path) -> Vec<Vec<Record>> {
    let text = std::fs::read_to_string(dir.join(DATA_FILE)).unwrap();
    let mut out: Vec<Vec<Record>> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let record: Record =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}: {line}", i + 1));
        if matches!(record, Record::Session(_)) {
            out.push(Vec::new());
        }
        out.last_mut().expect("session line first").push(record);
    }
    out
}

fn spans(segment: &[Record]) -> HashMap<u64, &SpanRecord<'static>> {
    segment
        .iter()
        .filter_map(|r| match r {
            Record::Span(s) => Some((s.id, s)),
            _ => None,
        })
        .collect()
}

fn named<'a>(
    spans: &HashMap<u64, &'a SpanRecord<'static>>,
    name: &str,
) -> Vec<&'a SpanRecord<'static>> {
    let mut v: Vec<_> = spans.values().copied().filter(|s| s.name == name).collect();
    v.sort_by_key(|s| s.start_ns);
    v
}

const TURNS: &str = "\
Hello! We arrive in Haven at dusk.
Who is the mayor of Haven?
Our wizard is named Zanthor the Grey and he carries the Moonstone.
We travel to Mountain Keep to meet Theron.
perf
";

#[test]
fn piped_session_records_the_promised_span_tree() {
    let logs = tempfile::tempdir().unwrap();
    let out = run(logs.path(), "e2e", TURNS, &[]);
    assert!(
        out.stdout.contains("SESSION PERFORMANCE REPORT"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(&format!(
        "Detailed performance data saved to: {}/",
        logs.path().join("e2e").display()
    )));
    assert!(
        out.stdout.contains("background operation"),
        "perf reports them"
    );
    assert_eq!(out.stdout.matches("Agent: ").count(), 4, "{}", out.stdout);

    let dir = logs.path().join("e2e");
    let segments = segments(&dir);
    assert_eq!(segments.len(), 1);
    let segment = &segments[0];
    let Some(Record::End(end)) = segment.last() else {
        panic!("the segment ends with its end line")
    };
    assert_eq!(end.open, 0, "piped mode waits for background work");
    let spans = spans(segment);
    assert_eq!(end.spans as usize, spans.len());

    // No orphan parents, no dangling follows_from.
    for s in spans.values() {
        if let Some(p) = s.parent {
            assert!(spans.contains_key(&p), "{} has unknown parent {p}", s.name);
        }
        for f in &s.follows_from {
            assert!(spans.contains_key(f), "{} follows unknown {f}", s.name);
        }
        assert_eq!(s.status, Status::Ok, "{} failed", s.name);
    }

    let turns = named(&spans, "memory_query_total");
    assert_eq!(turns.len(), 4);
    for turn in &turns {
        assert_eq!(turn.parent, None);
        let children: Vec<&str> = named_children(&spans, turn.id);
        assert_eq!(
            children,
            [
                "add_user_entry",
                "format_memory_components",
                "rag_enhancement",
                "graph_context",
                "format_prompt",
                "llm_generation",
                "add_agent_entry",
                "start_async_operations"
            ]
        );
        let llm = named(&spans, "llm_generation")
            .into_iter()
            .find(|s| s.parent == Some(turn.id))
            .unwrap();
        assert_eq!(llm.fields[llm::REQUEST_MODEL], "simulated");
        // The literal in the span's fields is the constant the analyzer reads.
        assert_eq!(llm.fields[llm::SERVER_ADDRESS], "sim");
        assert_eq!(llm.fields[llm::OPERATION_NAME], "generate");
        assert_eq!(llm.fields["purpose"], "chat");
        assert!(llm.fields[llm::INPUT_TOKENS].as_u64().unwrap() > 0);
        assert!(llm.fields[llm::OUTPUT_TOKENS].as_u64().unwrap() > 0);
        assert!(llm.fields["prompt_chars"].as_u64().unwrap() > 100);
        assert!(llm.fields.contains_key(llm::TOTAL_DURATION_NS));
    }

    // Background roots: no parent, follow from the turn that stored their entry.
    for (name, per_turn) in [
        ("async_process_entry_user", 0),
        ("async_process_entry_agent", 1),
    ] {
        let roots = named(&spans, name);
        assert_eq!(roots.len(), 4, "{name}");
        for root in roots {
            assert_eq!(root.parent, None);
            assert_eq!(root.follows_from.len(), 1);
            let turn = spans[&root.follows_from[0]];
            assert_eq!(turn.name, "memory_query_total");
            let turn_entry = turn.fields["entry_id"].as_u64().unwrap();
            assert_eq!(
                root.fields["entry_id"].as_u64().unwrap(),
                turn_entry + per_turn
            );
            let children = named_children(&spans, root.id);
            assert_eq!(children[0], "async_digest_generation");
            let digest = named(&spans, "async_digest_generation")
                .into_iter()
                .find(|s| s.parent == Some(root.id))
                .unwrap();
            assert_eq!(named_children(&spans, digest.id), ["llm_digest"]);
            let mut rest = children[1..].to_vec();
            rest.sort_unstable();
            assert_eq!(
                rest,
                ["async_embeddings_update", "async_graph_memory_update"]
            );
        }
    }
    for s in named(&spans, "prepare_graph_input").into_iter().chain(
        named(&spans, "graph_entity_resolver")
            .into_iter()
            .filter(|s| {
                // The static memory is graphed once at startup, outside any turn.
                spans[&s.parent.unwrap()].name != "initialize_static_memory"
            }),
    ) {
        let parent = spans[&s.parent.unwrap()];
        let grandparent = spans[&parent.parent.unwrap()];
        assert_eq!(
            parent.name, "graph_conversation_level_processing",
            "{}",
            s.name
        );
        assert_eq!(grandparent.name, "async_graph_memory_update");
    }

    // `llm_generation` is a turn's answer only; background calls have names of their
    // own and the same GenAI fields.
    for s in named(&spans, "llm_generation") {
        assert_eq!(spans[&s.parent.unwrap()].name, "memory_query_total");
    }
    let graph_calls = named(&spans, "llm_graph_extraction");
    assert!(!graph_calls.is_empty());
    for s in &graph_calls {
        assert_eq!(
            spans[&s.parent.unwrap()].name,
            "graph_conversation_level_processing"
        );
    }
    for (name, purpose) in [("llm_digest", "digest"), ("llm_graph_extraction", "graph")] {
        for s in named(&spans, name) {
            assert_eq!(s.fields["purpose"], purpose, "{name}");
            assert_eq!(s.fields["gen_ai.operation.name"], "generate", "{name}");
            assert_eq!(s.fields["gen_ai.request.model"], "simulated", "{name}");
            assert!(s.fields["gen_ai.usage.output_tokens"].as_u64().unwrap() > 0);
            assert!(s.fields.contains_key("ollama.total_duration_ns"), "{name}");
        }
    }

    // Memory files.
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 8);
    let digests = std::fs::read_to_string(dir.join("digests.jsonl")).unwrap();
    assert_eq!(digests.lines().count(), 8);
    let graph: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("graph.json")).unwrap()).unwrap();
    let names: Vec<&str> = graph["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Zanthor the Grey"), "{names:?}");
    assert!(names.contains(&"Elena"), "static memory: {names:?}");

    // The summary reflects the complete session.
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("performance_summary.json")).unwrap(),
    )
    .unwrap();
    let by_name: HashMap<&str, u64> = summary["by_name"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["name"].as_str().unwrap(), n["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(by_name["memory_query_total"], 4);
    assert_eq!(by_name["async_process_entry_agent"], 4);
    assert_eq!(by_name["llm_generation"], 4, "one answer a turn");
    // The analyzer counts the background calls as LLM calls too.
    let llm_calls: Vec<&str> = summary["llm_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for name in ["llm_generation", "llm_digest", "llm_graph_extraction"] {
        assert_eq!(
            llm_calls.iter().filter(|&&n| n == name).count(),
            named(&spans, name).len(),
            "{name}: {llm_calls:?}"
        );
    }
}

#[test]
fn the_demo_s_report_says_first_that_answers_queue_behind_background_calls() {
    // At the simulated model's real pace (latency x1): its server answers one call at a
    // time, so the second turn's answer waits behind the first turn's background calls.
    let logs = tempfile::tempdir().unwrap();
    let turns = "Hello! We arrive in Haven at dusk.\nWho is the mayor of Haven?\n";
    let out = run(logs.path(), "queue", turns, &["--sim-speed", "1"]);
    assert!(
        out.stdout
            .contains("Fix first: llm_generation queues behind llm_"),
        "{}",
        out.stdout
    );
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(logs.path().join("queue/performance_summary.json")).unwrap(),
    )
    .unwrap();
    let first = &summary["recommendations"][0];
    assert_eq!(
        (first["cause"].as_str(), first["operation"].as_str()),
        (Some("llm_queueing"), Some("llm_generation")),
        "{first}"
    );
    assert!(
        first["evidence"][1]
            .as_str()
            .unwrap()
            .contains("same server sim (model simulated)"),
        "{first}"
    );
}

/// The names of a span's children, in start order.
fn named_children<'a>(spans: &HashMap<u64, &'a SpanRecord<'static>>, parent: u64) -> Vec<&'a str> {
    let mut children: Vec<&SpanRecord<'static>> = spans
        .values()
        .copied()
        .filter(|s| s.parent == Some(parent))
        .collect();
    children.sort_by_key(|s| (s.start_ns, s.id));
    children.iter().map(|s| s.name.as_ref()).collect()
}

#[test]
fn a_resumed_session_appends_a_segment_and_remembers() {
    let logs = tempfile::tempdir().unwrap();
    run(
        logs.path(),
        "again",
        "Our wizard is named Zanthor the Grey.\nquit\nignored after quit\n",
        &[],
    );
    let second = run(logs.path(), "again", "Tell me about Zanthor.\n", &[]);
    assert!(
        second.stdout.contains("session again resumed: 2 entries"),
        "{}",
        second.stdout
    );
    let answer = second
        .stdout
        .lines()
        .find(|l| l.starts_with("Agent: "))
        .unwrap();
    assert!(answer.contains("Zanthor"), "{answer}");

    let dir = logs.path().join("again");
    let segments = segments(&dir);
    assert_eq!(segments.len(), 2);
    for segment in &segments {
        assert!(matches!(segment.last(), Some(Record::End(_))));
        assert_eq!(named(&spans(segment), "memory_query_total").len(), 1);
    }
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 4);
    assert!(second.stderr.is_empty(), "{}", second.stderr);
}

#[test]
fn no_perf_records_nothing_but_keeps_memory() {
    let logs = tempfile::tempdir().unwrap();
    let out = run(logs.path(), "bare", "Hello Haven.\nperf\n", &["--no-perf"]);
    assert!(out.stdout.contains("Performance tracking is off"));
    assert!(!out.stdout.contains("SESSION PERFORMANCE REPORT"));
    let dir = logs.path().join("bare");
    assert!(!dir.join(DATA_FILE).exists());
    assert_eq!(
        std::fs::read_to_string(dir.join("history.jsonl"))
            .unwrap()
            .lines()
            .count(),
        2
    );
}

#[test]
fn list_shows_saved_sessions() {
    let logs = tempfile::tempdir().unwrap();
    run(logs.path(), "listed", "Hi.\n", &[]);
    let out = Command::new(env!("CARGO_BIN_EXE_agent-demo"))
        .arg("--list")
        .arg("--logs-dir")
        .arg(logs.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let row = stdout.lines().find(|l| l.starts_with("listed")).unwrap();
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[1..3], ["2", "1"], "{row}");
}

#[test]
fn an_unreachable_ollama_fails_the_turn_not_the_session() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let logs = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_agent-demo"))
        .args(["--guid", "down", "--llm", "ollama", "--ollama-url", &url])
        .arg("--logs-dir")
        .arg(logs.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Hello?\nmemory\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success());
    assert!(
        stderr.contains(&format!("error: cannot reach Ollama at {url}")),
        "{stderr}"
    );
    assert!(
        stdout.contains("1 entries"),
        "the session went on: {stdout}"
    );
    let segments = segments(&logs.path().join("down"));
    let spans = spans(&segments[0]);
    let llm = named(&spans, "llm_generation");
    assert_eq!(llm.len(), 1);
    assert_eq!(llm[0].status, Status::Error);
    assert_eq!(named(&spans, "memory_query_total")[0].status, Status::Error);
}

/// Runs the demo in `cwd` with the given environment and extra arguments (no `--logs-dir`
/// unless given), feeding it one turn.
fn run_with_env(cwd: &Path, env: &[(&str, &Path)], dev_mode: Option<&str>, extra: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_agent-demo"));
    command
        .current_dir(cwd)
        .args(["--guid", "g", "--llm", "sim", "--sim-speed", "0"])
        .args(extra)
        .env_remove("OLLAMA_BASE_URL")
        .env_remove("DEV_MODE")
        .env_remove("PERF_LOGS_DIR");
    for (key, value) in env {
        command.env(key, value);
    }
    if let Some(value) = dev_mode {
        command.env("DEV_MODE", value);
    }
    let out = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(b"Hello Haven.\n")?;
            child.wait_with_output()
        })
        .unwrap();
    let run = Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(out.status.success(), "{}\n{}", run.stdout, run.stderr);
    run
}

fn saved_to(run: &Run) -> &str {
    run.stdout
        .lines()
        .find_map(|l| l.strip_prefix("Detailed performance data saved to: "))
        .unwrap_or_else(|| panic!("no saved-to line:\n{}", run.stdout))
}

fn echoes(run: &Run) -> bool {
    run.stdout.contains("PERF_START: ") || run.stderr.contains("PERF_START: ")
}

#[test]
fn logs_dir_is_the_flag_else_perf_logs_dir_else_logs_and_dev_mode_echoes() {
    let tmp = tempfile::tempdir().unwrap();
    let from_env = tmp.path().join("from_env");
    let from_flag = tmp.path().join("from_flag");

    // Neither: `logs` in the working directory, said as given; no echo.
    let out = run_with_env(tmp.path(), &[], None, &[]);
    assert!(tmp.path().join("logs/g").join(DATA_FILE).is_file());
    assert_eq!(saved_to(&out), "logs/g/");
    assert!(!echoes(&out));

    // The environment: PERF_LOGS_DIR is used, DEV_MODE=true turns the echo on.
    let out = run_with_env(
        tmp.path(),
        &[("PERF_LOGS_DIR", &from_env)],
        Some("true"),
        &[],
    );
    assert!(from_env.join("g").join(DATA_FILE).is_file());
    assert_eq!(saved_to(&out), format!("{}/", from_env.join("g").display()));
    assert!(
        echoes(&out),
        "DEV_MODE=true shows live lines:\n{}",
        out.stdout
    );

    // The flag beats the environment; DEV_MODE=1 counts too, DEV_MODE=false does not.
    let flag = from_flag.to_str().unwrap();
    let out = run_with_env(
        tmp.path(),
        &[("PERF_LOGS_DIR", &from_env)],
        Some("1"),
        &["--logs-dir", flag],
    );
    assert!(from_flag.join("g").join(DATA_FILE).is_file());
    assert_eq!(saved_to(&out), format!("{flag}/g/"));
    assert!(echoes(&out));
    let out = run_with_env(tmp.path(), &[], Some("false"), &["--logs-dir", flag]);
    assert!(!echoes(&out));
    let out = run_with_env(
        tmp.path(),
        &[],
        Some("false"),
        &["--logs-dir", flag, "--dev"],
    );
    assert!(echoes(&out));
}
