//! The writer's throughput to a real file and the delay from a span's close to its line
//! on disk:
//!
//! ```sh
//! cargo run --release -p perf-layer --example writer -- [SPANS] [DIR]
//! ```
//!
//! 1. Throughput: one thread closes `SPANS` spans (default 3 million) as fast as it can,
//!    in blocking mode, into a file under `DIR` (default: a temporary directory). Prints
//!    the records per second of wall time until the guard returned, and per second of the
//!    writer thread's own CPU time (`/proc/self/task/<tid>/schedstat`), which is
//!    its rate on one core; then checks that every record is in the file.
//! 2. Guard: how long dropping the guard takes with a full buffer (65,536 records
//!    waiting).
//! 3. Close-to-disk delay, idle and under load (another thread closing spans at about
//!    200,000 a second): a marker span closes at a random moment and the file is polled
//!    every 100 µs until its line is there. Prints min, median, 95th percentile and max.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use perf_layer::{FlushGuard, PerfLayer, DEFAULT_BUFFER_BYTES};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let spans: u64 = args.next().map_or(Ok(3_000_000), |n| n.parse())?;
    let temp = tempfile::tempdir()?;
    let dir = args
        .next()
        .map_or_else(|| temp.path().to_owned(), Into::into);

    throughput(&dir, spans)?;
    guard_with_a_full_buffer(&dir)?;
    close_to_disk(&dir, false)?;
    close_to_disk(&dir, true)?;
    Ok(())
}

fn layer(dir: &Path, session: &str) -> Result<(Dispatch, FlushGuard), Error> {
    let session_dir = dir.join(session);
    if session_dir.exists() {
        std::fs::remove_dir_all(&session_dir)?;
    }
    let (layer, guard) = PerfLayer::builder()
        .logs_dir(dir)
        .session_id(session)
        .build()?;
    Ok((tracing_subscriber::registry().with(layer).into(), guard))
}

/// The writer thread's CPU time so far, from the kernel's scheduler statistics.
fn writer_cpu_time() -> Option<Duration> {
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let task = task.ok()?.path();
        let comm = std::fs::read_to_string(task.join("comm")).ok()?;
        // The kernel keeps the first 15 bytes of a thread's name.
        if "perf-layer-writer".starts_with(comm.trim_end()) && !comm.trim_end().is_empty() {
            let stat = std::fs::read_to_string(task.join("schedstat")).ok()?;
            let ns = stat.split_whitespace().next()?.parse().ok()?;
            return Some(Duration::from_nanos(ns));
        }
    }
    None
}

fn throughput(dir: &Path, spans: u64) -> Result<(), Error> {
    let (dispatch, guard) = layer(dir, "throughput")?;
    let handle = guard.handle();
    let start = Instant::now();
    tracing::dispatcher::with_default(&dispatch, || {
        for _ in 0..spans {
            tracing::info_span!("record").in_scope(|| {});
        }
    });
    let produced = start.elapsed();
    handle.flush();
    let written = start.elapsed();
    let cpu = writer_cpu_time();
    drop(guard);

    let path = handle.data_path();
    let bytes = std::fs::metadata(&path)?.len();
    let lines = BufReader::new(File::open(&path)?)
        .lines()
        .filter(|l| l.as_ref().is_ok_and(|l| l.starts_with(r#"{"type":"span""#)))
        .count() as u64;
    if lines != spans || handle.dropped() != 0 {
        return Err(format!(
            "{lines} span lines for {spans} spans, {} dropped",
            handle.dropped()
        )
        .into());
    }
    let per_s = |d: Duration| spans as f64 / d.as_secs_f64();
    println!(
        "throughput: {spans} records, {:.1} MB, produced in {:.2} s, all on disk after {:.2} s: \
         {:.2} M records/s wall, {:.0} MB/s",
        bytes as f64 / 1e6,
        produced.as_secs_f64(),
        written.as_secs_f64(),
        per_s(written) / 1e6,
        bytes as f64 / 1e6 / written.as_secs_f64(),
    );
    match cpu {
        Some(cpu) => println!(
            "throughput: writer thread CPU {:.2} s, {:.0} ns/record: {:.2} M records/s on one core",
            cpu.as_secs_f64(),
            cpu.as_nanos() as f64 / spans as f64,
            per_s(cpu) / 1e6
        ),
        None => println!("throughput: writer thread CPU time unavailable"),
    }
    Ok(())
}

fn guard_with_a_full_buffer(dir: &Path) -> Result<(), Error> {
    let (dispatch, guard) = layer(dir, "guard")?;
    // More spans than the default buffer holds at once (about 100 bytes each).
    let spans = (DEFAULT_BUFFER_BYTES / 32) as u64;
    tracing::dispatcher::with_default(&dispatch, || {
        for _ in 0..spans {
            tracing::info_span!("record").in_scope(|| {});
        }
    });
    let start = Instant::now();
    drop(guard);
    println!(
        "guard: dropped after {spans} spans in {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

/// Counts the marker lines appended to a file since the last call.
struct Tail {
    file: File,
    partial: Vec<u8>,
    markers: usize,
}

impl Tail {
    fn poll(&mut self) -> std::io::Result<usize> {
        let mut chunk = Vec::new();
        self.file.read_to_end(&mut chunk)?;
        self.partial.extend_from_slice(&chunk);
        if let Some(last) = self.partial.iter().rposition(|&b| b == b'\n') {
            let complete: Vec<u8> = self.partial.drain(..=last).collect();
            self.markers += complete
                .split(|&b| b == b'\n')
                .filter(|line| line.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()))
                .count();
        }
        Ok(self.markers)
    }
}

const MARKER: &str = r#""name":"marker""#;

fn close_to_disk(dir: &Path, loaded: bool) -> Result<(), Error> {
    const SAMPLES: usize = 40;
    let (dispatch, guard) = layer(dir, if loaded { "latency_loaded" } else { "latency" })?;
    let mut tail = Tail {
        file: File::open(guard.handle().data_path())?,
        partial: Vec::new(),
        markers: 0,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let load = loaded.then(|| {
        let (dispatch, stop) = (dispatch.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                // Batches of 200 spans every millisecond: about 200,000 spans a second.
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..200 {
                        tracing::info_span!("load").in_scope(|| {});
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
        })
    });

    let mut delays = Vec::with_capacity(SAMPLES);
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    for _ in 0..SAMPLES {
        // xorshift: a pause of 0 to 50 ms, so closes fall anywhere in the writer's cycle.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_micros(seed % 50_000));
        let before = tail.poll()?;
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::info_span!("marker").in_scope(|| {});
        });
        let closed = Instant::now();
        while tail.poll()? == before {
            if closed.elapsed() > Duration::from_secs(5) {
                return Err("a closed span was not on disk after 5 s".into());
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        delays.push(closed.elapsed());
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(load) = load {
        load.join().map_err(|_| "load thread panicked")?;
    }
    drop(guard);

    delays.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "close-to-disk ({}): {SAMPLES} spans, min {:.1} ms, median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        if loaded {
            "while 200k spans/s close"
        } else {
            "idle"
        },
        ms(delays[0]),
        ms(delays[SAMPLES / 2]),
        ms(delays[SAMPLES * 95 / 100]),
        ms(delays[SAMPLES - 1]),
    );
    Ok(())
}
