//! The writer writes closed spans on its own (within the flush interval): a reader of the
//! file sees them while the session runs, without a flush or the guard.

mod support;

use std::time::{Duration, Instant};

#[test]
fn closed_spans_reach_the_file_without_an_explicit_flush() {
    let session = support::session();
    session.run(|| tracing::info_span!("step").in_scope(|| {}));
    let path = session.handle.data_path();
    // Poll, with a generous limit: this checks that it happens, not how fast (the
    // benchmarks measure speed).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.contains(r#""name":"step""#) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the span never reached the file: {text}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let records = session.finish();
    assert_eq!(records.end().spans, 1);
}
