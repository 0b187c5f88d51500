//! In lossy mode a tiny buffer under a flood drops records instead of growing or
//! waiting, and counts them exactly: written + dropped == created. Memory stays bounded
//! by the capacity whatever the span rate: what does not fit is dropped, not queued.

mod support;

use perf_layer::Backpressure;

const PER_THREAD: u64 = 100_000;

#[test]
fn lossy_mode_counts_every_dropped_span() {
    let session = support::session_with(|b| b.buffer_bytes(4096).backpressure(Backpressure::Lossy));
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                session.run(|| {
                    for _ in 0..PER_THREAD {
                        tracing::info_span!("flood").in_scope(|| {});
                    }
                })
            });
        }
    });
    let dropped = session.handle.dropped();
    let records = session.finish();
    let written = records.spans().len() as u64;
    let end = records.end();
    assert_eq!(
        written + dropped,
        2 * PER_THREAD,
        "written {written}, dropped {dropped}"
    );
    assert_eq!(end.spans, written);
    assert_eq!(end.dropped, dropped);
    assert!(
        dropped > 0,
        "a 4-record buffer cannot hold a flood of 200,000"
    );
}
