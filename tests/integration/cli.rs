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

/// `actiongate call` / `status` against `gw`, output piped.
fn client_cli(gw: &common::TestGateway, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_actiongate"))
        .args(args)
        .args(["--gateway", &gw.url])
        .env("ACTIONGATE_CONFIG", "/nonexistent/actiongate.toml")
        .env("ACTIONGATE_DATA_DIR", gw.dir.path())
        .env_remove("ACTIONGATE_TOKEN")
        .output()
        .expect("the actiongate binary")
}

fn stdout_json(out: &std::process::Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|_| panic!("not one JSON line: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_prints_the_envelope_and_exits_by_its_status() {
    let gw = common::start().await;
    // The token from the data dir's admin.token, plain JSON on a pipe.
    let out = client_cli(
        &gw,
        &[
            "call",
            "console/v1/project/create",
            "--data",
            r#"{"name":"cli"}"#,
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created = stdout_json(&out);
    assert_eq!(created["status"], "Success");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains('\x1b'),
        "no colour on a pipe"
    );

    // Parameters from a file; an error status exits 1 with its envelope.
    let params = gw.dir.path().join("params.json");
    std::fs::write(&params, r#"{"id": "prj_nothing"}"#).unwrap();
    let out = client_cli(
        &gw,
        &[
            "call",
            "console/v1/project/get",
            "--data",
            &format!("@{}", params.display()),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_json(&out)["status"], "ResourceNotFound");

    // A token file, or ACTIONGATE_TOKEN, names whose call it is.
    let viewer = gw.create_token(&["--role", "viewer"]);
    let viewer_file = gw.dir.path().join("viewer.token");
    std::fs::write(&viewer_file, &viewer).unwrap();
    let out = client_cli(
        &gw,
        &[
            "call",
            "console/v1/project/create",
            "--data",
            r#"{"name":"not allowed"}"#,
            "--token-file",
            viewer_file.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_json(&out)["status"], "Forbidden");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_actiongate"))
        .args(["call", "console/v1/project/list", "--gateway", &gw.url])
        .env("ACTIONGATE_CONFIG", "/nonexistent/actiongate.toml")
        .env("ACTIONGATE_DATA_DIR", "/nonexistent")
        .env("ACTIONGATE_TOKEN", &viewer)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout_json(&out)["result"]["count"], 1);

    // Bad input never reaches the gateway; no gateway is exit 2.
    let out = client_cli(&gw, &["call", "console/v1/project/list", "--data", "{nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--data is not JSON"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_actiongate"))
        .args([
            "call",
            "console/v1/project/list",
            "--gateway",
            "http://127.0.0.1:9",
        ])
        .env("ACTIONGATE_CONFIG", "/nonexistent/actiongate.toml")
        .env("ACTIONGATE_TOKEN", "agt_x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // Without --wait, a 202 is printed as it is, and is not an error.
    let out = client_cli(
        &gw,
        &["call", "testkit/v1/sleep/async", "--data", r#"{"ms": 1}"#],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout_json(&out)["status"], "Accepted");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_wait_shows_progress_at_a_terminal_then_the_result() {
    let gw = common::start().await;
    let command = format!(
        "{} call testkit/v1/steps/async --data '{{\"steps\": 4, \"step_ms\": 700}}' --wait --gateway {}",
        env!("CARGO_BIN_EXE_actiongate"),
        gw.url
    );
    let out = tokio::process::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env("ACTIONGATE_CONFIG", "/nonexistent/actiongate.toml")
        .env("ACTIONGATE_DATA_DIR", gw.dir.path())
        .env_remove("ACTIONGATE_TOKEN")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("script(1), from util-linux");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    // The bar was drawn at steps along the way, then full.
    let shown: Vec<u32> = text
        .split(|c: char| !c.is_ascii_digit() && c != '%')
        .filter_map(|word| word.strip_suffix('%')?.parse().ok())
        .collect();
    assert!(shown.contains(&100), "{text}");
    assert!(
        shown.iter().any(|&p| p > 0 && p < 100),
        "a step between: {shown:?} in {text}"
    );
    assert!(text.contains("[====="), "{text}");
    // The final envelope, coloured: ANSI escapes around its fields.
    assert!(text.contains('\x1b'), "{text}");
    assert!(text.contains("Success"), "{text}");
    assert!(text.contains("steps"), "{text}");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_prints_the_checks_as_a_table() {
    let gw = common::start().await;
    let out = client_cli(&gw, &["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("CHECK"), "{text}");
    for (line, check) in lines[1..4].iter().zip(["database", "migrations", "jobs"]) {
        assert!(line.starts_with(check), "{text}");
        assert!(line.contains("Success"), "{text}");
    }
    assert!(text.contains("Success: All checks passed"), "{text}");
    let out = client_cli(&gw, &["status", "jobs"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 4);
    gw.shutdown().await;
}
