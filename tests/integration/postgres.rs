//! The same gateway on PostgreSQL: migrations, the console, async jobs and
//! token revocation, against a real server (scripts/with-postgres.sh starts
//! a throwaway one; `make test` runs the suite under it).

use std::collections::HashSet;
use std::time::Duration;

use actiongate_client::{Client, Status};
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::json;

use crate::activities;
use crate::common::{self, expect};
use crate::events;
use crate::jobs;
use crate::nodes::{self, Node};
use crate::org_members;
use crate::roles;
use crate::teams;
use crate::tokens;
use crate::variables;
use crate::webhooks;

/// A new, empty database on the test server, or `None` (the test then
/// skips, saying why) when no server was given: a plain `cargo test` has
/// none, `make test` always does (scripts/with-postgres.sh), and fails if it
/// cannot start one.
pub async fn fresh_database() -> Option<String> {
    let Ok(admin) = std::env::var("ACTIONGATE_TEST_POSTGRES_URL") else {
        eprintln!(
            "skipped: ACTIONGATE_TEST_POSTGRES_URL is not set; `make test` runs this test on a throwaway PostgreSQL"
        );
        return None;
    };
    let name = actiongate_wire::new_id("test");
    let db = crate::common::database(&admin).await;
    db.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    db.close().await.unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    Some(format!("{base}/{name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_runs_on_postgresql() {
    let Some(url) = fresh_database().await else {
        return;
    };
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

/// Projects' people and environments on PostgreSQL: the partial unique
/// index on defaults, a clone as a job, multi-table deletes, the audit
/// trail, an icon's bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_and_environments_on_postgresql() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let gw = common::start_with(|c| c.database_url = Some(url.clone())).await;
    let project = gw.project("pg-apollo").await["id"].clone();
    let user = gw
        .call(
            "access/v1/user/create",
            json!({ "email": "ada@example.com", "name": "Ada", "role": "viewer" }),
        )
        .await;
    expect(&user, 200, Status::Success);
    let ada_id = user.envelope.result["id"].as_str().unwrap().to_owned();
    let out = gw.cli(&["--database-url", &url, "token", "create", "--user", &ada_id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ada = gw
        .client("")
        .with_token(String::from_utf8(out.stdout).unwrap().trim());

    // Invited, accepted, then handed the project.
    let invite = gw
        .call(
            "access/v1/invite/create",
            json!({ "project_id": project, "email": "ada@example.com", "role": "admin" }),
        )
        .await;
    expect(&invite, 200, Status::Success);
    let accepted = ada
        .call(
            "access/v1/invite/accept",
            &json!({ "token": invite.envelope.result["token"] }),
        )
        .await
        .unwrap();
    expect(&accepted, 200, Status::Success);
    let moved = gw
        .call(
            "console/v1/project/transfer",
            json!({ "id": project, "new_owner_id": ada_id }),
        )
        .await;
    expect(&moved, 200, Status::Success);

    // Changes to one project's owner and default happen one at a time,
    // even when they arrive together on a pool of connections.
    let contested = gw.project("pg-contested").await["id"].clone();
    let mut members = Vec::new();
    for name in ["m1", "m2", "m3", "m4"] {
        let user = gw
            .call(
                "access/v1/user/create",
                json!({ "email": format!("{name}@example.com"), "name": name }),
            )
            .await;
        let id = user.envelope.result["id"].clone();
        let added = gw
            .call(
                "access/v1/member/add",
                json!({ "project_id": contested, "user_id": id, "role": "member" }),
            )
            .await;
        expect(&added, 200, Status::Success);
        members.push(id);
    }
    let root = gw.client("");
    let transfers = members.iter().map(|id| {
        let body = json!({ "id": contested, "new_owner_id": id });
        let root = root.clone();
        async move { root.call("console/v1/project/transfer", &body).await }
    });
    for reply in futures_util::future::join_all(transfers).await {
        expect(&reply.unwrap(), 200, Status::Success);
    }
    let firsts = ["e-1", "e-2", "e-3", "e-4"].map(|name| {
        let body = json!({ "project_id": contested, "name": name });
        let root = root.clone();
        async move { root.call("deploy/v1/environment/create", &body).await }
    });
    for reply in futures_util::future::join_all(firsts).await {
        expect(&reply.unwrap(), 200, Status::Success);
    }
    let listed = gw
        .call("access/v1/member/list", json!({ "project_id": contested }))
        .await;
    let owners = listed.envelope.result["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "owner")
        .count();
    assert_eq!(owners, 1, "{:#?}", listed.envelope.result);
    let defaults = gw
        .call(
            "deploy/v1/environment/list",
            json!({ "project_id": contested, "filter": { "is_default": true } }),
        )
        .await;
    assert_eq!(defaults.envelope.result["count"], 1);

    let create = |name: &str| {
        let ada = ada.clone();
        let body = json!({ "project_id": project, "name": name });
        async move {
            let reply = ada
                .call("deploy/v1/environment/create", &body)
                .await
                .unwrap();
            expect(&reply, 200, Status::Success);
            reply.envelope.result
        }
    };
    let staging = create("staging").await;
    let production = create("production").await;
    assert_eq!(
        (
            staging["is_default"].clone(),
            production["is_default"].clone()
        ),
        (json!(true), json!(false))
    );
    let set = ada
        .call(
            "deploy/v1/environment/set_default",
            &json!({ "id": production["id"] }),
        )
        .await
        .unwrap();
    expect(&set, 200, Status::Success);
    for i in 0..5 {
        let reply = ada
            .call(
                "deploy/v1/variable/create",
                &json!({ "environment_id": staging["id"], "name": format!("V{i}"), "value": "x" }),
            )
            .await
            .unwrap();
        expect(&reply, 200, Status::Success);
    }
    let reply = ada
        .call(
            "deploy/v1/environment/clone",
            &json!({ "id": staging["id"], "name": "staging-v2" }),
        )
        .await
        .unwrap();
    expect(&reply, 202, Status::Accepted);
    let done = ada.wait(reply, Duration::from_secs(20)).await.unwrap();
    expect(&done, 200, Status::Success);
    let vars = ada
        .call(
            "deploy/v1/variable/list",
            &json!({ "environment_id": done.envelope.result["id"] }),
        )
        .await
        .unwrap();
    assert_eq!(vars.envelope.result["count"], 5);
    let taken = ada
        .call(
            "deploy/v1/environment/create",
            &json!({ "project_id": project, "name": "staging-v2" }),
        )
        .await
        .unwrap();
    expect(&taken, 409, Status::Conflict);

    let icon = b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec();
    let form = reqwest::multipart::Form::new()
        .text("request", json!({ "id": project }).to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(icon.clone()).file_name("i.svg"),
        );
    let uploaded = ada
        .send(ada.post("console/v1/project/icon/upload").multipart(form))
        .await
        .unwrap();
    expect(&uploaded, 200, Status::Success);
    let served = ada
        .get(uploaded.envelope.result["icon_path"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(served.envelope.result["size"], icon.len());

    let trail = gw
        .call("access/v1/audit/list", json!({ "limit": 100 }))
        .await;
    expect(&trail, 200, Status::Success);
    // project, user, invite, accept, transfer; the contested project, its
    // 4 users, 4 members, 4 transfers, 4 environments; then 2
    // environments, default, 5 variables, the clone, the icon.
    assert_eq!(trail.envelope.result["count"], 32);

    for id in [&project, &contested] {
        let reply = root
            .call("console/v1/project/delete", &json!({ "id": id }))
            .await
            .unwrap();
        let done = root.wait(reply, Duration::from_secs(20)).await.unwrap();
        expect(&done, 200, Status::Success);
    }
    let db = crate::common::database(&url).await;
    for table in [
        "environments",
        "variables",
        "backups",
        "project_members",
        "invites",
        "project_icons",
    ] {
        let row = db
            .query_one(sea_orm::Statement::from_string(
                db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .unwrap()
            .unwrap();
        let n: i64 = row.try_get("", "n").unwrap();
        assert_eq!(n, 0, "{table} emptied with its project");
    }
}

/// The lifecycle and its activities, backups and variables on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activities_on_postgresql() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let gw = common::start_with(|c| c.database_url = Some(url.clone())).await;
    activities::branch_merge_and_sync(&gw).await;
    activities::pause_and_resume(&gw).await;
    activities::backups(&gw).await;
    variables::inheritance(&gw).await;
    variables::sensitive_values(&gw).await;
    activities::cancels(&gw).await;
    // Its counts are of one database's values.
    let other = fresh_database().await.expect("the same server");
    let rotating = common::start_with(|c| c.database_url = Some(other)).await;
    variables::rotation(&rotating).await;
}

/// Activities swept at their expiry, their counts following, on
/// PostgreSQL (whose tallies are kept by a trigger function of its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_counts_through_expiry_on_postgresql() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let gw = common::start_with(|c| {
        c.database_url = Some(url.clone());
        activities::short_lived_activities(c);
    })
    .await;
    activities::expiry(&gw).await;
}

/// A safe backup holds its environment's writes back until it has its
/// copy; a live one holds nothing. The test holds the backups table, so a
/// backup stops between its read and its insert, keeping whatever it took;
/// `pg_stat_activity` shows who waits on a lock. (On SQLite every write,
/// a backup's too, is the one writer's: nothing runs beside it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_wait_for_a_safe_backup_and_not_for_a_live_one() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let gw = common::start_with(|c| c.database_url = Some(url.clone())).await;
    let client = gw.client("");
    let (_, env) = gw.project_with_environment("held", "prod").await;
    let db = crate::common::database(&url).await;
    let waiting = |like: &'static str| {
        let db = &db;
        async move {
            let row = db
                .query_one(sea_orm::Statement::from_sql_and_values(
                    db.get_database_backend(),
                    "SELECT COUNT(*) AS n FROM pg_stat_activity \
                     WHERE wait_event_type = 'Lock' AND query ILIKE $1",
                    [like.into()],
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<i64>("", "n").unwrap() > 0
        }
    };
    let until = |like: &'static str| async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !waiting(like).await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "nothing ever waited on {like}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };

    for safe in [true, false] {
        let holder = db.begin().await.unwrap();
        holder
            .execute_unprepared("LOCK TABLE backups IN EXCLUSIVE MODE")
            .await
            .unwrap();
        let backup = activities::accepted(
            &client,
            "deploy/v1/backup/create",
            json!({ "environment_id": env, "safe": safe }),
        )
        .await;
        until("INSERT INTO \"backups\"%").await;
        let name = if safe { "DURING_SAFE" } else { "DURING_LIVE" };
        let write = tokio::spawn({
            let client = client.clone();
            let env = env.clone();
            async move {
                let reply = client
                    .call(
                        "deploy/v1/variable/create",
                        &json!({ "environment_id": env, "name": name, "value": "1" }),
                    )
                    .await
                    .unwrap();
                client.wait(reply, Duration::from_secs(30)).await.unwrap()
            }
        });
        let write = if safe {
            // The change waits on the environment's row.
            until("%FROM \"environments\"%FOR SHARE%").await;
            assert!(!write.is_finished(), "a write went past a safe backup");
            holder.commit().await.unwrap();
            write.await.unwrap()
        } else {
            let done = tokio::time::timeout(Duration::from_secs(20), write)
                .await
                .expect("a live backup held a write back")
                .unwrap();
            holder.commit().await.unwrap();
            done
        };
        expect(&write, 200, Status::Success);
        let taken = client.wait(backup, Duration::from_secs(30)).await.unwrap();
        expect(&taken, 200, Status::Success);
        // Neither copy has the variable written while it was taken: the
        // safe one because the write waited, the live one because it read
        // before the write.
        let backed_up = taken.envelope.result["variables"].as_u64().unwrap();
        assert_eq!(backed_up, if safe { 0 } else { 1 }, "safe: {safe}");
    }
}

/// Webhook deliveries, signed and retried, on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_on_postgresql() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let gw = common::start_with(|c| {
        c.database_url = Some(url.clone());
        common::allow_private_hooks(c);
    })
    .await;
    webhooks::signed_and_retried(&gw).await;
    let other = fresh_database().await.expect("the same server");
    let refusing = common::start_with(|c| c.database_url = Some(other)).await;
    webhooks::refusals(&refusing).await;
}

/// The event stream, the audit trail in it, on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_on_postgresql() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let gw = common::start_with(|c| c.database_url = Some(url.clone())).await;
    events::sent_and_filtered(&gw).await;
    events::audit_in_the_stream(&gw).await;
}

/// Roles carried by teams, on PostgreSQL; and a grant made through one
/// node holding from the next request on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_on_postgresql_and_across_nodes() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let gw = common::start_with(|c| c.database_url = Some(url.clone())).await;
    teams::roles_carried_by_teams(&gw).await;
    roles::held_through_teams(&gw).await;

    let url = fresh_database().await.expect("the same server");
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let lease = Duration::from_millis(1500);
    let a = Node::start(dir_a.path(), Some(&url), lease);
    let b = Node::start(dir_b.path(), Some(&url), lease);
    let token = std::fs::read_to_string(dir_a.path().join("admin.token")).unwrap();
    let admin = Client::new(&a.url, token.trim());
    let call = |client: &Client, path: &'static str, body: serde_json::Value| {
        let client = client.clone();
        async move {
            let reply = client.call(path, &body).await.unwrap();
            expect(&reply, 200, Status::Success);
            reply.envelope.result
        }
    };
    let user = call(
        &admin,
        "access/v1/user/create",
        json!({ "email": "nell@example.com", "name": "nell", "role": "viewer" }),
    )
    .await;
    let secret = call(
        &admin,
        "access/v1/token/create",
        json!({ "name": "nell", "user_id": user["id"] }),
    )
    .await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let nell_on_b = Client::new(&b.url, &secret);
    let create = |n: u32| json!({ "name": format!("nell-{n}") });
    let before = nell_on_b
        .call("console/v1/project/create", &create(1))
        .await
        .unwrap();
    expect(&before, 403, Status::Forbidden);
    let team = call(
        &admin,
        "access/v1/team/create",
        json!({ "name": "builders" }),
    )
    .await;
    call(
        &admin,
        "access/v1/team/member/add",
        json!({ "team_id": team["id"], "user_id": user["id"] }),
    )
    .await;
    call(
        &admin,
        "access/v1/team/grant",
        json!({ "team_id": team["id"], "role": "admin" }),
    )
    .await;
    let after = nell_on_b
        .call("console/v1/project/create", &create(2))
        .await
        .unwrap();
    expect(&after, 200, Status::Success);
    call(
        &admin,
        "access/v1/team/revoke",
        json!({ "team_id": team["id"] }),
    )
    .await;
    let revoked = nell_on_b
        .call("console/v1/project/create", &create(3))
        .await
        .unwrap();
    expect(&revoked, 403, Status::Forbidden);

    // A custom role held through the team, changed on one node: the
    // other weighs the new rules from its next request.
    let role = call(
        &admin,
        "access/v1/role/create",
        json!({ "name": "creator", "rules": [{ "action": "console:project:create", "effect": "allow" }] }),
    )
    .await;
    call(
        &admin,
        "access/v1/team/grant",
        json!({ "team_id": team["id"], "role": "creator" }),
    )
    .await;
    let by_rule = nell_on_b
        .call("console/v1/project/create", &create(4))
        .await
        .unwrap();
    expect(&by_rule, 200, Status::Success);
    call(
        &admin,
        "access/v1/role/update",
        json!({ "id": role["id"], "rules": [{ "action": "console:project:list", "effect": "allow" }] }),
    )
    .await;
    let changed = nell_on_b
        .call("console/v1/project/create", &create(5))
        .await
        .unwrap();
    expect(&changed, 403, Status::Forbidden);
}

/// Custom roles' bad rules, escalations and tokens, on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_roles_on_postgresql() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let gw = common::start_with(|c| c.database_url = Some(url)).await;
    roles::bad_rules_named(&gw).await;
    let url = fresh_database().await.expect("the same server");
    let gw = common::start_with(|c| c.database_url = Some(url)).await;
    roles::no_way_up(&gw).await;
    let url = fresh_database().await.expect("the same server");
    let gw = common::start_with(|c| c.database_url = Some(url)).await;
    roles::carried_by_a_token(&gw).await;
}

/// An organization's members and its transfer, on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_members_on_postgresql() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let gw = common::start_with(|c| c.database_url = Some(url.clone())).await;
    org_members::managed_within_reach(&gw).await;
    let other = fresh_database().await.expect("the same server");
    let gw = common::start_with(|c| c.database_url = Some(other)).await;
    org_members::transferred(&gw).await;
    let third = fresh_database().await.expect("the same server");
    let gw = common::start_with(|c| c.database_url = Some(third)).await;
    org_members::invited_to_the_organization(&gw).await;
}

/// Tokens managed through actions, and rotated with a grace, on
/// PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_on_postgresql() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let gw = common::start_with(|c| c.database_url = Some(url.clone())).await;
    tokens::managed_through_actions(&gw).await;
    tokens::rotated_with_grace(&gw).await;
}

/// Operations on one environment sent to two nodes run one at a time, in
/// the order accepted, whichever node claims them; a poll on either node
/// shows the progress of a job the other runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_run_an_environments_operations_in_order() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let lease = Duration::from_millis(1500);
    let a = Node::start(dir_a.path(), Some(&url), lease);
    let b = Node::start(dir_b.path(), Some(&url), lease);
    let token = std::fs::read_to_string(dir_a.path().join("admin.token")).unwrap();
    let (on_a, on_b) = (
        Client::new(&a.url, token.trim()),
        Client::new(&b.url, token.trim()),
    );
    activities::one_at_a_time(&on_a, &on_b).await;
}

/// Two gateway processes on one database: polls answered by either node,
/// a batch sent to one node shared by both through claims, no job run
/// twice, and a killed node's jobs finished by the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_the_job_table() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let lease = Duration::from_millis(1500);
    // Little room on each node, so most of a batch waits queued and both
    // nodes' claimers take from it.
    let mut a = Node::start_with(dir_a.path(), Some(&url), lease, 8);
    let b = Node::start_with(dir_b.path(), Some(&url), lease, 8);
    let token = std::fs::read_to_string(dir_a.path().join("admin.token")).unwrap();
    let (on_a, on_b) = (
        Client::new(&a.url, token.trim()),
        Client::new(&b.url, token.trim()),
    );

    let reply = on_a
        .call(
            "testkit/v1/steps/async",
            &json!({ "steps": 2, "step_ms": 50 }),
        )
        .await
        .unwrap();
    expect(&reply, 202, Status::Accepted);
    let polled = jobs::final_replies(&on_b, &[reply.envelope.request_id.to_string()]).await;
    expect(&polled[0], 200, Status::Success);
    assert_eq!(polled[0].envelope.request_id, reply.envelope.request_id);

    let batch = jobs::burst(&on_a, "pair-", 2000, 48, 20).await;
    assert_eq!(batch.len(), 2000);
    for reply in jobs::final_replies(&on_b, &batch).await {
        expect(&reply, 200, Status::Success);
    }
    let rows = nodes::job_rows(&url).await;
    let batch_rows: Vec<_> = rows
        .iter()
        .filter(|row| batch.contains(&row.request_id))
        .collect();
    assert_eq!(batch_rows.len(), 2000);
    assert!(
        batch_rows.iter().all(|row| row.attempts == 1),
        "no job was run twice"
    );
    let workers: HashSet<_> = batch_rows
        .iter()
        .filter_map(|row| row.node_id.clone())
        .collect();
    assert_eq!(workers.len(), 2, "both nodes ran jobs of the batch");
    assert_eq!(nodes::count_projects_named(&url, "pair-").await, 2000);

    // Kill node A mid-batch: B finishes what A held once A's leases lapse.
    // Each job takes far longer than the look at the table before the
    // kill, so A surely dies holding some.
    let sending = tokio::spawn({
        let on_a = on_a.clone();
        async move { jobs::burst(&on_a, "orphan-", 200, 48, 400).await }
    });
    // Kill it while it runs some of them.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let running_on_a = nodes::job_rows(&url).await.into_iter().any(|row| {
            row.state == "running"
                && row.node_id.as_deref() == Some(a.node_id.as_str())
                && String::from_utf8_lossy(&row.input).contains("orphan-")
        });
        if running_on_a {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "node A never ran an orphan"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.kill();
    // What A held when it died: its rows still running. B takes them only
    // once their leases lapse, well after this look.
    let held: HashSet<String> = nodes::job_rows(&url)
        .await
        .into_iter()
        .filter(|row| row.state == "running" && row.node_id.as_deref() == Some(a.node_id.as_str()))
        .map(|row| row.request_id)
        .collect();
    assert!(!held.is_empty(), "node A died holding jobs");
    let orphans = sending.await.unwrap();
    assert!(!orphans.is_empty());
    for reply in jobs::final_replies(&on_b, &orphans).await {
        expect(&reply, 200, Status::Success);
    }
    // Jobs A recorded but whose 202 never reached the client were not in
    // `orphans`; they too finish on B once A's leases lapse.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let rows = loop {
        let rows = nodes::job_rows(&url).await;
        let pending = rows
            .iter()
            .filter(|row| row.action == "steps/async")
            .any(|row| row.state == "queued" || row.state == "running");
        if !pending || std::time::Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let recorded: Vec<_> = rows
        .iter()
        .filter(|row| row.action == "steps/async" && row.request_time > 0)
        .filter(|row| !batch.contains(&row.request_id))
        .collect();
    assert!(
        recorded.iter().all(|row| row.state == "succeeded"),
        "every recorded job finished on the surviving node: {:?}",
        recorded
            .iter()
            .filter(|row| row.state != "succeeded")
            .map(|row| (&row.request_id, &row.state))
            .collect::<Vec<_>>()
    );
    let held_rows: Vec<_> = recorded
        .iter()
        .filter(|row| held.contains(&row.request_id))
        .collect();
    assert_eq!(held_rows.len(), held.len(), "every job A held is recorded");
    assert!(
        held_rows
            .iter()
            .all(|row| row.attempts > 1 && row.node_id.as_deref() == Some(b.node_id.as_str())),
        "jobs node A held when it died were run again by node B: {:?}",
        held_rows
            .iter()
            .map(|row| (&row.request_id, row.attempts, &row.node_id))
            .collect::<Vec<_>>()
    );
    let orphan_jobs = recorded
        .iter()
        .filter(|row| String::from_utf8_lossy(&row.input).contains("orphan-"))
        .count();
    assert_eq!(
        nodes::count_projects_named(&url, "orphan-").await,
        orphan_jobs as u64,
        "each orphan's effect exists once"
    );
    drop(b);
}

/// A batch of results, and a renewal of leases, find each job by its key,
/// never through the state index: the planner's statistics see few running
/// jobs, but the index keeps an entry for every finished job's running
/// version until a vacuum, and a statement that went through it read them
/// all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_and_leases_are_written_by_key_not_through_the_state_index() {
    use actiongate_gateway::jobs::store::{self, Fence, Final, Finish};
    use sea_orm::{DbBackend, Statement};

    let Some(url) = fresh_database().await else {
        return;
    };
    let gw = common::start_with(|c| c.database_url = Some(url.clone())).await;
    let db = crate::common::database(&url).await;
    // What a vacuum would clear stays, as it does between vacuums.
    db.execute_unprepared("ALTER TABLE jobs SET (autovacuum_enabled = false)")
        .await
        .unwrap();
    let client = gw.client("");
    let ran = jobs::burst(&client, "ran-", 1000, 32, 0).await;
    assert_eq!(ran.len(), 1000);
    for reply in jobs::final_replies(&client, &ran).await {
        expect(&reply, 200, Status::Success);
    }
    db.execute_unprepared("ANALYZE jobs").await.unwrap();

    let runs: Vec<Finish> = (0..16)
        .map(|i| Finish {
            fence: Fence {
                request_id: format!("prq_unknown{i}"),
                node_id: "node".into(),
                attempt: 1,
            },
            end: Final {
                state: "succeeded",
                response: "{}".into(),
                http_code: 200,
                finished_at: 1,
                expires_at: 2,
                upstream_request_id: None,
            },
            unless_cancelled: true,
            activity: false,
            audit: None,
        })
        .collect();
    let explained = |statement: Statement| {
        let db = &db;
        async move {
            let explain = Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!("EXPLAIN {}", statement.sql),
                statement.values.map(|values| values.0).unwrap_or_default(),
            );
            let plan: Vec<String> = db
                .query_all(explain)
                .await
                .unwrap()
                .iter()
                .map(|row| row.try_get::<String>("", "QUERY PLAN").unwrap())
                .collect();
            plan.join("\n")
        }
    };
    let finish = explained(store::finish_many_statement(DbBackend::Postgres, &runs)).await;
    assert!(!finish.contains("jobs_state_lease"), "{finish}");
    // The lease keeper's renewal names the jobs its node runs.
    let running: Vec<String> = runs
        .iter()
        .map(|run| run.fence.request_id.clone())
        .collect();
    let renew = explained(store::renew_statement(
        DbBackend::Postgres,
        "node",
        &running,
        1,
    ))
    .await;
    assert!(!renew.contains("jobs_state_lease"), "{renew}");
}

/// Polls of a job this node runs, or has just ended, are answered from what
/// the node knows of it: `pg_stat_statements` counts no read of its row
/// until its final answer has been given, and one for the poll after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_of_a_job_run_here_read_no_job_row() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let gw = common::start_with(|c| c.database_url = Some(url.clone())).await;
    let db = crate::common::database(&url).await;
    db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .await
        .unwrap();
    let row_reads = || async {
        let row = db
            .query_one(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT COALESCE(SUM(calls), 0)::bigint AS n FROM pg_stat_statements \
                 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                 AND query LIKE '%FROM \"jobs\" WHERE \"jobs\".\"request_id\" = $1%'",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };
    let client = gw.client("");
    let reply = client
        .call(
            "testkit/v1/steps/async",
            &json!({ "steps": 1, "step_ms": 500 }),
        )
        .await
        .unwrap();
    expect(&reply, 202, Status::Accepted);
    let location = reply.accepted().unwrap().location;

    let before = row_reads().await;
    for expected in 1..=2 {
        let running = client.get(&location).await.unwrap();
        expect(&running, 202, Status::Accepted);
        assert_eq!(running.accepted().unwrap().retry_counter, expected);
    }
    let done = client.get(&format!("{location}?wait=10")).await.unwrap();
    expect(&done, 200, Status::Success);
    assert_eq!(row_reads().await, before, "no poll read the job's row");

    // Answered: the next poll reads the table, and is counted here.
    let again = client.get(&location).await.unwrap();
    expect(&again, 200, Status::Success);
    assert_eq!(row_reads().await, before + 1);
}
