//! Floods a subscriber with spans and prints the time per span and the process's peak
//! memory (Linux `VmHWM`), to show that the layer's memory stays bounded whatever the
//! span rate, and what each peer holds meanwhile:
//!
//! ```sh
//! cargo run --release -p perf-layer --example flood -- perf-layer 10000000
//! cargo run --release -p perf-layer --example flood -- tracing-chrome 10000000
//! ```
//!
//! Subscribers: `floor` (registry + an empty layer), `perf-layer`, `tracing-chrome`,
//! `tracing-flame`, `fmt-close` (the fmt layer with `FmtSpan::CLOSE` to a sink) and
//! `fmt-close-file` (the same through `tracing-appender`'s `non_blocking` to a file, in
//! its blocking mode). Every file goes to a temporary directory.

use std::any::Any;
use std::time::Instant;

use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::{Identity, SubscriberExt};

const SUBSCRIBERS: &str =
    "floor, perf-layer, tracing-chrome, tracing-flame, fmt-close or fmt-close-file";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "perf-layer".into());
    let spans: u64 = args.next().map_or(Ok(1_000_000), |n| n.parse())?;
    let dir = tempfile::tempdir()?;

    let (dispatch, guard): (tracing::Dispatch, Box<dyn Any>) = match which.as_str() {
        "floor" => (
            tracing_subscriber::registry().with(Identity::new()).into(),
            Box::new(()),
        ),
        "perf-layer" => {
            let (layer, guard) = perf_layer::PerfLayer::builder()
                .logs_dir(dir.path())
                .session_id("flood")
                .build()?;
            (
                tracing_subscriber::registry().with(layer).into(),
                Box::new(guard),
            )
        }
        "tracing-chrome" => {
            let (layer, guard) = tracing_chrome::ChromeLayerBuilder::new()
                .file(dir.path().join("trace.json"))
                .build();
            (
                tracing_subscriber::registry().with(layer).into(),
                Box::new(guard),
            )
        }
        "tracing-flame" => {
            let (layer, guard) =
                tracing_flame::FlameLayer::with_file(dir.path().join("tracing.folded"))?;
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
            let file = std::fs::File::create(dir.path().join("fmt.log"))?;
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
    };

    let start = Instant::now();
    tracing::dispatcher::with_default(&dispatch, || {
        for _ in 0..spans {
            tracing::info_span!("flood").in_scope(|| {});
        }
    });
    let produced = start.elapsed();
    drop(guard);
    let finished = start.elapsed();

    let peak_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        });
    let peak = peak_kib.map_or_else(|| "unknown".into(), |kib| format!("{kib} kB"));
    println!(
        "{which}: {spans} spans, {:.0} ns/span, all written after {:.2} s, peak {peak}",
        produced.as_nanos() as f64 / spans as f64,
        finished.as_secs_f64(),
    );
    Ok(())
}
