//! Conformance with the public Pangea Python SDK (`pangea-sdk` from PyPI,
//! pinned in tests/sdk/requirements.txt): `make test` installs it into
//! target/sdk-venv, and this test runs tests/sdk/console_conformance.py
//! against a live gateway.

use std::path::PathBuf;

use crate::common;

fn sdk_python() -> PathBuf {
    if let Some(python) = std::env::var_os("ACTIONGATE_SDK_PYTHON") {
        return python.into();
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("target/sdk-venv/bin/python");
    assert!(
        python.exists(),
        "the Pangea SDK venv is missing: run `make sdk-venv` (make test does it), or set ACTIONGATE_SDK_PYTHON"
    );
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pangea_python_sdk_drives_the_console() {
    let python = sdk_python();
    let gw = common::start().await;
    let testkit_token = gw.create_token(&["--services", "testkit"]);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/console_conformance.py");
    let out = tokio::process::Command::new(python)
        .arg(script)
        .env("ACTIONGATE_URL", &gw.url)
        .env("ACTIONGATE_TOKEN", &gw.token)
        .env("ACTIONGATE_ORG_ID", &gw.org_id)
        .env("ACTIONGATE_TESTKIT_TOKEN", testkit_token)
        .output()
        .await
        .expect("running python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "SDK conformance failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
    // The delete was answered 202 and the SDK polled for it.
    assert_eq!(gw.count_projects().await, 0);
}
