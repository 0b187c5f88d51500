//! `follows_from` on one span many times: each cause is kept once, the list stops at
//! 1,024 links (the rest are ignored, with one warning), and the cost stays near linear
//! (200,000 links, most of them repeats, finish well within the deadline instead of the
//! quadratic scan that would take minutes).

mod support;

use std::sync::mpsc;
use std::time::Duration;

#[test]
fn follows_from_keeps_each_link_once_and_at_most_1024() {
    let session = support::session();
    let dispatch = session.dispatch.clone();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        tracing::dispatcher::with_default(&dispatch, || {
            let causes: Vec<_> = (0..3000_u64)
                .map(|i| tracing::info_span!("cause", i))
                .collect();
            let few = tracing::info_span!("few");
            let many = tracing::info_span!("many");
            for round in 0..60 {
                for cause in causes.iter().take(10) {
                    few.follows_from(cause);
                }
                for cause in causes.iter().skip(round * 50).take(3000) {
                    many.follows_from(cause);
                }
            }
        });
        let _ = done.send(());
    });
    finished
        .recv_timeout(Duration::from_secs(60))
        .expect("follows_from did not finish");
    let records = session.finish();
    let few = records.span("few");
    let many = records.span("many");
    assert_eq!(
        few.follows_from.len(),
        10,
        "each cause once: {:?}",
        few.follows_from
    );
    assert_eq!(many.follows_from.len(), 1024, "at most 1024 links");
    let mut sorted = many.follows_from.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 1024, "no repeats");
}
