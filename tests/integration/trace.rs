//! W3C trace context: a `traceparent` goes in, the same trace comes out
//! in the answer and in every log line of the request, and a job carries
//! it to its 202, its run (on whichever node runs it) and its result.
//!
//! Each test runs on one thread with a log subscriber of its own, so every
//! line of its gateways (all their tasks run on that thread) is captured.

use std::io::Write;
use std::sync::{Arc, Mutex};

use actiongate_client::Status;
use serde_json::{json, Value};

use crate::common;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Installs JSON logging into this buffer on the current thread.
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let out = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_env_filter("info")
            .with_writer(move || out.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn lines(&self) -> Vec<Value> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

/// The trace id of the innermost span of a JSON log line.
fn trace_of(line: &Value) -> Option<&str> {
    line["span"]["trace_id"].as_str()
}

fn traceparent(response: &reqwest::Response) -> String {
    response.headers()["traceparent"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_callers_trace_reaches_the_answer_and_every_log_line() {
    let logs = Captured::default();
    let _guard = logs.install();
    let gw = common::start().await;
    let http = reqwest::Client::new();
    let sent = format!("00-{TRACE}-{PARENT}-01");
    let response = http
        .post(format!("{}/testkit/v1/sleep", gw.url))
        .bearer_auth(&gw.token)
        .header("traceparent", &sent)
        .json(&json!({ "ms": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answered = traceparent(&response);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let fields: Vec<&str> = answered.split('-').collect();
    assert_eq!(fields[0], "00");
    assert_eq!(fields[1], TRACE, "the caller's trace is continued");
    assert_ne!(fields[2], PARENT, "with a span of the gateway's own");
    assert_eq!(fields[3], "01");

    // A refused call is traced too: its warning carries the trace id.
    let refused = http
        .post(format!("{}/testkit/v1/sleep", gw.url))
        .bearer_auth("agt_nothing")
        .header("traceparent", &sent)
        .json(&json!({ "ms": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    // Without a header, a trace is started.
    let fresh = http
        .post(format!("{}/testkit/v1/sleep", gw.url))
        .bearer_auth(&gw.token)
        .header("traceparent", "00-zz-not-valid")
        .json(&json!({ "ms": 1 }))
        .send()
        .await
        .unwrap();
    let started = traceparent(&fresh);
    assert_eq!(started.len(), 55, "{started}");
    assert!(!started.contains(TRACE));

    gw.shutdown().await;
    let lines = logs.lines();
    let handler = lines
        .iter()
        .find(|l| l["message"] == "slept")
        .expect("the handler's line");
    assert_eq!(trace_of(handler), Some(TRACE), "{handler}");
    let request = lines
        .iter()
        .find(|l| l["request_id"] == request_id.as_str())
        .expect("the request's line");
    assert_eq!(trace_of(request), Some(TRACE), "{request}");
    let warning = lines
        .iter()
        .find(|l| l["message"] == "authentication failed")
        .expect("the refusal's line");
    assert_eq!(trace_of(warning), Some(TRACE), "{warning}");
    let every_request_line_traced = lines
        .iter()
        .filter(|l| l["target"] == "actiongate::request")
        .all(|l| trace_of(l).is_some_and(|t| t.len() == 32));
    assert!(every_request_line_traced, "{lines:#?}");
}

#[tokio::test]
async fn a_job_keeps_its_callers_trace_on_another_node() {
    let logs = Captured::default();
    let _guard = logs.install();
    // This node runs one job at a time, and is kept busy: the traced job
    // waits in the queue until the other node claims it.
    let front = common::start_with(|config| config.job_concurrency = 1).await;
    let busy = front
        .call("testkit/v1/sleep/async", json!({ "ms": 2500 }))
        .await;
    assert_eq!(busy.envelope.status, Status::Accepted);
    let worker = common::restart(front.dir.path()).await;
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{}/testkit/v1/sleep/async", front.url))
        .bearer_auth(&front.token)
        .header("traceparent", format!("00-{TRACE}-{PARENT}-01"))
        .json(&json!({ "ms": 5, "value": "traced" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert!(traceparent(&response).starts_with(&format!("00-{TRACE}-")));
    let reply = actiongate_client::read_reply(response).await.unwrap();
    let done = front
        .client("")
        .wait(reply.clone(), common::WAIT)
        .await
        .unwrap();
    assert_eq!(done.envelope.status, Status::Success);

    // The result, fetched by a poll that sent no traceparent, names the
    // job's trace.
    let location = reply.accepted().unwrap().location;
    let polled = http
        .get(&location)
        .bearer_auth(&front.token)
        .send()
        .await
        .unwrap();
    assert_eq!(polled.status(), 200);
    assert!(
        traceparent(&polled).starts_with(&format!("00-{TRACE}-")),
        "{}",
        traceparent(&polled)
    );

    let row = front.job_row(&reply.envelope.request_id.to_string()).await;
    let stored = row.traceparent.expect("the job's traceparent");
    assert!(stored.starts_with(&format!("00-{TRACE}-")), "{stored}");
    assert_eq!(row.node_id.as_deref(), Some(worker.node_id()));
    worker.shutdown().await;
    front.shutdown().await;
    let lines = logs.lines();
    let handler = lines
        .iter()
        .find(|l| l["message"] == "slept")
        .expect("the job's line");
    assert_eq!(trace_of(handler), Some(TRACE), "{handler}");
    assert_eq!(handler["span"]["name"], "job", "{handler}");
}

/// What an OTLP collector on loopback received: each request's path,
/// content type and body.
type Received = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

/// A collector: takes any POST, keeps it, answers 200 with an empty
/// protobuf message.
async fn collector() -> (String, Received) {
    use http_body_util::BodyExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let received: Received = Arc::default();
    let kept = received.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let kept = kept.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let kept = kept.clone();
                        async move {
                            let path = request.uri().path().to_owned();
                            let content_type = request
                                .headers()
                                .get("content-type")
                                .map(|v| v.to_str().unwrap().to_owned())
                                .unwrap_or_default();
                            let body = request.into_body().collect().await.unwrap().to_bytes();
                            kept.lock()
                                .unwrap()
                                .push((path, content_type, body.to_vec()));
                            let mut response = hyper::Response::new(http_body_util::Full::new(
                                bytes::Bytes::new(),
                            ));
                            response
                                .headers_mut()
                                .insert("content-type", "application/x-protobuf".parse().unwrap());
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, received)
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_to_an_otlp_collector_in_the_callers_trace() {
    let (endpoint, received) = collector().await;
    let dir = tempfile::tempdir().unwrap();
    let served =
        crate::serve::serve_with(dir.path(), &[("ACTIONGATE_OTLP_ENDPOINT", &endpoint)]).await;
    let token = std::fs::read_to_string(dir.path().join("admin.token")).unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/console/v1/project/list", served.url))
        .bearer_auth(token.trim())
        .header("traceparent", format!("00-{TRACE}-{PARENT}-01"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answered = traceparent(&response);
    let span_id = answered.split('-').nth(2).unwrap().to_owned();
    // Shutting down sends what is batched.
    crate::serve::terminate(served).await;

    let received = received.lock().unwrap();
    assert!(!received.is_empty(), "the collector received nothing");
    let (path, content_type, _) = &received[0];
    assert_eq!(path, "/v1/traces");
    assert_eq!(content_type, "application/x-protobuf");
    let exported = received
        .iter()
        .find(|(_, _, body)| contains(body, &hex_bytes(&span_id)))
        .expect("the request's span, under the id its answer named");
    let body = &exported.2;
    assert!(contains(body, &hex_bytes(TRACE)), "in the caller's trace");
    assert!(
        contains(body, &hex_bytes(PARENT)),
        "a child of the caller's span"
    );
    assert!(contains(body, b"actiongate"), "named by its service");
}
