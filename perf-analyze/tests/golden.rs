//! Golden files: each `fixtures/*.jsonl` beside its expected detailed table report
//! (width 100), Markdown report and summary JSON. `BLESS=1 cargo test -p perf-analyze --test golden`
//! re-records them.

use std::path::Path;

use perf_analyze::{analyze_path, Format, Options, RenderOptions};

fn check(expected_path: &Path, actual: &str) -> Result<(), String> {
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(expected_path, actual).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let expected = std::fs::read_to_string(expected_path).map_err(|e| {
        format!(
            "{}: {e} (run with BLESS=1 to record)",
            expected_path.display()
        )
    })?;
    if expected == actual {
        Ok(())
    } else {
        Err(format!(
            "{} differs (BLESS=1 re-records):\n--- expected\n{expected}\n--- actual\n{actual}",
            expected_path.display()
        ))
    }
}

#[test]
fn reports_match_their_golden_files() {
    let dir = Path::new("tests/fixtures");
    let mut inputs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 4, "fixtures missing: {inputs:?}");
    let render = RenderOptions {
        detailed: true,
        width: 100,
    };
    let mut failures = Vec::new();
    for input in &inputs {
        let analysis = analyze_path(input, &Options::default()).unwrap();
        let outputs = [
            ("report.txt", analysis.render(Format::Table, &render)),
            ("report.md", analysis.render(Format::Markdown, &render)),
            ("summary.json", analysis.render(Format::Json, &render)),
        ];
        for (suffix, actual) in outputs {
            let expected = input.with_extension(suffix);
            if let Err(e) = check(&expected, &actual) {
                failures.push(e);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
