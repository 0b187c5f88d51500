//! Lines per second of the full report (`cargo bench -p perf-analyze`): parse, build trees,
//! run every analysis, render the detailed table. Criterion's throughput line is lines/s.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use perf_analyze::{analyze_reader, Format, Options, RenderOptions};

fn full_report(c: &mut Criterion) {
    let mut data = Vec::new();
    perf_analyze::generate::write_session(&mut data, 200_000, 7).expect("generate");
    let lines = data.iter().filter(|&&b| b == b'\n').count() as u64;
    let mut group = c.benchmark_group("report");
    group.throughput(Throughput::Elements(lines));
    group.sample_size(10);
    group.bench_function("full_report_200k_spans", |b| {
        b.iter(|| {
            let analysis =
                analyze_reader(&data[..], "bench", &Options::default()).expect("analyze");
            analysis.render(
                Format::Table,
                &RenderOptions {
                    detailed: true,
                    width: 120,
                },
            )
        });
    });
    group.finish();
}

criterion_group!(benches, full_report);
criterion_main!(benches);
