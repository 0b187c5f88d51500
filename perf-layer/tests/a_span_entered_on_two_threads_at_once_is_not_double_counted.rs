//! Two threads entering one span at the same time (an async span polled from two
//! workers) count the overlapping time once.

mod support;

use std::sync::Barrier;
use std::time::Duration;

#[test]
fn a_span_entered_on_two_threads_at_once_is_not_double_counted() {
    let session = support::session();
    let shared = session.run(|| tracing::info_span!("shared"));
    let barrier = Barrier::new(2);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                session.run(|| {
                    barrier.wait();
                    shared.in_scope(|| std::thread::sleep(Duration::from_millis(100)));
                })
            });
        }
    });
    drop(shared);
    let records = session.finish();
    let span = records.span("shared");
    assert_eq!(span.enters, 2);
    assert!(span.busy_ns >= 100_000_000, "{span:?}");
    // Counted twice it would be about 200 ms, more than the span's whole life.
    assert!(span.busy_ns <= span.duration_ns(), "{span:?}");
}
