//! Tokens as actions (`access/v1/token/*`): made, listed, changed, revoked
//! and rotated with a grace period; never with more power than their
//! maker; their secret shown once and kept nowhere; the command line on
//! the same code. The shared parts run on PostgreSQL too (`postgres.rs`).

use std::time::Duration;

use actiongate_client::{Client, Status};
use serde_json::{json, Value};

use crate::common::{self, expect, expect_at, TestGateway};

/// `call`'s result, which must be a `Success`.
async fn ok(client: &Client, path: &str, body: Value) -> Value {
    let reply = client.call(path, &body).await.expect("an envelope");
    expect(&reply, 200, Status::Success);
    reply.envelope.result
}

/// Whether `secret` is let in: `user/me` answers 200 with it.
async fn works(gw: &TestGateway, secret: &str) -> bool {
    let reply = gw
        .client("")
        .with_token(secret)
        .call("access/v1/user/me", &json!({}))
        .await
        .unwrap();
    match reply.http_status {
        200 => true,
        401 => false,
        other => panic!("user/me answered {other}: {:?}", reply.envelope),
    }
}

/// Every token action, by the organization's owner, on either database.
pub async fn managed_through_actions(gw: &TestGateway) {
    let admin = gw.client("");
    let made = ok(
        &admin,
        "access/v1/token/create",
        json!({
            "name": "ci deploys",
            "description": "used by the pipeline",
            "services": ["console", "access"],
            "role": "viewer",
            "expires_in": "1h"
        }),
    )
    .await;
    let secret = made["secret"].as_str().unwrap().to_owned();
    let id = made["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("agt_"));
    assert_eq!(made["last_four"], secret[secret.len() - 4..]);
    assert_eq!(made["role"], "viewer");
    assert_eq!(made["services"], json!(["console", "access"]));
    assert_eq!(made["state"], "active");
    assert!(made["expires_at"].is_string());
    let me = ok(&admin, "access/v1/user/me", json!({})).await;
    assert_eq!(made["created_by"], me["id"]);

    // It works, within its scope.
    let token = gw.client("").with_token(&secret);
    let listed = token
        .call("console/v1/project/list", &json!({}))
        .await
        .unwrap();
    expect(&listed, 200, Status::Success);
    let other_service = token
        .call("deploy/v1/activity/list", &json!({ "project_id": "prj_x" }))
        .await
        .unwrap();
    expect(&other_service, 403, Status::ServiceNotEnabled);
    let above_its_role = token
        .call("console/v1/project/create", &json!({ "name": "no" }))
        .await
        .unwrap();
    expect(&above_its_role, 403, Status::Forbidden);

    // Listed and found, without its secret.
    let all = ok(&admin, "access/v1/token/list", json!({})).await;
    let listed = all["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id.as_str())
        .expect("the new token is listed")
        .clone();
    assert!(listed.get("secret").is_none());
    assert!(!listed.to_string().contains(&secret));
    let found = ok(&admin, "access/v1/token/get", json!({ "id": id })).await;
    assert_eq!(found["name"], "ci deploys");
    assert_eq!(found["description"], "used by the pipeline");

    // Its name, description and expiry change; its scope does not.
    let changed = ok(
        &admin,
        "access/v1/token/update",
        json!({ "id": id, "name": "ci", "expires_in": "2h" }),
    )
    .await;
    assert_eq!(changed["name"], "ci");
    assert_eq!(changed["role"], "viewer");
    assert!(changed["expires_at"].as_str() > made["expires_at"].as_str());
    let scope_change = ok(
        &admin,
        "access/v1/token/update",
        json!({ "id": id, "role": "owner", "services": ["*"] }),
    )
    .await;
    assert_eq!(scope_change["role"], "viewer");
    assert_eq!(scope_change["services"], json!(["console", "access"]));

    // Revoked: refused from the next request, listed only when asked.
    let revoked = ok(&admin, "access/v1/token/revoke", json!({ "id": id })).await;
    assert_eq!(revoked["state"], "revoked");
    assert!(!works(gw, &secret).await);
    let active = ok(&admin, "access/v1/token/list", json!({})).await;
    assert!(!active.to_string().contains(&id));
    let everything = ok(
        &admin,
        "access/v1/token/list",
        json!({ "include_inactive": true }),
    )
    .await;
    assert!(everything.to_string().contains(&id));
    let again = admin
        .call("access/v1/token/rotate", &json!({ "id": id }))
        .await
        .unwrap();
    expect_at(&again, 409, Status::Conflict, "/id");
}

/// Rotation: the old secret works through the grace and not after; with
/// no grace it stops at once.
pub async fn rotated_with_grace(gw: &TestGateway) {
    let admin = gw.client("");
    let made = ok(
        &admin,
        "access/v1/token/create",
        json!({ "name": "rolling" }),
    )
    .await;
    let old = made["secret"].as_str().unwrap().to_owned();
    let id = made["id"].as_str().unwrap().to_owned();
    assert!(works(gw, &old).await);
    let rotated = ok(
        &admin,
        "access/v1/token/rotate",
        json!({ "id": id, "grace": "2s" }),
    )
    .await;
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(rotated["id"], id.as_str(), "the same token record");
    assert_eq!(rotated["last_four"], new[new.len() - 4..]);
    assert!(rotated["previous_secret_until"].is_string());
    assert!(works(gw, &new).await);
    assert!(works(gw, &old).await, "the old secret works in its grace");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(!works(gw, &old).await, "the grace has ended");
    assert!(works(gw, &new).await);

    let at_once = ok(&admin, "access/v1/token/rotate", json!({ "id": id })).await;
    let newest = at_once["secret"].as_str().unwrap();
    assert!(
        !works(gw, &new).await,
        "no grace: the old secret stops at once"
    );
    assert!(works(gw, newest).await);

    let too_long = admin
        .call(
            "access/v1/token/rotate",
            &json!({ "id": id, "grace": "30d" }),
        )
        .await
        .unwrap();
    expect_at(&too_long, 400, Status::ValidationError, "/grace");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_managed_through_actions() {
    let gw = common::start().await;
    managed_through_actions(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_works_through_its_grace_and_not_after() {
    let gw = common::start().await;
    rotated_with_grace(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_makes_a_token_with_more_power_than_their_own() {
    let gw = common::start().await;
    let project = gw.project("limited").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_project = gw.project("elsewhere").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let member = gw.person("mia", "member").await;
    let colleague = gw.person("cole", "member").await;

    let above = member
        .call(
            "access/v1/token/create",
            json!({ "name": "x", "role": "admin" }),
        )
        .await;
    expect_at(&above, 403, Status::Forbidden, "/role");
    let for_another = member
        .call(
            "access/v1/token/create",
            json!({ "name": "x", "user_id": colleague.id }),
        )
        .await;
    expect_at(&for_another, 403, Status::Forbidden, "/user_id");
    // Their own, at their role or below: allowed, and capped as asked.
    let own = member
        .call(
            "access/v1/token/create",
            json!({ "name": "mine", "role": "viewer" }),
        )
        .await;
    expect(&own, 200, Status::Success);
    assert_eq!(own.envelope.result["user_id"], member.id.as_str());

    // A token limited to a project or to services passes on no more.
    let project_token = gw.create_token(&["--project", &project, "--name", "p"]);
    let limited = gw.client("").with_token(&project_token);
    let elsewhere = limited
        .call(
            "access/v1/token/create",
            &json!({ "name": "x", "project_id": other_project }),
        )
        .await
        .unwrap();
    expect_at(&elsewhere, 403, Status::Forbidden, "/project_id");
    let inherited = ok(&limited, "access/v1/token/create", json!({ "name": "y" })).await;
    assert_eq!(inherited["project_id"], project.as_str());
    let services_token = gw.create_token(&["--services", "console,access", "--name", "s"]);
    let narrow = gw.client("").with_token(&services_token);
    let wider = narrow
        .call(
            "access/v1/token/create",
            &json!({ "name": "x", "services": ["console", "deploy"] }),
        )
        .await
        .unwrap();
    expect_at(&wider, 403, Status::Forbidden, "/services/1");
    let same = ok(&narrow, "access/v1/token/create", json!({ "name": "z" })).await;
    assert_eq!(same["services"], json!(["console", "access"]));

    // Others' tokens are out of a member's sight and reach.
    let admins = ok(&gw.client(""), "access/v1/token/list", json!({})).await;
    let admins_token = admins["results"][0]["id"].as_str().unwrap().to_owned();
    for path in [
        "access/v1/token/get",
        "access/v1/token/revoke",
        "access/v1/token/rotate",
    ] {
        let reply = member.call(path, json!({ "id": admins_token })).await;
        expect(&reply, 404, Status::ResourceNotFound);
    }
    let theirs = member
        .call("access/v1/token/list", json!({ "user_id": colleague.id }))
        .await;
    expect_at(&theirs, 403, Status::Forbidden, "/user_id");
    let mine = member.call("access/v1/token/list", json!({})).await;
    expect(&mine, 200, Status::Success);
    let mine = &mine.envelope.result;
    assert!(mine["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["user_id"] == member.id.as_str()));
    // An admin makes one for another member of the organization, never
    // above the admin's own role.
    let for_colleague = ok(
        &gw.client(""),
        "access/v1/token/create",
        json!({ "name": "for cole", "user_id": colleague.id }),
    )
    .await;
    assert_eq!(for_colleague["user_id"], colleague.id.as_str());
    let stranger = gw
        .client("")
        .call(
            "access/v1/token/create",
            &json!({ "name": "x", "user_id": "usr_nobody" }),
        )
        .await
        .unwrap();
    expect_at(&stranger, 404, Status::ResourceNotFound, "/user_id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_is_answered_once_and_kept_nowhere() {
    let gw = common::start().await;
    let first = gw
        .client("")
        .post("access/v1/token/create")
        .header("Idempotency-Key", "one-token")
        .json(&json!({ "name": "once" }));
    let first = gw.client("").send(first).await.unwrap();
    expect(&first, 200, Status::Success);
    let secret = first.envelope.result["secret"].as_str().unwrap().to_owned();
    // A repeat of the call is answered from what was kept: no secret.
    let repeat = gw
        .client("")
        .post("access/v1/token/create")
        .header("Idempotency-Key", "one-token")
        .json(&json!({ "name": "once" }));
    let repeat = gw.client("").send(repeat).await.unwrap();
    expect(&repeat, 200, Status::Success);
    assert_eq!(repeat.envelope.request_id, first.envelope.request_id);
    assert_eq!(repeat.envelope.result["id"], first.envelope.result["id"]);
    assert!(repeat.envelope.result["secret"].is_null());
    let polled = gw
        .client("")
        .get(&format!("request/{}", first.envelope.request_id))
        .await
        .unwrap();
    assert!(polled.envelope.result["secret"].is_null());
    let rotated = ok(
        &gw.client(""),
        "access/v1/token/rotate",
        json!({ "id": first.envelope.result["id"] }),
    )
    .await;
    let rotated_secret = rotated["secret"].as_str().unwrap().to_owned();
    // Neither secret is anywhere in the database's files, the job table and
    // the audit trail among them.
    let dir = gw.shutdown().await;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for secret in [&secret, &rotated_secret] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds a token secret",
                path.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_manages_the_same_tokens() {
    let gw = common::start().await;
    let made = ok(
        &gw.client(""),
        "access/v1/token/create",
        json!({ "name": "shared" }),
    )
    .await;
    let id = made["id"].as_str().unwrap();
    let old = made["secret"].as_str().unwrap();
    let out = gw.cli(&["token", "rotate", id, "--grace", "1m"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(works(&gw, &new).await);
    assert!(works(&gw, old).await, "in its grace");
    let found = ok(&gw.client(""), "access/v1/token/get", json!({ "id": id })).await;
    assert_eq!(found["last_four"], new[new.len() - 4..]);
    let out = gw.cli(&["token", "revoke", id]);
    assert!(out.status.success());
    assert!(!works(&gw, &new).await);
    assert!(!works(&gw, old).await, "a revoke ends the grace too");
}
