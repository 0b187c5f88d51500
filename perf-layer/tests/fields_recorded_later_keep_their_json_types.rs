//! Fields given at creation and set later with `Span::record` are all written, and
//! numbers stay numbers.

mod support;

use serde_json::json;

#[test]
fn fields_recorded_later_keep_their_json_types() {
    let session = support::session();
    session.run(|| {
        let span = tracing::info_span!(
            "llm_generation",
            prompt_chars = 1547_u64,
            delta = -3_i64,
            temperature = 0.7_f64,
            stream = true,
            model = "llama3",
            request = ?vec![1, 2],
            gen_ai.usage.output_tokens = tracing::field::Empty,
            status_note = tracing::field::Empty,
        );
        span.record("gen_ai.usage.output_tokens", 42_u64);
        span.record("status_note", "done");
        span.record("prompt_chars", 1600_u64);
    });
    let records = session.finish();
    let fields = &records.span("llm_generation").fields;
    let expected = json!({
        "prompt_chars": 1600,
        "delta": -3,
        "temperature": 0.7,
        "stream": true,
        "model": "llama3",
        "request": "[1, 2]",
        "gen_ai.usage.output_tokens": 42,
        "status_note": "done",
    });
    assert_eq!(serde_json::Value::Object(fields.clone()), expected);
    assert!(fields["prompt_chars"].is_u64());
    assert!(fields["temperature"].is_f64());
}
