//! The gateway's own state: /healthz, /readyz, /version, /status.

use std::time::Duration;

use actiongate_client::Status;
use serde_json::Value;

use crate::common;

async fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn envelope(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_version_and_status() {
    let gw = common::start().await;
    assert_eq!(
        get(&format!("{}/healthz", gw.url), None).await,
        (200, "ok\n".into())
    );
    assert_eq!(
        get(&format!("{}/readyz", gw.url), None).await,
        (200, "ready\n".into())
    );

    let (code, body) = get(&format!("{}/version", gw.url), None).await;
    assert_eq!(code, 200);
    let version = envelope(&body);
    assert_eq!(version["result"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(!version["result"]["git_commit"].as_str().unwrap().is_empty());
    assert_eq!(version["result"]["build_date"].as_str().unwrap().len(), 10);

    let (code, body) = get(&format!("{}/status", gw.url), Some(&gw.token)).await;
    assert_eq!(code, 200, "{body}");
    let status = envelope(&body);
    assert_eq!(status["status"], "Success");
    assert_eq!(status["result"]["status"], "Success");
    let checks = status["result"]["checks"].as_array().unwrap();
    let names: Vec<&str> = checks
        .iter()
        .map(|c| c["canonical"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["database", "migrations", "jobs"]);
    assert!(checks[0]["message"]
        .as_str()
        .unwrap()
        .contains("round trip"));
    // A job left queued shows in the job engine's figures.
    let reply = gw
        .call("testkit/v1/sleep/async", serde_json::json!({ "ms": 1500 }))
        .await;
    assert_eq!(reply.envelope.status, Status::Accepted);
    let (code, body) = get(&format!("{}/status/jobs", gw.url), Some(&gw.token)).await;
    assert_eq!(code, 200, "{body}");
    let jobs = envelope(&body);
    let only = jobs["result"]["checks"].as_array().unwrap();
    assert_eq!(only.len(), 1);
    let message = only[0]["message"].as_str().unwrap();
    assert!(
        message.contains("1 queued") || message.contains("1 running"),
        "{message}"
    );

    let (code, body) = get(&format!("{}/status/nothing", gw.url), Some(&gw.token)).await;
    assert_eq!(
        (code, envelope(&body)["status"].clone()),
        (404, "ResourceNotFound".into())
    );
    let (code, _) = get(&format!("{}/status", gw.url), None).await;
    assert_eq!(code, 401);
    let viewer = gw.create_token(&["--role", "viewer"]);
    let (code, body) = get(&format!("{}/status", gw.url), Some(&viewer)).await;
    assert_eq!(
        (code, envelope(&body)["status"].clone()),
        (403, "Forbidden".into())
    );
    let response = reqwest::Client::new()
        .post(format!("{}/healthz", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
}

/// A migration missing from the ledger: not ready, and /status says which
/// check failed with a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_behind_its_migrations_is_not_ready() {
    let gw = common::start().await;
    let db = rusqlite::Connection::open(gw.dir.path().join("actiongate.db")).unwrap();
    db.execute(
        "DELETE FROM seaql_migrations WHERE version = 'm20261127_000007_testkit_notes'",
        [],
    )
    .unwrap();
    let (code, text) = get(&format!("{}/readyz", gw.url), None).await;
    assert_eq!(code, 503);
    assert!(text.contains("1 migrations are not applied"), "{text}");
    let (code, body) = get(&format!("{}/status", gw.url), Some(&gw.token)).await;
    assert_eq!(code, 500, "{body}");
    let status = envelope(&body);
    assert_eq!(status["result"]["status"], "Error");
    let failed: Vec<&str> = status["result"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "Error")
        .map(|c| c["canonical"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["migrations"]);
}

/// From the moment shutdown begins, /readyz answers 503 while the gateway
/// still serves calls, for the drain delay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_turns_503_during_a_drain() {
    let gw = common::start_with(|config| config.drain_delay = Duration::from_secs(2)).await;
    let url = gw.url.clone();
    let client = gw.client("console");
    let shutdown = tokio::spawn(gw.shutdown());
    let mut seen = None;
    for _ in 0..20 {
        let (code, text) = get(&format!("{url}/readyz"), None).await;
        if code == 503 {
            seen = Some(text);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = seen.expect("readyz turns 503 once shutdown begins");
    assert!(text.contains("draining"), "{text}");
    // Calls are still served during the drain.
    let reply = client
        .call("v1/project/list", &serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(reply.http_status, 200);
    shutdown.await.unwrap();
    assert!(reqwest::get(format!("{url}/healthz")).await.is_err());
}
