//! An `echo_to` writer that itself creates spans (a writer instrumented with tracing),
//! under the global default subscriber, which (unlike a scoped one) serves calls made
//! from inside its own callbacks: the program neither deadlocks nor loses the spans;
//! the writer's own spans are recorded but not echoed.

mod support;

use std::io::{self, Write};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
struct Traced(Arc<Mutex<Vec<u8>>>);

impl Write for Traced {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _span = tracing::info_span!("echo_write", len = buf.len()).entered();
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn an_echo_writer_that_makes_spans_does_not_deadlock() {
    let out = Traced::default();
    let session = support::session_with({
        let out = out.clone();
        |b| b.echo_to(out)
    });
    tracing::dispatcher::set_global_default(session.dispatch.clone()).expect("the only test");
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        tracing::info_span!("work").in_scope(|| {
            tracing::info_span!("step").in_scope(|| {});
        });
        let _ = done.send(());
    });
    finished
        .recv_timeout(Duration::from_secs(20))
        .expect("the program deadlocked on its own echo writer");
    let records = session.finish();
    assert_eq!(records.end().dropped, 0);
    assert!(records.spans().iter().any(|s| s.name == "echo_write"));
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("PERF_START: work"), "{text}");
    assert!(text.contains("PERF_END:   step"), "{text}");
    assert!(!text.contains("echo_write"), "{text}");
}
