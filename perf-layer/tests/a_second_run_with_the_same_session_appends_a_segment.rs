//! Building a second layer with the same session id appends a new segment (a new
//! `session` line and its records) to the same file; span ids restart per segment.

mod support;

use perf_layer::record::Record;

#[test]
fn a_second_run_with_the_same_session_appends_a_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut path = None;
    for run in 0..2 {
        let (layer, guard) = support::builder(dir.path())
            .program(format!("run{run}"))
            .build()
            .unwrap();
        path = Some(guard.handle().data_path());
        let subscriber =
            tracing_subscriber::layer::SubscriberExt::with(tracing_subscriber::registry(), layer);
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..=run {
                tracing::info_span!("work", run).in_scope(|| {});
            }
        });
        drop(guard);
    }
    let records = support::read(&path.unwrap());
    let kinds: Vec<&str> = records
        .0
        .iter()
        .map(|r| match r {
            Record::Session(_) => "session",
            Record::Span(_) => "span",
            Record::End(_) => "end",
        })
        .collect();
    assert_eq!(
        kinds,
        ["session", "span", "end", "session", "span", "span", "end"]
    );
    let sessions = records.sessions();
    assert_eq!(sessions[0].program, "run0");
    assert_eq!(sessions[1].program, "run1");
    assert!(sessions
        .iter()
        .all(|s| s.session == "test_session" && s.format == 1));
    assert!(sessions[0].started_at <= sessions[1].started_at);
    let ends = records.ends();
    assert_eq!((ends[0].spans, ends[1].spans), (1, 2));
    let spans = records.spans();
    assert_eq!(spans[0].id, 1, "ids restart in each segment");
    assert_eq!(spans[1].id, 1);
    assert_eq!(spans[2].id, 2);
}
