//! When every write fails (a full disk), the spans are counted as dropped, the program
//! keeps running, and flushing and dropping the guard still return.

#![cfg(target_os = "linux")]

mod support;

use perf_layer::record::DATA_FILE;

#[test]
fn write_errors_are_counted_as_dropped_and_the_program_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let session_dir = dir.path().join("test_session");
    std::fs::create_dir(&session_dir).unwrap();
    // /dev/full opens fine and fails every write with ENOSPC.
    std::os::unix::fs::symlink("/dev/full", session_dir.join(DATA_FILE)).unwrap();
    let (layer, guard) = support::builder(dir.path()).build().expect("opening works");
    let handle = guard.handle();
    let subscriber =
        tracing_subscriber::layer::SubscriberExt::with(tracing_subscriber::registry(), layer);
    let ran = tracing::subscriber::with_default(subscriber, || {
        for i in 0..100_u64 {
            tracing::info_span!("work", i).in_scope(|| {});
        }
        handle.flush();
        for i in 0..50_u64 {
            tracing::info_span!("more", i).in_scope(|| {});
        }
        true
    });
    assert!(ran, "the program went on");
    drop(guard);
    assert_eq!(
        handle.dropped(),
        150,
        "every span that could not be written is counted"
    );
    assert_eq!(handle.open_spans(), 0);
}
