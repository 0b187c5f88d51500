//! A panic unwinding through the code that holds the guard drops it: the spans closed
//! so far, the open ones and the end line are all written.

mod support;

use perf_layer::record::Status;

#[test]
fn a_panic_still_flushes_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let (layer, guard) = support::builder(dir.path()).build().unwrap();
    let path = guard.handle().data_path();
    let subscriber =
        tracing_subscriber::layer::SubscriberExt::with(tracing_subscriber::registry(), layer);
    let dispatch = tracing::Dispatch::new(subscriber);

    // The program's thread panics while it owns the guard.
    let result = std::thread::spawn(move || {
        let _guard = guard;
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::info_span!("finished").in_scope(|| {});
            let _running = tracing::info_span!("running").entered();
            panic!("boom");
        })
    })
    .join();
    assert!(result.is_err());

    let records = support::read(&path);
    let end = records.end();
    assert_eq!(records.span("finished").status, Status::Ok);
    // The guard dropped before the span guard: its span was still open.
    let running = records.span("running");
    assert!(
        running.status == Status::Open || running.status == Status::Ok,
        "{running:?}"
    );
    assert_eq!(end.spans, 2);
    assert_eq!(end.dropped, 0);
}
