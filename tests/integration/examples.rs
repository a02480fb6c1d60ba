//! The examples of examples/, run against a live gateway so they break the
//! build when the API changes: the same scenario with curl, the Pangea
//! Python and Node.js SDKs, and the Rust client.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::common;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Rust example's binary, which `make test` builds
/// (`cargo build --example scenario`) beside the `actiongate` binary.
fn rust_example() -> Option<PathBuf> {
    let binary = Path::new(env!("CARGO_BIN_EXE_actiongate"))
        .parent()?
        .join("examples/scenario");
    common::installed(binary, "cargo build --example scenario")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenario_runs_four_ways() {
    let gw = common::start().await;
    let mut ways: Vec<(&str, tokio::process::Command)> = Vec::new();
    let mut curl = tokio::process::Command::new("bash");
    curl.arg(root().join("examples/curl.sh"));
    ways.push(("curl", curl));
    if let Some(python) = common::venv_program("python") {
        let mut command = tokio::process::Command::new(python);
        command.arg(root().join("examples/python/scenario.py"));
        ways.push(("python", command));
    }
    if let Some(modules) = common::node_sdk_modules() {
        let mut command = tokio::process::Command::new("node");
        command
            .arg(root().join("examples/node/scenario.cjs"))
            .env("NODE_PATH", modules);
        ways.push(("node", command));
    }
    if let Some(binary) = rust_example() {
        ways.push(("rust", tokio::process::Command::new(binary)));
    }
    for (way, mut command) in ways {
        let out = command
            .env("ACTIONGATE_URL", &gw.url)
            .env("ACTIONGATE_TOKEN", &gw.token)
            .output()
            .await
            .unwrap_or_else(|err| panic!("running the {way} example: {err}"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{way}:\n{stdout}\n{stderr}");
        let clone = stdout
            .lines()
            .find_map(|line| line.strip_prefix("scenario done: "))
            .unwrap_or_else(|| panic!("{way} did not finish:\n{stdout}"))
            .trim()
            .to_owned();
        // The clone it waited for is there, made from its staging.
        let got = gw
            .call("deploy/v1/environment/get", json!({ "id": clone }))
            .await;
        common::expect(&got, 200, actiongate_client::Status::Success);
        assert_eq!(got.envelope.result["name"], "staging-copy", "{way}");
        let parent = got.envelope.result["parent"].as_str().unwrap().to_owned();
        let staging = gw
            .call("deploy/v1/environment/get", json!({ "id": parent }))
            .await;
        assert_eq!(staging.envelope.result["name"], "staging", "{way}");
        assert!(
            stdout.contains("staging-copy"),
            "{way} lists the clone: {stdout}"
        );
        // It lists the clone's activity, complete, and that activity made
        // the clone.
        let activity = stdout
            .lines()
            .find_map(|line| line.strip_prefix("activity environment.clone complete success "))
            .unwrap_or_else(|| panic!("{way} lists the clone's activity:\n{stdout}"))
            .trim()
            .to_owned();
        let got = gw
            .call("deploy/v1/activity/get", json!({ "id": activity }))
            .await;
        common::expect(&got, 200, actiongate_client::Status::Success);
        assert!(
            got.envelope.result["environment_ids"]
                .as_array()
                .unwrap()
                .contains(&json!(clone)),
            "{way}: {:#}",
            got.envelope.result
        );
    }
    gw.shutdown().await;
}

/// examples/upstream: the Python service behind `actiongate serve` with
/// the example's config, verifying every identity with PyJWT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_example_runs_behind_the_gateway() {
    let Some(python) = common::venv_program("python") else {
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let config = root().join("examples/upstream/actiongate.toml");
    let targets = format!("[\"http://127.0.0.1:{port}\"]");
    let served = crate::serve::serve_with(
        dir.path(),
        &[
            ("ACTIONGATE_CONFIG", config.to_str().unwrap()),
            ("ACTIONGATE_UPSTREAMS__BILLING__TARGETS", &targets),
            ("ACTIONGATE_UPSTREAMS__BILLING__HEALTH_INTERVAL", "200ms"),
        ],
    )
    .await;
    let mut upstream = tokio::process::Command::new(python)
        .arg(root().join("examples/upstream/upstream.py"))
        .arg(port.to_string())
        .env("GATEWAY_URL", &served.url)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut ready = tokio::io::BufReader::new(upstream.stdout.take().unwrap());
    let mut line = String::new();
    tokio::io::AsyncBufReadExt::read_line(&mut ready, &mut line)
        .await
        .unwrap();
    assert!(line.contains("billing upstream on"), "{line}");

    let token = std::fs::read_to_string(dir.path().join("admin.token")).unwrap();
    let client = actiongate_client::Client::new(format!("{}/billing", served.url), token.trim());
    // Calls are made once the target passed its first health check.
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let report = reqwest::Client::new()
            .post(format!("{}/v1/upstream/status", served.url))
            .bearer_auth(token.trim())
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap();
        if report["result"]["upstreams"][0]["healthy_targets"] == 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{report}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let create = || {
        client.send(
            client
                .post("v1/invoice/create")
                .header("idempotency-key", "invoice-1")
                .json(&json!({ "amount": 120 })),
        )
    };
    let invoice = create().await.unwrap();
    common::expect(&invoice, 200, actiongate_client::Status::Success);
    assert_eq!(invoice.envelope.result["amount"], 120);
    assert!(invoice.envelope.result["created_by"]
        .as_str()
        .unwrap()
        .starts_with("usr_"));
    let again = create().await.unwrap();
    assert_eq!(again.envelope.result["id"], invoice.envelope.result["id"]);

    let report = client.call("v1/report/build", &json!({})).await.unwrap();
    common::expect(&report, 202, actiongate_client::Status::Accepted);
    let report = client.wait(report, common::WAIT).await.unwrap();
    common::expect(&report, 200, actiongate_client::Status::Success);
    assert_eq!(report.envelope.result["rows"], 3);
    crate::serve::terminate(served).await;
}
