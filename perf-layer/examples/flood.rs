//! Floods a subscriber with spans and prints the time per span and the process's peak
//! memory (Linux `VmHWM`), to show that the layer's memory stays bounded whatever the
//! span rate:
//!
//! ```sh
//! cargo run --release -p perf-layer --example flood -- perf-layer 10000000
//! cargo run --release -p perf-layer --example flood -- tracing-chrome 10000000
//! ```

use std::time::Instant;

use tracing_subscriber::layer::SubscriberExt;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "perf-layer".into());
    let spans: u64 = args.next().map_or(Ok(1_000_000), |n| n.parse())?;
    let dir = tempfile::tempdir()?;

    let (dispatch, guard): (tracing::Dispatch, Box<dyn std::any::Any>) = match which.as_str() {
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
        other => {
            return Err(
                format!("unknown subscriber {other:?}: perf-layer or tracing-chrome").into(),
            )
        }
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

    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "VmHWM: unknown".into());
    println!(
        "{which}: {spans} spans, {:.0} ns/span, all written after {:.2} s, peak {}",
        produced.as_nanos() as f64 / spans as f64,
        finished.as_secs_f64(),
        peak.trim_start_matches("VmHWM:").trim()
    );
    Ok(())
}
