//! Bad OTLP and Jaeger input never panics: every cut of a file, noise flipped into it,
//! deep nesting in one trace, JSON nested past serde_json's limit.

use perf_analyze::{analyze_reader, Error, Options};
use proptest::prelude::*;

const JAEGER: &str = include_str!("fixtures/otel/jaeger_trace.json");

fn otlp() -> String {
    let span = |id: u32, parent: &str, start: u64| {
        format!(
            r#"{{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"{id:016x}","parentSpanId":"{parent}","name":"op{id}","kind":2,"startTimeUnixNano":"{start}","endTimeUnixNano":{},"attributes":[{{"key":"n","value":{{"intValue":"3"}}}},{{"key":"busy_ns","value":{{"intValue":5}}}}],"links":[{{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"0000000000000001"}}],"status":{{"code":2}}}}"#,
            start + 10
        )
    };
    let line = |spans: Vec<String>| {
        format!(
            r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"svc"}}}}]}},"scopeSpans":[{{"scope":{{"name":"s"}},"spans":[{}]}}]}}]}}"#,
            spans.join(",")
        )
    };
    format!(
        "{}\n{}\n",
        line(vec![
            span(2, "0000000000000001", 3),
            span(3, "0000000000000002", 4)
        ]),
        line(vec![span(1, "", 1)])
    )
}

/// Reads `data` both ways: lenient always succeeds, strict succeeds or names the input.
fn read_both_ways(data: &[u8]) {
    let lenient = analyze_reader(data, "cut.json", &Options::default());
    assert!(lenient.is_ok(), "{:?}", lenient.err());
    let strict = Options {
        strict: true,
        ..Options::default()
    };
    match analyze_reader(data, "cut.json", &strict) {
        Ok(_) => {}
        Err(e @ Error::Malformed { .. }) => assert!(e.to_string().starts_with("cut.json:"), "{e}"),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn every_cut_of_a_file_is_read_or_refused_clearly() {
    let otlp = otlp();
    for data in [JAEGER.as_bytes(), otlp.as_bytes()] {
        for cut in (0..data.len()).step_by(7) {
            read_both_ways(&data[..cut]);
        }
    }
}

#[test]
fn a_trace_100_000_deep_and_json_nested_past_the_limit() {
    let n = 100_000u64;
    let mut spans = Vec::new();
    for i in 1..=n {
        let refs = if i == 1 {
            String::new()
        } else {
            format!(r#"{{"refType":"CHILD_OF","spanID":"{:x}"}}"#, i - 1)
        };
        spans.push(format!(
            r#"{{"traceID":"1","spanID":"{i:x}","operationName":"level","references":[{refs}],"startTime":{i},"duration":{}}}"#,
            2 * (n - i) + 1
        ));
    }
    let doc = format!(r#"{{"data":[{{"spans":[{}]}}]}}"#, spans.join(","));
    let analysis = analyze_reader(doc.as_bytes(), "deep.json", &Options::default()).unwrap();
    assert_eq!(analysis.summary.by_name[0].count, n);
    assert!(analysis.warnings().is_empty(), "{:?}", analysis.warnings());

    let nested = format!(r#"{{"data":[{{"spans":[{}]}}]}}"#, "[".repeat(10_000));
    read_both_ways(nested.as_bytes());
    let attribute = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"spanId":"01","name":"x","startTimeUnixNano":1,"endTimeUnixNano":2,"attributes":[{{"key":"k","value":{}}}]}}]}}]}}]}}"#,
        r#"{"arrayValue":{"values":["#.repeat(5_000)
    );
    read_both_ways(format!("{attribute}\n").as_bytes());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn noise_flipped_into_a_file_never_panics(
        which in any::<bool>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut data = if which { JAEGER.as_bytes().to_vec() } else { otlp().into_bytes() };
        for (at, byte) in flips {
            let at = at.index(data.len());
            data[at] = byte;
        }
        read_both_ways(&data);
    }
}
