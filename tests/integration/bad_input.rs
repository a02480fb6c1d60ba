//! Bad input: each kind gets its own status with a summary saying what to
//! fix, the gateway keeps serving, and nothing is half-written.

use actiongate_client::{read_reply, Reply, Status};
use serde_json::json;

use crate::common::{self, expect};

async fn raw(gw: &common::TestGateway, path: &str, body: impl Into<reqwest::Body>) -> Reply {
    let response = reqwest::Client::new()
        .post(format!("{}/{path}", gw.url))
        .bearer_auth(&gw.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    read_reply(response).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_are_not_json_objects() {
    let gw = common::start_with(|c| c.body_limit = 4096).await;
    let create = "console/v1/project/create";
    for body in [
        "not json",
        "{\"name\": \"a\"",
        "[]",
        "[{\"name\": \"a\"}]",
        "42",
        "\"name\"",
        "null",
        "{\"name\": \"a\", \"geo\": \"us\"} trailing",
    ] {
        let reply = raw(&gw, create, body).await;
        expect(&reply, 400, Status::InvalidPayloadReceived);
        assert!(!reply.envelope.summary.is_empty());
    }
    let reply = raw(&gw, create, vec![b'{', 0xff, 0xfe, b'}']).await;
    expect(&reply, 400, Status::InvalidPayloadReceived);
    assert_eq!(gw.count_projects().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_of_the_wrong_type_or_missing() {
    let gw = common::start().await;
    let create = "console/v1/project/create";
    let cases = [
        ("", "/name", "MissingField"),
        ("{}", "/name", "MissingField"),
        (r#"{"name": 7}"#, "/name", "InvalidType"),
        (
            r#"{"name": "a", "single_server_mode": "yes"}"#,
            "/single_server_mode",
            "InvalidType",
        ),
        (r#"{"name": "a", "geo": "mars"}"#, "/geo", "InvalidValue"),
        (
            r#"{"name": "a", "geo": "eu", "region": "us-west-1"}"#,
            "/region",
            "InvalidValue",
        ),
        (
            r#"{"name": "a", "color": "blue"}"#,
            "/color",
            "InvalidValue",
        ),
        (r#"{"name": "   "}"#, "/name", "InvalidValue"),
        (r#"{"name": "a\u0007b"}"#, "/name", "InvalidValue"),
    ];
    for (body, source, code) in cases {
        let reply = raw(&gw, create, body).await;
        expect(&reply, 400, Status::ValidationError);
        let error = &reply.envelope.result["errors"][0];
        assert_eq!(
            (error["source"].as_str(), error["code"].as_str()),
            (Some(source), Some(code)),
            "{body}"
        );
        assert!(
            reply.envelope.summary.contains(source),
            "{}",
            reply.envelope.summary
        );
    }
    let reply = raw(&gw, "console/v1/project/list", r#"{"limit": 5000}"#).await;
    expect(&reply, 400, Status::ValidationError);
    assert_eq!(reply.envelope.result["errors"][0]["source"], "/limit");
    let reply = raw(&gw, "console/v1/project/list", r#"{"order_by": "secret"}"#).await;
    expect(&reply, 400, Status::ValidationError);
    assert_eq!(gw.count_projects().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit() {
    let gw = common::start_with(|c| c.body_limit = 1024).await;
    let big = json!({ "name": "x".repeat(2000), "geo": "us" }).to_string();
    let reply = raw(&gw, "console/v1/project/create", big.clone()).await;
    expect(&reply, 413, Status::PayloadTooLarge);
    assert!(reply.envelope.summary.contains("1024"));

    // Without Content-Length (chunked), the limit still holds.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big.as_bytes().chunks(256).map(|c| Ok(c.to_vec())).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let reply = raw(&gw, "console/v1/project/create", body).await;
    expect(&reply, 413, Status::PayloadTooLarge);
    assert_eq!(gw.count_projects().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_names_conflict_and_nothing_is_half_written() {
    let gw = common::start().await;
    gw.project("dup").await;
    let reply = gw
        .call(
            "console/v1/project/create",
            json!({ "name": "dup", "geo": "eu" }),
        )
        .await;
    expect(&reply, 409, Status::Conflict);
    assert!(reply.envelope.summary.contains("dup"));
    assert_eq!(gw.count_projects().await, 1);
    // The gateway still serves normally afterwards.
    gw.project("another").await;
    assert_eq!(gw.count_projects().await, 2);
}
