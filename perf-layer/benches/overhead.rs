//! What a span costs under each subscriber, in one run:
//!
//! - `floor`: `registry()` + an empty layer (a bare registry never frees closed spans,
//!   tokio-rs/tracing#900, so an empty layer is the honest floor);
//! - `perf-layer`: `registry()` + `PerfLayer`, every record written to a real file;
//! - `tracing-chrome`: its layer writing a trace file;
//! - `tracing-flame`: its layer writing folded stacks to a file;
//! - `fmt-close`: the fmt layer with `FmtSpan::CLOSE` writing to a sink;
//! - `fmt-close-file`: the same through `tracing-appender`'s `non_blocking` writer to a
//!   file, in its blocking mode (nothing lost, like perf-layer's default).
//!
//! Workloads: one span's whole life (new, enter, exit, close); re-entering one
//! long-lived span; a root with 8 children; the first and the third on two threads at
//! once (time per iteration of one thread while the other runs the same).
//!
//! `cargo bench -p perf-layer`

use std::any::Any;
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tracing::{info_span, Dispatch};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::{Identity, SubscriberExt};

#[derive(Clone, Copy)]
enum Subscriber {
    Floor,
    PerfLayer,
    Chrome,
    Flame,
    FmtClose,
    FmtCloseFile,
}

const SUBSCRIBERS: [Subscriber; 6] = [
    Subscriber::Floor,
    Subscriber::PerfLayer,
    Subscriber::Chrome,
    Subscriber::Flame,
    Subscriber::FmtClose,
    Subscriber::FmtCloseFile,
];

impl Subscriber {
    fn name(self) -> &'static str {
        match self {
            Subscriber::Floor => "floor",
            Subscriber::PerfLayer => "perf-layer",
            Subscriber::Chrome => "tracing-chrome",
            Subscriber::Flame => "tracing-flame",
            Subscriber::FmtClose => "fmt-close",
            Subscriber::FmtCloseFile => "fmt-close-file",
        }
    }

    /// The dispatcher, and what must live as long as it (guards, temp dirs).
    fn build(self) -> (Dispatch, Box<dyn Any>) {
        let dir = tempfile::tempdir().expect("temp dir");
        match self {
            Subscriber::Floor => (
                Dispatch::new(tracing_subscriber::registry().with(Identity::new())),
                Box::new(dir),
            ),
            Subscriber::PerfLayer => {
                let (layer, guard) = perf_layer::PerfLayer::builder()
                    .logs_dir(dir.path())
                    .session_id("bench")
                    .build()
                    .expect("perf layer");
                (
                    Dispatch::new(tracing_subscriber::registry().with(layer)),
                    // The guard drops first: the end line is written before the dir goes.
                    Box::new((guard, dir)),
                )
            }
            Subscriber::Chrome => {
                let (layer, guard) = tracing_chrome::ChromeLayerBuilder::new()
                    .file(dir.path().join("trace.json"))
                    .build();
                (
                    Dispatch::new(tracing_subscriber::registry().with(layer)),
                    Box::new((guard, dir)),
                )
            }
            Subscriber::Flame => {
                let (layer, guard) =
                    tracing_flame::FlameLayer::with_file(dir.path().join("tracing.folded"))
                        .expect("flame layer");
                (
                    Dispatch::new(tracing_subscriber::registry().with(layer)),
                    Box::new((guard, dir)),
                )
            }
            Subscriber::FmtClose => {
                let layer = tracing_subscriber::fmt::layer()
                    .with_span_events(FmtSpan::CLOSE)
                    .with_writer(std::io::sink);
                (
                    Dispatch::new(tracing_subscriber::registry().with(layer)),
                    Box::new(dir),
                )
            }
            Subscriber::FmtCloseFile => {
                let file = std::fs::File::create(dir.path().join("fmt.log")).expect("log file");
                let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                    .lossy(false)
                    .finish(file);
                let layer = tracing_subscriber::fmt::layer()
                    .with_span_events(FmtSpan::CLOSE)
                    .with_writer(writer);
                (
                    Dispatch::new(tracing_subscriber::registry().with(layer)),
                    Box::new((guard, dir)),
                )
            }
        }
    }
}

fn whole_life() {
    info_span!("span").in_scope(|| black_box(()));
}

fn root_with_8_children() {
    info_span!("root").in_scope(|| {
        for _ in 0..8 {
            info_span!("child").in_scope(|| black_box(()));
        }
    });
}

/// Wall time for `iters` runs of `work` on each of two threads started together.
fn on_two_threads(dispatch: &Dispatch, iters: u64, work: fn()) -> Duration {
    let barrier = Barrier::new(3);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                tracing::dispatcher::with_default(dispatch, || {
                    barrier.wait();
                    for _ in 0..iters {
                        work();
                    }
                    barrier.wait();
                });
            });
        }
        barrier.wait();
        let start = Instant::now();
        barrier.wait();
        start.elapsed()
    })
}

fn overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("whole_life");
    group.throughput(Throughput::Elements(1));
    for sub in SUBSCRIBERS {
        let (dispatch, _keep) = sub.build();
        group.bench_function(BenchmarkId::from_parameter(sub.name()), |b| {
            tracing::dispatcher::with_default(&dispatch, || b.iter(whole_life));
        });
    }
    group.finish();

    let mut group = c.benchmark_group("reenter");
    group.throughput(Throughput::Elements(1));
    for sub in SUBSCRIBERS {
        let (dispatch, _keep) = sub.build();
        group.bench_function(BenchmarkId::from_parameter(sub.name()), |b| {
            tracing::dispatcher::with_default(&dispatch, || {
                let long_lived = info_span!("long_lived");
                b.iter(|| long_lived.in_scope(|| black_box(())));
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("root_8_children");
    group.throughput(Throughput::Elements(9));
    for sub in SUBSCRIBERS {
        let (dispatch, _keep) = sub.build();
        group.bench_function(BenchmarkId::from_parameter(sub.name()), |b| {
            tracing::dispatcher::with_default(&dispatch, || b.iter(root_with_8_children));
        });
    }
    group.finish();

    for (name, work, spans) in [
        ("whole_life_2_threads", whole_life as fn(), 1),
        ("root_8_children_2_threads", root_with_8_children, 9),
    ] {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(spans));
        for sub in SUBSCRIBERS {
            let (dispatch, _keep) = sub.build();
            group.bench_function(BenchmarkId::from_parameter(sub.name()), |b| {
                b.iter_custom(|iters| on_two_threads(&dispatch, iters, work));
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = overhead
}
criterion_main!(benches);
