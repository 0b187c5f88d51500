//! `export --format otlp --endpoint URL`: the OTLP JSON requests POSTed to an OTLP/HTTP
//! receiver (a Collector's `otlp` receiver, Jaeger, Tempo) on `/v1/traces`.

use anyhow::bail;
use perf_analyze::export::{otlp, Session};

/// How long one request may take, connecting included.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Sends the session read from `input` to `endpoint`, saying on stderr what was sent.
pub fn run(session: &Session, input: &str, endpoint: &str) -> anyhow::Result<()> {
    let url = traces_url(endpoint)?;
    let requests = otlp::requests(session);
    if requests.is_empty() {
        bail!("{input}: no complete spans: nothing to send");
    }
    let spans = send(&url, &requests)?;
    eprintln!("Sent {spans} spans in {} requests to {url}", requests.len());
    Ok(())
}

/// The traces URL of an endpoint: used as given if it ends in `/v1/traces`, else with
/// `/v1/traces` appended (as OTLP exporters do with `OTEL_EXPORTER_OTLP_ENDPOINT`).
pub fn traces_url(endpoint: &str) -> anyhow::Result<String> {
    let endpoint = endpoint.trim();
    if endpoint.starts_with("https://") {
        bail!("{endpoint}: https is not supported: send to a Collector's plain http OTLP receiver, or write a file with -o and let a Collector's otlpjsonfile receiver read it");
    }
    if !endpoint.starts_with("http://") {
        bail!("{endpoint}: not an http:// URL (for example http://localhost:4318)");
    }
    if endpoint.trim_end_matches('/').ends_with("/v1/traces") {
        return Ok(endpoint.to_owned());
    }
    Ok(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
}

/// POSTs each request body to `url`; returns the spans sent.
pub fn send(url: &str, requests: &[otlp::Request]) -> anyhow::Result<usize> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    let mut sent = 0;
    for (i, request) in requests.iter().enumerate() {
        let spans = request.spans;
        let position = format!("request {} of {} ({spans} spans)", i + 1, requests.len());
        let mut response = match agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(request.body.as_bytes())
        {
            Ok(response) => response,
            Err(e) => bail!("cannot reach the OTLP receiver at {url} ({position}): {e}"),
        };
        let status = response.status();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        if !status.is_success() {
            let text = text.trim();
            let text = text.get(..text.len().min(500)).unwrap_or(text);
            bail!("the OTLP receiver at {url} refused {position}: HTTP {status}: {text}");
        }
        warn_partial_success(url, &text);
        sent += spans;
    }
    Ok(sent)
}

/// Warns when the receiver says it rejected some spans (`partialSuccess`).
fn warn_partial_success(url: &str, body: &str) {
    let Ok(response) = serde_json::from_str::<serde_json::Value>(body) else {
        return;
    };
    let partial = &response["partialSuccess"];
    let rejected = match &partial["rejectedSpans"] {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    };
    if let Some(rejected @ 1..) = rejected {
        let message = partial["errorMessage"].as_str().unwrap_or_default();
        eprintln!("warning: the OTLP receiver at {url} rejected {rejected} spans: {message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_url_appends_the_path_once() {
        assert_eq!(
            traces_url("http://localhost:4318").unwrap(),
            "http://localhost:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://h:4318/").unwrap(),
            "http://h:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://h:4318/v1/traces").unwrap(),
            "http://h:4318/v1/traces"
        );
        assert!(traces_url("https://h").is_err());
        assert!(traces_url("h:4318").is_err());
    }
}
