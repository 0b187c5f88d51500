//! Lines per second of the full report (`cargo bench -p perf-analyze`): parse, build trees,
//! run every analysis, render the detailed table. Criterion's throughput line is lines/s.
//! `load` and `load_and_trees` time the first stages alone, to show where the time goes.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use perf_analyze::input::{self, Event, TreeBuilder};
use perf_analyze::{analyze_reader, Format, Options, RenderOptions};

fn report(c: &mut Criterion) {
    let mut data = Vec::new();
    perf_analyze::generate::write_session(&mut data, 200_000, 7).expect("generate");
    let lines = data.iter().filter(|&&b| b == b'\n').count() as u64;
    let mut group = c.benchmark_group("report");
    group.throughput(Throughput::Elements(lines));
    group.sample_size(10);
    group.bench_function("load", |b| {
        b.iter(|| {
            let mut spans = 0u64;
            input::read(&data[..], "bench", false, |event| {
                if let Event::Span(span) = event {
                    spans += span.id & 1;
                }
            })
            .expect("read");
            spans
        });
    });
    group.bench_function("load_and_trees", |b| {
        b.iter(|| {
            let mut builder = TreeBuilder::new("bench");
            let mut nodes = 0usize;
            input::read(&data[..], "bench", false, |event| match event {
                Event::Span(span) => builder.push(span, &mut |tree| nodes += tree.len()),
                Event::SegmentEnd(_) => builder.finish_segment(&mut |tree| nodes += tree.len()),
                Event::Segment(_) => {}
            })
            .expect("read");
            nodes
        });
    });
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

criterion_group!(benches, report);
criterion_main!(benches);
