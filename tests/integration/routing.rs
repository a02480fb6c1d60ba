//! Finding the service: by path prefix, by `Host` label, by unique path;
//! 404 for unknown routes, 405 for other methods, REST-style GET by id.

use actiongate_client::{read_reply, Status};
use serde_json::json;

use crate::common::{self, expect};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_service_prefix_name_or_alias() {
    let gw = common::start().await;
    for prefix in ["console", "api.console"] {
        let reply = gw
            .call(
                &format!("{prefix}/v1beta/platform/org/get"),
                json!({ "id": gw.org_id }),
            )
            .await;
        expect(&reply, 200, Status::Success);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_host_labels() {
    let gw = common::start().await;
    let http = reqwest::Client::new();
    for host in [
        "api.console.gw.example.com",
        "console.gw.example.com:8443",
        "console",
    ] {
        let response = http
            .post(format!("{}/v1beta/platform/org/get", gw.url))
            .header("host", host)
            .bearer_auth(&gw.token)
            .json(&json!({ "id": gw.org_id }))
            .send()
            .await
            .unwrap();
        let reply = read_reply(response).await.unwrap();
        expect(&reply, 200, Status::Success);
    }
    // The shared route is ambiguous by path, but a host label settles it.
    let response = http
        .post(format!("{}/v1/shared/echo", gw.url))
        .header("host", "beta.gw.example.com")
        .bearer_auth(&gw.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let reply = read_reply(response).await.unwrap();
    expect(&reply, 200, Status::Success);
    assert_eq!(reply.envelope.summary, "Echoed by beta");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_unique_path_and_ambiguity() {
    let gw = common::start().await;
    let reply = gw
        .call("v1beta/platform/org/get", json!({ "id": gw.org_id }))
        .await;
    expect(&reply, 200, Status::Success);

    let reply = gw.call("v1/shared/echo", json!({})).await;
    expect(&reply, 400, Status::AmbiguousRoute);
    assert!(reply.envelope.summary.contains("alpha") && reply.envelope.summary.contains("beta"));

    let reply = gw.call("alpha/v1/shared/echo", json!({})).await;
    expect(&reply, 200, Status::Success);
    assert_eq!(reply.envelope.summary, "Echoed by alpha");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_are_404() {
    let gw = common::start().await;
    for path in [
        "console/v9/platform/org/get",
        "console/v1beta/platform/org/explode",
        "nosuchservice/v1/org/get",
        "",
        "console",
        "console/v1beta/platform/org/get/extra",
    ] {
        let reply = gw.call(path, json!({})).await;
        expect(&reply, 404, Status::NotFound);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_methods_are_405_with_allow() {
    let gw = common::start().await;
    let http = reqwest::Client::new();
    let url = format!("{}/console/v1/org/get", gw.url);
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let response = http
            .request(method.clone(), &url)
            .bearer_auth(&gw.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["allow"], "POST", "{method}");
        let reply = read_reply(response).await.unwrap();
        expect(&reply, 405, Status::MethodNotAllowed);
    }
    // Polling is GET only.
    let response = http
        .post(format!("{}/request/prq_01jd8x3m9kq2f6w7v5t4s3r2p1", gw.url))
        .bearer_auth(&gw.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET");
    expect(
        &read_reply(response).await.unwrap(),
        405,
        Status::MethodNotAllowed,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_style_get_by_id() {
    let gw = common::start().await;
    let project = gw.project("rest").await;
    let id = project["id"].as_str().unwrap();
    let reply = gw
        .client("console")
        .get(&format!("v1/project/{id}"))
        .await
        .unwrap();
    expect(&reply, 200, Status::Success);
    assert_eq!(reply.envelope.result, project);

    let reply = gw
        .client("console")
        .get("v1/project/prj_missing")
        .await
        .unwrap();
    expect(&reply, 404, Status::ResourceNotFound);
}
