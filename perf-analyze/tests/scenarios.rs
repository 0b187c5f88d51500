//! The diagnosis on sessions with one planted cause each: the first recommendation
//! names the planted cause and operation, every saving is possible, and a clean
//! session gets no recommendation at all.

use perf_analyze::analysis::causes::Cause;
use perf_analyze::generate::scenario::Scenario;
use perf_analyze::{analyze_reader, Analysis, Format, Options, RenderOptions};

fn analyze(scenario: Scenario) -> Analysis {
    let mut out = Vec::new();
    scenario.write(&mut out).unwrap();
    let a = analyze_reader(&out[..], scenario.name(), &Options::default()).unwrap();
    assert!(a.warnings().is_empty(), "{scenario:?}: {:?}", a.warnings());
    a
}

#[test]
fn the_first_recommendation_names_the_planted_cause_and_operation() {
    let mut failures = Vec::new();
    for scenario in Scenario::ALL {
        let Some((cause, operation)) = scenario.planted() else {
            continue;
        };
        let a = analyze(scenario);
        let got: Vec<(Cause, &str, u64)> = a
            .summary
            .recommendations
            .iter()
            .map(|r| (r.cause, r.operation.as_str(), r.estimated_saving_ns))
            .collect();
        if got.first().map(|g| (g.0, g.1)) != Some((cause, operation)) {
            failures.push(format!(
                "{scenario:?}: planted {cause:?} at {operation}, got {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_cause_is_planted_somewhere() {
    for cause in Cause::ALL {
        assert!(
            Scenario::ALL
                .iter()
                .any(|s| s.planted().is_some_and(|(c, _)| c == cause)),
            "{cause:?}"
        );
    }
}

#[test]
fn a_clean_session_gets_no_recommendation() {
    let a = analyze(Scenario::Clean);
    assert!(
        a.summary.recommendations.is_empty(),
        "{:#?}",
        a.summary.recommendations
    );
}

#[test]
fn savings_are_possible_and_ranked_and_evidence_is_given() {
    for scenario in Scenario::ALL {
        let a = analyze(scenario);
        let recs = &a.summary.recommendations;
        for r in recs {
            assert!(
                r.estimated_saving_ns <= a.summary.wall_ns,
                "{scenario:?}: {r:?} saves more than the wall time {}",
                a.summary.wall_ns
            );
            assert!(!r.evidence.is_empty(), "{scenario:?}: {r:?}");
        }
        assert!(
            recs.windows(2)
                .all(|w| w[0].estimated_saving_ns >= w[1].estimated_saving_ns),
            "{scenario:?}: not ranked by saving"
        );
    }
}

#[test]
fn queueing_names_the_background_calls_it_waited_behind() {
    let a = analyze(Scenario::LlmQueueing);
    let first = &a.summary.recommendations[0];
    let evidence = first.evidence.join("\n");
    assert!(evidence.contains("llm_digest (background"), "{evidence}");
    assert!(
        evidence.contains("waited behind background calls 10 times"),
        "{evidence}"
    );
    // Ten answers each waited 1.175 s behind the digest: that is the saving.
    assert_eq!(first.estimated_saving_ns, 10 * 1_195_000_000);
}

#[test]
fn a_server_s_connections_are_long_lived_and_not_a_fan_out() {
    let a = analyze(Scenario::Server);
    let recs = &a.summary.recommendations;
    assert!(
        recs.iter()
            .all(|r| r.cause != Cause::SequentialSiblings && r.operation != "connection"),
        "{recs:#?}"
    );
    // A connection's requests run one after another by nature: no parallelism there,
    // even where any saving counts as material.
    let mut options = Options::default();
    options.thresholds.parallel_min_share = 0.0;
    let mut out = Vec::new();
    Scenario::Server.write(&mut out).unwrap();
    let eager = analyze_reader(&out[..], "server", &options).unwrap();
    let parents: Vec<&str> = eager
        .summary
        .parallelism
        .iter()
        .map(|p| p.parent.as_str())
        .collect();
    assert!(!parents.contains(&"connection"), "{parents:?}");
    // Both operations named apply are told apart.
    assert!(recs.iter().all(|r| r.operation != "apply"), "{recs:#?}");
    let rows: Vec<(&str, u64)> = a
        .summary
        .by_name
        .iter()
        .map(|r| (r.name.as_str(), r.count))
        .collect();
    assert!(
        rows.contains(&("apply [server::cmd::get]", 800)),
        "{rows:?}"
    );
    assert!(
        rows.contains(&("apply [server::cmd::set]", 800)),
        "{rows:?}"
    );
    assert_eq!(a.summary.workload.long_lived_roots, 9);
    assert_eq!(a.summary.workload.requests, 8 * 200 + 1);
    // The latest operation is a request, not a connection.
    let latest = a.latest.as_ref().unwrap().root();
    assert_eq!((&*latest.name, latest.duration_ns()), ("apply", 2_100_000));
    // p99 is of the slow sets: half the requests take 2.1 ms.
    let set = a
        .summary
        .by_name
        .iter()
        .find(|r| r.name.ends_with("set]"))
        .unwrap();
    assert!(set.p99_ns >= 2_079_000 && set.p999_ns >= set.p99_ns);
    assert!(
        (set.calls_per_s - 800.0 / 4.999).abs() < 0.01,
        "{}",
        set.calls_per_s
    );
}

#[test]
fn a_saving_over_concurrent_requests_is_divided_by_their_concurrency() {
    // Four requests at once, each waiting 90 ms in update_cache: 360 ms of waiting in
    // 100 ms of wall time save at most the 90 ms that each user waited.
    let mut lines = vec![r#"{"type":"session","format":1,"session":"c","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#.to_owned()];
    for r in 0..4u64 {
        let (root, child) = (2 * r + 1, 2 * r + 2);
        lines.push(format!(r#"{{"type":"span","id":{child},"parent":{root},"name":"update_cache","target":"t","start_ns":5000000,"end_ns":95000000,"busy_ns":0,"enters":1,"thread":"w","status":"ok","fields":{{}}}}"#));
        lines.push(format!(r#"{{"type":"span","id":{root},"parent":null,"name":"handle","target":"t","start_ns":0,"end_ns":100000000,"busy_ns":10000000,"enters":1,"thread":"w","status":"ok","fields":{{}}}}"#));
    }
    lines.push(r#"{"type":"end","end_ns":100000000,"spans":8,"open":0,"dropped":0}"#.to_owned());
    let data = lines.join("\n") + "\n";
    let a = analyze_reader(data.as_bytes(), "c", &Options::default()).unwrap();
    let first = &a.summary.recommendations[0];
    assert_eq!(
        (first.cause, first.operation.as_str()),
        (Cause::Waiting, "update_cache")
    );
    assert_eq!(first.estimated_saving_ns, 90_000_000);
}

#[test]
fn the_report_prints_no_share_above_100_percent() {
    let render = RenderOptions {
        detailed: true,
        width: 200,
    };
    for scenario in Scenario::ALL {
        let text = analyze(scenario).render(Format::Table, &render);
        for word in text.split_whitespace() {
            let Some(number) = word
                .trim_matches(|c| c == '(' || c == ')' || c == ',')
                .strip_suffix('%')
            else {
                continue;
            };
            let Ok(share) = number.parse::<f64>() else {
                continue;
            };
            assert!(share <= 100.0, "{scenario:?}: {word} in\n{text}");
        }
    }
}

/// A span: id, parent, name, target, start, end, busy, the keys after `status`.
type Line<'a> = (u64, Option<u64>, &'a str, &'a str, u64, u64, u64, String);

/// Format-1 lines of a session from spans: (id, parent, name, target, start, end, busy,
/// extra keys after `status`, e.g. `,"follows_from":[1]`), in the order given.
fn session(spans: &[Line<'_>]) -> Analysis {
    let mut lines = vec![r#"{"type":"session","format":1,"session":"s","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#.to_owned()];
    for (id, parent, name, target, start, end, busy, extra) in spans {
        let parent = parent.map_or("null".to_owned(), |p| p.to_string());
        lines.push(format!(
            r#"{{"type":"span","id":{id},"parent":{parent},"name":"{name}","target":"{target}","start_ns":{start},"end_ns":{end},"busy_ns":{busy},"enters":1,"thread":"main","status":"ok"{extra}}}"#
        ));
    }
    let last = spans.iter().map(|s| s.5).max().unwrap_or(0);
    lines.push(format!(
        r#"{{"type":"end","end_ns":{last},"spans":{},"open":0,"dropped":0}}"#,
        spans.len()
    ));
    let a = analyze_reader(lines.join("\n").as_bytes(), "s", &Options::default()).unwrap();
    assert!(a.warnings().is_empty(), "{:?}", a.warnings());
    a
}

const MS: u64 = 1_000_000;

/// A turn whose answer (`llm_answer`, model `big`) queued behind a background digest on
/// another model (`small`); both name their server.
fn queued_turn(digest_server: &str) -> Analysis {
    let call = |model: &str, server: &str, total: u64| {
        format!(
            r#","fields":{{"gen_ai.request.model":"{model}","server.address":"{server}","gen_ai.usage.output_tokens":50,"ollama.total_duration_ns":{total},"ollama.eval_duration_ns":{total}}}"#
        )
    };
    session(&[
        (
            2,
            Some(1),
            "llm_answer",
            "agent",
            10 * MS,
            1_510 * MS,
            MS,
            call("big", "gpu:11434", 400 * MS),
        ),
        (
            1,
            None,
            "turn",
            "agent",
            0,
            1_520 * MS,
            2 * MS,
            String::new(),
        ),
        (
            4,
            Some(3),
            "llm_digest",
            "agent",
            5 * MS,
            1_105 * MS,
            MS,
            call("small", digest_server, 1_100 * MS),
        ),
        (
            3,
            None,
            "digest_task",
            "agent",
            5 * MS,
            1_106 * MS,
            MS,
            r#","follows_from":[1]"#.to_owned(),
        ),
    ])
}

#[test]
fn llm_calls_queue_behind_calls_to_the_same_server_whatever_the_model() {
    let a = queued_turn("gpu:11434");
    let first = &a.summary.recommendations[0];
    assert_eq!(
        (first.cause, first.operation.as_str()),
        (Cause::LlmQueueing, "llm_answer")
    );
    assert_eq!(first.title, "llm_answer queues behind llm_digest");
    let evidence = first.evidence.join("\n");
    assert!(
        evidence.contains("same server gpu:11434 (model big)"),
        "{evidence}"
    );
    assert_eq!(a.summary.llm_calls[0].server.as_deref(), Some("gpu:11434"));
    // On another server, the digest was no one's queue.
    let a = queued_turn("cpu:11434");
    let first = &a.summary.recommendations[0];
    assert_eq!(first.cause, Cause::LlmQueueing);
    assert!(
        first
            .title
            .ends_with("the server's own time is a fraction of the call"),
        "{first:?}"
    );
}

#[test]
fn many_short_waits_of_a_client_call_are_one_cause_with_what_the_server_took() {
    // A server: one connection root for 2 s whose 100 requests (`apply` of
    // srv::cmd::get) each take 20 us of work; a client whose 100 `get` calls each wait
    // 500 us (1 ms apart, so no single call waits long enough to count on its own).
    let mut spans = Vec::new();
    let mut id = 1;
    for i in 0..100u64 {
        let at = 10 * MS + i * 10 * MS;
        id += 1;
        spans.push((
            id,
            Some(1),
            "apply",
            "srv::cmd::get",
            at + 200_000,
            at + 220_000,
            20_000,
            String::new(),
        ));
        id += 1;
        spans.push((
            id,
            None,
            "get",
            "client",
            at,
            at + 520_000,
            20_000,
            String::new(),
        ));
    }
    spans.push((
        1,
        None,
        "run",
        "srv::conn",
        0,
        2_000 * MS,
        MS,
        String::new(),
    ));
    let a = session(&spans);
    let first = &a.summary.recommendations[0];
    assert_eq!(
        (first.cause, first.operation.as_str()),
        (Cause::Waiting, "get"),
        "{first:#?}"
    );
    let evidence = first.evidence.join("\n");
    assert!(
        evidence.contains("the server's requests (children of long-lived roots) took apply 20.0us mean (100 requests) against 520.0us mean for get"),
        "{evidence}"
    );
    assert!(first.estimated_saving_ns <= 100 * 500_000, "{first:?}");
    assert_eq!(a.summary.workload.long_lived_requests, 100);
    assert_eq!(a.summary.workload.requests, 200);
}

#[test]
fn a_root_started_beside_another_name_s_turn_is_background_and_side_by_side_requests_are_not() {
    // Two turns, each starting an `indexer` root (no follows_from) that outlives it; then
    // three `get` roots side by side.
    let plain = String::new;
    let a = session(&[
        (1, None, "turn", "app", 0, 100 * MS, 100 * MS, plain()),
        (
            2,
            None,
            "indexer",
            "app",
            50 * MS,
            150 * MS,
            100 * MS,
            plain(),
        ),
        (
            3,
            None,
            "turn",
            "app",
            200 * MS,
            300 * MS,
            100 * MS,
            plain(),
        ),
        (
            4,
            None,
            "indexer",
            "app",
            250 * MS,
            350 * MS,
            100 * MS,
            plain(),
        ),
        (5, None, "get", "app", 400 * MS, 500 * MS, 100 * MS, plain()),
        (6, None, "get", "app", 410 * MS, 510 * MS, 100 * MS, plain()),
        (7, None, "get", "app", 420 * MS, 520 * MS, 100 * MS, plain()),
    ]);
    let bg = &a.summary.background;
    assert_eq!((bg.foreground_roots, bg.background_roots), (5, 2), "{bg:?}");
    assert_eq!(bg.background[0].name, "indexer");
    // The causes count the same user-facing work: two turns and three requests.
    assert_eq!(a.summary.workload.requests, 5);
    assert_eq!(a.summary.workload.request_ns, 500 * MS);
    let user_facing = |name: &str| {
        a.summary
            .by_name
            .iter()
            .find(|r| r.name == name)
            .map(|r| (r.count, r.user_facing))
    };
    assert_eq!(user_facing("indexer"), Some((2, 0)));
    assert_eq!(user_facing("get"), Some((3, 3)));
    // The table marks what ran only in background work.
    let text = a.render(Format::Table, &RenderOptions::default());
    assert!(
        text.contains("indexer (bg)") && !text.contains("get (bg)"),
        "{text}"
    );
}
