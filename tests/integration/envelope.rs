//! The envelope: exactly six keys, their formats, and `x-request-id`.

use actiongate_client::Status;
use serde_json::{json, Value};

use crate::common::{self, expect};

fn assert_envelope_shape(body: &Value) {
    let object = body.as_object().expect("the body is an object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "request_id",
            "request_time",
            "response_time",
            "result",
            "status",
            "summary"
        ]
    );
    let id = body["request_id"].as_str().unwrap();
    let ulid = id.strip_prefix("prq_").expect("prq_ prefix");
    assert_eq!(ulid.len(), 26);
    assert!(
        ulid.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()),
        "{id}"
    );
    for key in ["request_time", "response_time"] {
        let text = body[key].as_str().unwrap();
        // 2026-11-23T17:24:33.105Z
        assert_eq!(text.len(), 24, "{key}: {text}");
        assert!(
            text.ends_with('Z') && text.as_bytes()[19] == b'.',
            "{key}: {text}"
        );
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|e| panic!("{key} {text}: {e}"));
    }
    assert!(body["request_time"].as_str() <= body["response_time"].as_str());
    assert!(!body["summary"].as_str().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_and_failure_envelopes_have_exactly_the_six_keys() {
    let gw = common::start().await;
    let http = reqwest::Client::new();
    for (path, body, code) in [
        ("console/v1/org/get", json!({ "id": gw.org_id }), 200),
        ("console/v1/org/get", json!({}), 400),
        ("console/v1/nothing/here", json!({}), 404),
    ] {
        let response = http
            .post(format!("{}/{path}", gw.url))
            .bearer_auth(&gw.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), code, "{path}");
        assert_eq!(response.headers()["content-type"], "application/json");
        let header = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: Value = response.json().await.unwrap();
        assert_envelope_shape(&body);
        assert_eq!(body["request_id"], header.as_str());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_gets_a_new_sortable_request_id() {
    let gw = common::start().await;
    let first = gw.call("console/v1/org/list", json!({})).await;
    let second = gw.call("console/v1/org/list", json!({})).await;
    let (a, b) = (first.envelope.request_id, second.envelope.request_id);
    assert_ne!(a, b);
    assert!(a < b, "ids sort by time: {a} then {b}");
    assert_eq!(first.request_id_header, Some(a.to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_errors_point_at_the_field() {
    let gw = common::start().await;
    let reply = gw
        .call(
            "console/v1/project/create",
            json!({ "name": "x", "geo": 5 }),
        )
        .await;
    expect(&reply, 400, Status::ValidationError);
    let errors = reply.envelope.result["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["source"], "/geo");
    assert_eq!(errors[0]["code"], "InvalidType");
    assert!(errors[0]["detail"]
        .as_str()
        .unwrap()
        .contains("expected a string"));

    let reply = gw
        .call(
            "console/v1/project/list",
            json!({ "filter": { "geo": ["us"] } }),
        )
        .await;
    expect(&reply, 400, Status::ValidationError);
    assert_eq!(reply.envelope.result["errors"][0]["source"], "/filter/geo");

    // Errors without a field carry `result: null`.
    let reply = gw
        .call("console/v1/project/get", json!({ "id": "prj_nope" }))
        .await;
    expect(&reply, 404, Status::ResourceNotFound);
    assert!(reply.envelope.result.is_null(), "{:#?}", reply.envelope);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_extra_fields_are_ignored() {
    let gw = common::start().await;
    let reply = gw
        .call(
            "console/v1beta/platform/org/get",
            json!({ "id": gw.org_id, "config_id": "pci_whatever", "unknown": [1, 2] }),
        )
        .await;
    expect(&reply, 200, Status::Success);
    assert_eq!(reply.envelope.result["id"], gw.org_id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_errors_keep_their_status() {
    let gw = common::start().await;
    let reply = gw.call("testkit/v1/fail", json!({})).await;
    expect(&reply, 502, Status::ProviderError);
    assert_eq!(reply.envelope.summary, "The upstream provider failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_an_internal_error_and_the_gateway_goes_on() {
    let gw = common::start().await;
    let reply = gw.call("testkit/v1/panic", json!({})).await;
    expect(&reply, 500, Status::InternalError);
    let id = reply.envelope.request_id.to_string();
    assert!(reply.envelope.summary.contains(&id), "names the request id");
    assert!(!reply.envelope.summary.contains("a bug"), "never internals");

    let testkit = gw.client("testkit");
    let reply = testkit.call("v1/panic/async", &json!({})).await.unwrap();
    expect(&reply, 202, Status::Accepted);
    let done = testkit
        .wait(reply, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    expect(&done, 500, Status::InternalError);

    expect(
        &gw.call("testkit/v1/echo", json!({})).await,
        200,
        Status::Success,
    );
}
