//! A small program recorded by perf-layer, for the fault tests to crash, panic or starve
//! of disk:
//!
//! ```text
//! perf-child stream <logs_dir> <session>       record turns until killed; print "<worker> <seq>" after each closes
//! perf-child panic  <logs_dir> <session>       record a few spans, then panic with the guard alive
//! perf-child disk   <logs_dir> <session> <n>   record n spans whatever the disk does; print "dropped <n>" and "finished"
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use anyhow::{bail, Context};
use perf_layer::{FlushGuard, PerfLayer};
use tracing_subscriber::prelude::*;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, logs_dir, session, rest @ ..] = args.as_slice() else {
        bail!("usage: perf-child stream|panic|disk <logs_dir> <session> [n]");
    };
    let logs_dir = PathBuf::from(logs_dir);
    match mode.as_str() {
        "stream" => stream(start(&logs_dir, session)?),
        "panic" => panic_with_guard_alive(start(&logs_dir, session)?),
        "disk" => {
            let n: u64 = rest
                .first()
                .context("disk needs a span count")?
                .parse()
                .context("the span count")?;
            disk(&logs_dir, session, n);
            Ok(())
        }
        other => bail!("unknown mode {other:?}"),
    }
}

/// Installs the layer as the global subscriber.
fn start(logs_dir: &std::path::Path, session: &str) -> anyhow::Result<FlushGuard> {
    let (layer, guard) = PerfLayer::builder()
        .session_id(session)
        .logs_dir(logs_dir)
        .build()?;
    tracing_subscriber::registry().with(layer).init();
    Ok(guard)
}

/// Two threads record turns (a root with two steps) forever; each closed turn is
/// announced on stdout as `<worker> <seq>` right after it closed.
fn stream(guard: FlushGuard) -> anyhow::Result<()> {
    // A span that lasts the whole run, as a program's main span would: it never
    // reaches the file, so its children's parent is missing there.
    let _session = tracing::info_span!("whole_run").entered();
    let worker = thread::Builder::new()
        .name("worker".into())
        .spawn(|| turns("worker"))?;
    turns("main");
    let _ = worker.join();
    drop(guard);
    Ok(())
}

fn turns(worker: &'static str) {
    let mut out = std::io::stdout();
    for seq in 0u64.. {
        tracing::info_span!("turn", worker, seq).in_scope(|| {
            for step in 0..2u32 {
                tracing::info_span!("step", step).in_scope(|| {
                    thread::sleep(Duration::from_micros(200));
                });
            }
        });
        // The span is closed (its record handed to the writer) before this line.
        if writeln!(out, "{worker} {seq}")
            .and_then(|()| out.flush())
            .is_err()
        {
            return;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// A background thread waits inside a span; main records ten steps, then panics inside
/// a `request` span. The guard, alive in `main`'s frame, is dropped while unwinding.
fn panic_with_guard_alive(guard: FlushGuard) -> anyhow::Result<()> {
    let (ready_tx, ready) = mpsc::channel();
    thread::Builder::new()
        .name("background".into())
        .spawn(move || {
            let _wait = tracing::info_span!("background_wait").entered();
            let _ = ready_tx.send(());
            // Wait forever: nothing main drops while unwinding may end this span
            // before the guard writes it as open.
            loop {
                thread::park();
            }
        })?;
    ready.recv()?;
    for step in 0..10u32 {
        tracing::info_span!("step", step).in_scope(|| {});
    }
    let _request = tracing::info_span!("request", id = 7).entered();
    fail(&guard);
    Ok(())
}

fn fail(guard: &FlushGuard) {
    let open = guard.handle().open_spans();
    panic!("the request failed with {open} spans open");
}

/// Records `n` spans even when the layer cannot be built or its file cannot be written;
/// the program must go on either way.
fn disk(logs_dir: &std::path::Path, session: &str, n: u64) {
    let mut out = std::io::stdout();
    match PerfLayer::builder()
        .session_id(session)
        .logs_dir(logs_dir)
        .build()
    {
        Ok((layer, guard)) => {
            let handle = guard.handle();
            let subscriber = tracing_subscriber::registry().with(layer);
            tracing::subscriber::with_default(subscriber, || {
                for seq in 0..n {
                    tracing::info_span!("unit", seq).in_scope(|| {});
                    if seq % 100 == 99 {
                        // Several writes, each failing: the warning must still come once.
                        handle.flush();
                    }
                }
            });
            handle.flush();
            let _ = writeln!(out, "dropped {}", handle.dropped());
            drop(guard);
        }
        Err(error) => {
            let _ = writeln!(out, "build failed: {error}");
            for seq in 0..n {
                tracing::info_span!("unit", seq).in_scope(|| {});
            }
        }
    }
    let _ = writeln!(out, "finished");
}
