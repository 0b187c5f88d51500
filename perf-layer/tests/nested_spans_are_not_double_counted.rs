//! A span re-entered while already entered counts its busy time once: at most the
//! window from its outer enter to its outer exit, although it lives idle before and
//! after (so a double count would fit in its duration and could not hide behind the
//! writer's clamp of busy time to the duration). Its children name it as their parent
//! by the layer's ids.

mod support;

use std::time::{Duration, Instant};

const IDLE: Duration = Duration::from_millis(60);

#[test]
fn nested_spans_are_not_double_counted() {
    let session = support::session();
    let window = session.run(|| {
        let outer = tracing::info_span!("outer");
        std::thread::sleep(IDLE);
        let window = Instant::now();
        let entered = outer.enter();
        std::thread::sleep(Duration::from_millis(20));
        // Re-enter the same span while it is entered: the inner enter must not restart
        // or add to the busy time.
        outer.in_scope(|| {
            let child = tracing::info_span!("child");
            child.in_scope(|| std::thread::sleep(Duration::from_millis(20)));
            // And re-enter the child after it exited: a second, separate busy period.
            child.in_scope(|| std::thread::sleep(Duration::from_millis(10)));
        });
        drop(entered);
        let window = window.elapsed();
        std::thread::sleep(IDLE);
        window
    });
    let records = session.finish();
    let outer = records.span("outer");
    let child = records.span("child");

    assert_eq!(outer.enters, 2);
    assert!(
        outer.busy_ns >= 50_000_000,
        "all of the window was entered: {outer:?}"
    );
    assert!(
        outer.busy_ns <= window.as_nanos() as u64,
        "busy {} ns is more than the {} ns window: {outer:?}",
        outer.busy_ns,
        window.as_nanos()
    );
    assert!(outer.duration_ns() >= 2 * IDLE.as_nanos() as u64 + outer.busy_ns);
    assert_eq!(outer.parent, None);

    assert_eq!(child.parent, Some(outer.id));
    assert_eq!(child.enters, 2);
    assert!(child.busy_ns >= 30_000_000, "{child:?}");
    assert!(child.busy_ns <= child.duration_ns(), "{child:?}");
    assert!(child.start_ns >= outer.start_ns && child.end_ns <= outer.end_ns);
}
