//! Names read from a file reach the terminal and Markdown documents inert: terminal
//! control sequences are escaped in text output, and Markdown keeps no live HTML,
//! link or image, nor a code fence a name could close.

mod cli_common;

use cli_common::{run, stderr, stdout};

/// Names that would act on a terminal or in a rendered Markdown document.
const HOSTILE: &[&str] = &[
    "\u{1b}[2J\u{1b}[H",   // clear the screen
    "\u{1b}]0;owned\u{7}", // set the window title
    "\u{9b}31mred",        // a C1 control sequence introducer
    "left\u{202e}thgir",   // a bidirectional override
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "```\n<script>alert(2)</script>\n```", // a code fence
    "[click](javascript:alert(3))",
    "![pixel](http://127.0.0.1/p.png)",
];

/// A session whose spans, and one LLM call's model, carry the hostile names.
fn hostile_session(dir: &std::path::Path) -> std::path::PathBuf {
    let mut data = String::from(
        r#"{"type":"session","format":1,"session":"hostile","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#,
    );
    data.push('\n');
    let n = HOSTILE.len() as u64;
    for (i, name) in HOSTILE.iter().enumerate() {
        let id = i as u64 + 2;
        let name = serde_json::to_string(name).unwrap();
        let fields = format!(
            r#"{{"gen_ai.request.model":{name},"gen_ai.usage.output_tokens":10,"ollama.total_duration_ns":1000000}}"#
        );
        let (start, end) = (id * 10_000_000, id * 10_000_000 + 5_000_000);
        data.push_str(&format!(
            r#"{{"type":"span","id":{id},"parent":1,"name":{name},"target":{name},"start_ns":{start},"end_ns":{end},"busy_ns":1,"enters":1,"thread":{name},"status":"ok","fields":{fields}}}"#
        ));
        data.push('\n');
    }
    let end = (n + 3) * 10_000_000;
    data.push_str(&format!(
        r#"{{"type":"span","id":1,"parent":null,"name":"turn","target":"t","start_ns":0,"end_ns":{end},"busy_ns":1,"enters":1,"thread":"main","status":"ok","fields":{{}}}}"#
    ));
    data.push('\n');
    let session = dir.join("hostile");
    std::fs::create_dir_all(&session).unwrap();
    let file = session.join("performance_data.jsonl");
    std::fs::write(&file, data).unwrap();
    file
}

/// No byte or character of `text` can act on a terminal.
fn assert_inert_on_a_terminal(what: &str, text: &str) {
    let live = text
        .chars()
        .find(|&c| (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c));
    assert!(
        live.is_none(),
        "{what}: {live:?} reaches the terminal:\n{text}"
    );
}

#[test]
fn text_output_escapes_terminal_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    let file = hostile_session(dir.path());
    let file = file.to_str().unwrap();
    for args in [
        vec!["report", file],
        vec!["report", file, "--detailed"],
        vec!["list", "--logs-dir", dir.path().to_str().unwrap()],
    ] {
        let out = run(&args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let text = stdout(&out);
        assert_inert_on_a_terminal(&format!("{args:?}"), &text);
        assert_inert_on_a_terminal(&format!("{args:?} on stderr"), &stderr(&out));
        if args[0] == "report" {
            // The names are shown, escaped: in the table of operations and the LLM calls.
            assert!(text.contains(r"\u{1b}[2J"), "{text}");
            assert!(text.contains(r"left\u{202e}thgir"), "{text}");
        }
    }
}

#[test]
fn markdown_output_holds_no_live_html_link_or_image() {
    let dir = tempfile::tempdir().unwrap();
    let file = hostile_session(dir.path());
    let out = run(&[
        "report",
        file.to_str().unwrap(),
        "--detailed",
        "--format",
        "markdown",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let markdown = stdout(&out);
    assert_inert_on_a_terminal("markdown", &markdown);
    // Rendered as a Markdown viewer would (tables on), nothing the names hold is live.
    let mut html = String::new();
    let parser = pulldown_cmark::Parser::new_ext(&markdown, pulldown_cmark::Options::all());
    pulldown_cmark::html::push_html(&mut html, parser);
    // Only the tags of the document's own structure: no script, image or link.
    let structure = [
        "h1", "h2", "p", "br", "ul", "li", "table", "thead", "tbody", "tr", "th", "td", "pre",
        "code", "hr", "ol",
    ];
    for tag in html.split('<').skip(1) {
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        assert!(
            structure.contains(&name.as_str()),
            "<{name} is live in:\n{html}\nfrom:\n{markdown}"
        );
    }
    // Every name is still there, as text.
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("[click](javascript:alert(3))"), "{html}");
    assert!(html.contains("![pixel](http://127.0.0.1/p.png)"), "{html}");
}
