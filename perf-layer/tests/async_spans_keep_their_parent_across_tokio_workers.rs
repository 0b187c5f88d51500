//! Instrumented futures on a multi-thread runtime move between workers: each span keeps
//! its true parent, is entered once per poll, and is busy only while polled.

mod support;

use std::time::Duration;

use tracing::Instrument;

#[tracing::instrument]
async fn step(n: u64) -> u64 {
    for _ in 0..5 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    n
}

#[tracing::instrument]
async fn turn() -> u64 {
    let tasks: Vec<_> = (0..8)
        .map(|n| tokio::spawn(step(n).in_current_span()))
        .collect();
    let mut sum = 0;
    for task in tasks {
        sum += task.await.expect("task");
    }
    sum
}

#[test]
fn async_spans_keep_their_parent_across_tokio_workers() {
    let session = support::session();
    // Spans are created on whichever worker polls the task: the subscriber must be the
    // global default (this test binary holds no other test).
    tracing::dispatcher::set_global_default(session.dispatch.clone()).expect("first default");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    let sum = runtime.block_on(async { tokio::spawn(turn()).await.expect("turn") });
    assert_eq!(sum, 28);
    drop(runtime);

    let records = session.finish();
    let turn = records.span("turn");
    let steps: Vec<_> = records
        .spans()
        .into_iter()
        .filter(|s| s.name == "step")
        .collect();
    assert_eq!(steps.len(), 8);
    for step in &steps {
        assert_eq!(step.parent, Some(turn.id), "{step:?}");
        assert!(step.enters >= 7, "one enter per poll: {step:?}");
        // Polled briefly, then asleep for 20 ms: busy is a small part of the life.
        assert!(step.busy_ns < step.duration_ns(), "{step:?}");
        assert!(step.duration_ns() >= 20_000_000, "{step:?}");
        assert!(step.start_ns >= turn.start_ns && step.end_ns <= turn.end_ns);
    }
    let mut ids: Vec<u64> = steps.iter().map(|s| s.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 8, "every span has its own id");
}
