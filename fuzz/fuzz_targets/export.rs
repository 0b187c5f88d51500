//! Any bytes through the loader into every export and the HTML report: never a
//! panic, never a hang, whatever shape the trees take (deep, wide, overlapping,
//! cyclic, children outliving their parents), and valid JSON from the JSON formats.

#![no_main]

use libfuzzer_sys::fuzz_target;
use perf_analyze::export::{flamegraph, folded, ExportFormat, Session};
use perf_analyze::output::PageData;
use perf_analyze::{Options, RenderOptions};

fuzz_target!(|data: &[u8]| {
    let Ok((session, _)) = Session::read(data, "fuzz", &Options::default()) else {
        return;
    };
    let Ok((analysis, page)) = PageData::read(data, "fuzz", &Options::default()) else {
        return;
    };
    for format in [
        ExportFormat::Chrome,
        ExportFormat::Folded,
        ExportFormat::Speedscope,
        ExportFormat::Otlp,
    ] {
        let mut out = Vec::new();
        format.write(&session, &mut out).expect("writing to memory");
        valid(format, &out);
    }
    // Laid out as read, with pieces and a reorder buffer of a few spans.
    let small = Options {
        hold_budget: Some(3),
        ..Options::default()
    };
    for format in [
        ExportFormat::Chrome,
        ExportFormat::Speedscope,
        ExportFormat::Otlp,
    ] {
        let mut out = Vec::new();
        if format.write_read(data, "fuzz", &small, &mut out).is_ok() {
            valid(format, &out);
        }
    }
    let stacks = folded::Stacks::of(&session);
    let _ = flamegraph::write_stacks(&stacks, session.name(), &mut Vec::new());
    let report = analysis.html_report(&RenderOptions::default(), &page);
    assert!(report.page.ends_with("</html>\n"));
});

/// The trace formats are JSON documents; OTLP is JSON lines.
fn valid(format: ExportFormat, out: &[u8]) {
    match format {
        ExportFormat::Folded => {}
        ExportFormat::Otlp => {
            for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                serde_json::from_slice::<serde_json::Value>(line).expect("a JSON line");
            }
        }
        _ => {
            serde_json::from_slice::<serde_json::Value>(out).expect("valid JSON");
        }
    }
}
