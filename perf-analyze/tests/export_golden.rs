//! Golden files for every export of every fixture in `tests/fixtures/export`.
//! `BLESS=1 cargo test -p perf-analyze --test export_golden` re-records them.

mod export_common;

use perf_analyze::export::{flamegraph, ExportFormat};

#[test]
fn exports_match_their_golden_files() {
    let mut seen = 0;
    for entry in std::fs::read_dir(export_common::fixtures()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().map_or(true, |e| e != "jsonl") {
            continue;
        }
        seen += 1;
        let session = export_common::load(path.file_name().unwrap().to_str().unwrap());
        for (format, extension) in [
            (ExportFormat::Chrome, "chrome.json"),
            (ExportFormat::Folded, "folded"),
            (ExportFormat::Speedscope, "speedscope.json"),
        ] {
            let mut out = Vec::new();
            format.write(&session, &mut out).unwrap();
            export_common::golden(
                &path.with_extension(extension),
                &String::from_utf8(out).unwrap(),
            );
        }
        let mut svg = Vec::new();
        flamegraph::write(&session, &mut svg).unwrap();
        export_common::golden(
            &path.with_extension("svg"),
            &String::from_utf8(svg).unwrap(),
        );
    }
    assert!(seen >= 2, "expected the export fixtures, found {seen}");
}
