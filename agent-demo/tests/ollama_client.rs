//! The Ollama client against a fake Ollama on loopback that writes raw HTTP, so every
//! fault can be injected: streamed lines, a non-streamed body, a mid-stream error,
//! unknown model, server error, connection refused, a silent server, a malformed line.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use agent_demo::llm::{GenerateRequest, Llm, LlmError, OllamaClient, OllamaConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// One scripted answer: status line and headers are written, then each body part after
/// its delay. `None` content length means the body ends when the connection closes.
#[derive(Clone)]
struct Reply {
    status: &'static str,
    parts: Vec<(Duration, String)>,
    content_length: bool,
    delay_before_headers: Duration,
}

impl Reply {
    fn lines(lines: &[&str]) -> Reply {
        Reply {
            status: "200 OK",
            parts: lines
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let delay = if i == 0 {
                        Duration::ZERO
                    } else {
                        Duration::from_millis(20)
                    };
                    (delay, format!("{l}\n"))
                })
                .collect(),
            content_length: false,
            delay_before_headers: Duration::ZERO,
        }
    }

    fn body(status: &'static str, body: &str) -> Reply {
        Reply {
            status,
            parts: vec![(Duration::ZERO, body.to_string())],
            content_length: true,
            delay_before_headers: Duration::ZERO,
        }
    }
}

/// A request as the fake server saw it.
#[derive(Debug)]
struct Seen {
    request_line: String,
    body: serde_json::Value,
}

struct FakeOllama {
    url: String,
    seen: mpsc::UnboundedReceiver<Seen>,
    connections: Arc<AtomicUsize>,
}

async fn read_request(stream: &mut TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(Seen {
        request_line: head.lines().next().unwrap_or("").to_string(),
        body: serde_json::from_slice(&buf[header_end..]).unwrap_or_default(),
    })
}

async fn serve(listener: TcpListener, reply: Reply) -> FakeOllama {
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, seen) = mpsc::unbounded_channel();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let reply = reply.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let Some(seen) = read_request(&mut stream).await else {
                    return;
                };
                let _ = tx.send(seen);
                tokio::time::sleep(reply.delay_before_headers).await;
                let mut head = format!(
                    "HTTP/1.1 {}\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n",
                    reply.status
                );
                if reply.content_length {
                    let len: usize = reply.parts.iter().map(|(_, p)| p.len()).sum();
                    head.push_str(&format!("Content-Length: {len}\r\n"));
                }
                head.push_str("\r\n");
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for (delay, part) in reply.parts {
                    tokio::time::sleep(delay).await;
                    if stream.write_all(part.as_bytes()).await.is_err() {
                        return;
                    }
                    let _ = stream.flush().await;
                }
                let _ = stream.shutdown().await;
            });
        }
    });
    FakeOllama {
        url,
        seen,
        connections,
    }
}

async fn fake(reply: Reply) -> FakeOllama {
    serve(TcpListener::bind("127.0.0.1:0").await.unwrap(), reply).await
}

fn client(url: &str) -> OllamaClient {
    let mut config = OllamaConfig::new(url, "gemma3", "mxbai-embed-large");
    config.read_timeout = Duration::from_secs(5);
    config.backoff = Duration::from_millis(10);
    OllamaClient::new(config).unwrap()
}

const DONE: &str = r#"{"model":"gemma3","response":"","done":true,"done_reason":"stop","total_duration":900000000,"load_duration":100000000,"prompt_eval_count":26,"prompt_eval_duration":200000000,"eval_count":3,"eval_duration":500000000}"#;

#[tokio::test]
async fn streams_text_and_reads_metrics_from_the_done_line() {
    let mut server = fake(Reply::lines(&[
        r#"{"model":"gemma3","response":"The","done":false}"#,
        r#"{"model":"gemma3","response":" sky","done":false}"#,
        r#"{"model":"gemma3","response":" is blue.","done":false}"#,
        DONE,
    ]))
    .await;
    let g = client(&server.url)
        .generate(&GenerateRequest::chat("Why is the sky blue?"))
        .await
        .unwrap();
    assert_eq!(g.text, "The sky is blue.");
    assert_eq!(g.metrics.total_duration_ns, Some(900_000_000));
    assert_eq!(g.metrics.load_duration_ns, Some(100_000_000));
    assert_eq!(g.metrics.prompt_eval_count, Some(26));
    assert_eq!(g.metrics.prompt_eval_duration_ns, Some(200_000_000));
    assert_eq!(g.metrics.eval_count, Some(3));
    assert_eq!(g.metrics.eval_duration_ns, Some(500_000_000));
    assert_eq!(g.metrics.done_reason.as_deref(), Some("stop"));
    // Three more lines came 20 ms apart after the first token.
    let ttft = g.time_to_first_token.unwrap();
    assert!(
        g.wall >= ttft + Duration::from_millis(50),
        "{ttft:?} {:?}",
        g.wall
    );

    let seen = server.seen.recv().await.unwrap();
    assert_eq!(seen.request_line, "POST /api/generate HTTP/1.1");
    assert_eq!(seen.body["model"], "gemma3");
    assert_eq!(seen.body["prompt"], "Why is the sky blue?");
    assert_eq!(seen.body["stream"], true);
    assert!(seen.body.get("format").is_none());
}

#[tokio::test]
async fn reads_a_non_streamed_answer_with_omitted_zero_metrics() {
    let server = fake(Reply::body(
        "200 OK",
        r#"{"model":"gemma3","response":"Hi.","done":true,"total_duration":5000,"eval_count":1}"#,
    ))
    .await;
    let mut request = GenerateRequest::chat("hi");
    request.json = true;
    let g = client(&server.url).generate(&request).await.unwrap();
    assert_eq!(g.text, "Hi.");
    assert_eq!(g.metrics.total_duration_ns, Some(5000));
    assert_eq!(g.metrics.load_duration_ns, None);
    assert_eq!(g.metrics.prompt_eval_count, None);
    assert_eq!(g.metrics.eval_count, Some(1));
}

#[tokio::test]
async fn json_requests_ask_for_the_json_format() {
    let mut server = fake(Reply::lines(&[DONE])).await;
    let mut request = GenerateRequest::chat("{}");
    request.json = true;
    client(&server.url).generate(&request).await.unwrap();
    assert_eq!(server.seen.recv().await.unwrap().body["format"], "json");
}

#[tokio::test]
async fn an_error_line_mid_stream_ends_the_call_with_its_text() {
    let server = fake(Reply::lines(&[
        r#"{"model":"gemma3","response":"Once","done":false}"#,
        r#"{"error":"model runner has unexpectedly stopped"}"#,
        DONE,
    ]))
    .await;
    let err = client(&server.url)
        .generate(&GenerateRequest::chat("story"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LlmError::Server { message } if message == "model runner has unexpectedly stopped"),
        "{err:?}"
    );
}

#[tokio::test]
async fn unknown_model_suggests_ollama_pull() {
    let server = fake(Reply::body(
        "404 Not Found",
        r#"{"error":"model \"gemma3\" not found, try pulling it first"}"#,
    ))
    .await;
    let err = client(&server.url)
        .generate(&GenerateRequest::chat("hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LlmError::UnknownModel { model, .. } if model == "gemma3"),
        "{err:?}"
    );
    assert!(err.to_string().contains("ollama pull gemma3"), "{err}");
}

#[tokio::test]
async fn http_errors_carry_ollamas_error_text() {
    let server = fake(Reply::body(
        "500 Internal Server Error",
        r#"{"error":"out of memory"}"#,
    ))
    .await;
    let err = client(&server.url)
        .generate(&GenerateRequest::chat("hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LlmError::Http { status: 500, message, .. } if message == "out of memory"),
        "{err:?}"
    );
    // Not a connection error: no retry.
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn connection_refused_is_reported_after_the_retries() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = client(&url)
        .generate(&GenerateRequest::chat("hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LlmError::Unreachable { url: u, .. } if *u == url),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("cannot reach Ollama at {url}: ")),
        "{text}"
    );
    assert!(
        text.contains("start 'ollama serve', or leave OLLAMA_BASE_URL unset"),
        "{text}"
    );
}

#[tokio::test]
async fn connection_errors_are_retried_until_the_server_is_up() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let late = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(60)).await;
        serve(
            TcpListener::bind(addr).await.unwrap(),
            Reply::lines(&[DONE]),
        )
        .await
    });
    let mut config = OllamaConfig::new(format!("http://{addr}"), "gemma3", "e");
    config.backoff = Duration::from_millis(40);
    config.retries = 5;
    let g = OllamaClient::new(config)
        .unwrap()
        .generate(&GenerateRequest::chat("hi"))
        .await
        .unwrap();
    assert_eq!(g.metrics.eval_count, Some(3));
    late.await.unwrap();
}

#[tokio::test]
async fn a_server_slower_than_the_read_timeout_fails_without_retry() {
    let mut reply = Reply::lines(&[DONE]);
    reply.delay_before_headers = Duration::from_secs(3);
    let server = fake(reply).await;
    let mut config = OllamaConfig::new(&server.url, "gemma3", "e");
    config.read_timeout = Duration::from_millis(200);
    let started = std::time::Instant::now();
    let err = OllamaClient::new(config)
        .unwrap()
        .generate(&GenerateRequest::chat("hi"))
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_malformed_line_is_an_error_naming_the_line() {
    let server = fake(Reply::lines(&[
        r#"{"model":"gemma3","response":"a","done":false}"#,
        r#"{"model":"gemma3","response":"b","#,
        DONE,
    ]))
    .await;
    let err = client(&server.url)
        .generate(&GenerateRequest::chat("hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, LlmError::Malformed { line: 2, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("malformed line 2"), "{err}");
}

#[tokio::test]
async fn a_stream_without_done_line_is_an_error() {
    let server = fake(Reply::lines(&[
        r#"{"model":"gemma3","response":"a","done":false}"#,
    ]))
    .await;
    let err = client(&server.url)
        .generate(&GenerateRequest::chat("hi"))
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Protocol { .. }), "{err:?}");
}

#[tokio::test]
async fn embeds_a_batch_with_one_call() {
    let mut server = fake(Reply::body(
        "200 OK",
        r#"{"model":"mxbai-embed-large","embeddings":[[0.1,0.2],[0.3,0.4]],"total_duration":14143917,"prompt_eval_count":8}"#,
    ))
    .await;
    let llm = Llm::Ollama(client(&server.url));
    let e = llm.embed(&["a".into(), "b".into()]).await.unwrap();
    assert_eq!(e.vectors, vec![vec![0.1, 0.2], vec![0.3, 0.4]]);
    assert_eq!(e.input_tokens, Some(8));
    let seen = server.seen.recv().await.unwrap();
    assert_eq!(seen.request_line, "POST /api/embed HTTP/1.1");
    assert_eq!(seen.body["model"], "mxbai-embed-large");
    assert_eq!(seen.body["input"], serde_json::json!(["a", "b"]));
}

#[tokio::test]
async fn embed_count_mismatch_is_an_error() {
    let server = fake(Reply::body("200 OK", r#"{"embeddings":[[0.1]]}"#)).await;
    let err = client(&server.url)
        .embed(&["a".into(), "b".into()])
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Protocol { .. }), "{err:?}");
}
