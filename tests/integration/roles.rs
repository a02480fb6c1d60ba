//! Custom roles (`access/v1/role/*`): rules checked as they are written,
//! held through team grants and carried by tokens, weighed by the one
//! evaluator the pipeline, the handlers and `authz/check` share; changes
//! hold from the next request; nobody writes or hands out a role above
//! their own. The shared part runs on PostgreSQL too (`postgres.rs`).

use actiongate_client::{Client, Reply, Status};
use serde_json::{json, Value};

use crate::common::{self, expect, expect_at, succeeded, TestGateway};

async fn call(client: &Client, path: &str, body: Value) -> Reply {
    client.call(path, &body).await.expect("an envelope")
}

/// A team holding `role` (onto `project`, or the organization), with
/// `user` in it.
async fn team_holding(admin: &Client, name: &str, user: &str, role: &str, project: Option<&Value>) {
    let team = succeeded(admin, "access/v1/team/create", json!({ "name": name })).await;
    succeeded(
        admin,
        "access/v1/team/member/add",
        json!({ "team_id": team["id"], "user_id": user }),
    )
    .await;
    succeeded(
        admin,
        "access/v1/team/grant",
        json!({ "team_id": team["id"], "project_id": project, "role": role }),
    )
    .await;
}

/// Written, listed, held through a team, changed and deleted, on either
/// database.
pub async fn held_through_teams(gw: &TestGateway) {
    let admin = gw.client("");

    // The built-in roles come first, with their rules.
    let listed = succeeded(&admin, "access/v1/role/list", json!({})).await;
    let names: Vec<&str> = listed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["viewer", "member", "admin", "owner"]);
    let viewer = &listed["results"][0];
    assert_eq!(viewer["builtin"], true);
    let allows = |role: &Value, code: &str| {
        role["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == code)
    };
    assert!(allows(viewer, "console:project:get"));
    assert!(!allows(viewer, "console:project:delete"));
    assert_eq!(
        listed["results"][3]["rules"],
        json!([{ "action": "**", "effect": "allow" }])
    );
    let refused = call(
        &admin,
        "access/v1/role/update",
        json!({ "id": "admin", "rules": [] }),
    )
    .await;
    expect_at(&refused, 403, Status::Forbidden, "/id");

    let project = gw.project("ruled").await["id"].clone();
    let elsewhere = gw.project("unruled").await["id"].clone();
    let rules = json!([
        { "action": "deploy:environment:*", "effect": "allow" },
        { "action": "deploy:variable:**", "effect": "allow",
          "resources": [format!("project:{}:**", project.as_str().unwrap())] },
    ]);
    let role = succeeded(
        &admin,
        "access/v1/role/create",
        json!({ "name": "deployer", "display_name": "Deployer", "rules": rules }),
    )
    .await;
    assert_eq!(role["builtin"], false);
    assert_eq!(role["rules"], rules);
    let role_id = role["id"].clone();
    assert_eq!(
        succeeded(&admin, "access/v1/role/get", json!({ "id": role_id })).await,
        role
    );
    let customs = succeeded(&admin, "access/v1/role/list", json!({ "builtin": false })).await;
    assert_eq!(customs["count"], 1);
    assert_eq!(customs["results"][0]["name"], "deployer");
    let dup = call(
        &admin,
        "access/v1/role/create",
        json!({ "name": "deployer", "rules": rules }),
    )
    .await;
    expect_at(&dup, 409, Status::Conflict, "/name");

    // A viewer whose team holds it in one project.
    let dee = gw.person("dee", "viewer").await;
    team_holding(&admin, "deployers", &dee.id, "deployer", Some(&project)).await;
    let env = call(
        &dee.client,
        "deploy/v1/environment/create",
        json!({ "project_id": project, "name": "staging" }),
    )
    .await;
    expect(&env, 200, Status::Success);
    let env_id = env.envelope.result["id"].clone();
    // The handler's own check, on the record it loads, agrees.
    let updated = call(
        &dee.client,
        "deploy/v1/environment/update",
        json!({ "id": env_id, "title": "Staging" }),
    )
    .await;
    expect(&updated, 200, Status::Success);
    let variable = call(
        &dee.client,
        "deploy/v1/variable/create",
        json!({ "environment_id": env_id, "name": "A", "value": "1" }),
    )
    .await;
    expect(&variable, 200, Status::Success);
    // A designated-async action: its job's own check, on the worker,
    // weighs the custom role too.
    let paused = call(
        &dee.client,
        "deploy/v1/environment/pause",
        json!({ "id": env_id }),
    )
    .await;
    expect(&paused, 202, Status::Accepted);
    let paused = dee
        .client
        .wait(paused, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    expect(&paused, 200, Status::Success);
    let listed = crate::teams::listed_member(&admin, &project, &dee.id).await;
    assert_eq!(
        (&listed["role"], &listed["teams"]),
        (&json!("deployer"), &json!(["deployers"]))
    );
    // Not in another project; not beyond its rules.
    let outside = call(
        &dee.client,
        "deploy/v1/environment/create",
        json!({ "project_id": elsewhere, "name": "staging" }),
    )
    .await;
    expect(&outside, 403, Status::Forbidden);
    let beyond = call(
        &dee.client,
        "console/v1/project/update",
        json!({ "id": project, "title": "Mine" }),
    )
    .await;
    expect(&beyond, 403, Status::Forbidden);
    let check = succeeded(
        &dee.client,
        "access/v1/authz/check",
        json!({ "action": "deploy:environment:create", "resources": [format!("project:{}", project.as_str().unwrap())] }),
    )
    .await;
    assert_eq!(check["ok"], true, "{check}");
    assert!(
        check["reason"].as_str().unwrap().contains("deployer"),
        "{check}"
    );

    // A change to its rules holds from the next request.
    succeeded(
        &admin,
        "access/v1/role/update",
        json!({ "id": role_id, "rules": [{ "action": "deploy:variable:list", "effect": "allow" }] }),
    )
    .await;
    let after = call(
        &dee.client,
        "deploy/v1/environment/create",
        json!({ "project_id": project, "name": "after" }),
    )
    .await;
    expect(&after, 403, Status::Forbidden);

    // In use, it stays; once nothing names it, it goes.
    let in_use = call(&admin, "access/v1/role/delete", json!({ "id": role_id })).await;
    expect_at(&in_use, 409, Status::ResourceInUse, "/id");
    let teams = succeeded(
        &admin,
        "access/v1/team/list",
        json!({ "name": "deployers" }),
    )
    .await;
    succeeded(
        &admin,
        "access/v1/team/revoke",
        json!({ "team_id": teams["results"][0]["id"], "project_id": project }),
    )
    .await;
    succeeded(&admin, "access/v1/role/delete", json!({ "id": role_id })).await;
    let gone = call(&admin, "access/v1/role/get", json!({ "id": role_id })).await;
    expect_at(&gone, 404, Status::ResourceNotFound, "/id");
}

/// Each bad rule is refused, naming its field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rules_name_their_field() {
    bad_rules_named(&common::start().await).await;
}

pub async fn bad_rules_named(gw: &TestGateway) {
    let admin = gw.client("");
    let rule = |action: &str| json!({ "action": action, "effect": "allow" });
    for (rules, at) in [
        (json!([]), "/rules"),
        (json!([rule("nothing:matches:this")]), "/rules/0/action"),
        (
            json!([rule("deploy:**"), rule("deploy:env*")]),
            "/rules/1/action",
        ),
        (
            json!([{ "action": "deploy:**", "effect": "deny" }]),
            "/rules/0/effect",
        ),
        (
            json!([{ "action": "deploy:**", "effect": "allow", "resources": ["planet:earth"] }]),
            "/rules/0/resources/0",
        ),
        (
            json!([{ "action": "deploy:**", "effect": "allow", "resources": ["project"] }]),
            "/rules/0/resources/0",
        ),
    ] {
        let refused = call(
            &admin,
            "access/v1/role/create",
            json!({ "name": "bad", "rules": rules }),
        )
        .await;
        expect_at(&refused, 400, Status::ValidationError, at);
    }
    let builtin_name = call(
        &admin,
        "access/v1/role/create",
        json!({ "name": "admin", "rules": [rule("deploy:**")] }),
    )
    .await;
    expect_at(&builtin_name, 409, Status::Conflict, "/name");
    let team = succeeded(&admin, "access/v1/team/create", json!({ "name": "team-x" })).await;
    let not_a_role = call(
        &admin,
        "access/v1/team/grant",
        json!({ "team_id": team["id"], "role": "Not A Role" }),
    )
    .await;
    expect_at(&not_a_role, 400, Status::ValidationError, "/role");
    let unknown = call(
        &admin,
        "access/v1/team/grant",
        json!({ "team_id": team["id"], "role": "no-such-role" }),
    )
    .await;
    expect_at(&unknown, 404, Status::ResourceNotFound, "/role");
    let unknown = call(
        &admin,
        "access/v1/token/create",
        json!({ "name": "t", "role": "no-such-role" }),
    )
    .await;
    expect_at(&unknown, 404, Status::ResourceNotFound, "/role");
}

/// Nobody writes, hands out or carries a role above their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_role_is_a_way_up() {
    no_way_up(&common::start().await).await;
}

pub async fn no_way_up(gw: &TestGateway) {
    let owner = gw.client("");
    let ada = gw.person("ada", "admin").await;
    let mel = gw.person("mel", "member").await;
    let rule = |action: &str| json!([{ "action": action, "effect": "allow" }]);

    // An admin cannot write an owner's action into a role; a member
    // cannot write roles at all.
    let up = call(
        &ada.client,
        "access/v1/role/create",
        json!({ "name": "usurper", "rules": rule("console:org:**") }),
    )
    .await;
    expect_at(&up, 403, Status::Forbidden, "/rules/0/action");
    let member = call(
        &mel.client,
        "access/v1/role/create",
        json!({ "name": "mine", "rules": rule("deploy:**") }),
    )
    .await;
    expect(&member, 403, Status::Forbidden);

    // The owner writes one; an admin may neither grant it, nor give it
    // to a token, nor widen a role it can write.
    succeeded(
        &owner,
        "access/v1/role/create",
        json!({ "name": "org-keeper", "rules": rule("console:org:**") }),
    )
    .await;
    let team = succeeded(
        &ada.client,
        "access/v1/team/create",
        json!({ "name": "keepers" }),
    )
    .await;
    let granted = call(
        &ada.client,
        "access/v1/team/grant",
        json!({ "team_id": team["id"], "role": "org-keeper" }),
    )
    .await;
    expect_at(&granted, 403, Status::Forbidden, "/role");
    let carried = call(
        &ada.client,
        "access/v1/token/create",
        json!({ "name": "keeper", "role": "org-keeper" }),
    )
    .await;
    expect_at(&carried, 403, Status::Forbidden, "/role");
    let own = succeeded(
        &ada.client,
        "access/v1/role/create",
        json!({ "name": "ops", "rules": rule("deploy:**") }),
    )
    .await;
    let widened = call(
        &ada.client,
        "access/v1/role/update",
        json!({ "id": own["id"], "rules": rule("**") }),
    )
    .await;
    expect_at(&widened, 403, Status::Forbidden, "/rules/0/action");
    let by_member = call(
        &mel.client,
        "access/v1/role/update",
        json!({ "id": own["id"], "rules": rule("deploy:environment:list") }),
    )
    .await;
    expect(&by_member, 403, Status::Forbidden);
}

/// A token carrying a custom role does only what its rules allow, on the
/// records they name, and makes no token that may do more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_carries_a_custom_role() {
    carried_by_a_token(&common::start().await).await;
}

pub async fn carried_by_a_token(gw: &TestGateway) {
    let admin = gw.client("");
    let project = gw.project("seen").await["id"].clone();
    let other = gw.project("unseen").await["id"].clone();
    succeeded(
        &admin,
        "access/v1/role/create",
        json!({ "name": "reader", "rules": [
            { "action": "console:project:get", "effect": "allow",
              "resources": [format!("project:{}", project.as_str().unwrap())] },
            { "action": "access:token:create", "effect": "allow" },
            { "action": "access:authz:check", "effect": "allow" },
        ] }),
    )
    .await;
    let issued = succeeded(
        &admin,
        "access/v1/token/create",
        json!({ "name": "reader", "role": "reader" }),
    )
    .await;
    assert_eq!(issued["role"], "reader");
    let reader = gw.client("").with_token(issued["secret"].as_str().unwrap());
    let seen = call(&reader, "console/v1/project/get", json!({ "id": project })).await;
    expect(&seen, 200, Status::Success);
    let unseen = call(&reader, "console/v1/project/get", json!({ "id": other })).await;
    expect(&unseen, 403, Status::Forbidden);
    let listed = call(&reader, "console/v1/project/list", json!({})).await;
    expect(&listed, 403, Status::Forbidden);
    let check = succeeded(
        &reader,
        "access/v1/authz/check",
        json!({ "action": "console:project:get", "resources": [format!("project:{}", other.as_str().unwrap())] }),
    )
    .await;
    assert_eq!(check["ok"], false);
    let unruled = call(&reader, "access/v1/authz/policies", json!({})).await;
    expect(&unruled, 403, Status::Forbidden);

    // Its tokens carry the same role, whatever they ask.
    let wider = call(
        &reader,
        "access/v1/token/create",
        json!({ "name": "w", "role": "admin" }),
    )
    .await;
    expect_at(&wider, 403, Status::Forbidden, "/role");
    let same = succeeded(&reader, "access/v1/token/create", json!({ "name": "same" })).await;
    assert_eq!(same["role"], "reader");
    let in_use = call(&admin, "access/v1/role/list", json!({ "name": "reader" })).await;
    expect(&in_use, 200, Status::Success);
    let id = in_use.envelope.result["results"][0]["id"].clone();
    let refused = call(&admin, "access/v1/role/delete", json!({ "id": id })).await;
    expect_at(&refused, 409, Status::ResourceInUse, "/id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_through_teams_on_sqlite() {
    let gw = common::start().await;
    held_through_teams(&gw).await;
}
