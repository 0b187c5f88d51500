//! Whole-process cost of a burst of spans under one subscriber, installed as the
//! process's global default: the time per span including the guard's drop (everything
//! on disk), and the process's memory growth.
//! `compare` runs every workload under the floor, tracing-chrome and perf-layer, each
//! in a process of its own, in interleaved rounds, and prints medians and ratios:
//!
//! ```sh
//! cargo run --release -p perf-layer --example flood -- compare 1000000 5
//! cargo run --release -p perf-layer --example flood -- perf-layer 10000000 whole_life
//! ```
//!
//! Subscribers: `floor` (registry + an empty layer), `perf-layer`, `tracing-chrome`,
//! `tracing-flame`, `fmt-close` (the fmt layer with `FmtSpan::CLOSE` to a sink) and
//! `fmt-close-file` (the same through `tracing-appender`'s `non_blocking` to a file, in
//! its blocking mode). Every file goes to a temporary directory.
//!
//! Workloads (spans carry one integer field unless said otherwise; `SPANS` spans in
//! all, per thread for `two_threads`):
//! - `whole_life`: a span's whole life (new, enter, exit, close);
//! - `root_8`: a root with 8 children (time per span);
//! - `two_threads`: `whole_life` on two threads at once (wall time per span of one thread);
//! - `reenter`: entering and exiting one long-lived span;
//! - `instrument`: an `#[instrument]` function with two arguments, one a `Debug` string;
//! - `fieldless`: `whole_life` with spans without fields.

use std::any::Any;
use std::hint::black_box;
use std::process::Command;
use std::time::Instant;

use tracing::instrument;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::{Identity, SubscriberExt};

type Error = Box<dyn std::error::Error>;

const SUBSCRIBERS: &str =
    "floor, perf-layer, tracing-chrome, tracing-flame, fmt-close or fmt-close-file";
const WORKLOADS: [&str; 6] = [
    "whole_life",
    "root_8",
    "two_threads",
    "reenter",
    "instrument",
    "fieldless",
];
/// The peers `compare` measures, in the order of the first round (later rounds rotate).
const PEERS: [&str; 3] = ["floor", "tracing-chrome", "perf-layer"];

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "perf-layer".into());
    let spans: u64 = args.next().map_or(Ok(1_000_000), |n| n.parse())?;
    if which == "compare" {
        let rounds: usize = args.next().map_or(Ok(5), |n| n.parse())?;
        return compare(spans, rounds);
    }
    let workload = args.next().unwrap_or_else(|| "whole_life".into());
    let run = one(&which, spans, &workload)?;
    println!(
        "{which}: {workload}: {spans} spans, {:.0} ns/span, all written after {:.2} s, \
         cpu {:.0} ns/span, peak {} kB, growth {} kB",
        run.ns_per_span, run.secs, run.cpu_ns_per_span, run.peak_kib, run.growth_kib
    );
    Ok(())
}

struct Run {
    ns_per_span: f64,
    /// CPU time of all the process's threads (user and system) per span.
    cpu_ns_per_span: f64,
    secs: f64,
    peak_kib: u64,
    growth_kib: u64,
}

/// One burst under one subscriber, in this process.
fn one(which: &str, spans: u64, workload: &str) -> Result<Run, Error> {
    if !WORKLOADS.contains(&workload) {
        return Err(format!("unknown workload {workload:?}: {}", WORKLOADS.join(", ")).into());
    }
    let dir = tempfile::tempdir()?;
    let before_kib = status_kib("VmRSS:").unwrap_or(0);
    let (dispatch, guard) = subscriber(which, dir.path())?;
    // The process's global default, as a program installs its subscriber: a scoped one
    // (`with_default`) makes every span clone an `Arc`, whose count two threads then
    // pull back and forth between their cores (the floor alone took 560 ns a span).
    tracing::dispatcher::set_global_default(dispatch)?;
    let cpu_before = cpu_ns();
    let start = Instant::now();
    match workload {
        "two_threads" => std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(move || {
                    for i in 0..spans {
                        tracing::info_span!("span", i).in_scope(|| black_box(()));
                    }
                });
            }
        }),
        "whole_life" => {
            for i in 0..spans {
                tracing::info_span!("span", i).in_scope(|| black_box(()));
            }
        }
        "root_8" => {
            for i in 0..spans / 9 {
                tracing::info_span!("root", i).in_scope(|| {
                    for child in 0..8_u64 {
                        tracing::info_span!("child", child).in_scope(|| black_box(()));
                    }
                });
            }
        }
        "reenter" => {
            let long_lived = tracing::info_span!("long_lived", i = 1_u64);
            for _ in 0..spans {
                long_lived.in_scope(|| black_box(()));
            }
        }
        "instrument" => {
            let key = Key("user:1024".into());
            for i in 0..spans {
                get(i, &key);
            }
        }
        _ => {
            for _ in 0..spans {
                tracing::info_span!("span").in_scope(|| black_box(()));
            }
        }
    }
    drop(guard);
    let elapsed = start.elapsed();
    let cpu = cpu_ns().saturating_sub(cpu_before);
    let peak_kib = status_kib("VmHWM:").unwrap_or(0);
    Ok(Run {
        ns_per_span: elapsed.as_nanos() as f64 / spans as f64,
        cpu_ns_per_span: cpu as f64 / spans as f64,
        secs: elapsed.as_secs_f64(),
        peak_kib,
        growth_kib: peak_kib.saturating_sub(before_kib),
    })
}

/// A key, recorded by `#[instrument]` through its `Debug`.
#[derive(Debug)]
struct Key(String);

#[instrument]
fn get(shard: u64, key: &Key) -> usize {
    black_box(key.0.len())
}

/// The process's CPU time so far, all threads, user and system, in ns (Linux
/// `/proc/self/stat`, in clock ticks of 10 ms).
fn cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // After the command name in parentheses: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    fields.iter().sum::<u64>() * 10_000_000
}

/// A `/proc/self/status` value in kB (Linux).
fn status_kib(key: &str) -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The dispatcher, and what must live until the burst is over (guards).
fn subscriber(
    which: &str,
    dir: &std::path::Path,
) -> Result<(tracing::Dispatch, Box<dyn Any>), Error> {
    Ok(match which {
        "floor" => (
            tracing_subscriber::registry().with(Identity::new()).into(),
            Box::new(()),
        ),
        "perf-layer" => {
            let (layer, guard) = perf_layer::PerfLayer::builder()
                .logs_dir(dir)
                .session_id("flood")
                .build()?;
            (
                tracing_subscriber::registry().with(layer).into(),
                Box::new(guard),
            )
        }
        "tracing-chrome" => {
            let (layer, guard) = tracing_chrome::ChromeLayerBuilder::new()
                .file(dir.join("trace.json"))
                .build();
            (
                tracing_subscriber::registry().with(layer).into(),
                Box::new(guard),
            )
        }
        "tracing-flame" => {
            let (layer, guard) = tracing_flame::FlameLayer::with_file(dir.join("tracing.folded"))?;
            (
                tracing_subscriber::registry().with(layer).into(),
                Box::new(guard),
            )
        }
        "fmt-close" => (
            tracing_subscriber::registry()
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_span_events(FmtSpan::CLOSE)
                        .with_writer(std::io::sink),
                )
                .into(),
            Box::new(()),
        ),
        "fmt-close-file" => {
            let file = std::fs::File::create(dir.join("fmt.log"))?;
            let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .lossy(false)
                .finish(file);
            (
                tracing_subscriber::registry()
                    .with(
                        tracing_subscriber::fmt::layer()
                            .with_span_events(FmtSpan::CLOSE)
                            .with_writer(writer),
                    )
                    .into(),
                Box::new(guard),
            )
        }
        other => return Err(format!("unknown subscriber {other:?}: {SUBSCRIBERS}").into()),
    })
}

/// Every workload under every peer, each run a process of its own, `rounds` times with
/// the peers' order rotating each round; prints medians, ratios and the largest growth.
fn compare(spans: u64, rounds: usize) -> Result<(), Error> {
    let exe = std::env::current_exe()?;
    // results[workload][peer] = (ns per span, growth kB) per round
    let mut results = vec![vec![Vec::new(); PEERS.len()]; WORKLOADS.len()];
    for round in 0..rounds {
        for (w, workload) in WORKLOADS.iter().enumerate() {
            for k in 0..PEERS.len() {
                let p = (k + round) % PEERS.len();
                let out = Command::new(&exe)
                    .args([PEERS[p], &spans.to_string(), workload])
                    .output()?;
                if !out.status.success() {
                    return Err(format!(
                        "{} {workload} failed: {}",
                        PEERS[p],
                        String::from_utf8_lossy(&out.stderr)
                    )
                    .into());
                }
                let line = String::from_utf8_lossy(&out.stdout);
                let ns = number_before(&line, " ns/span").ok_or("no ns/span")?;
                let cpu = line
                    .split("cpu ")
                    .nth(1)
                    .and_then(|c| number_before(c, " ns/span"))
                    .ok_or("no cpu")?;
                let growth = line
                    .rsplit("growth ")
                    .next()
                    .and_then(|g| number_before(g, " kB"));
                results[w][p].push((ns, growth.unwrap_or(0.0), cpu));
                eprintln!("round {}: {}", round + 1, line.trim());
            }
        }
    }
    println!(
        "{spans} spans per burst, {rounds} interleaved rounds, median ns per span \
         (whole process, guard drop included); CPU: median CPU time of all threads per \
         span; growth: the largest RSS growth in kB"
    );
    println!(
        "| workload | floor | tracing-chrome | perf-layer | perf-layer ÷ chrome | \
         perf-layer − floor | CPU floor | CPU chrome | CPU perf-layer | \
         growth floor | growth chrome | growth perf-layer |"
    );
    println!(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (w, workload) in WORKLOADS.iter().enumerate() {
        let median_of = |p: usize, pick: fn(&(f64, f64, f64)) -> f64| {
            let mut ns: Vec<f64> = results[w][p].iter().map(pick).collect();
            ns.sort_by(f64::total_cmp);
            ns[ns.len() / 2]
        };
        let median = |p: usize| median_of(p, |r| r.0);
        let cpu = |p: usize| median_of(p, |r| r.2);
        let growth = |p: usize| results[w][p].iter().map(|r| r.1).fold(0.0, f64::max);
        let (floor, chrome, perf) = (median(0), median(1), median(2));
        println!(
            "| {workload} | {floor:.0} | {chrome:.0} | {perf:.0} | {:.2} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            perf / chrome,
            perf - floor,
            cpu(0),
            cpu(1),
            cpu(2),
            growth(0),
            growth(1),
            growth(2),
        );
    }
    Ok(())
}

/// The number right before `unit` in `text`.
fn number_before(text: &str, unit: &str) -> Option<f64> {
    let end = text.find(unit)?;
    text[..end].rsplit(' ').next()?.parse().ok()
}
