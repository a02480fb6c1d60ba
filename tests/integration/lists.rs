//! Every list reads through an index, on SQLite and on PostgreSQL: no list
//! sorts its rows or walks a whole table, whatever its `order_by`.
//!
//! The lists are the OpenAPI document's (`.../list`, `invite/mine`,
//! `integration/deliveries`), each called with the records it is scoped
//! by and with every order it accepts (read from the error naming them),
//! so a new list is covered without editing this test.
//!
//! On SQLite the gateway's reader counts reads whose plan lacked an index
//! (`actiongate_sqlite_unindexed_reads_total`), from SQLite's own
//! statement counters. On PostgreSQL, `pg_stat_statements` names the
//! statements each call ran, and each is explained as a generic plan (the
//! one a prepared statement gets, whatever its parameters) with sequential
//! scans and sorts priced out: a plan that keeps one has no index to use
//! instead.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};
use serde_json::{json, Map, Value};

use crate::common::{self, expect, succeeded, TestGateway};
use crate::postgres::fresh_database;
use actiongate_client::Status;

/// `(sorted, scanned)` reads so far.
async fn unindexed(gw: &TestGateway) -> (u64, u64) {
    let text = gw.metrics_text().await;
    let read = |plan: &str| {
        let series = format!("actiongate_sqlite_unindexed_reads_total{{plan=\"{plan}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&series))
            .map_or(0, |n| n.trim().parse().unwrap())
    };
    (read("sorted"), read("scanned"))
}

/// The list routes of the document, with their input's properties and
/// required ones.
async fn lists(gw: &TestGateway) -> Vec<(String, Vec<String>, Vec<String>)> {
    let document: Value = reqwest::get(format!("{}/openapi.json", gw.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schemas = &document["components"]["schemas"];
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        let last = path.rsplit('/').next().unwrap();
        if !(last == "list" || last == "mine" || last == "deliveries") {
            continue;
        }
        let reference = item["post"]["requestBody"]["content"]["application/json"]["schema"]
            ["$ref"]
            .as_str()
            .unwrap_or_default();
        let schema = &schemas[reference.rsplit('/').next().unwrap()];
        let names = |v: &Value| -> Vec<String> {
            match v {
                Value::Array(items) => items
                    .iter()
                    .map(|n| n.as_str().unwrap().to_owned())
                    .collect(),
                Value::Object(map) => map.keys().cloned().collect(),
                _ => Vec::new(),
            }
        };
        found.push((
            path.trim_start_matches('/').to_owned(),
            names(&schema["properties"]),
            names(&schema["required"]),
        ));
    }
    found
}

/// How the plans of each call are judged.
enum Plans {
    /// The reader's counts of unindexed reads, before and after the call.
    Sqlite,
    /// The statements the call ran, each explained once.
    Postgres {
        db: DatabaseConnection,
        explained: BTreeSet<String>,
    },
}

impl Plans {
    async fn postgres(url: &str) -> Plans {
        let db = crate::common::database(url).await;
        db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .await
            .unwrap();
        Plans::Postgres {
            db,
            explained: BTreeSet::new(),
        }
    }

    /// Makes the call, and says what in its plans lacked an index.
    async fn call(&mut self, gw: &TestGateway, path: &str, body: &Value) -> Vec<String> {
        let client = gw.client("");
        match self {
            Plans::Sqlite => {
                let before = unindexed(gw).await;
                let reply = client.call(path, body).await.unwrap();
                expect(&reply, 200, Status::Success);
                let after = unindexed(gw).await;
                if after == before {
                    return Vec::new();
                }
                vec![format!(
                    "sorted {}, scanned {}",
                    after.0 - before.0,
                    after.1 - before.1
                )]
            }
            Plans::Postgres { db, explained } => {
                db.execute_unprepared("SELECT pg_stat_statements_reset()")
                    .await
                    .unwrap();
                let reply = client.call(path, body).await.unwrap();
                expect(&reply, 200, Status::Success);
                // The gateway's reads; not the server's own catalog
                // lookups, nor this test's.
                let ran = db
                    .query_all(Statement::from_string(
                        db.get_database_backend(),
                        "SELECT query FROM pg_stat_statements \
                         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                         AND query ILIKE 'select%' AND query NOT LIKE '%pg\\_%'",
                    ))
                    .await
                    .unwrap();
                let mut faults = Vec::new();
                for row in ran {
                    let query: String = row.try_get("", "query").unwrap();
                    if explained.insert(query.clone()) {
                        faults.extend(
                            unindexed_nodes(db, &query)
                                .await
                                .into_iter()
                                .map(|fault| format!("{fault} in {query}")),
                        );
                    }
                }
                faults
            }
        }
    }
}

/// The nodes of a statement's generic plan that walk a table or sort,
/// with both priced out so that any index able to serve is used instead.
async fn unindexed_nodes(db: &DatabaseConnection, query: &str) -> Vec<String> {
    let parameters = query
        .split('$')
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<usize>().ok()
        })
        .max()
        .unwrap_or(0);
    let execute = if parameters == 0 {
        "EXPLAIN EXECUTE listed".to_owned()
    } else {
        format!(
            "EXPLAIN EXECUTE listed({})",
            vec!["NULL"; parameters].join(", ")
        )
    };
    // One connection for the settings, the prepared statement and the plan.
    let transaction = db.begin().await.unwrap();
    for setting in [
        "SET LOCAL enable_seqscan = off",
        "SET LOCAL enable_sort = off",
        "SET LOCAL enable_incremental_sort = off",
        "SET LOCAL plan_cache_mode = force_generic_plan",
    ] {
        transaction.execute_unprepared(setting).await.unwrap();
    }
    transaction
        .execute_unprepared(&format!("PREPARE listed AS {query}"))
        .await
        .unwrap_or_else(|e| panic!("preparing {query}: {e}"));
    let plan = transaction
        .query_all(Statement::from_string(
            transaction.get_database_backend(),
            execute,
        ))
        .await
        .unwrap_or_else(|e| panic!("explaining {query}: {e}"));
    transaction
        .execute_unprepared("DEALLOCATE listed")
        .await
        .unwrap();
    transaction.rollback().await.unwrap();
    let lines: Vec<String> = plan
        .iter()
        .map(|row| row.try_get::<String>("", "QUERY PLAN").unwrap())
        .collect();
    // Each node's line, and the lines of details below it.
    let nodes: Vec<(usize, String)> = lines
        .iter()
        .enumerate()
        .filter(|(_, line)| line.contains("  (cost="))
        .map(|(at, line)| {
            let node = line.trim_start().trim_start_matches("->").trim_start();
            (at, node.split("  (cost=").next().unwrap_or(node).to_owned())
        })
        .collect();
    let mut faults = Vec::new();
    for (i, (at, node)) in nodes.iter().enumerate() {
        let end = nodes.get(i + 1).map_or(lines.len(), |(next, _)| *next);
        let details = &lines[at + 1..end];
        // An index scan with no condition walks the whole index, unless
        // a limit right above it stops it early. Row locks (`FOR UPDATE`)
        // between the two are taken one row at a time as the limit pulls.
        let mut parents = nodes[..i].iter().rev().map(|(_, parent)| parent.as_str());
        let under_limit = parents.find(|parent| *parent != "LockRows") == Some("Limit")
            && !node.starts_with("Bitmap");
        let whole_index = node.contains("Index")
            && node.contains("Scan")
            && !node.starts_with("Bitmap Heap")
            && !under_limit
            && !details.iter().any(|line| line.contains("Index Cond:"));
        if node.starts_with("Seq Scan")
            || node == "Sort"
            || node == "Incremental Sort"
            || whole_index
        {
            faults.push(node.clone());
        }
    }
    faults
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_list_sorts_or_scans_a_table() {
    let gw = common::start_with(common::allow_private_hooks).await;
    every_list_reads_an_index(&gw, Plans::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_list_sorts_or_scans_a_table_on_postgresql() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let gw = common::start_with(|c| {
        common::allow_private_hooks(c);
        c.database_url = Some(url.clone());
    })
    .await;
    every_list_reads_an_index(&gw, Plans::postgres(&url).await).await;
}

async fn every_list_reads_an_index(gw: &TestGateway, mut plans: Plans) {
    let client = gw.client("");
    // A few rows in every table a list reads.
    let (project, env) = gw.project_with_environment("listed", "dev").await;
    // Another project's rows, which each list must skip.
    gw.project_with_environment("also-listed", "dev").await;
    for (name, environment) in [("A", &env), ("B", &env)] {
        succeeded(
            &client,
            "deploy/v1/variable/create",
            json!({ "environment_id": environment, "name": name, "value": "1" }),
        )
        .await;
        succeeded(
            &client,
            "deploy/v1/variable/create",
            json!({ "project_id": project, "name": name, "value": "1" }),
        )
        .await;
    }
    for _ in 0..2 {
        let reply = client
            .call("deploy/v1/backup/create", &json!({ "environment_id": env }))
            .await
            .unwrap();
        let done = client.wait(reply, common::WAIT).await.unwrap();
        expect(&done, 200, Status::Success);
    }
    let integration = succeeded(
        &client,
        "deploy/v1/integration/create",
        json!({ "project_id": project, "type": "webhook", "url": "http://127.0.0.1:9/hook", "events": ["*"] }),
    )
    .await;
    for email in ["a@example.com", "b@example.com"] {
        succeeded(
            &client,
            "access/v1/invite/create",
            json!({ "project_id": project, "email": email, "role": "member" }),
        )
        .await;
    }
    let team = succeeded(
        &client,
        "access/v1/team/create",
        json!({ "name": "listers" }),
    )
    .await;
    let me = succeeded(&client, "access/v1/user/me", json!({})).await;
    succeeded(
        &client,
        "access/v1/team/member/add",
        json!({ "team_id": team["id"], "user_id": me["id"] }),
    )
    .await;
    for title in ["one", "two"] {
        succeeded(
            &client,
            "access/v1/event/send",
            json!({ "type": "Custom", "title": title, "message": "m", "severity": "info",
                    "tags": [{ "key": "k", "value": title }] }),
        )
        .await;
    }
    let scope: BTreeMap<&str, Value> = BTreeMap::from([
        ("project_id", project.clone()),
        ("environment_id", env.clone()),
        ("org_id", json!(gw.org_id)),
        ("id", integration["id"].clone()),
        ("team_id", team["id"].clone()),
        ("begin", json!(0)),
        (
            "end",
            json!(actiongate_wire::Timestamp::now_ms() + 3_600_000),
        ),
    ]);

    let lists = lists(gw).await;
    assert!(lists.len() >= 10, "the document's lists: {lists:?}");
    let mut unplanned = Vec::new();
    for (path, properties, required) in &lists {
        // Each record the list may be scoped by, one at a time (with those
        // it must be), or none.
        let mut bodies: Vec<Map<String, Value>> = Vec::new();
        let base: Map<String, Value> = required
            .iter()
            .map(|name| {
                let value = scope
                    .get(name.as_str())
                    .unwrap_or_else(|| panic!("{path}: what to send as {name}?"));
                (name.clone(), value.clone())
            })
            .collect();
        for name in properties.iter().filter(|n| scope.contains_key(n.as_str())) {
            if !required.contains(name) {
                let mut body = base.clone();
                body.insert(name.clone(), scope[name.as_str()].clone());
                bodies.push(body);
            }
        }
        if bodies.is_empty() || !required.is_empty() {
            bodies.push(base);
        }
        // Every order it takes, both ways, named by its refusal of one it
        // does not.
        let mut orders = vec![None];
        if properties.iter().any(|p| p == "order_by") {
            let mut body = bodies[0].clone();
            body.insert("order_by".into(), json!("?"));
            let refused = client.call(path, &body).await.unwrap();
            expect(&refused, 400, Status::ValidationError);
            let message = refused.envelope.summary.clone();
            let fields = message
                .split("must be one of ")
                .nth(1)
                .and_then(|rest| rest.split(", optionally").next())
                .unwrap_or_else(|| panic!("{path}: the orders in {message:?}"))
                .split(", ")
                .map(str::to_owned)
                .collect::<Vec<_>>();
            assert!(!fields.is_empty(), "{path}");
            for field in fields {
                orders.push(Some(format!("-{field}")));
                orders.push(Some(field));
            }
        }
        for body in &bodies {
            for order in &orders {
                let mut body = body.clone();
                if let Some(order) = order {
                    body.insert("order_by".into(), json!(order));
                }
                let body = Value::Object(body);
                for fault in plans.call(gw, path, &body).await {
                    unplanned.push(format!("{path} {body}: {fault}"));
                }
            }
        }
    }
    assert!(
        unplanned.is_empty(),
        "lists without the index they need:\n{}",
        unplanned.join("\n")
    );
}
