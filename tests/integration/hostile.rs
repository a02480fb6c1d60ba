//! Hostile input: each kind gets its exact status, the gateway keeps
//! serving, and nothing is written. Then random bytes and random JSON
//! (proptest) against the whole pipeline: never a 500, never a crash.

use std::sync::OnceLock;
use std::time::Duration;

use actiongate_client::{read_reply, Reply, Status};
use proptest::prelude::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{self, expect};

const CREATE: &str = "console/v1/project/create";

async fn post(
    gw: &common::TestGateway,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> Reply {
    let mut request = reqwest::Client::new()
        .post(format!("{}/{path}", gw.url))
        .bearer_auth(&gw.token)
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    read_reply(request.send().await.unwrap()).await.unwrap()
}

async fn json_body(gw: &common::TestGateway, path: &str, body: impl Into<reqwest::Body>) -> Reply {
    post(gw, path, Some("application/json"), body).await
}

/// The status line and body of one request written as raw bytes.
async fn raw(gw: &common::TestGateway, request: String) -> (u16, String) {
    let addr = gw.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no answer: {text:?}"));
    (status, text)
}

fn raw_post(gw: &common::TestGateway, path: &str, headers: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {}\r\n{headers}\r\n{body}",
        gw.token
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies() {
    let gw = common::start_with(|c| c.body_limit = 4096).await;
    let cases: Vec<(&str, Vec<u8>, u16, Status)> = vec![
        (
            "truncated JSON",
            br#"{"name": "a""#.to_vec(),
            400,
            Status::InvalidPayloadReceived,
        ),
        (
            "invalid UTF-8",
            vec![b'{', b'"', 0xff, 0xfe, b'"', b'}'],
            400,
            Status::InvalidPayloadReceived,
        ),
        // No body means no parameters; `name` is required.
        ("empty body", Vec::new(), 400, Status::ValidationError),
        (
            "over the limit",
            format!(r#"{{"name": "{}"}}"#, "a".repeat(5000)).into_bytes(),
            413,
            Status::PayloadTooLarge,
        ),
        (
            "deeply nested arrays",
            format!(r#"{{"name": {}}}"#, "[".repeat(4000)).into_bytes(),
            400,
            Status::InvalidPayloadReceived,
        ),
        (
            "nesting just past the depth limit",
            format!(r#"{{"name": {}1{}}}"#, "[".repeat(64), "]".repeat(64)).into_bytes(),
            400,
            Status::InvalidPayloadReceived,
        ),
        (
            "duplicate keys",
            br#"{"name": "a", "name": "b"}"#.to_vec(),
            400,
            Status::ValidationError,
        ),
        (
            "an integer beyond i64",
            br#"{"limit": 99999999999999999999999}"#.to_vec(),
            400,
            Status::ValidationError,
        ),
        (
            "a number beyond f64",
            br#"{"limit": 1e999}"#.to_vec(),
            400,
            Status::InvalidPayloadReceived,
        ),
    ];
    for (what, body, http, status) in cases {
        let path = if what.contains("beyond") {
            "console/v1/project/list"
        } else {
            CREATE
        };
        let reply = json_body(&gw, path, body).await;
        assert_eq!(
            (reply.http_status, reply.envelope.status),
            (http, status),
            "{what}: {:?}",
            reply.envelope.summary
        );
        assert!(!reply.envelope.summary.is_empty(), "{what}");
    }
    // Wrong Content-Type, with a body that is otherwise fine.
    let reply = post(&gw, CREATE, Some("text/xml"), r#"{"name": "xml"}"#).await;
    expect(&reply, 400, Status::InvalidPayloadReceived);
    assert!(reply.envelope.summary.contains("text/xml"));
    assert_eq!(gw.count_projects().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_content_lengths() {
    let gw = common::start_with(|c| c.body_limit = 4096).await;
    // Shorter than the body: the gateway reads what was declared, a
    // truncated object.
    let body = r#"{"name": "short-and-long"}"#;
    let request = raw_post(
        &gw,
        "/console/v1/project/create",
        "Content-Length: 10\r\n",
        body,
    );
    let (status, text) = raw(&gw, request).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("InvalidPayloadReceived"), "{text}");
    // Longer than the limit: refused before the body is read.
    let request = raw_post(
        &gw,
        "/console/v1/project/create",
        "Content-Length: 99999999\r\n",
        body,
    );
    let (status, text) = raw(&gw, request).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("PayloadTooLarge"));
    // Longer than the body, which then ends with the connection.
    let request = raw_post(
        &gw,
        "/console/v1/project/create",
        "Content-Length: 100\r\n",
        body,
    );
    let addr = gw.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.contains("InvalidPayloadReceived"),
        "{answer}"
    );
    assert_eq!(gw.count_projects().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_paths() {
    let gw = common::start().await;
    for path in [
        "/console/v1/../v1/project/create",
        "/console/v1/project%2Fcreate",
        "/console/v1/project/create%00",
        "/console/v1/%2e%2e/v1/project/create",
    ] {
        let request = raw_post(&gw, path, "Content-Length: 15\r\n", r#"{"name": "p1"}"#);
        let (status, text) = raw(&gw, request).await;
        assert_eq!(status, 404, "{path}: {text}");
        assert!(text.contains("\"NotFound\""), "{path}: {text}");
    }
    assert_eq!(gw.count_projects().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_and_strings() {
    let gw = common::start().await;
    for name in [
        "a\u{0}b",
        "bell\u{7}",
        "evil\u{202e}txt.exe",
        "rtl\u{200f}mark",
        "iso\u{2066}late",
    ] {
        let reply = json_body(&gw, CREATE, json!({ "name": name }).to_string()).await;
        expect(&reply, 400, Status::ValidationError);
        assert_eq!(
            reply.envelope.result["errors"][0]["source"], "/name",
            "{name:?}"
        );
    }
    assert_eq!(gw.count_projects().await, 0);
    // Strings that look like SQL are stored and returned as they are.
    let sql = "x'); DROP TABLE projects; --";
    let reply = json_body(
        &gw,
        CREATE,
        json!({ "name": "robert", "description": sql }).to_string(),
    )
    .await;
    expect(&reply, 200, Status::Success);
    let id = reply.envelope.result["id"].as_str().unwrap().to_owned();
    let got = gw.call("console/v1/project/get", json!({ "id": id })).await;
    assert_eq!(got.envelope.result["description"], sql);
    let search = gw
        .call(
            "console/v1/project/list",
            json!({ "filter": { "search": "' OR '1'='1" } }),
        )
        .await;
    expect(&search, 200, Status::Success);
    assert_eq!(search.envelope.result["count"], 0);
    assert_eq!(gw.count_projects().await, 1);
}

/// One gateway for every proptest case, on a runtime of its own.
fn shared() -> &'static (tokio::runtime::Runtime, common::TestGateway) {
    static SHARED: OnceLock<(tokio::runtime::Runtime, common::TestGateway)> = OnceLock::new();
    SHARED.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let gw = runtime.block_on(common::start_with(|c| c.body_limit = 64 * 1024));
        (runtime, gw)
    })
}

/// Sends `body` to `path` and checks the answer: an envelope, never a 500.
fn survives(path: &str, body: Vec<u8>) -> Result<(), TestCaseError> {
    let (runtime, gw) = shared();
    let reply = runtime.block_on(json_body(gw, path, body));
    prop_assert!(reply.http_status < 500, "{path}: {:?}", reply.envelope);
    prop_assert_eq!(reply.http_status, reply.envelope.status.http_code());
    Ok(())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::hash_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

const PATHS: [&str; 4] = [
    CREATE,
    "console/v1/project/list",
    "console/v1beta/platform/project/update",
    "testkit/v1/echo",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_break_the_pipeline(
        path in prop::sample::select(&PATHS[..]),
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        survives(path, body)?;
    }

    #[test]
    fn random_json_never_breaks_the_pipeline(
        path in prop::sample::select(&PATHS[..]),
        body in json_value(),
    ) {
        survives(path, body.to_string().into_bytes())?;
    }
}
