//! Bearer tokens: missing, malformed, unknown, revoked, expired, and not
//! enabled for the service.

use std::time::Duration;

use actiongate_client::{read_reply, Client, Reply, Status};
use serde_json::json;

use crate::common::{self, expect};

async fn org_get(gw: &common::TestGateway, token: &str) -> Reply {
    Client::new(format!("{}/console", gw.url), token)
        .call("v1/org/list", &json!({}))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_malformed_authorization() {
    let gw = common::start().await;
    let http = reqwest::Client::new();
    let url = format!("{}/console/v1/org/list", gw.url);
    let cases: [(Option<String>, &str); 5] = [
        (None, "Missing token"),
        (
            Some(format!("Basic {}", gw.token)),
            "Malformed Authorization",
        ),
        (Some("Bearer".to_owned()), "Malformed Authorization"),
        (Some("Bearer not-a-token".to_owned()), "Malformed token"),
        (Some(format!("Bearer {}x", gw.token)), "Malformed token"),
    ];
    for (header, summary) in cases {
        let mut request = http.post(&url).json(&json!({}));
        if let Some(value) = &header {
            request = request.header("authorization", value);
        }
        let reply = read_reply(request.send().await.unwrap()).await.unwrap();
        expect(&reply, 401, Status::Unauthorized);
        assert!(
            reply.envelope.summary.starts_with(summary),
            "{header:?}: {}",
            reply.envelope.summary
        );
        assert!(
            !reply.envelope.summary.contains(&gw.token),
            "the token never appears in a summary"
        );
    }
    // The scheme is case-insensitive.
    let reply = read_reply(
        http.post(&url)
            .header("authorization", format!("bearer {}", gw.token))
            .send()
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    expect(&reply, 200, Status::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_token_is_unauthorized() {
    let gw = common::start().await;
    let other = common::start().await;
    // Well formed, issued by another gateway, unknown here.
    let reply = org_get(&gw, &other.token).await;
    expect(&reply, 401, Status::Unauthorized);
    assert!(reply.envelope.summary.starts_with("Unknown token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_token_is_refused() {
    let gw = common::start().await;
    let token = gw.create_token(&["--name", "to-revoke"]);
    expect(&org_get(&gw, &token).await, 200, Status::Success);

    let list = gw.cli(&["token", "list"]);
    let listing = String::from_utf8(list.stdout).unwrap();
    let line = listing
        .lines()
        .find(|l| l.contains("to-revoke"))
        .expect("listed");
    assert!(!listing.contains(&token), "list never shows secrets");
    assert!(
        line.contains(&token[token.len() - 4..]),
        "list shows the last characters"
    );
    let id = line.split_whitespace().next().unwrap();

    let out = gw.cli(&["token", "revoke", id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The CLI is another process; the next request sees the revocation.
    let reply = org_get(&gw, &token).await;
    expect(&reply, 401, Status::Unauthorized);
    assert!(reply.envelope.summary.contains("revoked"));
    // The admin token is untouched.
    expect(&org_get(&gw, &gw.token).await, 200, Status::Success);
    // Revoking twice is an error.
    assert!(!gw.cli(&["token", "revoke", id]).status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_token_is_refused() {
    let gw = common::start().await;
    let token = gw.create_token(&["--expires-in", "1s"]);
    expect(&org_get(&gw, &token).await, 200, Status::Success);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let reply = org_get(&gw, &token).await;
    expect(&reply, 401, Status::Unauthorized);
    assert!(reply.envelope.summary.contains("expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_not_enabled_for_the_service() {
    let gw = common::start().await;
    let token = gw.create_token(&["--services", "testkit"]);
    let reply = org_get(&gw, &token).await;
    expect(&reply, 403, Status::ServiceNotEnabled);
    assert!(reply.envelope.summary.contains("console"));
    // The same token works where it is enabled, whatever alias is used.
    let testkit = Client::new(format!("{}/testkit", gw.url), &token);
    expect(
        &testkit.call("v1/echo", &json!({})).await.unwrap(),
        200,
        Status::Success,
    );
    // Enabled by canonical name, the alias routes to the same service.
    let console_only = gw.create_token(&["--services", "console"]);
    let via_alias = Client::new(format!("{}/api.console", gw.url), &console_only);
    expect(
        &via_alias.call("v1/org/list", &json!({})).await.unwrap(),
        200,
        Status::Success,
    );
}
