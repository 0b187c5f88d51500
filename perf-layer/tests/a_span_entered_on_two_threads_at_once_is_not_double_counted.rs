//! Two threads entering one span at the same time (an async span polled from two
//! workers) count the overlapping time once: busy time is at most the window in which
//! the span was entered at all. The span also lives idle before and after that window,
//! so a double count (about twice the window) would still fit in its duration and
//! could not hide behind the writer's clamp of busy time to the duration.

mod support;

use std::sync::Barrier;
use std::time::{Duration, Instant};

const ENTERED: Duration = Duration::from_millis(100);
const IDLE: Duration = Duration::from_millis(150);

#[test]
fn a_span_entered_on_two_threads_at_once_is_not_double_counted() {
    let session = support::session();
    let shared = session.run(|| tracing::info_span!("shared"));
    std::thread::sleep(IDLE);
    let barrier = Barrier::new(2);
    let window = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                session.run(|| {
                    barrier.wait();
                    shared.in_scope(|| std::thread::sleep(ENTERED));
                })
            });
        }
    });
    let window = window.elapsed();
    std::thread::sleep(IDLE);
    drop(shared);
    let records = session.finish();
    let span = records.span("shared");
    assert_eq!(span.enters, 2);
    assert!(span.busy_ns >= ENTERED.as_nanos() as u64, "{span:?}");
    assert!(
        span.busy_ns <= window.as_nanos() as u64,
        "busy {} ns is more than the {} ns in which it was entered: {span:?}",
        span.busy_ns,
        window.as_nanos()
    );
    assert!(span.duration_ns() >= (2 * IDLE + ENTERED).as_nanos() as u64);
}
