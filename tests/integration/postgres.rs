//! The same gateway on PostgreSQL: migrations, the console, async jobs and
//! token revocation, against a real server (scripts/with-postgres.sh starts
//! a throwaway one; `make test` runs the suite under it).

use std::time::Duration;

use actiongate_client::{Client, Status};
use sea_orm::{ConnectionTrait, Database};
use serde_json::json;

use crate::common::{self, expect};

/// A new, empty database on the test server.
async fn fresh_database() -> String {
    let admin = std::env::var("ACTIONGATE_TEST_POSTGRES_URL").expect(
        "ACTIONGATE_TEST_POSTGRES_URL is not set: run the tests with scripts/with-postgres.sh (make test does)",
    );
    let name = actiongate_wire::new_id("test");
    let db = Database::connect(&admin)
        .await
        .expect("connecting to the test server");
    db.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    db.close().await.unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_runs_on_postgresql() {
    let url = fresh_database().await;
    let gw = common::start_with(|c| c.database_url = Some(url.clone())).await;
    assert!(
        !gw.dir.path().join("actiongate.db").exists(),
        "no SQLite file"
    );
    let console = gw.client("api.console");

    let reply = console
        .call(
            "v1beta/platform/project/create",
            &json!({ "org_id": gw.org_id, "name": "On Postgres", "geo": "eu" }),
        )
        .await
        .unwrap();
    expect(&reply, 200, Status::Success);
    let id = reply.envelope.result["id"].as_str().unwrap().to_owned();
    let reply = console
        .call(
            "v1beta/platform/project/create",
            &json!({ "org_id": gw.org_id, "name": "On Postgres", "geo": "eu" }),
        )
        .await
        .unwrap();
    expect(&reply, 409, Status::Conflict);

    // Case-insensitive search, the same as on SQLite.
    let reply = console
        .call(
            "v1beta/platform/project/list",
            &json!({ "org_id": gw.org_id, "filter": { "search": "postgres" } }),
        )
        .await
        .unwrap();
    assert_eq!(reply.envelope.result["count"], 1);

    // Past the threshold and designated async, polled to the end.
    let testkit = gw.client("testkit");
    let reply = testkit
        .call("v1/sleep/async", &json!({ "ms": 50, "value": "pg" }))
        .await
        .unwrap();
    expect(&reply, 202, Status::Accepted);
    let done = testkit.wait(reply, Duration::from_secs(10)).await.unwrap();
    expect(&done, 200, Status::Success);
    assert_eq!(done.envelope.result["value"], "pg");
    let reply = console
        .call("v1beta/platform/project/delete", &json!({ "id": id }))
        .await
        .unwrap();
    let done = console.wait(reply, Duration::from_secs(10)).await.unwrap();
    expect(&done, 200, Status::Success);
    assert_eq!(gw.count_projects().await, 0);

    // The CLI works against the same database.
    let out = gw.cli(&["--database-url", &url, "migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = gw.cli(&["--database-url", &url, "token", "create", "--name", "pg"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let client = Client::new(format!("{}/console", gw.url), &token);
    expect(
        &client.call("v1/org/list", &json!({})).await.unwrap(),
        200,
        Status::Success,
    );
}
