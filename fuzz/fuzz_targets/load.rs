//! Any bytes through the loader, the tree builder, every analysis and every renderer:
//! never a panic, never a hang.

#![no_main]

use libfuzzer_sys::fuzz_target;
use perf_analyze::{analyze_reader, Format, Options, RenderOptions};

fuzz_target!(|data: &[u8]| {
    for strict in [false, true] {
        let options = Options {
            strict,
            ..Options::default()
        };
        if let Ok(analysis) = analyze_reader(data, "fuzz", &options) {
            let render = RenderOptions {
                detailed: true,
                width: 80,
            };
            for format in [Format::Table, Format::Markdown, Format::Json] {
                let _ = analysis.render(format, &render);
            }
        }
    }
});
