//! 512 threads closing spans at once into a small buffer: in blocking mode they wait for
//! the writer, which keeps making progress, so nothing is dropped and every span is in
//! the file exactly once.

mod support;

use std::sync::Barrier;

const THREADS: u64 = 512;
const PER_THREAD: u64 = 400;

#[test]
fn blocking_mode_loses_nothing_under_512_threads() {
    let session = support::session_with(|b| b.buffer_bytes(64 * 1024));
    let barrier = Barrier::new(THREADS as usize);
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (session, barrier) = (&session, &barrier);
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn_scoped(scope, move || {
                    session.run(|| {
                        barrier.wait();
                        for i in 0..PER_THREAD {
                            tracing::info_span!("unit", t, i).in_scope(|| {});
                        }
                    })
                })
                .expect("spawn");
        }
    });
    assert_eq!(
        session.handle.dropped(),
        0,
        "nothing dropped while the writer moves"
    );
    let records = session.finish();
    let end = records.end();
    assert_eq!((end.spans, end.dropped), (THREADS * PER_THREAD, 0));
    let keys = support::field_pairs(&records, "t", "i");
    assert_eq!(
        keys.len() as u64,
        THREADS * PER_THREAD,
        "each span exactly once"
    );
}
