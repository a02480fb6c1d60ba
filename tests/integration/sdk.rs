//! Conformance with the public Pangea Python SDK (`pangea-sdk` from PyPI,
//! pinned in tests/requirements.txt): `make test` installs it into
//! target/test-venv, and this test runs tests/sdk/console_conformance.py
//! against a live gateway: the console (a project icon uploaded as the SDK
//! sends files, multipart), and the deploy service's environments (an
//! asynchronous clone the SDK polls).

use std::path::PathBuf;

use serde_json::json;

use crate::common;

fn sdk_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sdk")
        .join(name)
}

/// Runs a conformance script against `gw`, with its URL, the admin token,
/// the organization and a token enabled only for testkit, and asserts
/// that every check passed.
async fn run_conformance(gw: &common::TestGateway, mut script: tokio::process::Command) {
    let testkit_token = gw.create_token(&["--services", "testkit"]);
    let out = script
        .env("ACTIONGATE_URL", &gw.url)
        .env("ACTIONGATE_TOKEN", &gw.token)
        .env("ACTIONGATE_ORG_ID", &gw.org_id)
        .env("ACTIONGATE_TESTKIT_TOKEN", testkit_token)
        .output()
        .await
        .expect("running the conformance script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "SDK conformance failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pangea_python_sdk_drives_the_console() {
    let Some(python) = common::venv_program("python") else {
        return;
    };
    let gw = common::start().await;
    let mut python = tokio::process::Command::new(python);
    python.arg(sdk_script("console_conformance.py"));
    run_conformance(&gw, python).await;
    // The delete was answered 202 and the SDK polled for it: what is left
    // is the project the environment checks made, with their work in it.
    let projects = gw.call("console/v1/project/list", json!({})).await;
    let results = projects.envelope.result["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["name"], "sdk-environments");
    let project_id = results[0]["id"].clone();
    assert_eq!(
        results[0]["icon_path"],
        json!(format!(
            "/console/v1/project/icon/{}",
            project_id.as_str().unwrap()
        ))
    );
    let envs = gw
        .call(
            "deploy/v1/environment/list",
            json!({ "project_id": project_id, "order_by": "name" }),
        )
        .await;
    let names: Vec<&str> = envs.envelope.result["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["feature-x", "staging", "staging-v2"]);
}

/// The public Pangea Node.js SDK (pangea-node-sdk, pinned in
/// tests/sdk/node) against a live gateway: calls, 202 polling, error
/// classes and retries. The retries are counted by the gateway's metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pangea_node_sdk_calls_polls_and_retries() {
    let Some(modules) = common::node_sdk_modules() else {
        return;
    };
    let gw = common::start().await;
    let mut node = tokio::process::Command::new("node");
    node.arg(sdk_script("node/conformance.cjs"))
        .env("NODE_PATH", modules);
    run_conformance(&gw, node).await;
    // What the gateway saw: the flaky call twice (503, then answered), the
    // failing one four times (the SDK retries a POST three times).
    let metrics = gw.metrics_text().await;
    for (series, count) in [
        (r#"action="flaky",status="ServiceNotAvailable"} "#, "1"),
        (r#"action="flaky",status="Success"} "#, "1"),
        (r#"action="fail",status="ProviderError"} "#, "4"),
    ] {
        let line = metrics
            .lines()
            .find(|line| line.starts_with("actiongate_requests_total") && line.contains(series))
            .unwrap_or_else(|| panic!("{series} in {metrics}"));
        assert!(line.ends_with(&format!("}} {count}")), "{line}");
    }
}
