//! Services' own migrations: applied with the core's at start, once, and a
//! database that has more of them than a build knows still opens.

use actiongate_client::Status;
use serde_json::json;

use crate::common::{self, expect};

fn ledger_has(dir: &std::path::Path, name: &str) -> bool {
    let db = rusqlite::Connection::open(dir.join("actiongate.db")).unwrap();
    db.query_row(
        "SELECT count(*) FROM seaql_migrations WHERE version = ?1",
        [name],
        |row| row.get::<_, i64>(0),
    )
    .unwrap()
        == 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_migrates_its_own_table_once_and_keeps_its_rows() {
    let gw = common::start().await;
    assert!(ledger_has(gw.dir.path(), "m20261127_000007_testkit_notes"));
    let reply = gw.call("testkit/v1/note", json!({ "body": "first" })).await;
    expect(&reply, 200, Status::Success);
    assert_eq!(reply.envelope.result, json!({ "bodies": ["first"] }));

    // A second start finds the migration applied: it would fail creating
    // the table again.
    let dir = gw.shutdown().await;
    let again = common::restart(dir.path()).await;
    let client = actiongate_client::Client::new(
        format!("http://{}/testkit", again.addr),
        std::fs::read_to_string(dir.path().join("admin.token"))
            .unwrap()
            .trim(),
    );
    let reply = client
        .call("v1/note", &json!({ "body": "second" }))
        .await
        .unwrap();
    expect(&reply, 200, Status::Success);
    assert_eq!(
        reply.envelope.result,
        json!({ "bodies": ["first", "second"] })
    );
    again.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_without_a_service_still_opens_its_database() {
    let gw = common::start().await;
    gw.call("testkit/v1/note", json!({ "body": "kept" })).await;
    // The stock binary has no testkit service, hence not its migration.
    let out = gw.cli(&["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(ledger_has(gw.dir.path(), "m20261127_000007_testkit_notes"));
    let reply = gw.call("testkit/v1/note", json!({ "body": "again" })).await;
    assert_eq!(
        reply.envelope.result,
        json!({ "bodies": ["kept", "again"] })
    );
}
