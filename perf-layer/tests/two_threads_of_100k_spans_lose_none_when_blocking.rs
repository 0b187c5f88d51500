//! Two threads closing 100,000 spans each into a small buffer: blocking backpressure
//! makes them wait for the writer, and every span reaches the file exactly once.

mod support;

use std::collections::HashSet;

const PER_THREAD: u64 = 100_000;

#[test]
fn two_threads_of_100k_spans_lose_none_when_blocking() {
    let session = support::session_with(|b| b.buffer_bytes(4096));
    std::thread::scope(|scope| {
        for t in 0..2_u64 {
            let session = &session;
            scope.spawn(move || {
                session.run(|| {
                    for i in 0..PER_THREAD {
                        tracing::info_span!("flood", t, i).in_scope(|| {});
                    }
                })
            });
        }
    });
    let records = session.finish();
    let spans = records.spans();
    assert_eq!(spans.len() as u64, 2 * PER_THREAD);
    let end = records.end();
    assert_eq!((end.spans, end.open, end.dropped), (2 * PER_THREAD, 0, 0));
    let ids: HashSet<u64> = spans.iter().map(|s| s.id).collect();
    assert_eq!(ids.len() as u64, 2 * PER_THREAD, "ids are unique");
    let keys: HashSet<(u64, u64)> = spans
        .iter()
        .map(|s| {
            (
                s.fields["t"].as_u64().unwrap(),
                s.fields["i"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(keys.len() as u64, 2 * PER_THREAD, "each span exactly once");
}
