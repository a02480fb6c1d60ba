//! The event stream (`access/v1/event/*`): events sent, listed by window
//! with filters that AND together and values that OR together, counted,
//! their tags listed; the audit trail in the stream for admins only; bad
//! input refused with a pointer; sent events swept at `event_ttl`. The
//! shared parts run on PostgreSQL too (`postgres.rs`).

use std::time::Duration;

use actiongate_client::{Client, Status};
use actiongate_wire::Timestamp;
use serde_json::{json, Value};

use crate::common::{self, expect, expect_at, TestGateway};

async fn ok(client: &Client, path: &str, body: Value) -> Value {
    let reply = client.call(path, &body).await.expect("an envelope");
    expect(&reply, 200, Status::Success);
    reply.envelope.result
}

/// A window from a minute ago to a minute ahead.
fn around_now() -> (i64, i64) {
    let now = Timestamp::now_ms();
    (now - 60_000, now + 60_000)
}

fn titles(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] != "Platform")
        .map(|e| e["title"].as_str().unwrap().to_owned())
        .collect()
}

/// Sent, listed, filtered, counted and their tags listed, on either
/// database.
pub async fn sent_and_filtered(gw: &TestGateway) {
    let member = gw.person("eve", "member").await;
    let send = |title: &str, kind: &str, severity: &str, tags: Value| {
        json!({
            "type": kind, "title": title, "message": format!("{title} happened"),
            "severity": severity, "tags": tags, "color": "red", "icon": "bell"
        })
    };
    for body in [
        send(
            "deploy started",
            "Custom",
            "info",
            json!([{ "key": "env", "value": "prod" }]),
        ),
        send(
            "disk full",
            "Monitoring",
            "crit",
            json!([{ "key": "env", "value": "prod" }, { "key": "host", "value": "db1" }]),
        ),
        send(
            "quota near",
            "Cloud",
            "warn",
            json!([{ "key": "env", "value": "staging" }]),
        ),
    ] {
        let sent = member.call("access/v1/event/send", body).await;
        expect(&sent, 200, Status::Success);
        assert!(sent.envelope.result["id"]
            .as_str()
            .unwrap()
            .starts_with("evt_"));
        // One after the other: the list is newest first.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (begin, end) = around_now();
    let all = member
        .call(
            "access/v1/event/list",
            json!({ "begin": begin, "end": end }),
        )
        .await;
    expect(&all, 200, Status::Success);
    assert_eq!(
        titles(&all.envelope.result),
        ["quota near", "disk full", "deploy started"]
    );
    let disk = &all.envelope.result["results"][1];
    assert_eq!(disk["severity"], "crit");
    assert_eq!(disk["color"], "red");
    assert_eq!(
        disk["tags"],
        json!([{ "key": "env", "value": "prod" }, { "key": "host", "value": "db1" }])
    );

    let filtered = |filter: Value| {
        let mut body = json!({ "begin": begin, "end": end });
        body.as_object_mut()
            .unwrap()
            .extend(filter.as_object().unwrap().clone());
        body
    };
    // Values in one filter OR together.
    let either = ok(
        &member.client,
        "access/v1/event/list",
        filtered(json!({ "severity": ["crit", "warn"] })),
    )
    .await;
    assert_eq!(titles(&either), ["quota near", "disk full"]);
    let tagged = ok(
        &member.client,
        "access/v1/event/list",
        filtered(json!({ "tags": [{ "key": "env", "value": "prod" }, { "key": "host", "value": "nope" }] })),
    )
    .await;
    assert_eq!(titles(&tagged), ["disk full", "deploy started"]);
    // Filters AND together.
    let both = ok(
        &member.client,
        "access/v1/event/list",
        filtered(
            json!({ "type": ["Custom", "Cloud"], "tags": [{ "key": "env", "value": "prod" }] }),
        ),
    )
    .await;
    assert_eq!(titles(&both), ["deploy started"]);
    let counted = ok(
        &member.client,
        "access/v1/event/count",
        filtered(json!({ "tags": [{ "key": "env", "value": "prod" }] })),
    )
    .await;
    assert_eq!(counted["count"], 2);
    // A window before them holds none.
    let before = ok(
        &member.client,
        "access/v1/event/count",
        json!({ "begin": begin - 120_000, "end": begin }),
    )
    .await;
    assert_eq!(before["count"], 0);
    // Paging through the three, two at a time.
    let second_page = ok(
        &member.client,
        "access/v1/event/list",
        filtered(json!({ "offset": 2, "limit": 2 })),
    )
    .await;
    assert_eq!(titles(&second_page), ["deploy started"]);
    assert_eq!(second_page["count"], 3);

    let tags = ok(&member.client, "access/v1/event/tags", json!({})).await;
    assert_eq!(
        tags["tags"],
        json!([
            { "key": "env", "values": ["prod", "staging"] },
            { "key": "host", "values": ["db1"] },
        ])
    );
}

/// The audit trail is in the stream, for admins.
pub async fn audit_in_the_stream(gw: &TestGateway) {
    let project = gw.project("audited").await;
    let project_id = project["id"].as_str().unwrap();
    let (begin, end) = around_now();
    let admin = gw.client("");
    let platform = ok(
        &admin,
        "access/v1/event/list",
        json!({
            "begin": begin, "end": end, "type": ["Platform"],
            "tags": [{ "key": "action", "value": "console/v1/project/create" }]
        }),
    )
    .await;
    assert_eq!(platform["count"], 1, "{platform:#}");
    let event = &platform["results"][0];
    assert_eq!(event["severity"], "info");
    assert_eq!(event["title"], "console/v1/project/create");
    let tag = |key: &str| {
        event["tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == key)
            .map(|t| t["value"].clone())
    };
    assert_eq!(tag("target"), Some(json!(project_id)));
    assert!(tag("actor").unwrap().as_str().unwrap().starts_with("usr_"));
    assert!(tag("request_id")
        .unwrap()
        .as_str()
        .unwrap()
        .starts_with("prq_"));
    // Not for a viewer, whose stream is the sent events alone.
    let viewer = gw.person("vic", "viewer").await;
    let seen = viewer
        .call(
            "access/v1/event/count",
            json!({ "begin": begin, "end": end, "type": ["Platform"] }),
        )
        .await;
    expect(&seen, 200, Status::Success);
    assert_eq!(seen.envelope.result["count"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_sent_filtered_and_counted() {
    let gw = common::start().await;
    sent_and_filtered(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_is_in_the_stream_for_admins() {
    let gw = common::start().await;
    audit_in_the_stream(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_events_and_filters_name_their_field() {
    let gw = common::start().await;
    let base = json!({
        "type": "Custom", "title": "t", "message": "m", "severity": "info", "tags": []
    });
    let with = |change: Value| {
        let mut body = base.clone();
        body.as_object_mut()
            .unwrap()
            .extend(change.as_object().unwrap().clone());
        body
    };
    for (change, pointer) in [
        (json!({ "type": "Cycloid" }), "/type"),
        (json!({ "severity": "fatal" }), "/severity"),
        (json!({ "title": " " }), "/title"),
        (json!({ "message": "" }), "/message"),
        (json!({ "color": "#ff0000" }), "/color"),
        (json!({ "icon": "x" }), "/icon"),
        (
            json!({ "tags": [{ "key": "", "value": "v" }] }),
            "/tags/0/key",
        ),
        (
            json!({ "tags": [{ "key": "k".repeat(255), "value": "v" }] }),
            "/tags/0/key",
        ),
        (
            json!({ "tags": [{ "key": "k", "value": "v".repeat(255) }] }),
            "/tags/0/value",
        ),
    ] {
        let reply = gw.call("access/v1/event/send", with(change.clone())).await;
        expect_at(&reply, 400, Status::ValidationError, pointer);
    }
    let missing = gw.call("access/v1/event/list", json!({ "end": 1 })).await;
    expect_at(&missing, 400, Status::ValidationError, "/begin");
    let missing = gw
        .call("access/v1/event/count", json!({ "begin": 1 }))
        .await;
    expect_at(&missing, 400, Status::ValidationError, "/end");
    let backwards = gw
        .call("access/v1/event/list", json!({ "begin": 10, "end": 5 }))
        .await;
    expect_at(&backwards, 400, Status::ValidationError, "/begin");
    let viewer = gw.person("val", "viewer").await;
    let refused = viewer.call("access/v1/event/send", base.clone()).await;
    expect(&refused, 403, Status::Forbidden);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sent_events_are_swept_at_their_ttl() {
    let gw = common::start_with(|config| {
        config.result_sweep_interval = Duration::from_millis(200);
        config.services.insert(
            "access".into(),
            figment::value::Value::from(figment::value::Dict::from([(
                "event_ttl".to_owned(),
                figment::value::Value::from("1s"),
            )])),
        );
    })
    .await;
    let sent = gw
        .call(
            "access/v1/event/send",
            json!({
                "type": "Custom", "title": "brief", "message": "m", "severity": "info",
                "tags": [{ "key": "k", "value": "v" }]
            }),
        )
        .await;
    expect(&sent, 200, Status::Success);
    let (begin, end) = around_now();
    let window = json!({ "begin": begin, "end": end, "type": ["Custom"] });
    let count = |gw: &TestGateway| {
        let window = window.clone();
        let client = gw.client("");
        async move { ok(&client, "access/v1/event/count", window).await["count"].clone() }
    };
    assert_eq!(count(&gw).await, 1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while count(&gw).await != 0 {
        assert!(tokio::time::Instant::now() < deadline, "never swept");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Its tags went with it; the values seen stay listed.
    let dir = gw.shutdown().await;
    let db = rusqlite::Connection::open(dir.path().join("actiongate.db")).unwrap();
    let tags: i64 = db
        .query_row("SELECT count(*) FROM event_tags", [], |row| row.get(0))
        .unwrap();
    assert_eq!(tags, 0);
    let seen: i64 = db
        .query_row("SELECT count(*) FROM event_tag_values", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(seen, 1);
}
