//! An organization's members (`access/v1/member/*` with `org_id`) and its
//! ownership (`console/v1/org/transfer`): roles granted no higher than the
//! granter's, the owner and the last owner kept until a transfer, and
//! every change holding from the next request, tokens included.

use actiongate_client::Status;
use serde_json::json;

use crate::common::{self, expect, expect_at, TestGateway};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_the_organizations_members_within_their_own_role() {
    let gw = common::start().await;
    managed_within_reach(&gw).await;
}

/// Organization members managed by an admin, on either database.
pub async fn managed_within_reach(gw: &TestGateway) {
    let org = gw.org_id.clone();
    let ann = gw.person("ann", "admin").await;
    let bob = gw.person("bob", "member").await;

    let listed = gw
        .call("access/v1/member/list", json!({ "org_id": org }))
        .await;
    expect(&listed, 200, Status::Success);
    let roles: Vec<(String, String)> = listed.envelope.result["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user_id"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(roles.contains(&(ann.id.clone(), "admin".into())));
    assert!(roles.contains(&(bob.id.clone(), "member".into())));
    assert_eq!(listed.envelope.result["results"][0]["org_id"], org.as_str());

    // Bob's token cannot make projects; promoted, it can at once.
    let before = bob
        .call("console/v1/project/create", json!({ "name": "bobs" }))
        .await;
    expect(&before, 403, Status::Forbidden);
    let promoted = ann
        .call(
            "access/v1/member/update",
            json!({ "org_id": org, "user_id": bob.id, "role": "admin" }),
        )
        .await;
    expect(&promoted, 200, Status::Success);
    let after = bob
        .call("console/v1/project/create", json!({ "name": "bobs" }))
        .await;
    expect(&after, 200, Status::Success);

    // Nobody reaches above their own role.
    let to_owner = ann
        .call(
            "access/v1/member/update",
            json!({ "org_id": org, "user_id": bob.id, "role": "owner" }),
        )
        .await;
    expect_at(&to_owner, 403, Status::Forbidden, "/role");
    let owner_id = gw
        .call("access/v1/user/me", json!({}))
        .await
        .envelope
        .result["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let demote_owner = ann
        .call(
            "access/v1/member/update",
            json!({ "org_id": org, "user_id": owner_id, "role": "viewer" }),
        )
        .await;
    expect_at(&demote_owner, 403, Status::Forbidden, "/user_id");
    let by_member = gw.person("cy", "member").await;
    let escalate = by_member
        .call(
            "access/v1/member/update",
            json!({ "org_id": org, "user_id": by_member.id, "role": "admin" }),
        )
        .await;
    expect(&escalate, 403, Status::Forbidden);
    // The owner, the last one, stays until a transfer.
    let last_owner = gw
        .call(
            "access/v1/member/update",
            json!({ "org_id": org, "user_id": owner_id, "role": "admin" }),
        )
        .await;
    expect_at(&last_owner, 409, Status::ResourceInUse, "/user_id");
    let remove_owner = gw
        .call(
            "access/v1/member/remove",
            json!({ "org_id": org, "user_id": owner_id }),
        )
        .await;
    expect_at(&remove_owner, 409, Status::ResourceInUse, "/user_id");

    // A member who owns a project hands it over before leaving.
    let owns = ann
        .call(
            "access/v1/member/remove",
            json!({ "org_id": org, "user_id": bob.id }),
        )
        .await;
    expect_at(&owns, 409, Status::ResourceInUse, "/user_id");

    // Removed: their token stops at the next request.
    let removed = ann
        .call(
            "access/v1/member/remove",
            json!({ "org_id": org, "user_id": by_member.id }),
        )
        .await;
    expect(&removed, 200, Status::Success);
    let gone = by_member.call("access/v1/user/me", json!({})).await;
    expect(&gone, 401, Status::Unauthorized);
    // And added back, by id.
    let back = ann
        .call(
            "access/v1/member/add",
            json!({ "org_id": org, "user_id": by_member.id, "role": "viewer" }),
        )
        .await;
    expect(&back, 200, Status::Success);
    let again = ann
        .call(
            "access/v1/member/add",
            json!({ "org_id": org, "user_id": by_member.id, "role": "viewer" }),
        )
        .await;
    expect_at(&again, 409, Status::Conflict, "/user_id");
    let returns = by_member.call("access/v1/user/me", json!({})).await;
    expect(&returns, 200, Status::Success);
    assert_eq!(returns.envelope.result["role"], "viewer");

    // One place per call, and only the caller's organization.
    let project = gw.project("placed").await["id"].clone();
    let both = gw
        .call(
            "access/v1/member/list",
            json!({ "org_id": org, "project_id": project }),
        )
        .await;
    expect_at(&both, 400, Status::ValidationError, "/org_id");
    let neither = gw.call("access/v1/member/list", json!({})).await;
    expect_at(&neither, 400, Status::ValidationError, "/project_id");
    let elsewhere = gw
        .call("access/v1/member/list", json!({ "org_id": "org_other" }))
        .await;
    expect_at(&elsewhere, 404, Status::ResourceNotFound, "/org_id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ownership_moves_with_org_transfer() {
    let gw = common::start().await;
    transferred(&gw).await;
}

/// The organization handed over, and its old owner leaving, on either
/// database.
pub async fn transferred(gw: &TestGateway) {
    let org = gw.org_id.clone();
    let heir = gw.person("hal", "admin").await;
    let owner_id = gw
        .call("access/v1/user/me", json!({}))
        .await
        .envelope
        .result["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let stranger = gw
        .call(
            "console/v1/org/transfer",
            json!({ "id": org, "new_owner_id": "usr_nobody" }),
        )
        .await;
    expect_at(&stranger, 404, Status::ResourceNotFound, "/new_owner_id");
    let not_owner = heir
        .call(
            "console/v1/org/transfer",
            json!({ "id": org, "new_owner_id": heir.id }),
        )
        .await;
    expect(&not_owner, 403, Status::Forbidden);

    let moved = gw
        .call(
            "console/v1/org/transfer",
            json!({ "id": org, "new_owner_id": heir.id }),
        )
        .await;
    expect(&moved, 200, Status::Success);
    assert_eq!(moved.envelope.result["owner"], heir.id.as_str());
    // The old owner is an admin from the next request.
    let me = gw.call("access/v1/user/me", json!({})).await;
    assert_eq!(me.envelope.result["role"], "admin");
    let heir_me = heir.call("access/v1/user/me", json!({})).await;
    assert_eq!(heir_me.envelope.result["role"], "owner");
    let back = gw
        .call(
            "console/v1/org/transfer",
            json!({ "id": org, "new_owner_id": owner_id }),
        )
        .await;
    expect(&back, 403, Status::Forbidden);
    // Now the old owner may leave.
    let leave = gw
        .call(
            "access/v1/member/remove",
            json!({ "org_id": org, "user_id": owner_id }),
        )
        .await;
    expect(&leave, 200, Status::Success);
    let gone = gw.call("access/v1/user/me", json!({})).await;
    expect(&gone, 401, Status::Unauthorized);
}

/// Invites to the organization as a whole, on either database.
pub async fn invited_to_the_organization(gw: &TestGateway) {
    let org = gw.org_id.clone();
    let ok = |reply: actiongate_client::Reply| {
        expect(&reply, 200, Status::Success);
        reply.envelope.result
    };
    let member = gw.person("mem", "member").await;
    // Someone of another organization, with a token there.
    let elsewhere = ok(gw
        .call("console/v1/org/create", json!({ "name": "elsewhere" }))
        .await);
    let elsewhere_id = elsewhere["id"].as_str().unwrap().to_owned();
    let theirs = gw
        .client("")
        .with_token(gw.create_token(&["--org", &elsewhere_id]));
    let outsider = ok(theirs
        .call(
            "access/v1/user/create",
            &json!({ "email": "out@example.com", "name": "out", "role": "viewer" }),
        )
        .await
        .unwrap());
    let outsider_id = outsider["id"].as_str().unwrap().to_owned();
    let outsider_token = gw.create_token(&["--org", &elsewhere_id, "--user", &outsider_id]);
    let outsider_client = gw.client("").with_token(&outsider_token);

    let invite = ok(gw
        .call(
            "access/v1/invite/create",
            json!({ "org_id": org, "email": "out@example.com", "role": "member" }),
        )
        .await);
    assert!(invite["project_id"].is_null());
    assert_eq!(invite["org_id"], org.as_str());
    let token = invite["token"].as_str().unwrap().to_owned();
    let again = gw
        .call(
            "access/v1/invite/create",
            json!({ "org_id": org, "email": "out@example.com", "role": "member" }),
        )
        .await;
    expect_at(&again, 409, Status::Conflict, "/email");
    let already = gw
        .call(
            "access/v1/invite/create",
            json!({ "org_id": org, "email": member.email, "role": "viewer" }),
        )
        .await;
    expect_at(&already, 409, Status::Conflict, "/email");
    let by_member = member
        .call(
            "access/v1/invite/create",
            json!({ "org_id": org, "email": "x@example.com", "role": "viewer" }),
        )
        .await;
    expect(&by_member, 403, Status::Forbidden);
    let pending = ok(gw
        .call("access/v1/invite/list", json!({ "org_id": org }))
        .await);
    assert_eq!(pending["count"], 1);
    // Another organization's admins neither see nor cancel it.
    let foreign_cancel = theirs
        .call("access/v1/invite/cancel", &json!({ "id": invite["id"] }))
        .await
        .unwrap();
    expect(&foreign_cancel, 404, Status::ResourceNotFound);

    // The invitee finds it, and accepting makes them a member here.
    let mine = ok(outsider_client
        .call("access/v1/invite/mine", &json!({}))
        .await
        .unwrap());
    assert_eq!(mine["results"][0]["id"], invite["id"]);
    let accepted = ok(outsider_client
        .call("access/v1/invite/accept", &json!({ "token": token }))
        .await
        .unwrap());
    assert_eq!(accepted["state"], "accepted");
    let members = ok(gw
        .call("access/v1/member/list", json!({ "org_id": org }))
        .await);
    let joined = members["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == outsider_id.as_str())
        .expect("the invitee is a member")
        .clone();
    assert_eq!(joined["role"], "member");
    let here = gw.create_token(&["--org", &org, "--user", &outsider_id]);
    let me = ok(gw
        .client("")
        .with_token(&here)
        .call("access/v1/user/me", &json!({}))
        .await
        .unwrap());
    assert_eq!(me["role"], "member");

    // An organization invite is cancelled by its admins.
    let second = ok(gw
        .call(
            "access/v1/invite/create",
            json!({ "org_id": org, "email": "late@example.com", "role": "viewer" }),
        )
        .await);
    let cancelled = ok(gw
        .call("access/v1/invite/cancel", json!({ "id": second["id"] }))
        .await);
    assert_eq!(cancelled["state"], "cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_to_the_organization_makes_a_member_of_it() {
    let gw = common::start().await;
    invited_to_the_organization(&gw).await;
}
