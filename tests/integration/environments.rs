//! The deploy service over HTTP: environments (with the asynchronous
//! clone polled to completion) and their variables, roles allowed and
//! denied; and the console's project icons, uploaded as multipart files.

use std::time::Duration;

use actiongate_client::{Client, Reply, Status};
use serde_json::{json, Value};

use crate::common::{self, expect, expect_at, Person, TestGateway};

struct Setup {
    gw: TestGateway,
    project: String,
    admin: Person,
    member: Person,
    viewer: Person,
}

/// A project, with organization viewers who are its admin, member and
/// viewer.
async fn setup() -> Setup {
    let gw = common::start().await;
    let project = gw.project("apollo").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = gw.person("alice", "viewer").await;
    let member = gw.person("bob", "viewer").await;
    let viewer = gw.person("carol", "viewer").await;
    for (person, role) in [(&admin, "admin"), (&member, "member"), (&viewer, "viewer")] {
        gw.add_member(&project, person, role).await;
    }
    Setup {
        gw,
        project,
        admin,
        member,
        viewer,
    }
}

async fn ok(reply: Reply) -> Value {
    expect(&reply, 200, Status::Success);
    reply.envelope.result
}

impl Setup {
    async fn environment(&self, by: &Person, body: Value) -> Value {
        let mut body = body;
        body["project_id"] = json!(self.project);
        ok(by.call("deploy/v1/environment/create", body).await).await
    }

    async fn variable(&self, env: &Value, name: &str, value: &str) -> Value {
        ok(self
            .member
            .call(
                "deploy/v1/variable/create",
                json!({ "environment_id": env["id"], "name": name, "value": value }),
            )
            .await)
        .await
    }

    async fn list(&self, filter: Value) -> Value {
        ok(self
            .viewer
            .call(
                "deploy/v1/environment/list",
                json!({ "project_id": self.project, "filter": filter }),
            )
            .await)
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environments_crud_default_and_roles() {
    let s = setup().await;
    let staging = s
        .environment(
            &s.member,
            json!({
                "name": "staging",
                "display_name": "Staging",
                "type": "staging",
                "description": "Pre-production environment",
                "color": "#F59E0B",
                "git_branch": "develop",
            }),
        )
        .await;
    assert!(staging["id"].as_str().unwrap().starts_with("env_"));
    assert_eq!(staging["project_id"], json!(s.project));
    assert_eq!(staging["type"], "staging");
    assert_eq!(staging["git_branch"], "develop");
    assert_eq!(staging["status"], "active");
    assert_eq!(staging["parent"], Value::Null);
    assert_eq!(staging["is_default"], true, "the first one is the default");
    let production = s
        .environment(
            &s.admin,
            json!({ "name": "production", "type": "production" }),
        )
        .await;
    assert_eq!(production["is_default"], false);
    let dev = s.environment(&s.member, json!({ "name": "dev" })).await;
    assert_eq!(dev["type"], "development");

    // Bad input, each naming its field; nothing is created.
    for (body, http, status, field) in [
        (json!({ "name": "staging" }), 409, Status::Conflict, "/name"),
        (
            json!({ "name": "Not A Slug" }),
            400,
            Status::ValidationError,
            "/name",
        ),
        (
            json!({ "name": "x" }),
            400,
            Status::ValidationError,
            "/name",
        ),
        (
            json!({ "name": "-dash" }),
            400,
            Status::ValidationError,
            "/name",
        ),
        (
            json!({ "name": "qa-env", "color": "orange" }),
            400,
            Status::ValidationError,
            "/color",
        ),
        (
            json!({ "name": "qa-env", "type": "testing" }),
            400,
            Status::ValidationError,
            "/type",
        ),
        (
            json!({ "name": "qa-env", "git_branch": "a b" }),
            400,
            Status::ValidationError,
            "/git_branch",
        ),
    ] {
        let mut body = body;
        body["project_id"] = json!(s.project);
        let reply = s.member.call("deploy/v1/environment/create", body).await;
        expect_at(&reply, http, status, field);
    }
    let nowhere = s
        .member
        .call(
            "deploy/v1/environment/create",
            json!({ "project_id": "prj_01jd0000000000000000000000", "name": "qa-env" }),
        )
        .await;
    expect(&nowhere, 404, Status::ResourceNotFound);
    assert_eq!(s.list(json!({})).await["count"], 3);

    // Viewers read; they change nothing.
    let got = ok(s
        .viewer
        .call("deploy/v1/environment/get", json!({ "id": staging["id"] }))
        .await)
    .await;
    assert_eq!(got, staging);
    let rest = s
        .viewer
        .client
        .get(&format!(
            "deploy/v1/environment/{}",
            staging["id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    assert_eq!(rest.envelope.result, staging);
    let unknown = s
        .viewer
        .call("deploy/v1/environment/get", json!({ "id": "env_nothing" }))
        .await;
    expect(&unknown, 404, Status::ResourceNotFound);
    let only_production = s.list(json!({ "type": "production" })).await;
    assert_eq!(only_production["count"], 1);
    assert_eq!(only_production["results"][0]["id"], production["id"]);
    let by_name = ok(s
        .viewer
        .call(
            "deploy/v1/environment/list",
            json!({ "project_id": s.project, "order_by": "name", "limit": 2 }),
        )
        .await)
    .await;
    let names: Vec<&str> = by_name["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dev", "production"]);
    for (path, body) in [
        (
            "deploy/v1/environment/create",
            json!({ "project_id": s.project, "name": "qa-env" }),
        ),
        (
            "deploy/v1/environment/update",
            json!({ "id": dev["id"], "description": "x" }),
        ),
        ("deploy/v1/environment/delete", json!({ "id": dev["id"] })),
        (
            "deploy/v1/environment/set_default",
            json!({ "id": dev["id"] }),
        ),
    ] {
        let denied = s.viewer.call(path, body).await;
        expect(&denied, 403, Status::Forbidden);
    }
    // Members change environments but neither delete them nor choose the
    // default.
    for (path, body) in [
        (
            "deploy/v1/environment/delete",
            json!({ "id": dev["id"], "force": true }),
        ),
        (
            "deploy/v1/environment/set_default",
            json!({ "id": dev["id"] }),
        ),
    ] {
        let denied = s.member.call(path, body).await;
        expect(&denied, 403, Status::Forbidden);
    }
    assert_eq!(s.list(json!({})).await["count"], 3);

    // Updates change only what is sent, guarded by if_updated_at.
    let updated = ok(s
        .member
        .call(
            "deploy/v1/environment/update",
            json!({ "id": dev["id"], "display_name": "Development", "if_updated_at": dev["updated_at"] }),
        )
        .await)
    .await;
    assert_eq!(updated["display_name"], "Development");
    assert_eq!(updated["name"], "dev");
    let stale = s
        .member
        .call(
            "deploy/v1/environment/update",
            json!({ "id": dev["id"], "color": "#000000", "if_updated_at": "2020-01-01T00:00:00Z" }),
        )
        .await;
    expect(&stale, 409, Status::Conflict);
    let renamed_onto = s
        .member
        .call(
            "deploy/v1/environment/update",
            json!({ "id": dev["id"], "name": "staging" }),
        )
        .await;
    expect_at(&renamed_onto, 409, Status::Conflict, "/name");

    // One default at a time.
    let now_default = ok(s
        .admin
        .call(
            "deploy/v1/environment/set_default",
            json!({ "id": production["id"] }),
        )
        .await)
    .await;
    assert_eq!(now_default["is_default"], true);
    let defaults = s.list(json!({ "is_default": true })).await;
    assert_eq!(defaults["count"], 1);
    assert_eq!(defaults["results"][0]["id"], production["id"]);

    // The default, and a non-empty one, need force.
    let refused = s
        .admin
        .call(
            "deploy/v1/environment/delete",
            json!({ "id": production["id"] }),
        )
        .await;
    expect_at(&refused, 409, Status::ResourceInUse, "/force");
    s.variable(&dev, "API_URL", "https://dev.example.com").await;
    let refused = s
        .admin
        .call("deploy/v1/environment/delete", json!({ "id": dev["id"] }))
        .await;
    expect_at(&refused, 409, Status::ResourceInUse, "/force");
    assert_eq!(s.list(json!({})).await["count"], 3);
    let deleted = ok(s
        .admin
        .call(
            "deploy/v1/environment/delete",
            json!({ "id": dev["id"], "force": true }),
        )
        .await)
    .await;
    assert_eq!(deleted["id"], dev["id"]);
    let gone = s
        .viewer
        .call("deploy/v1/environment/get", json!({ "id": dev["id"] }))
        .await;
    expect(&gone, 404, Status::ResourceNotFound);
    // Deleting the default hands it to the oldest that remains.
    let deleted = ok(s
        .admin
        .call(
            "deploy/v1/environment/delete",
            json!({ "id": production["id"], "force": true }),
        )
        .await)
    .await;
    assert_eq!(deleted["new_default"], staging["id"]);
    let empty_one = s.environment(&s.member, json!({ "name": "scratch" })).await;
    ok(s.admin
        .call(
            "deploy/v1/environment/delete",
            json!({ "id": empty_one["id"] }),
        )
        .await)
    .await;
    assert_eq!(s.list(json!({})).await["count"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variables_belong_to_an_environment() {
    let s = setup().await;
    let env = s.environment(&s.member, json!({ "name": "staging" })).await;
    let created = s.variable(&env, "DATABASE_URL", "postgres://db").await;
    assert_eq!(created["inheritable"], true);
    let json_var = ok(s
        .member
        .call(
            "deploy/v1/variable/create",
            json!({ "environment_id": env["id"], "name": "limits", "value": "{\"max\": 3}", "is_json": true }),
        )
        .await)
    .await;
    for (body, http, status, field) in [
        (
            json!({ "name": "DATABASE_URL", "value": "x" }),
            409,
            Status::Conflict,
            "/name",
        ),
        (
            json!({ "name": "9lives", "value": "x" }),
            400,
            Status::ValidationError,
            "/name",
        ),
        (
            json!({ "name": "J", "value": "{", "is_json": true }),
            400,
            Status::ValidationError,
            "/value",
        ),
    ] {
        let mut body = body;
        body["environment_id"] = env["id"].clone();
        let reply = s.member.call("deploy/v1/variable/create", body).await;
        expect_at(&reply, http, status, field);
    }
    let denied = s
        .viewer
        .call(
            "deploy/v1/variable/create",
            json!({ "environment_id": env["id"], "name": "X", "value": "x" }),
        )
        .await;
    expect(&denied, 403, Status::Forbidden);
    let listed = ok(s
        .viewer
        .call(
            "deploy/v1/variable/list",
            json!({ "environment_id": env["id"] }),
        )
        .await)
    .await;
    assert_eq!(listed["count"], 2);
    let got = ok(s
        .viewer
        .call("deploy/v1/variable/get", json!({ "id": json_var["id"] }))
        .await)
    .await;
    assert_eq!(got["value"], "{\"max\": 3}");
    let updated = ok(s
        .member
        .call(
            "deploy/v1/variable/update",
            json!({ "id": created["id"], "value": "postgres://other", "inheritable": false }),
        )
        .await)
    .await;
    assert_eq!(updated["value"], "postgres://other");
    assert_eq!(updated["inheritable"], false);
    let not_json = s
        .member
        .call(
            "deploy/v1/variable/update",
            json!({ "id": created["id"], "is_json": true }),
        )
        .await;
    expect_at(&not_json, 400, Status::ValidationError, "/value");
    let denied = s
        .viewer
        .call("deploy/v1/variable/delete", json!({ "id": created["id"] }))
        .await;
    expect(&denied, 403, Status::Forbidden);
    ok(s.member
        .call("deploy/v1/variable/delete", json!({ "id": created["id"] }))
        .await)
    .await;
    let gone = s
        .viewer
        .call("deploy/v1/variable/get", json!({ "id": created["id"] }))
        .await;
    expect(&gone, 404, Status::ResourceNotFound);
}

async fn clone_to_completion(client: &Client, body: Value) -> Reply {
    let reply = client
        .call("deploy/v1/environment/clone", &body)
        .await
        .unwrap();
    expect(&reply, 202, Status::Accepted);
    client
        .wait(reply, Duration::from_secs(20))
        .await
        .expect("polled to the end")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clone_copies_an_environment_as_a_job() {
    let s = setup().await;
    let staging = s
        .environment(
            &s.member,
            json!({ "name": "staging", "type": "staging", "color": "#F59E0B", "git_branch": "develop" }),
        )
        .await;
    for i in 0..250 {
        s.variable(&staging, &format!("VAR_{i:03}"), &format!("value {i}"))
            .await;
    }

    let done = clone_to_completion(
        &s.member.client,
        json!({ "id": staging["id"], "name": "staging-v2", "description": "Cloned from staging" }),
    )
    .await;
    expect(&done, 200, Status::Success);
    assert_eq!(done.envelope.summary, "Environment cloned");
    let clone = done.envelope.result.clone();
    assert_eq!(clone["name"], "staging-v2");
    assert_eq!(clone["parent"], staging["id"]);
    assert_eq!(clone["is_default"], false);
    assert_eq!(clone["status"], "active");
    assert_eq!(clone["type"], "staging", "the source's, unless given");
    assert_eq!(clone["git_branch"], "develop");
    assert_eq!(clone["description"], "Cloned from staging");

    // Usable when done: it is there, with every variable.
    let got = ok(s
        .viewer
        .call("deploy/v1/environment/get", json!({ "id": clone["id"] }))
        .await)
    .await;
    assert_eq!(got, clone);
    let variables = |id: Value| {
        let viewer = &s.viewer;
        async move {
            let page = ok(viewer
                .call(
                    "deploy/v1/variable/list",
                    json!({ "environment_id": id, "limit": 1000 }),
                )
                .await)
            .await;
            page["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| (v["name"].clone(), v["value"].clone()))
                .collect::<Vec<_>>()
        }
    };
    let copied = variables(clone["id"].clone()).await;
    assert_eq!(copied.len(), 250);
    assert_eq!(copied, variables(staging["id"].clone()).await);

    // Into a name taken: the job ends with the error, and nothing is made.
    let taken = clone_to_completion(
        &s.member.client,
        json!({ "id": staging["id"], "name": "staging" }),
    )
    .await;
    expect_at(&taken, 409, Status::Conflict, "/name");
    // By a viewer, or from nowhere: refused before any job is recorded,
    // never a 202.
    let by_viewer = s
        .viewer
        .call(
            "deploy/v1/environment/clone",
            json!({ "id": staging["id"], "name": "mine" }),
        )
        .await;
    expect(&by_viewer, 403, Status::Forbidden);
    let missing = s
        .member
        .call(
            "deploy/v1/environment/clone",
            json!({ "id": "env_nothing", "name": "copy" }),
        )
        .await;
    expect_at(&missing, 404, Status::ResourceNotFound, "/id");
    let list = ok(s
        .viewer
        .call(
            "deploy/v1/environment/list",
            json!({ "project_id": s.project }),
        )
        .await)
    .await;
    assert_eq!(list["count"], 2);

    // Bad fields are refused before anything is accepted.
    let bad = s
        .member
        .call(
            "deploy/v1/environment/clone",
            json!({ "id": staging["id"], "name": "Bad Name" }),
        )
        .await;
    expect_at(&bad, 400, Status::ValidationError, "/name");
    let bad = s
        .member
        .call(
            "deploy/v1/environment/clone",
            json!({ "id": staging["id"], "name": "copy", "color": "blue" }),
        )
        .await;
    expect_at(&bad, 400, Status::ValidationError, "/color");

    // Deleting the project deletes its environments and their variables.
    let deleted =
        s.gw.client("")
            .call("console/v1/project/delete", &json!({ "id": s.project }))
            .await
            .unwrap();
    let deleted =
        s.gw.client("")
            .wait(deleted, Duration::from_secs(20))
            .await
            .unwrap();
    expect(&deleted, 200, Status::Success);
    let gone =
        s.gw.call("deploy/v1/environment/get", json!({ "id": clone["id"] }))
            .await;
    expect(&gone, 404, Status::ResourceNotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_show_a_running_jobs_progress() {
    let gw = common::start().await;
    let client = gw.client("");
    let reply = client
        .call(
            "testkit/v1/steps/async",
            &json!({ "steps": 10, "step_ms": 150 }),
        )
        .await
        .unwrap();
    let location = reply.accepted().expect("202").location;
    let mut seen = Vec::new();
    loop {
        let polled = client.get(&location).await.unwrap();
        match polled.accepted() {
            Some(accepted) => seen.extend(accepted.completion_percent),
            None => {
                expect(&polled, 200, Status::Success);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen.len() >= 2, "progress seen while running: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert!(seen.iter().all(|p| *p <= 100), "{seen:?}");
}

/// The smallest PNG: a 1x1 transparent pixel.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82";

async fn upload(client: &Client, params: Value, file: &[u8], name: &str, mime: &str) -> Reply {
    let form = reqwest::multipart::Form::new()
        .part(
            "request",
            reqwest::multipart::Part::text(params.to_string())
                .mime_str("application/json")
                .unwrap(),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(file.to_vec())
                .file_name(name.to_owned())
                .mime_str(mime)
                .unwrap(),
        );
    client
        .send(
            client
                .post("console/v1/project/icon/upload")
                .multipart(form),
        )
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_icons_are_uploaded_as_multipart_files() {
    let s = setup().await;
    let admin = &s.admin.client;
    let params = json!({ "id": s.project });

    let uploaded = upload(admin, params.clone(), PNG, "icon.png", "image/png").await;
    expect(&uploaded, 200, Status::Success);
    let icon_path = uploaded.envelope.result["icon_path"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(icon_path, format!("/console/v1/project/icon/{}", s.project));
    let project =
        s.gw.call("console/v1/project/get", json!({ "id": s.project }))
            .await;
    assert_eq!(project.envelope.result["icon_path"], json!(icon_path));
    // Served where icon_path says, to anyone who can see the project.
    let served = s.viewer.client.get(&icon_path).await.unwrap();
    expect(&served, 200, Status::Success);
    assert_eq!(served.envelope.result["content_type"], "image/png");
    assert_eq!(served.envelope.result["size"], PNG.len());
    let data = served.envelope.result["data"].as_str().unwrap();
    let decoded: actiongate_service::Upload =
        serde_json::from_value(json!({ "data": data })).unwrap();
    assert_eq!(decoded.data, PNG);

    // The type is the content's, whatever the name and declared type say.
    let svg = b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1\" height=\"1\"/>";
    let replaced = upload(
        admin,
        params.clone(),
        svg,
        "icon.bin",
        "application/octet-stream",
    )
    .await;
    expect(&replaced, 200, Status::Success);
    let served = s.viewer.client.get(&icon_path).await.unwrap();
    assert_eq!(served.envelope.result["content_type"], "image/svg+xml");
    let mut jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00".to_vec();
    jpeg.resize(1024, 0);
    expect(
        &upload(admin, params.clone(), &jpeg, "x", "text/plain").await,
        200,
        Status::Success,
    );
    for (file, name) in [
        (&b"GIF89a\x01\x00\x01\x00"[..], "icon.gif"),
        (b"just text", "icon.png"),
        (b"<html><svg/></html>", "icon.svg"),
    ] {
        let refused = upload(admin, params.clone(), file, name, "image/png").await;
        expect_at(&refused, 400, Status::ValidationError, "/file");
    }
    let mut big = PNG.to_vec();
    big.resize(256 * 1024 + 1, 0);
    let too_big = upload(admin, params.clone(), &big, "big.png", "image/png").await;
    expect_at(&too_big, 400, Status::ValidationError, "/file");
    let served = s.viewer.client.get(&icon_path).await.unwrap();
    assert_eq!(served.envelope.result["content_type"], "image/jpeg");

    // Project admins only.
    for person in [&s.member, &s.viewer] {
        let denied = upload(&person.client, params.clone(), PNG, "icon.png", "image/png").await;
        expect(&denied, 403, Status::Forbidden);
        let denied = person
            .call("console/v1/project/icon/delete", params.clone())
            .await;
        expect(&denied, 403, Status::Forbidden);
    }
    // Multipart only where an action takes files; a missing file part is
    // named.
    let form = reqwest::multipart::Form::new().text("request", params.to_string());
    let not_here = admin
        .send(admin.post("console/v1/project/update").multipart(form))
        .await
        .unwrap();
    expect(&not_here, 400, Status::InvalidPayloadReceived);
    let form = reqwest::multipart::Form::new().text("request", params.to_string());
    let no_file = admin
        .send(admin.post("console/v1/project/icon/upload").multipart(form))
        .await
        .unwrap();
    expect_at(&no_file, 400, Status::ValidationError, "/file");

    let deleted = ok(s
        .admin
        .call("console/v1/project/icon/delete", params.clone())
        .await)
    .await;
    assert_eq!(deleted["icon_path"], Value::Null);
    let again = s
        .admin
        .call("console/v1/project/icon/delete", params.clone())
        .await;
    expect(&again, 404, Status::ResourceNotFound);
    let none = s.viewer.client.get(&icon_path).await.unwrap();
    expect(&none, 404, Status::ResourceNotFound);
}
