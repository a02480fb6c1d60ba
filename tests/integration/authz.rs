//! `authz/policies` and `authz/check`: every routed action has a policy
//! code, listed and shown in the API description; the check answers for
//! the caller's token, its cap, its services and its project limit, on
//! the records named. (Its agreement with every call is in the role
//! matrix.)

use actiongate_client::Status;
use serde_json::{json, Value};

use crate::common::{self, expect, expect_at};

async fn decide(reply: actiongate_client::Reply) -> (bool, String) {
    expect(&reply, 200, Status::Success);
    let result = &reply.envelope.result;
    (
        result["ok"].as_bool().unwrap(),
        result["reason"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_has_a_policy_code_listed_and_described() {
    let gw = common::start().await;
    let listed = gw.call("access/v1/authz/policies", json!({})).await;
    expect(&listed, 200, Status::Success);
    let policies = listed.envelope.result["policies"]
        .as_array()
        .unwrap()
        .clone();
    let find = |code: &str| -> Value {
        policies
            .iter()
            .find(|p| p["code"] == code)
            .unwrap_or_else(|| panic!("{code} is not listed"))
            .clone()
    };
    let update = find("deploy:environment:update");
    assert_eq!(update["actions"], json!(["deploy/v1/environment/update"]));
    assert_eq!(update["least_role"], "member");
    assert_eq!(update["scope"], "environment");
    assert_eq!(find("console:project:delete")["scope"], "project");
    assert_eq!(find("console:org:delete")["scope"], "organization");
    // Each operation of the API description names its policy.
    let openapi: Value = reqwest::get(format!("{}/openapi.json", gw.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut described = 0;
    for (_, item) in openapi["paths"].as_object().unwrap() {
        if let Some(code) = item["post"]["x-policy"].as_str() {
            described += 1;
            assert!(
                policies.iter().any(|p| p["code"] == code),
                "{code} is described but not listed"
            );
        }
    }
    assert!(
        described >= policies.len(),
        "{described} operations for {} policies",
        policies.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_weighs_the_callers_token_and_the_records_named() {
    let gw = common::start().await;
    let (project, environment) = gw.project_with_environment("checked", "dev").await;
    let (other, _) = gw.project_with_environment("other", "dev").await;
    let viewer = gw.person("vera", "viewer").await;
    let check =
        |action: &str, resources: Value| json!({ "action": action, "resources": resources });

    // Organization-scoped: the organization role.
    let (ok, _) = decide(
        gw.call(
            "access/v1/authz/check",
            check("console:org:delete", json!([])),
        )
        .await,
    )
    .await;
    assert!(ok);
    let (ok, reason) = decide(
        viewer
            .call(
                "access/v1/authz/check",
                check("console:org:delete", json!([])),
            )
            .await,
    )
    .await;
    assert!(!ok);
    assert!(reason.contains("owner"), "{reason}");

    // Project-scoped: the role in the project named, directly or through
    // a record in it.
    let update = "deploy:environment:update";
    let on_env = json!([format!("environment:{}", environment.as_str().unwrap())]);
    let (ok, _) = decide(
        viewer
            .call("access/v1/authz/check", check(update, on_env.clone()))
            .await,
    )
    .await;
    assert!(!ok);
    gw.add_member(project.as_str().unwrap(), &viewer, "member")
        .await;
    let (ok, _) = decide(
        viewer
            .call("access/v1/authz/check", check(update, on_env.clone()))
            .await,
    )
    .await;
    assert!(ok, "a member there may");
    // Not in the other project, where the viewer is no member.
    let on_other = json!([format!("project:{}", other.as_str().unwrap())]);
    let (ok, _) = decide(
        viewer
            .call(
                "access/v1/authz/check",
                check("deploy:environment:create", on_other),
            )
            .await,
    )
    .await;
    assert!(!ok);
    // Named nowhere: the organization role, a floor in every project.
    let (ok, reason) = decide(
        viewer
            .call("access/v1/authz/check", check(update, json!([])))
            .await,
    )
    .await;
    assert!(!ok);
    assert!(reason.contains("resources"), "{reason}");

    // The token: its cap, its services, its project limit.
    let capped = gw.create_token(&["--role", "viewer"]);
    let capped = gw.client("").with_token(&capped);
    let (ok, _) = decide(
        capped
            .call("access/v1/authz/check", &check(update, on_env.clone()))
            .await
            .unwrap(),
    )
    .await;
    assert!(!ok, "capped at viewer");
    let narrow = gw.create_token(&["--services", "access,console"]);
    let narrow = gw.client("").with_token(&narrow);
    let (ok, reason) = decide(
        narrow
            .call("access/v1/authz/check", &check(update, on_env.clone()))
            .await
            .unwrap(),
    )
    .await;
    assert!(!ok);
    assert!(reason.contains("deploy"), "{reason}");
    let limited = gw.create_token(&["--project", other.as_str().unwrap()]);
    let limited = gw.client("").with_token(&limited);
    let (ok, _) = decide(
        limited
            .call("access/v1/authz/check", &check(update, on_env.clone()))
            .await
            .unwrap(),
    )
    .await;
    assert!(!ok, "limited to another project");
    // A public action is anyone's, and listed with no least role.
    let policies = gw.call("access/v1/authz/policies", json!({})).await;
    let ping = policies.envelope.result["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "testkit::ping")
        .expect("the test service's public ping is listed")
        .clone();
    assert!(ping["least_role"].is_null());
    let (ok, _) = decide(
        viewer
            .call("access/v1/authz/check", check("testkit::ping", json!([])))
            .await,
    )
    .await;
    assert!(ok);

    // Bad input names its field.
    let unknown = gw
        .call(
            "access/v1/authz/check",
            check("deploy:nothing:here", json!([])),
        )
        .await;
    expect_at(&unknown, 400, Status::ValidationError, "/action");
    let malformed = gw
        .call(
            "access/v1/authz/check",
            check(update, json!(["environment"])),
        )
        .await;
    expect_at(&malformed, 400, Status::ValidationError, "/resources/0");
    let no_kind = gw
        .call(
            "access/v1/authz/check",
            check(update, json!(["planet:earth"])),
        )
        .await;
    expect_at(&no_kind, 400, Status::ValidationError, "/resources/0");
}
