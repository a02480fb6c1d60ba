//! The console service: Pangea's v1beta surface and the v1 one, and the
//! isolation of organizations.

use actiongate_client::{Client, Status};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

use crate::common::{self, expect};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1beta_org_get_and_update() {
    let gw = common::start().await;
    let console = gw.client("api.console");
    let reply = console
        .call("v1beta/platform/org/get", &json!({ "id": gw.org_id }))
        .await
        .unwrap();
    expect(&reply, 200, Status::Success);
    let org = &reply.envelope.result;
    assert_eq!(org["name"], "default");
    assert_eq!(org["owner_email"], "admin@localhost");
    assert!(org["owner"].as_str().unwrap().starts_with("usr_"));
    for key in [
        "id",
        "name",
        "owner",
        "owner_email",
        "csp",
        "created_at",
        "updated_at",
    ] {
        assert!(org.get(key).is_some(), "{key}");
    }
    let reply = console
        .call(
            "v1beta/platform/org/update",
            &json!({ "id": gw.org_id, "name": "Acme" }),
        )
        .await
        .unwrap();
    expect(&reply, 200, Status::Success);
    assert_eq!(reply.envelope.result["name"], "Acme");
    let reply = console
        .call("v1beta/platform/org/update", &json!({ "id": gw.org_id }))
        .await
        .unwrap();
    expect(&reply, 400, Status::ValidationError);
    assert_eq!(reply.envelope.result["errors"][0]["source"], "/name");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1beta_project_lifecycle() {
    let gw = common::start().await;
    let console = gw.client("api.console");
    let mut ids = Vec::new();
    for (name, geo, region) in [
        ("Payments", "us", None),
        ("Billing", "us", Some("us-east-1")),
        ("Berlin", "eu", None),
    ] {
        let mut body = json!({ "org_id": gw.org_id, "name": name, "geo": geo });
        if let Some(region) = region {
            body["region"] = json!(region);
        }
        let reply = console
            .call("v1beta/platform/project/create", &body)
            .await
            .unwrap();
        expect(&reply, 200, Status::Success);
        let project = &reply.envelope.result;
        assert!(project["id"].as_str().unwrap().starts_with("prj_"));
        assert_eq!(project["org"], gw.org_id.as_str());
        assert_eq!(project["geo"], geo);
        ids.push(project["id"].as_str().unwrap().to_owned());
    }
    // The default region is the geo's first.
    let reply = console
        .call("v1beta/platform/project/get", &json!({ "id": ids[0] }))
        .await
        .unwrap();
    assert_eq!(reply.envelope.result["region"], "us-west-1");

    let list = |body: Value| {
        let console = console.clone();
        async move {
            let reply = console
                .call("v1beta/platform/project/list", &body)
                .await
                .unwrap();
            expect(&reply, 200, Status::Success);
            reply.envelope.result
        }
    };
    let all = list(json!({ "org_id": gw.org_id })).await;
    assert_eq!(all["count"], 3);
    assert_eq!(all["offset"], 0);
    assert_eq!(all["results"].as_array().unwrap().len(), 3);

    let eu = list(json!({ "org_id": gw.org_id, "filter": { "geo": "eu" } })).await;
    assert_eq!(eu["count"], 1);
    assert_eq!(eu["results"][0]["name"], "Berlin");
    let east = list(json!({ "org_id": gw.org_id, "filter": { "region": "us-east-1" } })).await;
    assert_eq!(east["results"][0]["name"], "Billing");
    // Search: comma-separated keywords against id, name or owner's email.
    let found = list(json!({ "org_id": gw.org_id, "filter": { "search": "pay, berl" } })).await;
    assert_eq!(found["count"], 2);
    let by_id = list(json!({ "org_id": gw.org_id, "filter": { "search": ids[1] } })).await;
    assert_eq!(by_id["results"][0]["name"], "Billing");
    let by_owner =
        list(json!({ "org_id": gw.org_id, "filter": { "search": "admin@local" } })).await;
    assert_eq!(by_owner["count"], 3);
    let none = list(json!({ "org_id": gw.org_id, "filter": { "search": "%" } })).await;
    assert_eq!(none["count"], 0, "LIKE wildcards are matched literally");
    // Paging: count is all matches, results one page.
    let page = list(json!({ "org_id": gw.org_id, "offset": 1, "limit": 1 })).await;
    assert_eq!(page["count"], 3);
    assert_eq!(page["offset"], 1);
    assert_eq!(page["results"].as_array().unwrap().len(), 1);
    assert_eq!(page["results"][0]["id"], ids[1].as_str());

    let reply = console
        .call(
            "v1beta/platform/project/update",
            &json!({ "id": ids[0], "name": "Payments v2" }),
        )
        .await
        .unwrap();
    expect(&reply, 200, Status::Success);
    assert_eq!(reply.envelope.result["name"], "Payments v2");

    let reply = console
        .call("v1beta/platform/project/delete", &json!({ "id": ids[0] }))
        .await
        .unwrap();
    expect(&reply, 202, Status::Accepted);
    let done = console
        .wait(reply, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    expect(&done, 200, Status::Success);
    let reply = console
        .call("v1beta/platform/project/get", &json!({ "id": ids[0] }))
        .await
        .unwrap();
    expect(&reply, 404, Status::ResourceNotFound);

    // v1beta requires org_id where the seed does.
    let reply = console
        .call("v1beta/platform/project/list", &json!({}))
        .await
        .unwrap();
    expect(&reply, 400, Status::ValidationError);
    assert_eq!(reply.envelope.result["errors"][0]["source"], "/org_id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_projects_with_seed_004_fields() {
    let gw = common::start().await;
    let console = gw.client("console");
    let reply = console
        .call(
            "v1/project/create",
            &json!({
                "name": "my-saas",
                "display_name": "My SaaS App",
                "description": "Production SaaS application",
                "color": "#3B82F6",
                "single_server_mode": true,
                "default_server_id": "550e8400-e29b-41d4-a716-446655440000"
            }),
        )
        .await
        .unwrap();
    expect(&reply, 200, Status::Success);
    let project = reply.envelope.result.clone();
    assert_eq!(project["display_name"], "My SaaS App");
    assert_eq!(project["color"], "#3B82F6");
    assert_eq!(project["single_server_mode"], true);
    assert_eq!(project["auto_error_tracking_enabled"], false);
    assert!(project["icon_path"].is_null());
    assert_eq!(project["geo"], "us", "the configured default geo");

    // Only the fields sent change.
    let reply = console
        .call(
            "v1/project/update",
            &json!({ "id": project["id"], "name": "my-saas-v2", "auto_error_tracking_enabled": true }),
        )
        .await
        .unwrap();
    expect(&reply, 200, Status::Success);
    let updated = reply.envelope.result.clone();
    assert_eq!(updated["name"], "my-saas-v2");
    assert_eq!(updated["auto_error_tracking_enabled"], true);
    assert_eq!(updated["description"], "Production SaaS application");

    // if_updated_at: the current value passes, a stale one is a Conflict.
    let reply = console
        .call(
            "v1/project/update",
            &json!({ "id": project["id"], "description": "x", "if_updated_at": updated["updated_at"] }),
        )
        .await
        .unwrap();
    expect(&reply, 200, Status::Success);
    let reply = console
        .call(
            "v1/project/update",
            &json!({ "id": project["id"], "description": "y", "if_updated_at": updated["updated_at"] }),
        )
        .await
        .unwrap();
    expect(&reply, 409, Status::Conflict);

    // order_by
    gw.project("aaa").await;
    let reply = console
        .call("v1/project/list", &json!({ "order_by": "-name" }))
        .await
        .unwrap();
    let names: Vec<&str> = reply.envelope.result["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["my-saas-v2", "aaa"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_organizations() {
    let gw = common::start().await;
    let console = gw.client("console");
    let reply = console.call("v1/org/list", &json!({})).await.unwrap();
    assert_eq!(reply.envelope.result["count"], 1);

    let reply = console
        .call("v1/org/create", &json!({ "name": "Second" }))
        .await
        .unwrap();
    expect(&reply, 200, Status::Success);
    let second = reply.envelope.result["id"].as_str().unwrap().to_owned();
    assert!(second.starts_with("org_"));
    // The admin token stays bound to its own organization.
    let reply = console
        .call("v1/org/get", &json!({ "id": second }))
        .await
        .unwrap();
    expect(&reply, 404, Status::ResourceNotFound);

    // A token for the new organization sees it, and may delete it.
    let token = gw.create_token(&["--org", &second]);
    let theirs = Client::new(format!("{}/console", gw.url), &token);
    let reply = theirs
        .call(
            "v1/org/update",
            &json!({ "id": second, "name": "Second Inc" }),
        )
        .await
        .unwrap();
    expect(&reply, 200, Status::Success);
    theirs
        .call("v1/project/create", &json!({ "name": "p" }))
        .await
        .unwrap();
    let access = Client::new(format!("{}/access", gw.url), &token);
    let role = access
        .call(
            "v1/role/create",
            &json!({ "name": "theirs", "rules": [{ "action": "deploy:**", "effect": "allow" }] }),
        )
        .await
        .unwrap();
    expect(&role, 200, Status::Success);
    let reply = theirs
        .call("v1/org/delete", &json!({ "id": second }))
        .await
        .unwrap();
    expect(&reply, 202, Status::Accepted);
    // Deleting an organization revokes its tokens, from the next request:
    // the poll sees the deletion's end if it was already waiting when the
    // deletion committed, and is refused if it came after.
    let done = theirs
        .wait(reply, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        matches!(
            (done.http_status, done.envelope.status),
            (200, Status::Success) | (401, Status::Unauthorized)
        ),
        "{:?}",
        done.envelope
    );
    let reply = theirs.call("v1/org/list", &json!({})).await.unwrap();
    expect(&reply, 401, Status::Unauthorized);
    // Its custom roles go with it.
    let url = format!(
        "sqlite://{}?mode=ro",
        gw.dir.path().join("actiongate.db").display()
    );
    let db = crate::common::database(&url).await;
    let left = actiongate_entity::role::Entity::find()
        .filter(actiongate_entity::role::Column::OrgId.eq(&second))
        .count(&db)
        .await
        .unwrap();
    assert_eq!(left, 0, "the deleted organization's roles remain");
    let orgs_left = actiongate_entity::organization::Entity::find_by_id(&second)
        .count(&db)
        .await
        .unwrap();
    assert_eq!(orgs_left, 0, "the organization is gone");
    // The first organization and its projects are untouched.
    expect(
        &console
            .call("v1/org/get", &json!({ "id": gw.org_id }))
            .await
            .unwrap(),
        200,
        Status::Success,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_organizations_records_look_like_missing_ones() {
    let gw = common::start().await;
    let mine = gw.project("mine").await;
    let reply = gw
        .call("console/v1/org/create", json!({ "name": "rival" }))
        .await;
    let rival_org = reply.envelope.result["id"].as_str().unwrap().to_owned();
    let rival = Client::new(
        format!("{}/console", gw.url),
        gw.create_token(&["--org", &rival_org]),
    );

    let id = mine["id"].as_str().unwrap();
    let missing = "prj_01jd8x3m9kq2f6w7v5t4s3r2p1";
    for (path, body_for) in [
        ("v1/project/get", "id"),
        ("v1beta/platform/project/get", "id"),
        ("v1/project/update", "id"),
        ("v1/project/delete", "id"),
    ] {
        let hidden = rival
            .call(path, &json!({ body_for: id, "name": "stolen" }))
            .await
            .unwrap();
        let hidden = rival
            .wait(hidden, std::time::Duration::from_secs(10))
            .await
            .unwrap();
        let absent = rival
            .call(path, &json!({ body_for: missing, "name": "stolen" }))
            .await
            .unwrap();
        let absent = rival
            .wait(absent, std::time::Duration::from_secs(10))
            .await
            .unwrap();
        expect(&hidden, 404, Status::ResourceNotFound);
        assert_eq!(
            hidden.envelope.summary.replace(id, "ID"),
            absent.envelope.summary.replace(missing, "ID"),
            "{path}"
        );
    }
    let reply = rival
        .call(
            "v1beta/platform/project/list",
            &json!({ "org_id": gw.org_id }),
        )
        .await
        .unwrap();
    expect(&reply, 404, Status::ResourceNotFound);
    let reply = rival.call("v1/project/list", &json!({})).await.unwrap();
    assert_eq!(reply.envelope.result["count"], 0);
    let reply = rival
        .call(
            "v1beta/platform/project/create",
            &json!({ "org_id": gw.org_id, "name": "x", "geo": "us" }),
        )
        .await
        .unwrap();
    expect(&reply, 404, Status::ResourceNotFound);
    // Nothing was changed in the first organization.
    let reply = gw.call("console/v1/project/get", json!({ "id": id })).await;
    assert_eq!(reply.envelope.result["name"], "mine");
    assert_eq!(gw.count_projects().await, 1);
}
