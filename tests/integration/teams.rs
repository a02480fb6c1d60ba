//! Teams (`access/v1/team/*`): a team carries a role onto a project or the
//! whole organization to its members, from the next request; nobody hands
//! out more than they hold through a team; lists filter and order. The
//! shared part runs on PostgreSQL too, and across two nodes
//! (`postgres.rs`).

use actiongate_client::{Client, Status};
use serde_json::{json, Value};

use crate::common::{self, expect, expect_at, succeeded, TestGateway};

/// `user_id`'s entry in `member/list` of `project`, as `admin` reads it.
pub async fn listed_member(admin: &Client, project: &Value, user_id: &str) -> Value {
    let members = succeeded(
        admin,
        "access/v1/member/list",
        json!({ "project_id": project }),
    )
    .await;
    members["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == user_id)
        .unwrap_or_else(|| panic!("{user_id} is listed in {project}"))
        .clone()
}

/// Whether `client` may create an environment in `project` (a member's
/// action there).
async fn may_build_in(client: &Client, project: &Value, name: &str) -> bool {
    let reply = client
        .call(
            "deploy/v1/environment/create",
            &json!({ "project_id": project, "name": name }),
        )
        .await
        .unwrap();
    match reply.http_status {
        200 => true,
        403 => false,
        other => panic!("environment/create answered {other}: {:?}", reply.envelope),
    }
}

/// Grants through a team, taken back every way, on either database.
pub async fn roles_carried_by_teams(gw: &TestGateway) {
    let admin = gw.client("");
    let project = gw.project("teamed").await["id"].clone();
    let tia = gw.person("tia", "viewer").await;
    let team = succeeded(
        &admin,
        "access/v1/team/create",
        json!({ "name": "ops", "display_name": "Operations" }),
    )
    .await;
    let team_id = team["id"].clone();
    succeeded(
        &admin,
        "access/v1/team/member/add",
        json!({ "team_id": team_id, "user_id": tia.id }),
    )
    .await;
    assert!(!may_build_in(&tia.client, &project, "before").await);

    // Onto one project.
    let granted = succeeded(
        &admin,
        "access/v1/team/grant",
        json!({ "team_id": team_id, "project_id": project, "role": "member" }),
    )
    .await;
    assert_eq!(
        granted["grants"],
        json!([{ "project_id": project, "role": "member" }])
    );
    assert_eq!(granted["members"], 1);
    assert!(may_build_in(&tia.client, &project, "through-ops").await);
    let listed = listed_member(&admin, &project, &tia.id).await;
    assert_eq!(listed["role"], "member");
    assert_eq!(listed["teams"], json!(["ops"]));

    // Onto the whole organization: her organization role rises.
    succeeded(
        &admin,
        "access/v1/team/grant",
        json!({ "team_id": team_id, "role": "admin" }),
    )
    .await;
    let me = succeeded(&tia.client, "access/v1/user/me", json!({})).await;
    assert_eq!(me["role"], "admin");
    let made = tia
        .client
        .call("console/v1/project/create", &json!({ "name": "tias" }))
        .await
        .unwrap();
    expect(&made, 200, Status::Success);
    let tias = made.envelope.result["id"].clone();
    succeeded(
        &admin,
        "access/v1/team/revoke",
        json!({ "team_id": team_id }),
    )
    .await;
    let me = succeeded(&tia.client, "access/v1/user/me", json!({})).await;
    assert_eq!(me["role"], "viewer");

    // Out of the team, or the team gone: nothing carried.
    succeeded(
        &admin,
        "access/v1/team/member/remove",
        json!({ "team_id": team_id, "user_id": tia.id }),
    )
    .await;
    assert!(!may_build_in(&tia.client, &project, "after-leaving").await);
    succeeded(
        &admin,
        "access/v1/team/member/add",
        json!({ "team_id": team_id, "user_id": tia.id }),
    )
    .await;
    assert!(may_build_in(&tia.client, &project, "back-in").await);
    // Leaving the organization (her project gone first) takes her out of
    // its teams.
    let deleted = admin
        .call("console/v1/project/delete", &json!({ "id": tias }))
        .await
        .unwrap();
    let deleted = admin.wait(deleted, common::WAIT).await.unwrap();
    expect(&deleted, 200, Status::Success);
    succeeded(
        &admin,
        "access/v1/member/remove",
        json!({ "org_id": gw.org_id, "user_id": tia.id }),
    )
    .await;
    let team_now = succeeded(&admin, "access/v1/team/get", json!({ "id": team_id })).await;
    assert_eq!(team_now["members"], 0);
    succeeded(
        &admin,
        "access/v1/member/add",
        json!({ "org_id": gw.org_id, "user_id": tia.id, "role": "viewer" }),
    )
    .await;
    assert!(!may_build_in(&tia.client, &project, "rejoined").await);
    succeeded(
        &admin,
        "access/v1/team/member/add",
        json!({ "team_id": team_id, "user_id": tia.id }),
    )
    .await;
    succeeded(&admin, "access/v1/team/delete", json!({ "id": team_id })).await;
    assert!(!may_build_in(&tia.client, &project, "team-gone").await);
    let gone = admin
        .call("access/v1/team/get", &json!({ "id": team_id }))
        .await
        .unwrap();
    expect(&gone, 404, Status::ResourceNotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_carries_its_roles_to_its_members_from_the_next_request() {
    let gw = common::start().await;
    roles_carried_by_teams(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_hands_out_more_than_they_hold_through_a_team() {
    let gw = common::start().await;
    let owner = gw.client("");
    let ann = gw.person("ann", "admin").await;
    let mo = gw.person("mo", "member").await;
    let project = gw.project("guarded").await["id"].clone();

    let owners = succeeded(&owner, "access/v1/team/create", json!({ "name": "owners" })).await;
    succeeded(
        &owner,
        "access/v1/team/grant",
        json!({ "team_id": owners["id"], "role": "owner" }),
    )
    .await;
    // An admin cannot add anyone to a team carrying the owner's role...
    let into_owners = ann
        .call(
            "access/v1/team/member/add",
            json!({ "team_id": owners["id"], "user_id": mo.id }),
        )
        .await;
    expect_at(&into_owners, 403, Status::Forbidden, "/team_id");
    // ...nor grant it, nor take it back.
    let helpers = succeeded(
        &ann.client,
        "access/v1/team/create",
        json!({ "name": "helpers" }),
    )
    .await;
    let to_owner = ann
        .call(
            "access/v1/team/grant",
            json!({ "team_id": helpers["id"], "role": "owner" }),
        )
        .await;
    expect_at(&to_owner, 403, Status::Forbidden, "/role");
    let revoke_owner = ann
        .call("access/v1/team/revoke", json!({ "team_id": owners["id"] }))
        .await;
    expect_at(&revoke_owner, 403, Status::Forbidden, "/team_id");
    // A project has one owner; no team carries it there.
    let project_owner = owner
        .call(
            "access/v1/team/grant",
            &json!({ "team_id": helpers["id"], "project_id": project, "role": "owner" }),
        )
        .await
        .unwrap();
    expect_at(&project_owner, 400, Status::ValidationError, "/role");
    // A member manages no team, nor adds themself to one.
    for (path, body) in [
        ("access/v1/team/create", json!({ "name": "mine" })),
        (
            "access/v1/team/member/add",
            json!({ "team_id": helpers["id"], "user_id": mo.id }),
        ),
        (
            "access/v1/team/grant",
            json!({ "team_id": helpers["id"], "role": "viewer" }),
        ),
    ] {
        let refused = mo.call(path, body).await;
        expect(&refused, 403, Status::Forbidden);
    }
    // Another organization's project is out of reach.
    let other_org = succeeded(
        &owner,
        "console/v1/org/create",
        json!({ "name": "elsewhere" }),
    )
    .await;
    let other_token = gw.create_token(&["--org", other_org["id"].as_str().unwrap()]);
    let other = gw.client("").with_token(&other_token);
    let foreign = succeeded(
        &other,
        "console/v1/project/create",
        json!({ "name": "foreign" }),
    )
    .await;
    let cross = owner
        .call(
            "access/v1/team/grant",
            &json!({ "team_id": helpers["id"], "project_id": foreign["id"], "role": "viewer" }),
        )
        .await
        .unwrap();
    expect_at(&cross, 404, Status::ResourceNotFound, "/project_id");
    let foreign_team = other
        .call("access/v1/team/get", &json!({ "id": helpers["id"] }))
        .await
        .unwrap();
    expect(&foreign_team, 404, Status::ResourceNotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_are_listed_by_name_member_and_order() {
    let gw = common::start().await;
    let admin = gw.client("");
    let zed = gw.person("zed", "member").await;
    for name in ["beta", "alpha", "gamma"] {
        succeeded(&admin, "access/v1/team/create", json!({ "name": name })).await;
    }
    let twice = admin
        .call("access/v1/team/create", &json!({ "name": "alpha" }))
        .await
        .unwrap();
    expect_at(&twice, 409, Status::Conflict, "/name");
    let bad = admin
        .call("access/v1/team/create", &json!({ "name": "No Spaces" }))
        .await
        .unwrap();
    expect_at(&bad, 400, Status::ValidationError, "/name");
    let names = |page: &Value| -> Vec<String> {
        page["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let by_name = succeeded(&admin, "access/v1/team/list", json!({})).await;
    assert_eq!(names(&by_name), ["alpha", "beta", "gamma"]);
    let newest = succeeded(
        &admin,
        "access/v1/team/list",
        json!({ "order_by": "-created_at" }),
    )
    .await;
    assert_eq!(names(&newest), ["gamma", "alpha", "beta"]);
    let gamma = succeeded(&admin, "access/v1/team/list", json!({ "name": "gamma" })).await;
    assert_eq!(gamma["count"], 1);
    succeeded(
        &admin,
        "access/v1/team/member/add",
        json!({ "team_id": gamma["results"][0]["id"], "user_id": zed.id }),
    )
    .await;
    let zeds = succeeded(&admin, "access/v1/team/list", json!({ "member": zed.id })).await;
    assert_eq!(names(&zeds), ["gamma"]);
    let members = succeeded(
        &zed.client,
        "access/v1/team/member/list",
        json!({ "team_id": gamma["results"][0]["id"] }),
    )
    .await;
    assert_eq!(members["results"][0]["email"], "zed@example.com");
    // Anyone may leave.
    succeeded(
        &zed.client,
        "access/v1/team/member/remove",
        json!({ "team_id": gamma["results"][0]["id"], "user_id": zed.id }),
    )
    .await;
}
