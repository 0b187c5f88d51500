//! An ERROR-level event inside a span, such as the one `#[instrument(err)]` emits when
//! the function returns `Err`, sets the span's status to `error`; other spans stay `ok`.

mod support;

use perf_layer::record::Status;

#[tracing::instrument(err)]
fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
    text.parse()
}

#[test]
fn instrument_err_marks_the_span_as_error() {
    let session = support::session();
    session.run(|| {
        tracing::info_span!("turn").in_scope(|| {
            assert!(parse("nope").is_err());
            assert_eq!(parse("42"), Ok(42));
            tracing::warn!("a warning is not an error");
        });
        tracing::info_span!("explicit").in_scope(|| {
            tracing::error!("failed");
        });
    });
    let records = session.finish();
    let parses: Vec<_> = records
        .spans()
        .into_iter()
        .filter(|s| s.name == "parse")
        .collect();
    assert_eq!(parses.len(), 2);
    let statuses: Vec<_> = parses
        .iter()
        .map(|s| (s.fields["text"].as_str().unwrap().to_owned(), s.status))
        .collect();
    assert!(
        statuses.contains(&("nope".to_owned(), Status::Error)),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&("42".to_owned(), Status::Ok)),
        "{statuses:?}"
    );
    assert_eq!(
        records.span("turn").status,
        Status::Ok,
        "only the event's own span"
    );
    assert_eq!(records.span("explicit").status, Status::Error);
}
