//! Spans that close on other threads while the guard is ending the session: each one is
//! in the file (closed, or written as open) or counted as dropped, never lost silently.

mod support;

use std::sync::Barrier;

const THREADS: usize = 4;
// Small enough that a debug build's writer ends well inside the guard's one-second wait on
// a loaded machine (past it the guard returns and the file would be read mid-write).
const PER_THREAD: u64 = 5_000;

#[test]
fn spans_closing_while_the_guard_drops_are_written_or_counted() {
    for _ in 0..3 {
        one_race();
    }
}

fn one_race() {
    let Session {
        dir,
        dispatch,
        guard,
        handle,
    } = support::session();
    // Every span exists before the guard drops; the threads close them while it does.
    let barrier = Barrier::new(THREADS + 1);
    let path = handle.data_path();
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (dispatch, barrier) = (&dispatch, &barrier);
            scope.spawn(move || {
                let spans: Vec<_> = tracing::dispatcher::with_default(dispatch, || {
                    (0..PER_THREAD)
                        .map(|i| tracing::info_span!("unit", t, i))
                        .collect()
                });
                barrier.wait();
                drop(spans);
            });
        }
        barrier.wait();
        // Let the threads get going: the guard drops while they are half way.
        std::thread::sleep(std::time::Duration::from_millis(10));
        drop(guard);
    });
    let records = support::read(&path);
    let end = records.end();
    let keys = support::field_pairs(&records, "t", "i");
    assert_eq!(keys.len() as u64, end.spans, "each span once");
    assert_eq!(end.dropped, handle.dropped());
    assert_eq!(
        end.spans + end.dropped,
        THREADS as u64 * PER_THREAD,
        "every span is written (closed or open) or counted: {end:?}"
    );
    drop(dir);
}

use support::Session;
