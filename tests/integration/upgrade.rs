//! Databases made by an earlier release start under this build, migrate in
//! place, and keep every record, value and token (the fixtures under
//! `tests/fixtures/upgrade/` were made by that release's own binary).

use std::path::{Path, PathBuf};

use actiongate_client::{Client, Status};
use actiongate_gateway::{Config, Gateway, RunningGateway};
use serde::Deserialize;
use serde_json::json;

use crate::common::{self, expect};
use crate::postgres::fresh_database;

#[derive(Deserialize)]
struct Expected {
    admin_token: String,
    viewer_token: String,
    project_id: String,
    environment_id: String,
    variable_id: String,
    variable_value: String,
    member_user_id: String,
    invite_email: String,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upgrade")
}

fn expected(name: &str) -> Expected {
    let text = std::fs::read_to_string(fixtures().join(name)).expect("fixture expectations");
    serde_json::from_str(&text).expect("expectations are JSON")
}

async fn start(data_dir: &Path, database_url: Option<String>) -> RunningGateway {
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.to_owned(),
        database_url,
        ..Config::default()
    };
    let running = Gateway::start(config.clone(), common::services(&config))
        .await
        .expect("the new build starts on the old database");
    assert!(
        running.bootstrapped.is_none(),
        "an upgraded database keeps its organization and admin token"
    );
    running
}

/// Everything the old release wrote, read back through the API.
async fn check(running: &RunningGateway, expected: &Expected) {
    let url = format!("http://{}", running.addr);
    let admin = Client::new(url.clone(), &expected.admin_token);
    let call = |path: &'static str, body: serde_json::Value| {
        let admin = admin.clone();
        async move { admin.call(path, &body).await.expect("an envelope") }
    };

    let project = call(
        "console/v1/project/get",
        json!({ "id": expected.project_id }),
    )
    .await;
    expect(&project, 200, Status::Success);
    assert_eq!(project.envelope.result["name"], "Upgrade fixture");

    let environments = call(
        "deploy/v1/environment/list",
        json!({ "project_id": expected.project_id }),
    )
    .await;
    expect(&environments, 200, Status::Success);
    let names: Vec<&str> = environments.envelope.result["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|env| env["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "production and its clone: {names:?}");
    assert!(names.contains(&"production") && names.contains(&"staging"));

    let variable = call(
        "deploy/v1/variable/get",
        json!({ "id": expected.variable_id }),
    )
    .await;
    expect(&variable, 200, Status::Success);
    assert_eq!(
        variable.envelope.result["value"],
        expected.variable_value.as_str()
    );
    assert_eq!(
        variable.envelope.result["environment_id"],
        expected.environment_id.as_str()
    );

    let members = call(
        "access/v1/member/list",
        json!({ "project_id": expected.project_id }),
    )
    .await;
    expect(&members, 200, Status::Success);
    assert!(
        members.envelope.result["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["user_id"] == expected.member_user_id.as_str() && m["role"] == "member"),
        "{:#?}",
        members.envelope
    );

    let invites = call(
        "access/v1/invite/list",
        json!({ "project_id": expected.project_id }),
    )
    .await;
    expect(&invites, 200, Status::Success);
    assert_eq!(
        invites.envelope.result["results"][0]["email"],
        expected.invite_email.as_str()
    );

    // The viewer-capped token still reads, and still may not write.
    let viewer = Client::new(url, &expected.viewer_token);
    let read = viewer
        .call(
            "console/v1/project/get",
            &json!({ "id": expected.project_id }),
        )
        .await
        .unwrap();
    expect(&read, 200, Status::Success);
    let write = viewer
        .call(
            "console/v1/project/create",
            &json!({ "name": "Not allowed" }),
        )
        .await
        .unwrap();
    expect(&write, 403, Status::Forbidden);

    // And the upgraded database takes new writes.
    let name = actiongate_wire::new_id("after-upgrade");
    let created = call("console/v1/project/create", json!({ "name": name })).await;
    expect(&created, 200, Status::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_data_dir_of_the_previous_release_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixtures().join("sqlite")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let expected = expected("sqlite-expect.json");
    let running = start(dir.path(), None).await;
    check(&running, &expected).await;
    running.shutdown().await;
    // A second start finds nothing left to migrate and the same records.
    let running = start(dir.path(), None).await;
    check(&running, &expected).await;
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_database_of_the_previous_release_upgrades_in_place() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let psql = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL client binaries")
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path().join("bin/psql"))
        .filter(|path| path.exists())
        .max()
        .expect("psql");
    let loaded = std::process::Command::new(psql)
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(fixtures().join("postgres.sql"))
        .arg(&url)
        .output()
        .expect("running psql");
    assert!(
        loaded.status.success(),
        "loading the dump: {}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    let expected = expected("postgres-expect.json");
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), Some(url)).await;
    check(&running, &expected).await;
    running.shutdown().await;
}
