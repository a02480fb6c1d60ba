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
    }
    gw.shutdown().await;
}
