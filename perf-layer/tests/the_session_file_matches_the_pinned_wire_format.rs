//! The three kinds of line, byte for byte: the layout of format 1 is a promise to the
//! analyzer and to users' scripts. Only measured values (times, pid) are taken from the
//! file; every key, its order and the punctuation are literal.

mod support;

use perf_layer::record::Record;

#[test]
fn the_session_file_matches_the_pinned_wire_format() {
    let session = support::session_with(|b| b.program("pinned-program"));
    let dispatch = session.dispatch.clone();
    std::thread::Builder::new()
        .name("main".into())
        .spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                let parent = tracing::info_span!(target: "agent_demo::memory", "query_memory");
                let cause = tracing::info_span!(target: "agent_demo::memory", "turn");
                parent.in_scope(|| {
                    let span = tracing::info_span!(
                        target: "agent_demo::memory",
                        "llm_generation",
                        prompt_chars = 1547_u64,
                        model = "llama3",
                    );
                    span.follows_from(&cause);
                    span.in_scope(|| {});
                });
            })
        })
        .unwrap()
        .join()
        .unwrap();
    let path = session.handle.data_path();
    drop(session.guard);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let records = support::read(&path);
    let Record::Session(header) = &records.0[0] else {
        panic!("no session line")
    };
    let Record::Span(span) = &records.0[1] else {
        panic!("no span line")
    };
    let end = records.end();

    assert_eq!(
        lines[0],
        format!(
            r#"{{"type":"session","format":1,"session":"test_session","started_at":"{}","pid":{},"program":"pinned-program"}}"#,
            header.started_at,
            std::process::id()
        )
    );
    assert_eq!(header.started_at.len(), "2026-11-24T10:00:00.123456Z".len());
    assert!(header.started_at.ends_with('Z'));
    assert_eq!(
        lines[1],
        format!(
            r#"{{"type":"span","id":3,"parent":1,"follows_from":[2],"name":"llm_generation","target":"agent_demo::memory","start_ns":{},"end_ns":{},"busy_ns":{},"enters":1,"thread":"main","status":"ok","fields":{{"prompt_chars":1547,"model":"llama3"}}}}"#,
            span.start_ns, span.end_ns, span.busy_ns
        )
    );
    assert_eq!(
        lines.last().copied().unwrap(),
        format!(
            r#"{{"type":"end","end_ns":{},"spans":3,"open":0,"dropped":0}}"#,
            end.end_ns
        )
    );
    assert_eq!(lines.len(), 5, "session, three spans, end");
}
