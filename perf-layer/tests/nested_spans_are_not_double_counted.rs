//! A span re-entered while already entered counts its busy time once; its children
//! name it as their parent by the layer's ids.

mod support;

use std::time::Duration;

#[test]
fn nested_spans_are_not_double_counted() {
    let session = support::session();
    session.run(|| {
        let outer = tracing::info_span!("outer");
        let _entered = outer.enter();
        std::thread::sleep(Duration::from_millis(20));
        // Re-enter the same span while it is entered: the inner enter must not restart
        // or double the busy time.
        outer.in_scope(|| {
            let child = tracing::info_span!("child");
            child.in_scope(|| std::thread::sleep(Duration::from_millis(20)));
            // And re-enter the child after it exited: a second, separate busy period.
            child.in_scope(|| std::thread::sleep(Duration::from_millis(10)));
        });
    });
    let records = session.finish();
    let outer = records.span("outer");
    let child = records.span("child");

    assert_eq!(outer.enters, 2);
    assert!(outer.busy_ns <= outer.duration_ns(), "{outer:?}");
    assert!(
        outer.busy_ns >= 50_000_000,
        "all of outer's life was entered: {outer:?}"
    );
    assert_eq!(outer.parent, None);

    assert_eq!(child.parent, Some(outer.id));
    assert_eq!(child.enters, 2);
    assert!(child.busy_ns >= 30_000_000, "{child:?}");
    assert!(child.busy_ns <= child.duration_ns(), "{child:?}");
    assert!(child.start_ns >= outer.start_ns && child.end_ns <= outer.end_ns);
}
