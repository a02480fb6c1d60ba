//! The command line: bootstrap, migrate, tokens.

use std::os::unix::fs::PermissionsExt;

use actiongate_client::{Client, Status};
use serde_json::json;

use crate::common::{self, expect};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_token_file_is_private_and_written_once() {
    let gw = common::start().await;
    let file = gw.dir.path().join("admin.token");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let before = std::fs::read_to_string(&file).unwrap();
    let dir = gw.shutdown().await;
    let again = common::restart(dir.path()).await;
    assert!(again.bootstrapped.is_none());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    again.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_and_token_commands() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::cli(dir.path(), &["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("actiongate.db").exists());
    // No organization yet: creating a token says what to do.
    let out = common::cli(dir.path(), &["token", "create"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("start the gateway"));

    let gw = common::start().await;
    let token = gw.create_token(&["--name", "ci", "--services", "console,testkit"]);
    assert!(token.starts_with("agt_"));
    let reply = Client::new(format!("{}/console", gw.url), &token)
        .call("v1/org/list", &json!({}))
        .await
        .unwrap();
    expect(&reply, 200, Status::Success);
    let listing = String::from_utf8(gw.cli(&["token", "list"]).stdout).unwrap();
    assert!(listing.contains("ci") && listing.contains("admin (bootstrap)"));
    assert!(!listing.contains(&token) && !listing.contains(&gw.token));
    let out = gw.cli(&["token", "create", "--org", "org_nope"]);
    assert!(!out.status.success());
    let out = gw.cli(&["token", "revoke", "tok_nope"]);
    assert!(!out.status.success());
}
