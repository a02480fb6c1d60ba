//! Activities and the environment lifecycle: branch, merge, sync, pause
//! and resume as activities, read back with `activity/list|get`, cancelled
//! with `activity/cancel`; operations on one environment one at a time in
//! the order accepted. The scenarios run on SQLite here and on PostgreSQL
//! in `postgres.rs`, and across two nodes there too.

use std::time::Duration;

use actiongate_client::{Client, Reply, Status};
use serde_json::{json, Value};

use crate::common::{self, expect, expect_at, succeeded, TestGateway};

const WAIT: Duration = Duration::from_secs(30);

/// Sends an asynchronous call and expects its 202.
pub async fn accepted(client: &Client, path: &str, body: Value) -> Reply {
    let reply = client.call(path, &body).await.unwrap();
    expect(&reply, 202, Status::Accepted);
    reply
}

/// Sends an asynchronous call and polls it to its end.
pub async fn run(client: &Client, path: &str, body: Value) -> Reply {
    let reply = accepted(client, path, body).await;
    client.wait(reply, WAIT).await.expect("polled to the end")
}

pub async fn activity(client: &Client, id: &str) -> Value {
    let reply = client
        .call("deploy/v1/activity/get", &json!({ "id": id }))
        .await
        .unwrap();
    expect(&reply, 200, Status::Success);
    reply.envelope.result
}

/// Polls `activity/get` until `done` holds of it.
pub async fn activity_until(client: &Client, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let found = activity(client, id).await;
        if done(&found) {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "activity {id} never got there: {found:#}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The variables of an environment, by name.
async fn variables(client: &Client, environment: &Value) -> Vec<(String, String)> {
    let listed = succeeded(
        client,
        "deploy/v1/variable/list",
        json!({ "environment_id": environment, "limit": 100 }),
    )
    .await;
    listed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_owned(),
                v["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

async fn set_variable(client: &Client, environment: &Value, name: &str, value: &str) {
    let existing = succeeded(
        client,
        "deploy/v1/variable/list",
        json!({ "environment_id": environment, "limit": 100 }),
    )
    .await;
    let found = existing["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .cloned();
    match found {
        Some(v) => {
            succeeded(
                client,
                "deploy/v1/variable/update",
                json!({ "id": v["id"], "value": value }),
            )
            .await;
        }
        None => {
            succeeded(
                client,
                "deploy/v1/variable/create",
                json!({ "environment_id": environment, "name": name, "value": value }),
            )
            .await;
        }
    }
}

/// `activity/list` of `project`, with the fields of `filter`.
async fn list_activities(client: &Client, project: &Value, filter: Value) -> Value {
    let mut body = json!({ "project_id": project });
    body.as_object_mut()
        .unwrap()
        .extend(filter.as_object().unwrap().clone());
    succeeded(client, "deploy/v1/activity/list", body).await
}

/// Branch, merge and sync, each followed as a 202 and read back as an
/// activity; the bad inputs each refused with the field named.
pub async fn branch_merge_and_sync(gw: &TestGateway) {
    let client = gw.client("");
    let project = gw.project("lifecycle").await["id"].clone();
    let production = succeeded(
        &client,
        "deploy/v1/environment/create",
        json!({ "project_id": project, "name": "production", "type": "production",
                "settings": { "enable_smtp": true } }),
    )
    .await;
    let prod_id = production["id"].clone();
    assert_eq!(production["settings"], json!({ "enable_smtp": true }));
    set_variable(&client, &prod_id, "A", "1").await;
    set_variable(&client, &prod_id, "B", "2").await;

    // Branch: a child holding a copy of the parent's variables and settings.
    let branched = accepted(
        &client,
        "deploy/v1/environment/branch",
        json!({ "id": prod_id, "name": "feature-x" }),
    )
    .await;
    let branch_id = branched.envelope.request_id.to_string();
    let done = client.wait(branched, WAIT).await.unwrap();
    expect(&done, 200, Status::Success);
    let child = done.envelope.result.clone();
    let child_id = child["id"].clone();
    assert_eq!(child["parent"], prod_id);
    assert_eq!(
        child["type"], "development",
        "a branch of production develops"
    );
    assert_eq!(child["settings"], json!({ "enable_smtp": true }));
    assert_eq!(
        variables(&client, &child_id).await,
        pairs(&[("A", "1"), ("B", "2")])
    );

    let branch = activity(&client, &branch_id).await;
    assert_eq!(branch["id"], branch_id.as_str());
    assert_eq!(branch["type"], "environment.branch");
    assert_eq!(branch["project_id"], project);
    assert_eq!(branch["state"], "complete");
    assert_eq!(branch["result"], "success");
    assert_eq!(branch["completion_percent"], 100);
    assert_eq!(branch["environment_ids"], json!([prod_id, child_id]));
    assert_eq!(
        branch["parameters"],
        json!({ "id": prod_id, "name": "feature-x" })
    );
    assert_eq!(
        branch["description"],
        "admin@localhost branched production into feature-x"
    );
    assert!(
        branch["log"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Copied 2 variables"),
        "{branch:#}"
    );
    assert!(branch["started_at"].is_string() && branch["completed_at"].is_string());
    assert!(branch["cancelled_at"].is_null());

    // A branch without the parent's data; one to a taken name.
    let bare = run(
        &client,
        "deploy/v1/environment/branch",
        json!({ "id": prod_id, "name": "bare", "clone_data": false, "type": "staging" }),
    )
    .await;
    expect(&bare, 200, Status::Success);
    assert_eq!(bare.envelope.result["type"], "staging");
    assert!(variables(&client, &bare.envelope.result["id"])
        .await
        .is_empty());
    let taken = run(
        &client,
        "deploy/v1/environment/branch",
        json!({ "id": prod_id, "name": "feature-x" }),
    )
    .await;
    expect_at(&taken, 409, Status::Conflict, "/name");
    let production_branch = client
        .call(
            "deploy/v1/environment/branch",
            &json!({ "id": prod_id, "name": "prod-2", "type": "production" }),
        )
        .await
        .unwrap();
    let production_branch = client.wait(production_branch, WAIT).await.unwrap();
    expect_at(&production_branch, 400, Status::ValidationError, "/type");

    // Diverge, then merge the child into its parent: the child's overwrite
    // same-named ones, the parent's others stay.
    set_variable(&client, &child_id, "A", "10").await;
    set_variable(&client, &child_id, "C", "3").await;
    set_variable(&client, &prod_id, "D", "4").await;
    succeeded(
        &client,
        "deploy/v1/environment/update",
        json!({ "id": child_id, "settings": { "restrict_robots": true, "enable_smtp": null } }),
    )
    .await;
    let merged = run(
        &client,
        "deploy/v1/environment/merge",
        json!({ "id": child_id }),
    )
    .await;
    expect(&merged, 200, Status::Success);
    assert_eq!(merged.envelope.result["id"], prod_id, "answers the parent");
    assert_eq!(
        merged.envelope.result["settings"],
        json!({ "enable_smtp": true, "restrict_robots": true })
    );
    assert_eq!(
        variables(&client, &prod_id).await,
        pairs(&[("A", "10"), ("B", "2"), ("C", "3"), ("D", "4")])
    );

    // Nothing to merge into, or sync from, without a parent.
    let orphan = run(
        &client,
        "deploy/v1/environment/merge",
        json!({ "id": prod_id }),
    )
    .await;
    expect_at(&orphan, 409, Status::Conflict, "/id");
    assert!(orphan.envelope.summary.contains("no parent"));
    let failed = activity(&client, &orphan.envelope.request_id.to_string()).await;
    assert_eq!(failed["state"], "complete");
    assert_eq!(failed["result"], "failure");
    assert_eq!(
        failed["description"],
        "admin@localhost merged production into its parent"
    );
    let orphan = run(
        &client,
        "deploy/v1/environment/sync",
        json!({ "id": prod_id }),
    )
    .await;
    expect_at(&orphan, 409, Status::Conflict, "/id");

    // Sync: the parent's into the child; settings only when asked.
    set_variable(&client, &prod_id, "B", "20").await;
    set_variable(&client, &child_id, "E", "5").await;
    succeeded(
        &client,
        "deploy/v1/environment/update",
        json!({ "id": prod_id, "settings": { "http_access": "open" } }),
    )
    .await;
    let synced = run(
        &client,
        "deploy/v1/environment/sync",
        json!({ "id": child_id }),
    )
    .await;
    expect(&synced, 200, Status::Success);
    assert_eq!(
        synced.envelope.result["settings"],
        json!({ "restrict_robots": true }),
        "settings stay unless asked"
    );
    assert_eq!(
        variables(&client, &child_id).await,
        pairs(&[("A", "10"), ("B", "20"), ("C", "3"), ("D", "4"), ("E", "5")])
    );
    let synced = run(
        &client,
        "deploy/v1/environment/sync",
        json!({ "id": child_id, "variables": false, "settings": true }),
    )
    .await;
    assert_eq!(
        synced.envelope.result["settings"],
        json!({ "enable_smtp": true, "restrict_robots": true, "http_access": "open" })
    );

    // The project's activities, newest first, and filtered.
    let listed = succeeded(
        &client,
        "deploy/v1/activity/list",
        json!({ "project_id": project }),
    )
    .await;
    let types: Vec<&str> = listed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "environment.sync",
            "environment.sync",
            "environment.sync",
            "environment.merge",
            "environment.merge",
            "environment.branch",
            "environment.branch",
            "environment.branch",
            "environment.branch",
        ]
    );
    assert_eq!(listed["count"], 9);
    let count = |filter: Value| {
        let client = client.clone();
        let project = project.clone();
        async move { list_activities(&client, &project, filter).await["count"].clone() }
    };
    assert_eq!(count(json!({ "type": ["environment.merge"] })).await, 2);
    assert_eq!(count(json!({ "result": "failure" })).await, 4);
    assert_eq!(count(json!({ "state": ["complete"] })).await, 9);
    assert_eq!(
        count(json!({ "state": ["pending", "in_progress"] })).await,
        0
    );
    assert_eq!(
        count(json!({ "environment_id": child_id })).await,
        3,
        "the merge and the two syncs were started on the child"
    );
    let first = listed["results"][0]["created_at"].as_str().unwrap();
    assert_eq!(count(json!({ "since": first })).await, 1);
    let bad = client
        .call(
            "deploy/v1/activity/list",
            &json!({ "project_id": project, "state": ["done"] }),
        )
        .await
        .unwrap();
    expect_at(&bad, 400, Status::ValidationError, "/state/0");
}

/// A paused environment refuses changes to its variables and settings
/// until it is resumed.
pub async fn pause_and_resume(gw: &TestGateway) {
    let client = gw.client("");
    let project = gw.project("sleepy").await["id"].clone();
    let env = succeeded(
        &client,
        "deploy/v1/environment/create",
        json!({ "project_id": project, "name": "dev" }),
    )
    .await;
    let env_id = env["id"].clone();
    set_variable(&client, &env_id, "KEEP", "1").await;
    let variable = succeeded(
        &client,
        "deploy/v1/variable/list",
        json!({ "environment_id": env_id }),
    )
    .await["results"][0]
        .clone();

    let paused = run(
        &client,
        "deploy/v1/environment/pause",
        json!({ "id": env_id }),
    )
    .await;
    expect(&paused, 200, Status::Success);
    assert_eq!(paused.envelope.result["status"], "paused");
    let again = run(
        &client,
        "deploy/v1/environment/pause",
        json!({ "id": env_id }),
    )
    .await;
    expect_at(&again, 409, Status::Conflict, "/id");

    for (path, body) in [
        (
            "deploy/v1/variable/create",
            json!({ "environment_id": env_id, "name": "NEW", "value": "x" }),
        ),
        (
            "deploy/v1/variable/update",
            json!({ "id": variable["id"], "value": "2" }),
        ),
        ("deploy/v1/variable/delete", json!({ "id": variable["id"] })),
        (
            "deploy/v1/environment/update",
            json!({ "id": env_id, "settings": { "enable_smtp": true } }),
        ),
    ] {
        let refused = client.call(path, &body).await.unwrap();
        expect(&refused, 409, Status::ResourceInUse);
        assert!(
            refused.envelope.summary.contains("resume it first"),
            "{path}: {}",
            refused.envelope.summary
        );
    }
    assert_eq!(variables(&client, &env_id).await, pairs(&[("KEEP", "1")]));

    let resumed = run(
        &client,
        "deploy/v1/environment/resume",
        json!({ "id": env_id }),
    )
    .await;
    expect(&resumed, 200, Status::Success);
    assert_eq!(resumed.envelope.result["status"], "active");
    set_variable(&client, &env_id, "NEW", "x").await;
    assert_eq!(
        variables(&client, &env_id).await,
        pairs(&[("KEEP", "1"), ("NEW", "x")])
    );
    let listed = succeeded(
        &client,
        "deploy/v1/activity/list",
        json!({ "project_id": project, "environment_id": env_id }),
    )
    .await;
    let descriptions: Vec<&str> = listed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["description"].as_str().unwrap())
        .collect();
    assert_eq!(
        descriptions,
        [
            "admin@localhost resumed dev",
            "admin@localhost paused dev",
            "admin@localhost paused dev",
        ]
    );
}

/// Two operations on one environment: the second waits `pending` behind
/// the first, while an operation on another environment runs beside it.
/// `first` and `second` may be clients of different nodes.
pub async fn one_at_a_time(first: &Client, second: &Client) {
    let client = first;
    let project = succeeded(
        client,
        "console/v1/project/create",
        json!({ "name": "queue", "geo": "us" }),
    )
    .await["id"]
        .clone();
    let create = |name: &str| {
        succeeded(
            client,
            "deploy/v1/environment/create",
            json!({ "project_id": project, "name": name }),
        )
    };
    let busy = create("busy").await["id"].clone();
    let other = create("other").await["id"].clone();

    let held = accepted(first, "testkit/v1/hold", json!({ "id": busy, "ms": 1500 })).await;
    let held_id = held.envelope.request_id.to_string();
    let paused = accepted(second, "deploy/v1/environment/pause", json!({ "id": busy })).await;
    let paused_id = paused.envelope.request_id.to_string();
    let resumed = accepted(first, "deploy/v1/environment/resume", json!({ "id": busy })).await;
    let resumed_id = resumed.envelope.request_id.to_string();
    let elsewhere = accepted(
        second,
        "deploy/v1/environment/pause",
        json!({ "id": other }),
    )
    .await;

    // The hold runs, and reports progress that any node reads from the
    // job table; the pause waits behind it.
    let running = activity_until(second, &held_id, |a| {
        a["state"] == "in_progress" && a["completion_percent"].as_u64().unwrap_or(0) > 0
    })
    .await;
    assert_eq!(running["type"], "environment.hold");
    assert_eq!(
        running["description"],
        format!("holding {} for 1500 ms", busy.as_str().unwrap())
    );
    assert_eq!(activity(second, &paused_id).await["state"], "pending");
    let polled = second.get(&format!("request/{paused_id}")).await.unwrap();
    expect(&polled, 202, Status::Accepted);

    // Another environment's operation is not held back.
    let elsewhere = second.wait(elsewhere, WAIT).await.unwrap();
    expect(&elsewhere, 200, Status::Success);
    assert_eq!(activity(second, &held_id).await["state"], "in_progress");
    assert_eq!(activity(second, &paused_id).await["state"], "pending");

    for reply in [held, paused, resumed] {
        let done = first.wait(reply, WAIT).await.unwrap();
        expect(&done, 200, Status::Success);
    }
    let [hold, pause, resume] = [&held_id, &paused_id, &resumed_id].map(|id| {
        let second = second.clone();
        let id = id.clone();
        async move { activity(&second, &id).await }
    });
    let (hold, pause, resume) = (hold.await, pause.await, resume.await);
    let at = |a: &Value, field: &str| a[field].as_str().unwrap().to_owned();
    assert!(
        at(&hold, "completed_at") <= at(&pause, "started_at"),
        "the pause started after the hold: {hold:#} {pause:#}"
    );
    assert!(at(&pause, "completed_at") <= at(&resume, "started_at"));
    assert_eq!(hold["completion_percent"], 100);
    assert_eq!(
        hold["log"].as_array().unwrap().len(),
        2,
        "the first and last step: {hold:#}"
    );
    let env = succeeded(client, "deploy/v1/environment/get", json!({ "id": busy })).await;
    assert_eq!(env["status"], "active", "the resume ran last");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branch_merge_and_sync_are_activities() {
    let gw = common::start().await;
    branch_merge_and_sync(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_environment_refuses_changes_until_resumed() {
    let gw = common::start().await;
    pause_and_resume(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_on_one_environment_run_one_at_a_time_in_order() {
    let gw = common::start().await;
    let client = gw.client("");
    one_at_a_time(&client, &client).await;
}

/// A queue moves on when its running activity ends, not at the claimer's
/// next round: with rounds an hour apart, operations queued behind one
/// another on one environment still all end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_moves_on_as_soon_as_its_running_activity_ends() {
    let gw =
        common::start_with(|config| config.job_claim_interval = Duration::from_secs(3600)).await;
    let client = gw.client("");
    let (_, environment) = gw.project_with_environment("queue", "busy").await;
    let held = accepted(
        &client,
        "testkit/v1/hold",
        json!({ "id": environment, "ms": 200 }),
    )
    .await;
    let paused = accepted(
        &client,
        "deploy/v1/environment/pause",
        json!({ "id": environment }),
    )
    .await;
    let resumed = accepted(
        &client,
        "deploy/v1/environment/resume",
        json!({ "id": environment }),
    )
    .await;
    for reply in [held, paused, resumed] {
        let done = client.wait(reply, WAIT).await.unwrap();
        expect(&done, 200, Status::Success);
    }
    let env = succeeded(
        &client,
        "deploy/v1/environment/get",
        json!({ "id": environment }),
    )
    .await;
    assert_eq!(env["status"], "active", "the resume ran last");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activities_are_cancelled_while_pending_or_running_and_not_after() {
    let gw = common::start().await;
    cancels(&gw).await;
}

/// A pending activity cancelled at once, a running one at its next step,
/// a finished one refused; a viewer reads but does not cancel.
pub async fn cancels(gw: &TestGateway) {
    let client = gw.client("");
    let (_, env) = gw.project_with_environment("cancels", "dev").await;
    let held = accepted(
        &client,
        "testkit/v1/hold",
        json!({ "id": env, "ms": 20000 }),
    )
    .await;
    let held_id = held.envelope.request_id.to_string();
    let paused = accepted(&client, "deploy/v1/environment/pause", json!({ "id": env })).await;
    let paused_id = paused.envelope.request_id.to_string();
    activity_until(&client, &held_id, |a| a["state"] == "in_progress").await;

    // Pending: cancelled at once.
    let cancelled = succeeded(
        &client,
        "deploy/v1/activity/cancel",
        json!({ "id": paused_id }),
    )
    .await;
    assert_eq!(cancelled["state"], "cancelled");
    assert!(cancelled["cancelled_at"].is_string());
    assert!(cancelled["result"].is_null());
    // Running: it stops at its next checkpoint.
    let cancelling = succeeded(
        &client,
        "deploy/v1/activity/cancel",
        json!({ "id": held_id }),
    )
    .await;
    assert_eq!(cancelling["id"], held_id.as_str());
    let stopped = activity_until(&client, &held_id, |a| a["state"] == "cancelled").await;
    assert!(stopped["completed_at"].is_null());
    let polled = client.wait(held, WAIT).await.unwrap();
    expect(&polled, 409, Status::Cancelled);

    // Finished: refused, saying why.
    let again = client
        .call("deploy/v1/activity/cancel", &json!({ "id": held_id }))
        .await
        .unwrap();
    expect_at(&again, 409, Status::Conflict, "/id");
    assert!(again.envelope.summary.contains("already finished"));
    let unknown = client
        .call(
            "deploy/v1/activity/cancel",
            &json!({ "id": "prq_01J00000000000000000000000" }),
        )
        .await
        .unwrap();
    expect(&unknown, 404, Status::ResourceNotFound);

    // The environment was never paused: the pause was cancelled.
    let found = succeeded(&client, "deploy/v1/environment/get", json!({ "id": env })).await;
    assert_eq!(found["status"], "active");

    // A viewer reads activities but may not cancel them.
    let viewer = gw.person("watcher", "viewer").await;
    let seen = viewer
        .client
        .call("deploy/v1/activity/get", &json!({ "id": held_id }))
        .await
        .unwrap();
    expect(&seen, 200, Status::Success);
    let refused = viewer
        .client
        .call("deploy/v1/activity/cancel", &json!({ "id": held_id }))
        .await
        .unwrap();
    expect(&refused, 403, Status::Forbidden);
}

/// Backups: taken safe and live as activities, listed, restored into
/// their environment and into new ones, outliving their environment,
/// deleted; each bad input refused with its field named.
pub async fn backups(gw: &TestGateway) {
    let client = gw.client("");
    let project = gw.project("backed-up").await["id"].clone();
    let prod = succeeded(
        &client,
        "deploy/v1/environment/create",
        json!({ "project_id": project, "name": "prod", "settings": { "enable_smtp": true } }),
    )
    .await["id"]
        .clone();
    set_variable(&client, &prod, "A", "1").await;
    set_variable(&client, &prod, "B", "2").await;

    let taken = accepted(
        &client,
        "deploy/v1/backup/create",
        json!({ "environment_id": prod }),
    )
    .await;
    let taken_id = taken.envelope.request_id.to_string();
    let taken = client.wait(taken, WAIT).await.unwrap();
    expect(&taken, 200, Status::Success);
    let safe = taken.envelope.result.clone();
    assert_eq!(safe["safe"], true);
    assert_eq!(safe["status"], "complete");
    assert_eq!(safe["restorable"], true);
    assert_eq!(safe["variables"], 2);
    assert_eq!(safe["environment_name"], "prod");
    assert!(safe["size"].as_i64().unwrap() > 0);
    assert!(safe["expires_at"].as_str().unwrap() > safe["created_at"].as_str().unwrap());
    let backup_activity = activity(&client, &taken_id).await;
    assert_eq!(backup_activity["type"], "environment.backup");
    assert_eq!(backup_activity["environment_ids"], json!([prod]));
    assert_eq!(
        backup_activity["description"],
        "admin@localhost took a safe backup of prod"
    );

    set_variable(&client, &prod, "A", "1-live").await;
    let live = run(
        &client,
        "deploy/v1/backup/create",
        json!({ "environment_id": prod, "safe": false }),
    )
    .await;
    expect(&live, 200, Status::Success);
    assert_eq!(live.envelope.result["safe"], false);

    let listed = succeeded(
        &client,
        "deploy/v1/backup/list",
        json!({ "environment_id": prod }),
    )
    .await;
    assert_eq!(listed["count"], 2);
    assert_eq!(
        listed["results"][0]["id"], live.envelope.result["id"],
        "newest first"
    );
    let got = succeeded(&client, "deploy/v1/backup/get", json!({ "id": safe["id"] })).await;
    assert_eq!(got["id"], safe["id"]);
    assert!(
        got.get("contents").is_none(),
        "a backup's contents are not shown"
    );

    // Diverge, then restore the safe backup over the environment.
    set_variable(&client, &prod, "C", "3").await;
    succeeded(
        &client,
        "deploy/v1/environment/update",
        json!({ "id": prod, "settings": { "enable_smtp": false, "restrict_robots": true } }),
    )
    .await;
    let restored = run(
        &client,
        "deploy/v1/backup/restore",
        json!({ "id": safe["id"] }),
    )
    .await;
    expect(&restored, 200, Status::Success);
    assert_eq!(restored.envelope.result["id"], prod);
    assert_eq!(
        restored.envelope.result["settings"],
        json!({ "enable_smtp": true })
    );
    assert_eq!(
        variables(&client, &prod).await,
        pairs(&[("A", "1"), ("B", "2")])
    );
    let restore = activity(&client, &restored.envelope.request_id.to_string()).await;
    assert_eq!(restore["type"], "environment.restore");
    assert_eq!(restore["environment_ids"], json!([prod]));

    // Into a new environment: a child of the backed-up one, or of another.
    let copy = run(
        &client,
        "deploy/v1/backup/restore",
        json!({ "id": live.envelope.result["id"], "environment_name": "prod-copy" }),
    )
    .await;
    expect(&copy, 200, Status::Success);
    let copy = copy.envelope.result;
    assert_eq!(copy["name"], "prod-copy");
    assert_eq!(copy["parent"], prod);
    assert_eq!(
        variables(&client, &copy["id"]).await,
        pairs(&[("A", "1-live"), ("B", "2")])
    );
    let taken_name = run(
        &client,
        "deploy/v1/backup/restore",
        json!({ "id": safe["id"], "environment_name": "prod-copy" }),
    )
    .await;
    expect_at(&taken_name, 409, Status::Conflict, "/environment_name");
    let elsewhere = gw.project("elsewhere").await["id"].clone();
    let foreign = succeeded(
        &client,
        "deploy/v1/environment/create",
        json!({ "project_id": elsewhere, "name": "foreign" }),
    )
    .await["id"]
        .clone();
    let foreign_parent = run(
        &client,
        "deploy/v1/backup/restore",
        json!({ "id": safe["id"], "environment_name": "twin", "branch_from": foreign }),
    )
    .await;
    expect_at(
        &foreign_parent,
        404,
        Status::ResourceNotFound,
        "/branch_from",
    );

    // The backups outlive their environment.
    let deleted = client
        .call(
            "deploy/v1/environment/delete",
            &json!({ "id": prod, "force": true }),
        )
        .await
        .unwrap();
    expect(&deleted, 200, Status::Success);
    let listed = succeeded(
        &client,
        "deploy/v1/backup/list",
        json!({ "environment_id": prod }),
    )
    .await;
    assert_eq!(listed["count"], 2, "listed by the deleted environment's id");
    let gone = run(
        &client,
        "deploy/v1/backup/restore",
        json!({ "id": safe["id"] }),
    )
    .await;
    expect_at(&gone, 409, Status::Conflict, "/environment_name");
    let reborn = run(
        &client,
        "deploy/v1/backup/restore",
        json!({ "id": safe["id"], "environment_name": "prod" }),
    )
    .await;
    expect(&reborn, 200, Status::Success);
    assert!(reborn.envelope.result["parent"].is_null());
    assert_eq!(
        variables(&client, &reborn.envelope.result["id"]).await,
        pairs(&[("A", "1"), ("B", "2")])
    );

    // A member takes backups but neither deletes nor restores them.
    let member = gw.person("backer", "viewer").await;
    gw.add_member(project.as_str().unwrap(), &member, "member")
        .await;
    for path in ["deploy/v1/backup/delete", "deploy/v1/backup/restore"] {
        let refused = member
            .client
            .call(path, &json!({ "id": safe["id"] }))
            .await
            .unwrap();
        expect(&refused, 403, Status::Forbidden);
    }
    let removed = succeeded(
        &client,
        "deploy/v1/backup/delete",
        json!({ "id": safe["id"] }),
    )
    .await;
    assert_eq!(removed["id"], safe["id"]);
    let missing = client
        .call("deploy/v1/backup/get", &json!({ "id": safe["id"] }))
        .await
        .unwrap();
    expect(&missing, 404, Status::ResourceNotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_are_taken_listed_restored_and_outlive_their_environment() {
    let gw = common::start().await;
    backups(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_backup_is_refused_then_swept() {
    let gw = common::start_with(|config| {
        config.result_sweep_interval = Duration::from_millis(200);
        config.services.insert(
            "deploy".into(),
            figment::value::Value::from(figment::value::Dict::from([(
                "backup_ttl".to_owned(),
                figment::value::Value::from("1s"),
            )])),
        );
    })
    .await;
    let client = gw.client("");
    let (_, env) = gw.project_with_environment("short-lived", "dev").await;
    let backup = run(
        &client,
        "deploy/v1/backup/create",
        json!({ "environment_id": env }),
    )
    .await;
    expect(&backup, 200, Status::Success);
    let id = backup.envelope.result["id"].clone();
    // Refused once expired, before or after the sweep takes it: once swept,
    // at once (404, no job), as its scope names no backup.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let sent = client
            .call("deploy/v1/backup/restore", &json!({ "id": id }))
            .await
            .unwrap();
        let restore = client.wait(sent, WAIT).await.unwrap();
        match restore.envelope.status {
            Status::Success => {}
            Status::Conflict => {
                expect_at(&restore, 409, Status::Conflict, "/id");
                assert!(restore.envelope.summary.contains("expired"));
                break;
            }
            Status::ResourceNotFound => break,
            other => panic!("restoring an expiring backup: {other:?}"),
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got = client
            .call("deploy/v1/backup/get", &json!({ "id": id }))
            .await
            .unwrap();
        if got.envelope.status == Status::ResourceNotFound {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never swept");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An operation sent twice with one `Idempotency-Key` is one activity:
/// the repeat answers with the first request's id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_operation_is_one_activity() {
    let gw = common::start().await;
    let client = gw.client("");
    let (project, env) = gw.project_with_environment("keyed", "dev").await;
    let send = || {
        client.send(
            client
                .post("deploy/v1/environment/pause")
                .header("Idempotency-Key", "pause-once")
                .json(&json!({ "id": env })),
        )
    };
    let first = send().await.unwrap();
    expect(&first, 202, Status::Accepted);
    let done = client.wait(first.clone(), WAIT).await.unwrap();
    expect(&done, 200, Status::Success);
    let again = send().await.unwrap();
    assert_eq!(again.envelope.request_id, first.envelope.request_id);
    expect(&again, 200, Status::Success);
    let listed = succeeded(
        &client,
        "deploy/v1/activity/list",
        json!({ "project_id": project }),
    )
    .await;
    assert_eq!(listed["count"], 1);
    assert_eq!(
        listed["results"][0]["id"],
        first.envelope.request_id.to_string()
    );
    assert_eq!(listed["results"][0]["state"], "complete");
}

/// Activities past `activity_ttl` are swept, and the list's `count` (read
/// from the tallies the job table keeps, not counted) follows: it always
/// equals the rows a filtered list counts one by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_activities_leave_the_list_and_its_count() {
    let gw = common::start_with(short_lived_activities).await;
    expiry(&gw).await;
}

/// Activities kept 1.5 s, swept every 200 ms.
pub fn short_lived_activities(config: &mut actiongate_gateway::Config) {
    config.activity_ttl = Duration::from_millis(1500);
    config.result_ttl = Duration::from_millis(1500);
    config.result_sweep_interval = Duration::from_millis(200);
}

pub async fn expiry(gw: &TestGateway) {
    let client = gw.client("");
    let (project, env) = gw.project_with_environment("tallied", "dev").await;
    let (_, other) = gw.project_with_environment("elsewhere", "dev").await;
    for (path, id) in [
        ("deploy/v1/environment/pause", &env),
        ("deploy/v1/environment/resume", &env),
        ("deploy/v1/environment/pause", &other),
    ] {
        let done = run(&client, path, json!({ "id": id })).await;
        expect(&done, 200, Status::Success);
    }
    let counts = || async {
        let list = |filter: Value| {
            let client = client.clone();
            let project = project.clone();
            async move {
                let listed = list_activities(&client, &project, filter).await;
                (
                    listed["count"].as_u64().unwrap(),
                    listed["results"].as_array().unwrap().len() as u64,
                )
            }
        };
        [
            list(json!({})).await,
            list(json!({ "environment_id": env })).await,
            // A filter the tallies do not keep: counted row by row.
            list(json!({ "state": ["complete"] })).await,
        ]
    };
    assert_eq!(
        counts().await,
        [(2, 2); 3],
        "the other project's are not counted"
    );

    let deadline = tokio::time::Instant::now() + WAIT;
    while counts().await != [(0, 0); 3] {
        assert!(
            tokio::time::Instant::now() < deadline,
            "expired activities were never swept, or their count stayed: {:?}",
            counts().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A new one counts from zero again.
    let done = run(&client, "deploy/v1/environment/pause", json!({ "id": env })).await;
    expect(&done, 200, Status::Success);
    assert_eq!(counts().await, [(1, 1); 3]);
}
