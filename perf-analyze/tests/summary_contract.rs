//! The summary JSON, parsed back: the keys docs/summary-format.md promises, and values computed by hand
//! for `fixtures/agent_turn.jsonl`.

use std::path::Path;

use perf_analyze::{analyze_path, Format, Options, RenderOptions, Summary};
use serde_json::Value;

const MS: u64 = 1_000_000;

fn summary_json() -> Value {
    let analysis = analyze_path(
        Path::new("tests/fixtures/agent_turn.jsonl"),
        &Options::default(),
    )
    .unwrap();
    serde_json::from_str(&analysis.render(Format::Json, &RenderOptions::default())).unwrap()
}

fn row<'a>(rows: &'a Value, key: &str, name: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r[key] == name)
        .unwrap_or_else(|| panic!("no {key} = {name} in {rows}"))
}

#[test]
fn promised_keys_have_their_types() {
    let s = summary_json();
    assert_eq!(s["format"], 1);
    assert!(s["session"].is_string());
    for key in ["wall_ns", "active_ns", "operations", "open", "dropped"] {
        assert!(s[key].is_u64(), "{key}: {}", s[key]);
    }
    for r in s["by_name"].as_array().unwrap() {
        for key in [
            "count", "total_ns", "self_ns", "mean_ns", "p50_ns", "p95_ns", "max_ns",
        ] {
            assert!(r[key].is_u64(), "{key} in {r}");
        }
        assert!(r["name"].is_string() && r["pct_of_wall"].is_f64());
    }
    for b in s["bottlenecks"].as_array().unwrap() {
        assert!(["high", "medium", "low"].contains(&b["severity"].as_str().unwrap()));
        assert!(!b["reasons"].as_array().unwrap().is_empty());
    }
    let categories = [
        "llm",
        "retrieval",
        "graph",
        "embeddings",
        "digest",
        "io",
        "general",
    ];
    for r in s["recommendations"].as_array().unwrap() {
        assert!(categories.contains(&r["category"].as_str().unwrap()), "{r}");
        assert!(
            r["operation"].is_string()
                && r["title"].is_string()
                && r["estimated_saving_ns"].is_u64()
        );
        assert!(!r["suggestions"].as_array().unwrap().is_empty());
    }
    for p in s["parallelism"].as_array().unwrap() {
        assert!(p["parent"].is_string() && p["operations"].is_array());
        for key in ["sequential_ns", "parallel_ns", "saving_ns"] {
            assert!(p[key].is_u64());
        }
    }
    assert!(s["critical_path"]
        .as_array()
        .unwrap()
        .iter()
        .all(Value::is_string));
    for c in s["llm_calls"].as_array().unwrap() {
        assert!(c["name"].is_string() && c["wall_ns"].is_u64());
    }
    let causes = [
        "sequential_siblings",
        "repeated_calls",
        "llm_queueing",
        "llm_model_load",
        "llm_prompt_growth",
        "llm_generation",
        "hot_operation",
        "waiting",
    ];
    for r in s["recommendations"].as_array().unwrap() {
        assert!(causes.contains(&r["cause"].as_str().unwrap()), "{r}");
        let evidence = r["evidence"].as_array().unwrap();
        assert!(!evidence.is_empty() && evidence.iter().all(Value::is_string));
        assert!(r["estimated_saving_ns"].as_u64() <= s["wall_ns"].as_u64());
    }
    for r in s["by_name"].as_array().unwrap() {
        for key in ["p99_ns", "p999_ns", "busy_ns"] {
            assert!(r[key].is_u64(), "{key} in {r}");
        }
        assert!(r["p95_ns"].as_u64() <= r["p99_ns"].as_u64());
        assert!(r["p99_ns"].as_u64() <= r["p999_ns"].as_u64());
        assert!(r["calls_per_s"].is_f64() && r["target"].is_string());
    }
    let w = &s["workload"];
    for key in ["requests", "request_ns", "long_lived_roots"] {
        assert!(w[key].is_u64(), "{key}: {w}");
    }
    assert!(w["requests_per_s"].is_f64() && w["long_lived_names"].is_array());
    let l = &s["latency_over_time"];
    assert!(l["start_ns"].is_u64() && l["bucket_ns"].is_u64());
    for b in l["buckets"].as_array().unwrap() {
        for key in ["count", "mean_ns", "max_ns"] {
            assert!(b[key].is_u64(), "{key} in {b}");
        }
    }
    // And the whole document reads back into the model.
    let back: Summary = serde_json::from_value(s.clone()).unwrap();
    assert_eq!(serde_json::to_value(&back).unwrap(), s);
}

#[test]
fn times_are_wall_active_and_self_not_sums() {
    let s = summary_json();
    assert_eq!(s["wall_ns"], 7_289 * MS); // first start 0 to last end 7.289 s
    assert_eq!(s["active_ns"], (2_743 + 1_236 + 2_289) * MS); // three disjoint stretches
    assert_eq!(s["operations"], 20);
    let by_name = &s["by_name"];
    let turn = row(by_name, "name", "memory_query_total");
    assert_eq!(turn["count"], 2);
    assert_eq!(turn["total_ns"], (2_743 + 1_901) * MS);
    // 2743 - (23 + 156 + 87 + 2456 + 18.6) and 1901 - (20 + 1879.9) ms.
    assert_eq!(turn["self_ns"], 2_400_000 + 1_100_000);
    let gen = row(by_name, "name", "llm_generation");
    assert_eq!(gen["self_ns"], 4 * MS + 1_879_900_000);
    let total_pct: f64 = by_name
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["pct_of_wall"].as_f64().unwrap())
        .sum();
    let total_self: u64 = by_name
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["self_ns"].as_u64().unwrap())
        .sum();
    let wall = s["wall_ns"].as_u64().unwrap() as f64;
    assert!((total_pct - total_self as f64 * 100.0 / wall).abs() < 1e-6);
}

#[test]
fn analyses_find_what_the_fixture_holds() {
    let s = summary_json();
    let ollama = row(&s["bottlenecks"], "name", "ollama_generate");
    assert_eq!(ollama["severity"], "high");
    // One recommendation per root cause: none for the turn, whose time is its children's.
    let recs = s["recommendations"].as_array().unwrap();
    let ops: Vec<&str> = recs
        .iter()
        .map(|r| r["operation"].as_str().unwrap())
        .collect();
    let mut unique = ops.clone();
    unique.dedup();
    assert_eq!(ops.len(), unique.len());
    assert_eq!(
        row(&s["recommendations"], "operation", "ollama_generate")["category"],
        "llm"
    );
    assert_eq!(
        row(&s["recommendations"], "operation", "ollama_generate")["cause"],
        "llm_generation"
    );
    assert!(!ops.contains(&"memory_query_total"));
    // The resolver runs only in background work: fixing it saves the user nothing.
    assert!(!ops.contains(&"graph_entity_resolver"));

    let par = row(&s["parallelism"], "parent", "memory_query_total");
    assert_eq!(par["sequential_ns"], 2_740_600_000u64);
    assert_eq!(par["saving_ns"], 2_740_600_000u64 - 2_456 * MS);
    let emb = row(&s["parallelism"], "parent", "async_embeddings_update");
    assert_eq!(emb["saving_ns"], 55 * MS);

    assert_eq!(
        s["critical_path"],
        serde_json::json!(["memory_query_total", "add_user_entry", "llm_generation"])
    );

    let call = &s["llm_calls"][0];
    assert_eq!(call["model"], "gemma3");
    assert_eq!(call["overhead_ns"], 52 * MS);
    assert_eq!(call["load_ns"], 150 * MS);
    assert!((call["tokens_per_s"].as_f64().unwrap() - 96.0 / 1.98).abs() < 1e-9);

    let bg = &s["background"];
    assert_eq!(
        (
            bg["foreground_roots"].as_u64(),
            bg["background_roots"].as_u64()
        ),
        (Some(2), Some(3))
    );
    let resolver = row(&bg["background"], "name", "graph_entity_resolver");
    assert_eq!(resolver["overlapped_ns"], 1_401 * MS);
    assert_eq!(resolver["serialized_ns"], 388 * MS);
    assert_eq!(
        row(&bg["idle"], "name", "async_digest_generation")["count"],
        1
    );
    assert_eq!(row(&bg["batching"], "operation", "embed_text")["calls"], 6);
}

#[test]
fn two_segments_sum_their_walls_and_count_drops() {
    let analysis = analyze_path(
        Path::new("tests/fixtures/two_segments.jsonl"),
        &Options::default(),
    )
    .unwrap();
    let s = &analysis.summary;
    assert_eq!(s.segments, 2);
    assert_eq!(s.wall_ns, 3_000 * MS); // 1 s + 2 s; the hour between runs is not counted
    assert_eq!(s.open, 1);
    assert_eq!(s.dropped, 3);
    assert!(!s.ended_abruptly);
}

#[test]
fn python_history_reads_like_format_one() {
    let analysis = analyze_path(
        Path::new("tests/fixtures/python_legacy.jsonl"),
        &Options::default(),
    )
    .unwrap();
    let s = &analysis.summary;
    assert!(analysis.warnings().is_empty(), "{:?}", analysis.warnings());
    assert_eq!(s.session, "legacy_session");
    assert_eq!(s.operations, 5);
    assert_eq!(s.errors, 1);
    let turn = s
        .by_name
        .iter()
        .find(|r| r.name == "memory_query_total")
        .unwrap();
    assert_eq!(turn.total_ns, 2_742 * MS);
    let llm = &s.llm_calls[0];
    assert_eq!(
        (llm.output_tokens, llm.overhead_ns),
        (Some(96), Some(56 * MS))
    );
    assert!(
        !s.ended_abruptly,
        "the Python format has no end line to miss"
    );
}
