//! Isolation, tried from the attacker's side: a token reaches a recorded
//! request (poll, cancel) or an audit event only where it could have made
//! the call itself, and a designated-async call by someone who may not see
//! its record is refused before any job is recorded, never answered 202.

use actiongate_client::{Client, Reply, Status};
use serde_json::{json, Value};

use crate::common::{self, expect, TestGateway};

/// Two projects of the bootstrap organization, an environment in the
/// second, and a variable created there by the owner (a sync call that
/// wrote, so its outcome is recorded and pollable).
struct Victim {
    p1: String,
    p2: String,
    e2: String,
    variable_request: String,
}

async fn victim(gw: &TestGateway) -> Victim {
    let p1 = gw.project("first").await["id"].as_str().unwrap().to_owned();
    let p2 = gw.project("second").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let env = gw
        .call(
            "deploy/v1/environment/create",
            json!({ "project_id": p2, "name": "production" }),
        )
        .await;
    expect(&env, 200, Status::Success);
    let e2 = env.envelope.result["id"].as_str().unwrap().to_owned();
    let variable = gw
        .call(
            "deploy/v1/variable/create",
            json!({ "environment_id": e2, "name": "SECRET", "value": "hunter2" }),
        )
        .await;
    expect(&variable, 200, Status::Success);
    Victim {
        p1,
        p2,
        e2,
        variable_request: variable.envelope.request_id.to_string(),
    }
}

async fn poll(client: &Client, prefix: &str, id: &str) -> Reply {
    client
        .get(&format!("{prefix}request/{id}"))
        .await
        .expect("an envelope")
}

async fn cancel(client: &Client, id: &str) -> Reply {
    client
        .call("request/cancel", &json!({ "request_id": id }))
        .await
        .expect("an envelope")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_and_cancels_hold_to_the_tokens_limits() {
    let gw = common::start().await;
    let v = victim(&gw).await;
    let owner = gw.client("");

    // The owner reaches its own request.
    let own = poll(&owner, "", &v.variable_request).await;
    expect(&own, 200, Status::Success);
    assert_eq!(own.envelope.result["value"], "hunter2");

    // The same user's token limited to P1 and the console: refused the
    // deploy service outright, and its poll of the P2 request, under the
    // console's prefix, finds nothing.
    let limited = owner.with_token(gw.create_token(&["--project", &v.p1, "--services", "console"]));
    let direct = limited
        .call(
            "deploy/v1/variable/list",
            &json!({ "environment_id": v.e2 }),
        )
        .await
        .unwrap();
    expect(&direct, 403, Status::ServiceNotEnabled);
    for prefix in ["", "console/", "deploy/"] {
        let stolen = poll(&limited, prefix, &v.variable_request).await;
        expect(&stolen, 404, Status::ResourceNotFound);
        assert!(!format!("{:?}", stolen.envelope).contains("hunter2"));
    }
    // Limited to P1 but with every service: P2's request is still out of reach.
    let p1_only = owner.with_token(gw.create_token(&["--project", &v.p1]));
    expect(
        &poll(&p1_only, "", &v.variable_request).await,
        404,
        Status::ResourceNotFound,
    );

    // A running clone of P2's environment, by the owner.
    let clone = owner
        .call(
            "deploy/v1/environment/clone",
            &json!({ "id": v.e2, "name": "copy" }),
        )
        .await
        .unwrap();
    expect(&clone, 202, Status::Accepted);
    let clone_id = clone.envelope.request_id.to_string();
    let viewer_capped = owner.with_token(gw.create_token(&["--role", "viewer"]));
    let console_only = owner.with_token(gw.create_token(&["--services", "console"]));
    for attacker in [&limited, &p1_only, &viewer_capped, &console_only] {
        expect(
            &cancel(attacker, &clone_id).await,
            404,
            Status::ResourceNotFound,
        );
        expect(
            &poll(attacker, "", &clone_id).await,
            404,
            Status::ResourceNotFound,
        );
    }
    // The owner's own token still follows it to the end: nothing above
    // cancelled it.
    let done = owner.wait(clone, common::WAIT).await.unwrap();
    expect(&done, 200, Status::Success);
    assert_eq!(done.envelope.result["name"], "copy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_limited_token_reads_only_its_projects_audit_trail() {
    let gw = common::start().await;
    let v = victim(&gw).await;
    let made_in_p1 = gw
        .call(
            "deploy/v1/environment/create",
            json!({ "project_id": v.p1, "name": "staging" }),
        )
        .await;
    expect(&made_in_p1, 200, Status::Success);

    let everything = gw
        .call("access/v1/audit/list", json!({ "limit": 100 }))
        .await;
    expect(&everything, 200, Status::Success);
    let all = events(&everything);
    assert!(all.iter().any(|e| e["project_id"] == v.p2.as_str()));

    let limited = gw
        .client("")
        .with_token(gw.create_token(&["--project", &v.p1]));
    let trail = limited
        .call("access/v1/audit/list", &json!({ "limit": 100 }))
        .await
        .unwrap();
    expect(&trail, 200, Status::Success);
    let seen = events(&trail);
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|e| e["project_id"] == v.p1.as_str()),
        "{seen:#?}"
    );
    assert!(seen
        .iter()
        .any(|e| e["request_id"] == made_in_p1.envelope.request_id.to_string().as_str()));
    assert!(!seen
        .iter()
        .any(|e| e["request_id"] == v.variable_request.as_str()));
}

fn events(reply: &Reply) -> Vec<Value> {
    reply.envelope.result["results"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn designated_async_calls_are_refused_before_any_job_for_those_who_may_not() {
    let gw = common::start().await;
    let v = victim(&gw).await;
    // A viewer of the organization.
    let viewer = gw.person("vera", "viewer").await;
    // Another organization's token (same user, its own organization).
    let other = gw
        .call("console/v1/org/create", json!({ "name": "Elsewhere" }))
        .await;
    expect(&other, 200, Status::Success);
    let other_org = other.envelope.result["id"].as_str().unwrap();
    let outsider = gw
        .client("")
        .with_token(gw.create_token(&["--org", other_org]));
    let jobs_before = gw.count_jobs().await;

    let reply = outsider
        .call(
            "deploy/v1/environment/clone",
            &json!({ "id": v.e2, "name": "stolen" }),
        )
        .await
        .unwrap();
    expect(&reply, 404, Status::ResourceNotFound);
    let reply = outsider
        .call("console/v1/project/delete", &json!({ "id": v.p2 }))
        .await
        .unwrap();
    expect(&reply, 404, Status::ResourceNotFound);

    let reply = viewer
        .call(
            "deploy/v1/environment/clone",
            json!({ "id": v.e2, "name": "mine" }),
        )
        .await;
    expect(&reply, 403, Status::Forbidden);
    let reply = viewer
        .call("console/v1/project/delete", json!({ "id": v.p2 }))
        .await;
    expect(&reply, 403, Status::Forbidden);

    assert_eq!(gw.count_jobs().await, jobs_before, "no job was recorded");
    let names = gw
        .call("deploy/v1/environment/list", json!({ "project_id": v.p2 }))
        .await;
    assert_eq!(names.envelope.result["count"], 1);
}
