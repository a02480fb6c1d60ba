//! A real upstream service on loopback for the upstream tests: a small
//! hyper server whose paths each behave one way, and which records every
//! request it receives.
//!
//! - `POST /v1/echo/...`: 200, what it received (path, headers, body);
//! - `POST /v1/envelope`: 200, an envelope of its own (`up_1`);
//! - `POST /v1/custom`: 418, an envelope with a status of its own;
//! - `POST /v1/fail`: 500; `/v1/text`: 200 with HTML; `/v1/big`: 200 with
//!   a body of 64 KiB; `/v1/limited`: 429 with `Retry-After: 7`;
//!   `/v1/denied`: 401; `/v1/reset`: the connection dropped mid-answer;
//! - `POST /v1/slow/<ms>`: 200 after that many milliseconds; `/v1/hang`:
//!   no answer for a minute;
//! - `POST /v1/accepted`: 202 with `Location: /poll/<n>`; `GET /poll/<n>`
//!   answers 202 (`Retry-After: 1`) once, then 200;
//! - `GET /healthz`: 200, or 503 once [`TestUpstream::set_healthy`] says so;
//! - anything else: 404.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// One request as the upstream received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: http::HeaderMap,
}

#[derive(Default)]
struct State {
    received: Mutex<Vec<Received>>,
    healthy: AtomicBool,
    polls: Mutex<std::collections::HashMap<u64, u32>>,
    next_poll: AtomicU64,
}

pub struct TestUpstream {
    pub addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl TestUpstream {
    pub async fn start() -> TestUpstream {
        Self::on("127.0.0.1:0".parse().unwrap()).await
    }

    /// On a given address (a target that comes back on its old port).
    pub async fn on(addr: SocketAddr) -> TestUpstream {
        let listener = TcpListener::bind(addr).await.expect("binding the upstream");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        state.healthy.store(true, Ordering::Relaxed);
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, std::convert::Infallible>(answer(&state, request).await) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        TestUpstream { addr, state, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Requests received on `path`.
    pub fn received_on(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    pub fn set_healthy(&self, healthy: bool) {
        self.state.healthy.store(healthy, Ordering::Relaxed);
    }

    /// Stops listening: the target is down (connections refused).
    pub fn stop(self) -> SocketAddr {
        self.task.abort();
        self.addr
    }
}

impl Drop for TestUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn json_response(code: u16, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(body).unwrap())))
        .unwrap()
}

async fn answer(state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();
    state.received.lock().unwrap().push(Received {
        method: parts.method.to_string(),
        path: path.clone(),
        headers: parts.headers.clone(),
    });
    if parts.method == http::Method::GET {
        if path == "/healthz" {
            let code = if state.healthy.load(Ordering::Relaxed) {
                200
            } else {
                503
            };
            return json_response(code, &json!({}));
        }
        if let Some(n) = path
            .strip_prefix("/poll/")
            .and_then(|n| n.parse::<u64>().ok())
        {
            let seen = {
                let mut polls = state.polls.lock().unwrap();
                let seen = polls.entry(n).or_default();
                *seen += 1;
                *seen
            };
            if seen < 2 {
                return Response::builder()
                    .status(202)
                    .header("retry-after", "1")
                    .header("location", format!("/poll/{n}"))
                    .body(Full::new(Bytes::new()))
                    .unwrap();
            }
            return json_response(200, &json!({ "report": n, "polls": seen }));
        }
        return json_response(404, &json!({}));
    }
    let headers: serde_json::Map<String, Value> = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                Value::String(value.to_str().unwrap_or("").to_owned()),
            )
        })
        .collect();
    match path.as_str() {
        p if p.starts_with("/v1/echo") => json_response(
            200,
            &json!({
                "path": p,
                "headers": headers,
                "body": String::from_utf8_lossy(&body),
            }),
        ),
        p if p.starts_with("/v1/envelope") => json_response(
            200,
            &json!({
                "request_id": "up_1",
                "request_time": "2026-01-01T00:00:00Z",
                "response_time": "2026-01-01T00:00:00Z",
                "status": "Success",
                "summary": "Done upstream",
                "result": { "total": 42 }
            }),
        ),
        "/v1/custom" => json_response(
            418,
            &json!({
                "request_id": "up_2",
                "status": "NoCredit",
                "summary": "Out of credit",
                "result": { "credit": 0 }
            }),
        ),
        "/v1/fail" => json_response(500, &json!({ "error": "boom at 10.0.0.7" })),
        "/v1/text" => Response::builder()
            .status(200)
            .header("content-type", "text/html")
            .body(Full::new(Bytes::from_static(b"<html>hi</html>")))
            .unwrap(),
        "/v1/big" => json_response(200, &json!({ "blob": "x".repeat(64 * 1024) })),
        "/v1/limited" => Response::builder()
            .status(429)
            .header("retry-after", "7")
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap(),
        "/v1/denied" => json_response(401, &json!({})),
        "/v1/reset" => {
            // Promise more than is sent: the client sees the answer break.
            Response::builder()
                .status(200)
                .header("content-length", "1000")
                .body(Full::new(Bytes::from_static(b"{\"partial\":")))
                .unwrap()
        }
        "/v1/hang" => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            json_response(200, &json!({}))
        }
        "/v1/accepted" => {
            let n = state.next_poll.fetch_add(1, Ordering::Relaxed);
            Response::builder()
                .status(202)
                .header("location", format!("/poll/{n}"))
                .header("retry-after", "1")
                .body(Full::new(Bytes::new()))
                .unwrap()
        }
        p if p.starts_with("/v1/slow/") => {
            let ms: u64 = p["/v1/slow/".len()..].parse().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            json_response(
                200,
                &json!({ "slept_ms": ms, "body": String::from_utf8_lossy(&body) }),
            )
        }
        _ => json_response(404, &json!({ "error": "no such thing" })),
    }
}
