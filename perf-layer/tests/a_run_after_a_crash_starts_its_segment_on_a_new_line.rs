//! A run that died in the middle of a line leaves the file without a final newline: the
//! next run's `session` line still starts on a line of its own, so only the broken line
//! is unreadable.

mod support;

use perf_layer::record::{Record, DATA_FILE};

#[test]
fn a_run_after_a_crash_starts_its_segment_on_a_new_line() {
    let dir = tempfile::tempdir().unwrap();
    let session_dir = dir.path().join("test_session");
    std::fs::create_dir(&session_dir).unwrap();
    let path = session_dir.join(DATA_FILE);
    std::fs::write(&path, "{\"type\":\"span\",\"id\":1,\"par").unwrap();

    let (layer, guard) = support::builder(dir.path()).build().unwrap();
    let subscriber =
        tracing_subscriber::layer::SubscriberExt::with(tracing_subscriber::registry(), layer);
    tracing::subscriber::with_default(subscriber, || tracing::info_span!("next").in_scope(|| {}));
    drop(guard);

    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0], "{\"type\":\"span\",\"id\":1,\"par",
        "the broken line is kept as it was"
    );
    let rest: Vec<Record> = lines[1..]
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(matches!(rest[0], Record::Session(_)));
    assert!(matches!(&rest[1], Record::Span(s) if s.name == "next"));
    assert!(matches!(rest[2], Record::End(_)));
}
