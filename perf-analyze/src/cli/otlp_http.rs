//! `export --format otlp --endpoint URL`: the OTLP JSON requests POSTed to an OTLP/HTTP
//! receiver (a Collector's `otlp` receiver, Jaeger, Tempo) on `/v1/traces`.

use std::io::BufReader;

use anyhow::bail;
use perf_analyze::export::otlp;
use perf_analyze::output::printable;
use perf_analyze::Input;

use super::Source;

/// How long one request may take, connecting included.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Sends the session read from `source` to `endpoint` as it is read, request by
/// request, saying on stderr what was sent.
pub fn run(source: &Source, endpoint: &str) -> anyhow::Result<()> {
    let url = traces_url(endpoint)?;
    let options = source.options();
    let input = source.resolve()?;
    let mut sender = Sender::new(&url);
    let mut failure = None;
    let send = |request: otlp::Request| {
        sender.send(&request).map_err(|e| {
            failure = Some(e);
            std::io::Error::other("the OTLP receiver failed")
        })
    };
    let (name, result) = match &input {
        Input::Stdin => (
            "<stdin>".to_owned(),
            otlp::each_request(BufReader::new(std::io::stdin()), "<stdin>", &options, send),
        ),
        Input::File(path) => (
            perf_analyze::input::data_file(path).display().to_string(),
            otlp::each_request_path(path, &options, send),
        ),
    };
    if let Some(e) = failure {
        return Err(e);
    }
    for warning in result?.warnings.list() {
        eprintln!("warning: {}", printable(&warning.to_string()));
    }
    if sender.requests == 0 {
        bail!("{}: no complete spans: nothing to send", printable(&name));
    }
    eprintln!(
        "Sent {} spans in {} requests to {url}",
        sender.spans, sender.requests
    );
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

/// POSTs requests to one URL, counting what was sent.
pub struct Sender {
    agent: ureq::Agent,
    url: String,
    /// Requests sent.
    pub requests: usize,
    /// Spans sent.
    pub spans: usize,
}

impl Sender {
    pub fn new(url: &str) -> Sender {
        Sender {
            agent: ureq::Agent::config_builder()
                .timeout_global(Some(TIMEOUT))
                .http_status_as_error(false)
                .build()
                .into(),
            url: url.to_owned(),
            requests: 0,
            spans: 0,
        }
    }

    /// POSTs one request body, warning when the receiver rejects some of its spans.
    pub fn send(&mut self, request: &otlp::Request) -> anyhow::Result<()> {
        let url = &self.url;
        let position = format!("request {} ({} spans)", self.requests + 1, request.spans);
        let mut response = match self
            .agent
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
            let mut end = text.len().min(500);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            bail!(
                "the OTLP receiver at {url} refused {position}: HTTP {status}: {}",
                printable(&text[..end])
            );
        }
        warn_partial_success(url, &text);
        self.requests += 1;
        self.spans += request.spans;
        Ok(())
    }
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
        eprintln!(
            "warning: the OTLP receiver at {url} rejected {rejected} spans: {}",
            printable(message)
        );
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
