//! The HTML report in a real headless browser (Debian's `chromium`): the page
//! renders, shows the operation names, and runs no script smuggled in through
//! a span name or field.
//!
//! Without chromium the test is skipped with a notice, unless `CI` is set: in
//! CI it must run (`.ci/run` installs chromium when missing).

mod export_common;

use perf_analyze::output::PageData;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use perf_analyze::RenderOptions;

/// The browser binary: `$CHROMIUM`, else `chromium` on the PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(path.into());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("chromium"))
        .find(|path| path.is_file())
}

/// Loads `page` in headless chromium and returns the DOM after scripts ran.
fn dump_dom(browser: &Path, page: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            // Give page scripts (there should be none) time to run before the dump.
            "--virtual-time-budget=2000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.display()));
    let reader = {
        let mut stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut dom = String::new();
            std::io::Read::read_to_string(&mut stdout, &mut dom).map(|_| dom)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap().unwrap()
}

/// The HTML report of a fixture, as `perf-analyze report --format html --detailed` makes it.
fn report(fixture: &str) -> String {
    let path = export_common::fixtures().join(fixture);
    let (analysis, page) = PageData::read_path(&path, &Default::default()).unwrap();
    let options = RenderOptions {
        detailed: true,
        ..RenderOptions::default()
    };
    analysis.render_html(&options, &page)
}

#[test]
fn report_renders_in_chromium_without_running_injected_script() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is required in CI (apt-get install -y chromium)"
        );
        eprintln!("NOTICE: chromium not found; skipping the browser test (set CI to require it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (fixture, must_show) in [
        (
            // One turn that started background tasks.
            "one_turn_background.jsonl",
            &[
                "memory_query_total",
                "llm_generation",
                "graph_entity_resolver",
                "background 1",
                "background 3",
            ][..],
        ),
        (
            // Two runs; the latest turn has a child that outlived it.
            "agent_session.jsonl",
            &["async_process_entry_user", "foreground 2", "LLM CALLS"][..],
        ),
        (
            "hostile_names.jsonl",
            &[
                "&lt;script&gt;document.title='pwned'&lt;/script&gt;",
                "root &amp; &lt;friends&gt;",
                "&lt;img src=x onerror=\"document.title='pwned'\"&gt;",
            ][..],
        ),
    ] {
        let html = report(fixture);
        let path = dir.path().join(format!("{fixture}.html"));
        std::fs::write(&path, &html).unwrap();

        let dom = dump_dom(&browser, &path);
        assert!(
            dom.contains("</html>"),
            "no DOM dumped for {fixture}:\n{dom}"
        );
        let session = fixture.trim_end_matches(".jsonl");
        let title = format!("<title>Performance report: {session}</title>");
        assert!(dom.contains(&title), "the title changed: {fixture}");
        assert!(!dom.contains("pwned</title>"));
        // Markup in names and fields stayed text: no element was created.
        for tag in ["<script", "<img", "<b>"] {
            assert!(!dom.contains(tag), "{tag} became an element in {fixture}");
        }
        for text in must_show {
            assert!(dom.contains(text), "{text} is not shown for {fixture}");
        }
        // The tables, the tree, the timeline and the flamegraph are there.
        for part in [
            "TOP OPERATIONS BY TIME",
            "LATEST OPERATION BREAKDOWN",
            "<svg class=\"timeline\"",
            "<iframe class=\"flamegraph\"",
        ] {
            assert!(dom.contains(part), "{part} missing for {fixture}");
        }
    }
}
