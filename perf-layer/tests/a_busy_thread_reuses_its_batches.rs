//! A thread closing spans without pause fills its buffer, the writer takes it, and the
//! emptied batch comes back: once the first batches have grown, a burst allocates
//! almost nothing, on any thread. Batches made and freed round after round, on the
//! program's thread and the writer's, are what left glibc's arenas holding memory past
//! the buffer's budget.

mod support;

use cap::Cap;

#[global_allocator]
static ALLOCATOR: Cap<std::alloc::System> = Cap::new(std::alloc::System, usize::MAX);

#[test]
fn a_busy_thread_reuses_its_batches() {
    let session = support::session();
    let burst = |spans: u64| {
        session.run(|| {
            for _ in 0..spans {
                tracing::info_span!("flood").in_scope(|| {});
            }
        });
        session.handle.flush();
    };
    // The first batches grow to what a round holds. Batches recycled, the burst below
    // allocates 1 to 3 MB (a batch handed back smaller than the next round's grows);
    // made and freed every round, 75 MB.
    burst(200_000);
    let before = ALLOCATOR.total_allocated();
    burst(400_000);
    let during = ALLOCATOR.total_allocated() - before;
    let records = session.finish();
    assert_eq!(records.end().spans, 600_000);
    assert_eq!(records.end().dropped, 0);
    eprintln!("{during} bytes allocated over 400,000 spans");
    assert!(
        during < 16 << 20,
        "{during} bytes allocated over 400,000 spans: batches are not reused"
    );
}
