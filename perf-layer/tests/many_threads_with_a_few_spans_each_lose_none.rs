//! Each thread with a record waiting holds a chunk of the byte budget until the writer
//! takes its buffer, so a few spans on each of many threads can hold most of the budget
//! while the records themselves are small. The writer must not sleep on such rounds
//! because they hold few records: here 64 threads close a span each every 64 ms, in
//! turn, under a 1 MiB budget (32 chunks) and a long flush interval, and a lossy layer
//! drops nothing.

mod support;

use std::time::Duration;

use perf_layer::Backpressure;

const THREADS: u64 = 64;
const ROUNDS: u64 = 6;

#[test]
fn many_threads_with_a_few_spans_each_lose_none() {
    let session = support::session_with(|b| {
        b.buffer_bytes(1 << 20)
            .flush_interval(Duration::from_secs(2))
            .backpressure(Backpressure::Lossy)
    });
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let session = &session;
            scope.spawn(move || {
                session.run(|| {
                    // Threads close in turn, a millisecond apart.
                    std::thread::sleep(Duration::from_millis(thread));
                    for round in 0..ROUNDS {
                        tracing::info_span!("request", thread, round).in_scope(|| {});
                        std::thread::sleep(Duration::from_millis(THREADS));
                    }
                })
            });
        }
    });
    let dropped = session.handle.dropped();
    let records = session.finish();
    assert_eq!(
        dropped,
        0,
        "a lossy layer dropped {dropped} of {} spans",
        THREADS * ROUNDS
    );
    assert_eq!(records.spans().len() as u64, THREADS * ROUNDS);
}
