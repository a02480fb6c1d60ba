//! Variables at the project and environment levels: inheritance through
//! `variable/resolve`, sensitive values sealed at rest and never shown
//! again, and `actiongate secrets rotate-key`. The scenarios run on SQLite
//! here and on PostgreSQL in `postgres.rs`.

use actiongate_client::{Client, Status};
use actiongate_gateway::Config;
use actiongate_service::secrets::{Keyring, Sealed};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::activities::run;
use crate::common::{self, expect, expect_at, succeeded, TestGateway};

async fn variable(client: &Client, level: (&str, &Value), name: &str, value: &str, more: Value) {
    let mut body = json!({ "name": name, "value": value });
    body[level.0] = level.1.clone();
    body.as_object_mut()
        .unwrap()
        .extend(more.as_object().unwrap().clone());
    succeeded(client, "deploy/v1/variable/create", body).await;
}

/// The effective set of an environment as `(name, value, source id, inherited)`.
async fn resolved(client: &Client, environment: &Value) -> Vec<(String, Value, String, bool)> {
    let set = succeeded(
        client,
        "deploy/v1/variable/resolve",
        json!({ "environment_id": environment }),
    )
    .await;
    assert_eq!(set["environment_id"], *environment);
    set["variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let source = v["source"]["environment_id"]
                .as_str()
                .or(v["source"]["project_id"].as_str())
                .unwrap()
                .to_owned();
            (
                v["name"].as_str().unwrap().to_owned(),
                v["value"].clone(),
                source,
                v["inherited"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn entry(
    name: &str,
    value: &str,
    source: &Value,
    inherited: bool,
) -> (String, Value, String, bool) {
    (
        name.to_owned(),
        json!(value),
        source.as_str().unwrap().to_owned(),
        inherited,
    )
}

/// Project variables, overridden by the inheritable ones of ancestors, the
/// nearest last, overridden by the environment's own; disabled ones left
/// out; each bad input refused with its field named.
pub async fn inheritance(gw: &TestGateway) {
    let client = gw.client("");
    let project = gw.project("layers").await["id"].clone();
    let env = |name: &'static str| {
        let client = client.clone();
        let project = project.clone();
        async move {
            succeeded(
                &client,
                "deploy/v1/environment/create",
                json!({ "project_id": project, "name": name }),
            )
            .await["id"]
                .clone()
        }
    };
    let prod = env("prod").await;
    let branch = |parent: Value, name: &'static str| {
        let client = client.clone();
        async move {
            let done = run(
                &client,
                "deploy/v1/environment/branch",
                json!({ "id": parent, "name": name, "clone_data": false }),
            )
            .await;
            expect(&done, 200, Status::Success);
            done.envelope.result["id"].clone()
        }
    };
    let staging = branch(prod.clone(), "staging").await;
    let feature = branch(staging.clone(), "feature").await;

    let at_project = ("project_id", &project);
    variable(&client, at_project, "REGION", "eu", json!({})).await;
    variable(&client, at_project, "SHARED", "project", json!({})).await;
    variable(
        &client,
        at_project,
        "OFF",
        "x",
        json!({ "is_enabled": false }),
    )
    .await;
    variable(
        &client,
        ("environment_id", &prod),
        "SHARED",
        "prod",
        json!({}),
    )
    .await;
    variable(
        &client,
        ("environment_id", &prod),
        "PROD_ONLY",
        "p",
        json!({ "is_inheritable": false }),
    )
    .await;
    variable(
        &client,
        ("environment_id", &staging),
        "SHARED",
        "staging",
        json!({}),
    )
    .await;
    variable(
        &client,
        ("environment_id", &staging),
        "STAGE",
        "1",
        json!({}),
    )
    .await;
    variable(&client, ("environment_id", &feature), "OWN", "1", json!({})).await;
    variable(
        &client,
        ("environment_id", &feature),
        "SHARED",
        "feature",
        json!({ "is_enabled": false }),
    )
    .await;

    assert_eq!(
        resolved(&client, &feature).await,
        [
            entry("OWN", "1", &feature, false),
            entry("REGION", "eu", &project, true),
            entry("SHARED", "staging", &staging, true),
            entry("STAGE", "1", &staging, true),
        ]
    );
    assert_eq!(
        resolved(&client, &prod).await,
        [
            entry("PROD_ONLY", "p", &prod, false),
            entry("REGION", "eu", &project, true),
            entry("SHARED", "prod", &prod, false),
        ]
    );

    // Each level lists its own.
    let listed = succeeded(
        &client,
        "deploy/v1/variable/list",
        json!({ "project_id": project }),
    )
    .await;
    assert_eq!(listed["count"], 3);
    assert!(listed["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["environment_id"].is_null() && v["project_id"] == project));
    let listed = succeeded(
        &client,
        "deploy/v1/variable/list",
        json!({ "environment_id": feature }),
    )
    .await;
    assert_eq!(listed["count"], 2);

    // Bad input, each at its field.
    for (body, source) in [
        (
            json!({ "project_id": project, "environment_id": prod, "name": "X", "value": "1" }),
            "/environment_id",
        ),
        (json!({ "name": "X", "value": "1" }), "/project_id"),
        (
            json!({ "project_id": project, "name": "J", "value": "{not json", "is_json": true }),
            "/value",
        ),
        (
            json!({ "project_id": project, "name": "1BAD", "value": "1" }),
            "/name",
        ),
    ] {
        let refused = client
            .call("deploy/v1/variable/create", &body)
            .await
            .unwrap();
        expect_at(&refused, 400, Status::ValidationError, source);
    }
    let taken = client
        .call(
            "deploy/v1/variable/create",
            &json!({ "project_id": project, "name": "REGION", "value": "us" }),
        )
        .await
        .unwrap();
    expect_at(&taken, 409, Status::Conflict, "/name");
    let elsewhere = client
        .call(
            "deploy/v1/variable/list",
            &json!({ "project_id": "prj_01j0000000000000000000000" }),
        )
        .await
        .unwrap();
    expect(&elsewhere, 404, Status::ResourceNotFound);

    // A viewer reads the effective set but changes nothing.
    let viewer = gw.person("reader", "viewer").await;
    let seen = viewer
        .client
        .call(
            "deploy/v1/variable/resolve",
            &json!({ "environment_id": feature }),
        )
        .await
        .unwrap();
    expect(&seen, 200, Status::Success);
    let refused = viewer
        .client
        .call(
            "deploy/v1/variable/create",
            &json!({ "project_id": project, "name": "NOPE", "value": "1" }),
        )
        .await
        .unwrap();
    expect(&refused, 403, Status::Forbidden);
}

/// The keyring a gateway made in its data directory.
fn keyring_of(gw: &TestGateway) -> Keyring {
    let config = Config {
        data_dir: gw.dir.path().to_owned(),
        ..Config::default()
    };
    actiongate_gateway::secrets::load(&config, false).unwrap()
}

/// Every value of a text column, joined, for looking for a plaintext.
async fn column_text(database_url: &str, table: &str, column: &str) -> String {
    let db = crate::common::database(database_url).await;
    let rows = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT {column} AS text FROM {table}"),
        ))
        .await
        .unwrap();
    let text: Vec<String> = rows
        .iter()
        .map(|row| row.try_get::<String>("", "text").unwrap())
        .collect();
    db.close().await.unwrap();
    assert!(!text.is_empty(), "{table} has rows to look at");
    text.join("\n")
}

/// A variable's stored value and key id.
async fn stored(database_url: &str, id: &str) -> Sealed {
    let db = crate::common::database(database_url).await;
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT value, key_id FROM variables WHERE id = '{id}'"),
        ))
        .await
        .unwrap()
        .unwrap();
    let sealed = Sealed {
        text: row.try_get("", "value").unwrap(),
        key_id: row.try_get("", "key_id").unwrap(),
    };
    db.close().await.unwrap();
    sealed
}

pub fn database_url(gw: &TestGateway) -> String {
    gw.database_url.clone().unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=ro",
            gw.dir.path().join("actiongate.db").display()
        )
    })
}

const SECRET: &str = "hunter2-do-not-show";

/// A sensitive value: sealed at rest, never shown by any read, never in
/// the audit trail, a backup or a copy in plaintext; it stays sensitive.
pub async fn sensitive_values(gw: &TestGateway) {
    let client = gw.client("");
    let url = database_url(gw);
    let (project, env) = gw.project_with_environment("secrets", "prod").await;
    let created = succeeded(
        &client,
        "deploy/v1/variable/create",
        json!({ "environment_id": env, "name": "API_KEY", "value": SECRET, "is_sensitive": true }),
    )
    .await;
    assert!(created["value"].is_null(), "{created}");
    assert_eq!(created["is_sensitive"], true);
    let id = created["id"].as_str().unwrap().to_owned();

    // At rest: sealed, and opened only by the keyring.
    let sealed = stored(&url, &id).await;
    assert!(!sealed.text.contains(SECRET));
    assert_eq!(keyring_of(gw).open(&sealed).unwrap(), SECRET.as_bytes());

    // Never shown: get, list, resolve.
    let got = succeeded(&client, "deploy/v1/variable/get", json!({ "id": id })).await;
    assert!(got["value"].is_null());
    let listed = succeeded(
        &client,
        "deploy/v1/variable/list",
        json!({ "environment_id": env }),
    )
    .await;
    assert!(listed["results"][0]["value"].is_null());
    let set = succeeded(
        &client,
        "deploy/v1/variable/resolve",
        json!({ "environment_id": env }),
    )
    .await;
    assert!(set["variables"][0]["value"].is_null());
    assert_eq!(set["variables"][0]["is_sensitive"], true);

    // A copy carries it sealed; a backup holds it sealed.
    let branched = run(
        &client,
        "deploy/v1/environment/branch",
        json!({ "id": env, "name": "copy" }),
    )
    .await;
    expect(&branched, 200, Status::Success);
    let copied = succeeded(
        &client,
        "deploy/v1/variable/list",
        json!({ "environment_id": branched.envelope.result["id"] }),
    )
    .await["results"][0]
        .clone();
    assert_eq!(copied["is_sensitive"], true);
    assert!(copied["value"].is_null());
    let backup = run(
        &client,
        "deploy/v1/backup/create",
        json!({ "environment_id": env }),
    )
    .await;
    expect(&backup, 200, Status::Success);
    assert!(!column_text(&url, "backups", "contents")
        .await
        .contains(SECRET));
    assert!(!column_text(&url, "variables", "value")
        .await
        .contains(SECRET));

    // It stays sensitive; a new value is sealed anew.
    let refused = client
        .call(
            "deploy/v1/variable/update",
            &json!({ "id": id, "is_sensitive": false }),
        )
        .await
        .unwrap();
    expect_at(&refused, 400, Status::ValidationError, "/is_sensitive");
    let updated = succeeded(
        &client,
        "deploy/v1/variable/update",
        json!({ "id": id, "value": "rotated-value" }),
    )
    .await;
    assert!(updated["value"].is_null());
    let resealed = stored(&url, &id).await;
    assert_eq!(keyring_of(gw).open(&resealed).unwrap(), b"rotated-value");

    // A plain variable made sensitive is sealed from then on.
    let plain = succeeded(
        &client,
        "deploy/v1/variable/create",
        json!({ "project_id": project, "name": "TOKEN", "value": "plain-then-hidden" }),
    )
    .await;
    assert_eq!(plain["value"], "plain-then-hidden");
    let hidden = succeeded(
        &client,
        "deploy/v1/variable/update",
        json!({ "id": plain["id"], "is_sensitive": true }),
    )
    .await;
    assert!(hidden["value"].is_null());
    assert!(!column_text(&url, "variables", "value")
        .await
        .contains("plain-then-hidden"));

    // Not in the audit trail either.
    let trail = client
        .call("access/v1/audit/list", &json!({ "limit": 1000 }))
        .await
        .unwrap();
    expect(&trail, 200, Status::Success);
    let trail = serde_json::to_string(&trail.envelope.result).unwrap();
    assert!(trail.contains(&id), "the changes are audited");
    assert!(!trail.contains(SECRET) && !trail.contains("rotated-value"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variables_resolve_through_project_and_ancestors() {
    let gw = common::start().await;
    inheritance(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sensitive_values_are_sealed_and_never_shown() {
    let gw = common::start().await;
    sensitive_values(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_key_reseals_every_value_and_keeps_the_old_key() {
    let gw = common::start().await;
    rotation(&gw).await;
}

/// `actiongate secrets rotate-key` against a running gateway's database.
pub async fn rotation(gw: &TestGateway) {
    let client = gw.client("");
    let url = database_url(gw);
    let (_, env) = gw.project_with_environment("rotation", "prod").await;
    let created = succeeded(
        &client,
        "deploy/v1/variable/create",
        json!({ "environment_id": env, "name": "API_KEY", "value": SECRET, "is_sensitive": true }),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let backup = run(
        &client,
        "deploy/v1/backup/create",
        json!({ "environment_id": env }),
    )
    .await;
    expect(&backup, 200, Status::Success);
    let before = keyring_of(gw);
    let old_key = before.primary().to_owned();
    assert!(column_text(&url, "backups", "contents")
        .await
        .contains(&old_key));

    let out = gw.cli(&["secrets", "rotate-key"]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = keyring_of(gw);
    assert_ne!(after.primary(), old_key);
    assert!(printed.contains(after.primary()), "{printed}");
    assert!(
        printed.contains("1 sensitive variables sealed again"),
        "{printed}"
    );
    assert!(
        printed.contains("1 sensitive values in backups sealed again"),
        "{printed}"
    );
    assert!(!printed.contains(SECRET));

    let resealed = stored(&url, &id).await;
    assert_eq!(resealed.key_id, after.primary());
    assert_eq!(after.open(&resealed).unwrap(), SECRET.as_bytes());
    let backups = column_text(&url, "backups", "contents").await;
    assert!(backups.contains(after.primary()) && !backups.contains(&old_key));
    assert!(!backups.contains(SECRET));

    // The old key stays in the file: what it sealed still opens. A second
    // rotation finds nothing left under the first key.
    let old_sealed = before.seal(b"older");
    assert_eq!(after.open(&old_sealed).unwrap(), b"older");
    let again = gw.cli(&["secrets", "rotate-key"]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("1 sensitive variables sealed again"));
}
