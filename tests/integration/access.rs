//! The access service over HTTP: users, project members and ownership,
//! invites, the audit trail; every action with the roles allowed and
//! denied.

use std::time::Duration;

use actiongate_client::Status;
use serde_json::{json, Value};

use crate::common::{self, expect, expect_at, Person, TestGateway};

/// A project owned by the admin token's user, and people around it: an
/// organization admin, and organization viewers who are the project's
/// admin, member and viewer, and one who is not in it.
struct Team {
    gw: TestGateway,
    project: String,
    org_admin: Person,
    admin: Person,
    member: Person,
    viewer: Person,
    outsider: Person,
}

async fn team() -> Team {
    team_with(|_| {}).await
}

async fn team_with(configure: impl FnOnce(&mut actiongate_gateway::Config)) -> Team {
    let gw = common::start_with(configure).await;
    let project = gw.project("apollo").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let org_admin = gw.person("olga", "admin").await;
    let admin = gw.person("alice", "viewer").await;
    let member = gw.person("bob", "viewer").await;
    let viewer = gw.person("carol", "viewer").await;
    let outsider = gw.person("dave", "viewer").await;
    for (person, role) in [(&admin, "admin"), (&member, "member"), (&viewer, "viewer")] {
        gw.add_member(&project, person, role).await;
    }
    Team {
        gw,
        project,
        org_admin,
        admin,
        member,
        viewer,
        outsider,
    }
}

impl Team {
    async fn members(&self) -> Vec<(String, String)> {
        let reply = self
            .gw
            .call(
                "access/v1/member/list",
                json!({ "project_id": self.project }),
            )
            .await;
        expect(&reply, 200, Status::Success);
        let result = &reply.envelope.result;
        assert_eq!(
            result["count"].as_u64().unwrap() as usize,
            result["results"].as_array().unwrap().len()
        );
        result["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["user_id"].as_str().unwrap().to_owned(),
                    m["role"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    async fn role_of(&self, user_id: &str) -> Option<String> {
        self.members()
            .await
            .into_iter()
            .find(|(id, _)| id == user_id)
            .map(|(_, role)| role)
    }

    async fn owner_id(&self) -> String {
        let owners: Vec<String> = self
            .members()
            .await
            .into_iter()
            .filter(|(_, role)| role == "owner")
            .map(|(id, _)| id)
            .collect();
        assert_eq!(owners.len(), 1, "exactly one owner: {owners:?}");
        owners.into_iter().next().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_me_and_create() {
    let gw = common::start().await;
    let me = gw.call("access/v1/user/me", json!({})).await;
    expect(&me, 200, Status::Success);
    assert_eq!(me.envelope.result["org_id"], json!(gw.org_id));
    assert_eq!(me.envelope.result["role"], "owner");
    assert!(me.envelope.result["id"]
        .as_str()
        .unwrap()
        .starts_with("usr_"));

    let created = gw
        .call(
            "access/v1/user/create",
            json!({ "email": "Ada@Example.com", "name": "Ada" }),
        )
        .await;
    expect(&created, 200, Status::Success);
    let ada = &created.envelope.result;
    assert_eq!(ada["email"], "ada@example.com");
    assert_eq!(ada["name"], "Ada");
    for key in ["id", "email", "name", "created_at", "updated_at"] {
        assert!(ada.get(key).is_some(), "{key} in {ada}");
    }

    // Bad input, each naming its field; nothing is created.
    let duplicate = gw
        .call(
            "access/v1/user/create",
            json!({ "email": "ada@example.com", "name": "Ada again" }),
        )
        .await;
    expect_at(&duplicate, 409, Status::Conflict, "/email");
    let bad_email = gw
        .call(
            "access/v1/user/create",
            json!({ "email": "not an email", "name": "X" }),
        )
        .await;
    expect_at(&bad_email, 400, Status::ValidationError, "/email");
    let bad_role = gw
        .call(
            "access/v1/user/create",
            json!({ "email": "x@example.com", "name": "X", "role": "root" }),
        )
        .await;
    expect_at(&bad_role, 400, Status::ValidationError, "/role");

    // Admins create users, but no owners; members and viewers create none.
    let admin = gw.person("olga", "admin").await;
    let owner_by_admin = admin
        .call(
            "access/v1/user/create",
            json!({ "email": "boss@example.com", "name": "Boss", "role": "owner" }),
        )
        .await;
    expect_at(&owner_by_admin, 400, Status::ValidationError, "/role");
    for role in ["member", "viewer"] {
        let person = gw.person(&format!("p-{role}"), role).await;
        let denied = person
            .call(
                "access/v1/user/create",
                json!({ "email": format!("by-{role}@example.com"), "name": "X" }),
            )
            .await;
        expect(&denied, 403, Status::Forbidden);
        let me = person.call("access/v1/user/me", json!({})).await;
        assert_eq!(me.envelope.result["role"], role);
        assert_eq!(me.envelope.result["email"], json!(person.email));
    }

    // And from the host, with the CLI.
    let out = gw.cli(&[
        "user",
        "create",
        "--email",
        "cli@example.com",
        "--name",
        "From the CLI",
        "--role",
        "viewer",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let token = gw.create_token(&["--user", &id]);
    let me = gw
        .client("")
        .with_token(token)
        .call("access/v1/user/me", &json!({}))
        .await
        .unwrap();
    assert_eq!(me.envelope.result["id"], json!(id));
    assert_eq!(me.envelope.result["role"], "viewer");
    let again = gw.cli(&[
        "user",
        "create",
        "--email",
        "cli@example.com",
        "--name",
        "Twice",
    ]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_are_managed_by_project_admins() {
    let t = team().await;
    let p = &t.project;
    let owner = t.owner_id().await;
    assert_eq!(t.members().await.len(), 4);

    // Everyone in the organization may list; the outsider is an
    // organization viewer, which is a viewer of every project.
    for person in [&t.viewer, &t.outsider] {
        let listed = person
            .call("access/v1/member/list", json!({ "project_id": p }))
            .await;
        expect(&listed, 200, Status::Success);
        assert_eq!(listed.envelope.result["count"], 4);
    }
    let page =
        t.gw.call(
            "access/v1/member/list",
            json!({ "project_id": p, "limit": 2, "offset": 1 }),
        )
        .await;
    assert_eq!(page.envelope.result["results"].as_array().unwrap().len(), 2);
    assert_eq!(page.envelope.result["count"], 4);
    let first = &t.members().await[0];
    assert_eq!(first, &(owner.clone(), "owner".to_owned()));

    // Members and viewers of the project may not add, change or remove.
    for person in [&t.member, &t.viewer, &t.outsider] {
        let add = person
            .call(
                "access/v1/member/add",
                json!({ "project_id": p, "user_id": t.org_admin.id, "role": "viewer" }),
            )
            .await;
        expect(&add, 403, Status::Forbidden);
        let update = person
            .call(
                "access/v1/member/update",
                json!({ "project_id": p, "user_id": t.viewer.id, "role": "admin" }),
            )
            .await;
        expect(&update, 403, Status::Forbidden);
        let remove = person
            .call(
                "access/v1/member/remove",
                json!({ "project_id": p, "user_id": t.admin.id }),
            )
            .await;
        expect(&remove, 403, Status::Forbidden);
    }
    assert_eq!(t.members().await.len(), 4, "denied calls change nothing");

    // The project's admin (an organization viewer) manages members.
    let added = t
        .admin
        .call(
            "access/v1/member/add",
            json!({ "project_id": p, "user_id": t.outsider.id, "role": "viewer" }),
        )
        .await;
    expect(&added, 200, Status::Success);
    assert_eq!(added.envelope.result["email"], json!(t.outsider.email));
    assert_eq!(added.envelope.result["role"], "viewer");
    let updated = t
        .admin
        .call(
            "access/v1/member/update",
            json!({ "project_id": p, "user_id": t.viewer.id, "role": "member" }),
        )
        .await;
    expect(&updated, 200, Status::Success);
    assert_eq!(t.role_of(&t.viewer.id).await.as_deref(), Some("member"));
    // An organization admin is an admin of every project.
    let by_org_admin = t
        .org_admin
        .call(
            "access/v1/member/remove",
            json!({ "project_id": p, "user_id": t.outsider.id }),
        )
        .await;
    expect(&by_org_admin, 200, Status::Success);
    assert_eq!(t.role_of(&t.outsider.id).await, None);
    // Anyone may leave.
    let left = t
        .member
        .call(
            "access/v1/member/remove",
            json!({ "project_id": p, "user_id": t.member.id }),
        )
        .await;
    expect(&left, 200, Status::Success);
    assert_eq!(t.role_of(&t.member.id).await, None);

    // Bad input, each naming its field.
    let again = t
        .admin
        .call(
            "access/v1/member/add",
            json!({ "project_id": p, "user_id": t.viewer.id, "role": "viewer" }),
        )
        .await;
    expect_at(&again, 409, Status::Conflict, "/user_id");
    let bad_role = t
        .admin
        .call(
            "access/v1/member/add",
            json!({ "project_id": p, "user_id": t.member.id, "role": "superuser" }),
        )
        .await;
    expect_at(&bad_role, 400, Status::ValidationError, "/role");
    let second_owner = t
        .admin
        .call(
            "access/v1/member/add",
            json!({ "project_id": p, "user_id": t.member.id, "role": "owner" }),
        )
        .await;
    expect_at(&second_owner, 400, Status::ValidationError, "/role");
    let unknown_user = t
        .admin
        .call(
            "access/v1/member/add",
            json!({ "project_id": p, "user_id": "usr_nobody", "role": "viewer" }),
        )
        .await;
    expect_at(&unknown_user, 404, Status::ResourceNotFound, "/user_id");
    let unknown_project = t
        .admin
        .call(
            "access/v1/member/list",
            json!({ "project_id": "prj_01jd0000000000000000000000" }),
        )
        .await;
    expect(&unknown_project, 404, Status::ResourceNotFound);
    let not_member = t
        .admin
        .call(
            "access/v1/member/update",
            json!({ "project_id": p, "user_id": t.outsider.id, "role": "admin" }),
        )
        .await;
    expect_at(&not_member, 404, Status::ResourceNotFound, "/user_id");

    // The one owner is never removed nor demoted, not even by themself.
    for (path, body) in [
        (
            "access/v1/member/remove",
            json!({ "project_id": p, "user_id": owner }),
        ),
        (
            "access/v1/member/update",
            json!({ "project_id": p, "user_id": owner, "role": "admin" }),
        ),
    ] {
        let refused = t.admin.call(path, body.clone()).await;
        expect_at(&refused, 400, Status::ValidationError, "/user_id");
        let by_owner = t.gw.call(path, body).await;
        expect_at(&by_owner, 400, Status::ValidationError, "/user_id");
    }
    assert_eq!(t.owner_id().await, owner);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ownership_is_transferred_to_a_member() {
    let t = team().await;
    let p = &t.project;
    let old_owner = t.owner_id().await;

    let to_outsider =
        t.gw.call(
            "console/v1/project/transfer",
            json!({ "id": p, "new_owner_id": t.outsider.id }),
        )
        .await;
    expect_at(&to_outsider, 400, Status::ValidationError, "/new_owner_id");
    let to_self =
        t.gw.call(
            "console/v1/project/transfer",
            json!({ "id": p, "new_owner_id": old_owner }),
        )
        .await;
    expect_at(&to_self, 400, Status::ValidationError, "/new_owner_id");
    // Admins (of the project or the organization) do not give ownership away.
    for person in [&t.admin, &t.org_admin, &t.member, &t.viewer] {
        let denied = person
            .call(
                "console/v1/project/transfer",
                json!({ "id": p, "new_owner_id": t.admin.id }),
            )
            .await;
        expect(&denied, 403, Status::Forbidden);
    }
    assert_eq!(t.owner_id().await, old_owner);

    let moved =
        t.gw.call(
            "console/v1/project/transfer",
            json!({ "id": p, "new_owner_id": t.admin.id }),
        )
        .await;
    expect(&moved, 200, Status::Success);
    assert_eq!(moved.envelope.result["id"], json!(p));
    assert_eq!(t.owner_id().await, t.admin.id);
    assert_eq!(t.role_of(&old_owner).await.as_deref(), Some("admin"));

    // The new owner (an organization viewer) may hand it on; a token
    // capped at viewer may not, whoever it acts for.
    let capped =
        t.gw.create_token(&["--user", &t.admin.id, "--role", "viewer"]);
    let denied =
        t.gw.client("")
            .with_token(capped)
            .call(
                "console/v1/project/transfer",
                &json!({ "id": p, "new_owner_id": t.member.id }),
            )
            .await
            .unwrap();
    expect(&denied, 403, Status::Forbidden);
    let onward = t
        .admin
        .call(
            "console/v1/project/transfer",
            json!({ "id": p, "new_owner_id": t.member.id }),
        )
        .await;
    expect(&onward, 200, Status::Success);
    assert_eq!(t.owner_id().await, t.member.id);
    assert_eq!(t.role_of(&t.admin.id).await.as_deref(), Some("admin"));
    let unknown =
        t.gw.call(
            "console/v1/project/transfer",
            json!({ "id": "prj_01jd0000000000000000000000", "new_owner_id": t.member.id }),
        )
        .await;
    expect(&unknown, 404, Status::ResourceNotFound);
}

async fn invite(t: &Team, by: &Person, email: &str, role: &str) -> Value {
    let reply = by
        .call(
            "access/v1/invite/create",
            json!({ "project_id": t.project, "email": email, "role": role }),
        )
        .await;
    expect(&reply, 200, Status::Success);
    reply.envelope.result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invites_are_sent_listed_accepted_and_cancelled() {
    let t = team().await;
    let p = &t.project;
    let erin = t.gw.person("erin", "viewer").await;

    let sent = invite(&t, &t.admin, &erin.email, "member").await;
    let token = sent["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("agi_"), "{token}");
    assert_eq!(sent["state"], "pending");
    assert_eq!(sent["project_name"], "apollo");
    assert!(sent["id"].as_str().unwrap().starts_with("inv_"));

    // Listed without the token, for admins only.
    let listed = t
        .admin
        .call("access/v1/invite/list", json!({ "project_id": p }))
        .await;
    expect(&listed, 200, Status::Success);
    assert_eq!(listed.envelope.result["count"], 1);
    let item = &listed.envelope.result["results"][0];
    assert_eq!(item["email"], json!(erin.email));
    assert!(item.get("token").is_none(), "{item}");
    for person in [&t.member, &t.viewer] {
        for (path, body) in [
            ("access/v1/invite/list", json!({ "project_id": p })),
            (
                "access/v1/invite/create",
                json!({ "project_id": p, "email": "x@example.com", "role": "viewer" }),
            ),
            ("access/v1/invite/cancel", json!({ "id": sent["id"] })),
        ] {
            let denied = person.call(path, body).await;
            expect(&denied, 403, Status::Forbidden);
        }
    }

    // Bad input, each naming its field.
    let twice = t
        .admin
        .call(
            "access/v1/invite/create",
            json!({ "project_id": p, "email": erin.email, "role": "viewer" }),
        )
        .await;
    expect_at(&twice, 409, Status::Conflict, "/email");
    let member_already = t
        .admin
        .call(
            "access/v1/invite/create",
            json!({ "project_id": p, "email": t.member.email, "role": "viewer" }),
        )
        .await;
    expect_at(&member_already, 409, Status::Conflict, "/email");
    for (body, field) in [
        (
            json!({ "project_id": p, "email": "y@example.com", "role": "owner" }),
            "/role",
        ),
        (
            json!({ "project_id": p, "email": "y@example.com", "role": "boss" }),
            "/role",
        ),
        (
            json!({ "project_id": p, "email": "nobody", "role": "viewer" }),
            "/email",
        ),
    ] {
        let bad = t.admin.call("access/v1/invite/create", body).await;
        expect_at(&bad, 400, Status::ValidationError, field);
    }

    // Looked at by token, and in the invitee's own list.
    let got = erin
        .call("access/v1/invite/get", json!({ "token": token }))
        .await;
    expect(&got, 200, Status::Success);
    assert_eq!(got.envelope.result["role"], "member");
    assert_eq!(got.envelope.result["project_name"], "apollo");
    let mine = erin.call("access/v1/invite/mine", json!({})).await;
    assert_eq!(mine.envelope.result["count"], 1);
    let not_mine = t.member.call("access/v1/invite/mine", json!({})).await;
    assert_eq!(not_mine.envelope.result["count"], 0);
    let unknown = erin
        .call("access/v1/invite/get", json!({ "token": "agi_nothing" }))
        .await;
    expect_at(&unknown, 404, Status::ResourceNotFound, "/token");

    // Only its addressee accepts it; then it is used up.
    let stolen = t
        .outsider
        .call("access/v1/invite/accept", json!({ "token": token }))
        .await;
    expect(&stolen, 403, Status::Forbidden);
    let accepted = erin
        .call("access/v1/invite/accept", json!({ "token": token }))
        .await;
    expect(&accepted, 200, Status::Success);
    assert_eq!(accepted.envelope.result["state"], "accepted");
    assert_eq!(accepted.envelope.result["accepted_by"], json!(erin.id));
    assert_eq!(t.role_of(&erin.id).await.as_deref(), Some("member"));
    let again = erin
        .call("access/v1/invite/accept", json!({ "token": token }))
        .await;
    expect_at(&again, 409, Status::Conflict, "/token");
    assert_eq!(again.envelope.result["errors"][0]["code"], "InviteAccepted");
    let cancel_used = t
        .admin
        .call("access/v1/invite/cancel", json!({ "id": sent["id"] }))
        .await;
    expect_at(&cancel_used, 409, Status::Conflict, "/id");
    let none_pending = t
        .admin
        .call("access/v1/invite/list", json!({ "project_id": p }))
        .await;
    assert_eq!(none_pending.envelope.result["count"], 0);

    // A cancelled invite cannot be accepted.
    let frank = t.gw.person("frank", "viewer").await;
    let second = invite(&t, &t.org_admin, &frank.email, "viewer").await;
    let cancelled = t
        .admin
        .call("access/v1/invite/cancel", json!({ "id": second["id"] }))
        .await;
    expect(&cancelled, 200, Status::Success);
    assert_eq!(cancelled.envelope.result["state"], "cancelled");
    let refused = frank
        .call(
            "access/v1/invite/accept",
            json!({ "token": second["token"] }),
        )
        .await;
    expect_at(&refused, 409, Status::Conflict, "/token");
    assert_eq!(
        refused.envelope.result["errors"][0]["code"],
        "InviteCancelled"
    );
    assert_eq!(t.role_of(&frank.id).await, None);
    let unknown_id = t
        .admin
        .call("access/v1/invite/cancel", json!({ "id": "inv_nothing" }))
        .await;
    expect_at(&unknown_id, 404, Status::ResourceNotFound, "/id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invites_expire() {
    let t = team_with(|config| {
        config.services.insert(
            "access".to_owned(),
            figment::value::Value::from(figment::value::Dict::from([(
                "invite_ttl".to_owned(),
                figment::value::Value::from("300ms"),
            )])),
        );
    })
    .await;
    let erin = t.gw.person("erin", "viewer").await;
    let sent = invite(&t, &t.admin, &erin.email, "viewer").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let got = erin
        .call("access/v1/invite/get", json!({ "token": sent["token"] }))
        .await;
    assert_eq!(got.envelope.result["state"], "expired");
    let mine = erin.call("access/v1/invite/mine", json!({})).await;
    assert_eq!(mine.envelope.result["count"], 0);
    let expired = erin
        .call("access/v1/invite/accept", json!({ "token": sent["token"] }))
        .await;
    expect_at(&expired, 409, Status::Conflict, "/token");
    assert_eq!(
        expired.envelope.result["errors"][0]["code"],
        "InviteExpired"
    );
    assert_eq!(t.role_of(&erin.id).await, None);
    // A new invite may be sent once the old one has lapsed.
    invite(&t, &t.admin, &erin.email, "viewer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_is_in_the_audit_trail() {
    let t = team().await;
    let added = t
        .admin
        .call(
            "access/v1/member/update",
            json!({ "project_id": t.project, "user_id": t.viewer.id, "role": "member" }),
        )
        .await;
    expect(&added, 200, Status::Success);
    // Reads and refused calls are not changes.
    t.admin
        .call("access/v1/member/list", json!({ "project_id": t.project }))
        .await;
    let denied = t
        .member
        .call(
            "access/v1/member/remove",
            json!({ "project_id": t.project, "user_id": t.admin.id }),
        )
        .await;
    expect(&denied, 403, Status::Forbidden);

    let trail = t
        .org_admin
        .call("access/v1/audit/list", json!({ "limit": 100 }))
        .await;
    expect(&trail, 200, Status::Success);
    let events = trail.envelope.result["results"].as_array().unwrap().clone();
    // Newest first: the update, then the three member/adds, five user
    // creations and the project.
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "access/v1/member/update",
            "access/v1/member/add",
            "access/v1/member/add",
            "access/v1/member/add",
            "access/v1/user/create",
            "access/v1/user/create",
            "access/v1/user/create",
            "access/v1/user/create",
            "access/v1/user/create",
            "console/v1/project/create",
        ]
    );
    let latest = &events[0];
    assert_eq!(latest["user_id"], json!(t.admin.id));
    assert_eq!(
        latest["request_id"],
        json!(added.envelope.request_id.to_string())
    );
    assert_eq!(
        latest["target"],
        json!(format!("{}/{}", t.project, t.viewer.id))
    );
    assert_eq!(events[9]["target"], json!(t.project));

    let filtered = t
        .org_admin
        .call(
            "access/v1/audit/list",
            json!({ "filter": { "user_id": t.admin.id } }),
        )
        .await;
    assert_eq!(filtered.envelope.result["count"], 1);
    for person in [&t.admin, &t.member, &t.viewer] {
        let denied = person.call("access/v1/audit/list", json!({})).await;
        expect(&denied, 403, Status::Forbidden);
    }
}
