//! `PerfHandle::flush` puts every span closed so far in the file while the session goes
//! on; `open_spans` counts the spans open now.

mod support;

use perf_layer::record::Record;

#[test]
fn flush_writes_closed_spans_without_ending_the_session() {
    let session = support::session_with(|b| b.flush_interval(std::time::Duration::from_secs(3600)));
    let handle = session.handle.clone();
    session.run(|| {
        let turn = tracing::info_span!("turn").entered();
        for _ in 0..3 {
            tracing::info_span!("step").in_scope(|| {});
        }
        assert_eq!(handle.open_spans(), 1);
        handle.flush();

        let mid = support::read(&handle.data_path());
        assert_eq!(mid.spans().len(), 3, "the closed steps are in the file");
        assert!(mid.ends().is_empty(), "the session has not ended");
        assert!(matches!(mid.0[0], Record::Session(_)));

        drop(turn);
        assert_eq!(handle.open_spans(), 0);
        tracing::info_span!("after").in_scope(|| {});
    });
    let records = session.finish();
    assert_eq!(records.spans().len(), 5);
    assert_eq!(records.end().spans, 5);
}
