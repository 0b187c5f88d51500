//! Bad input never panics and never hangs: the malformed corpus, deep nesting, huge lines, noise.

use std::path::Path;

use perf_analyze::{
    analyze_path, analyze_reader, Error, Format, Options, RenderOptions, WarningKind,
};
use proptest::prelude::*;

fn render_all(a: &perf_analyze::Analysis) {
    let detailed = RenderOptions {
        detailed: true,
        width: 100,
    };
    for format in [Format::Table, Format::Markdown, Format::Json] {
        assert!(!a.render(format, &detailed).is_empty());
    }
}

#[test]
fn the_malformed_corpus_gives_reports_or_clear_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bad");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return; // the corpus lives in the workspace's tests package
    };
    for path in entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
    {
        for strict in [false, true] {
            match analyze_path(
                &path,
                &Options {
                    strict,
                    ..Options::default()
                },
            ) {
                Ok(a) => render_all(&a),
                Err(e @ (Error::UnsupportedFormat { .. } | Error::Malformed { .. })) => {
                    let text = e.to_string();
                    assert!(text.contains(&*path.to_string_lossy()), "{text}");
                }
                Err(e) => panic!("{}: {e}", path.display()),
            }
        }
    }
}

#[test]
fn nesting_100_000_deep_is_reported() {
    let n = 100_000u64;
    let mut data = String::from("{\"type\":\"session\",\"format\":1,\"session\":\"deep\",\"started_at\":\"2026-01-01T00:00:00Z\",\"pid\":1,\"program\":\"p\"}\n");
    for i in (1..=n).rev() {
        let parent = if i == 1 {
            "null".to_owned()
        } else {
            (i - 1).to_string()
        };
        data.push_str(&format!(
            "{{\"type\":\"span\",\"id\":{i},\"parent\":{parent},\"name\":\"level\",\"target\":\"t\",\"start_ns\":{i},\"end_ns\":{},\"busy_ns\":1,\"enters\":1,\"thread\":\"main\",\"status\":\"ok\",\"fields\":{{}}}}\n",
            3 * n - i
        ));
    }
    let a = analyze_reader(data.as_bytes(), "deep", &Options::default()).unwrap();
    assert!(a
        .warnings()
        .iter()
        .all(|w| w.kind == WarningKind::NoEndLine));
    let level = &a.summary.by_name[0];
    assert_eq!(level.count, n);
    assert_eq!(
        level.total_ns,
        3 * n - 1 - 1,
        "same-name nesting counted once"
    );
    // Past the held-span budget, the chain's outer part closed early and was
    // analyzed then: the latest operation's tree holds only what closed last.
    let latest = a.latest.as_ref().expect("a latest operation");
    assert!(latest.len() < n as usize && latest.early_count() == 1);
    assert_eq!(a.critical_path.len(), latest.len());
    let text = a.render(perf_analyze::Format::Table, &Default::default());
    assert!(
        text.contains("1 of its spans' children closed while more spans than the held-span budget (65536 by default) were held"),
        "{text}"
    );
    render_all(&a);
}

#[test]
fn a_10_mb_line_is_read() {
    let name = "x".repeat(10 << 20);
    let data = format!(
        "{{\"type\":\"session\",\"format\":1,\"session\":\"big\",\"started_at\":\"2026-01-01T00:00:00Z\",\"pid\":1,\"program\":\"p\"}}\n{{\"type\":\"span\",\"id\":1,\"parent\":null,\"name\":\"{name}\",\"target\":\"t\",\"start_ns\":0,\"end_ns\":5,\"busy_ns\":5,\"enters\":1,\"thread\":\"main\",\"status\":\"ok\",\"fields\":{{}}}}\n"
    );
    let a = analyze_reader(data.as_bytes(), "big", &Options::default()).unwrap();
    assert_eq!(a.summary.operations, 1);
}

proptest! {
    #[test]
    fn noise_never_panics(lines in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..20)) {
        let mut data = b"{\"type\":\"session\",\"format\":1,\"session\":\"n\",\"started_at\":\"x\",\"pid\":1,\"program\":\"p\"}\n".to_vec();
        for line in lines {
            data.extend_from_slice(&line);
            data.push(b'\n');
        }
        if let Ok(a) = analyze_reader(&data[..], "noise", &Options::default()) {
            render_all(&a);
        }
    }
}
