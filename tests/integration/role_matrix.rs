//! The role matrix, generated from the route table: for every action, a
//! caller one role below its declared least role is refused (`Forbidden`,
//! or `ResourceNotFound` where the record is hidden from it), never
//! answered 202 and never allowed to write; a caller at the role is not
//! refused. Before each call, `authz/check` on the action's policy code
//! and the same record answers what the call then does. A new action is
//! covered as soon as it is registered.

use actiongate_client::{Client, Reply, Status};
use actiongate_gateway::Config;
use actiongate_service::{Access, Role, Scope};
use serde_json::{json, Map, Value};

use crate::common::{self, expect, Person, TestGateway};

/// One of every kind of record an action can be scoped to, in a project
/// of its own.
struct Records {
    project: String,
    environment: String,
    variable: String,
    invite: String,
    /// A finished activity: the pause of an environment of its own.
    activity: String,
    /// A backup of `environment`.
    backup: String,
    /// A webhook of `project`.
    integration: String,
}

async fn records(gw: &TestGateway, n: usize) -> Records {
    let project = gw.project(&format!("matrix {n}")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ok = |reply: Reply| {
        expect(&reply, 200, Status::Success);
        reply.envelope.result["id"].as_str().unwrap().to_owned()
    };
    let environment = ok(gw
        .call(
            "deploy/v1/environment/create",
            json!({ "project_id": project, "name": "production" }),
        )
        .await);
    let variable = ok(gw
        .call(
            "deploy/v1/variable/create",
            json!({ "environment_id": environment, "name": "A", "value": "1" }),
        )
        .await);
    let invite = ok(gw
        .call(
            "access/v1/invite/create",
            json!({ "project_id": project, "email": format!("invitee{n}@example.com"), "role": "viewer" }),
        )
        .await);
    let paused = ok(gw
        .call(
            "deploy/v1/environment/create",
            json!({ "project_id": project, "name": "paused" }),
        )
        .await);
    let pause = gw
        .call("deploy/v1/environment/pause", json!({ "id": paused }))
        .await;
    expect(&pause, 202, Status::Accepted);
    let activity = pause.envelope.request_id.to_string();
    let done = gw
        .client("")
        .wait(pause, std::time::Duration::from_secs(30))
        .await;
    expect(&done.unwrap(), 200, Status::Success);
    let backup = gw
        .call(
            "deploy/v1/backup/create",
            json!({ "environment_id": environment }),
        )
        .await;
    let backup = gw
        .client("")
        .wait(backup, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    let backup = ok(backup);
    let integration = ok(gw
        .call(
            "deploy/v1/integration/create",
            json!({ "project_id": project, "type": "webhook", "url": "http://127.0.0.1:9/hook",
                    "events": ["activity.complete"] }),
        )
        .await);
    Records {
        project,
        environment,
        variable,
        invite,
        activity,
        backup,
        integration,
    }
}

/// `authz/check`'s answer for `caller` on `code`, on the record `body`
/// names (if any).
async fn may(caller: &Client, code: &str, scope: &Scope, body: &Value) -> bool {
    let resources: Vec<String> = scope
        .field()
        .and_then(|field| body.get(field))
        .and_then(Value::as_str)
        .map(|id| vec![format!("{}:{id}", scope.kind())])
        .unwrap_or_default();
    let reply = caller
        .call(
            "access/v1/authz/check",
            &json!({ "action": code, "resources": resources }),
        )
        .await
        .unwrap();
    expect(&reply, 200, Status::Success);
    reply.envelope.result["ok"].as_bool().unwrap()
}

/// The body that names the action's scope: the id of the record its
/// declared field points at.
fn body(scope: &Scope, records: &Records) -> Value {
    let mut body = Map::new();
    if let Some(field) = scope.field() {
        let id = match scope.kind() {
            "project" => &records.project,
            "environment" => &records.environment,
            "variable" => &records.variable,
            "invite" => &records.invite,
            "activity" => &records.activity,
            "backup" => &records.backup,
            "integration" => &records.integration,
            other => panic!("the role matrix has no {other} record yet: add one to `records`"),
        };
        body.insert(field.to_owned(), json!(id));
    }
    Value::Object(body)
}

fn below(role: Role) -> Role {
    match role {
        Role::Owner => Role::Admin,
        Role::Admin => Role::Member,
        _ => Role::Viewer,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_refuses_the_role_below_its_own_and_admits_its_own() {
    // Its webhooks point at loopback.
    let gw = common::start_with(common::allow_private_hooks).await;
    let config = Config::default();
    // Organization roles; and two organization viewers whose project
    // memberships are set per action.
    let mut by_org_role = Vec::new();
    for role in [Role::Viewer, Role::Member, Role::Admin] {
        by_org_role.push((role, gw.person(&format!("org-{role}"), role.as_str()).await));
    }
    let org_person = |role: Role| -> &Client {
        &by_org_role
            .iter()
            .find(|(r, _)| *r == role)
            .expect("a person for every role below owner")
            .1
            .client
    };
    let below_member = gw.person("below", "viewer").await;
    let at_member = gw.person("at", "viewer").await;
    let owner = gw.client("");

    let mut checked = 0;
    for service in common::services(&config) {
        for (spec, _) in &service.actions {
            let Access::Token(least) = spec.access else {
                continue;
            };
            if least == Role::Viewer {
                continue;
            }
            let name = format!("{}/{}/{}", service.name, spec.version, spec.path);
            checked += 1;
            let records = records(&gw, checked).await;
            let body = body(&spec.scope, &records);
            let (below_caller, at_caller): (&Client, &Client) = match spec.scope {
                Scope::Org => (
                    org_person(below(least)),
                    if least == Role::Owner {
                        &owner
                    } else {
                        org_person(least)
                    },
                ),
                _ => {
                    member_with(&gw, &records.project, &below_member, below(least)).await;
                    let at = if least == Role::Owner {
                        &owner
                    } else {
                        member_with(&gw, &records.project, &at_member, least).await;
                        &at_member.client
                    };
                    (&below_member.client, at)
                }
            };

            let code = actiongate_service::policy_code(service.name, spec.path);
            assert!(
                !may(below_caller, &code, &spec.scope, &body).await,
                "authz/check admits a {} to {code}",
                below(least)
            );
            assert!(
                may(at_caller, &code, &spec.scope, &body).await,
                "authz/check refuses a {least} {code}"
            );

            let jobs = gw.count_jobs().await;
            let refused = below_caller.call(&name, &body).await.unwrap();
            assert!(
                matches!(
                    (refused.http_status, refused.envelope.status),
                    (403, Status::Forbidden) | (404, Status::ResourceNotFound)
                ),
                "{name} with {body} by a {}: {:#?}",
                below(least),
                refused.envelope
            );
            assert_eq!(
                gw.count_jobs().await,
                jobs,
                "{name}: a refused call recorded something"
            );

            let admitted = at_caller.call(&name, &body).await.unwrap();
            assert!(
                !matches!(
                    admitted.envelope.status,
                    Status::Forbidden | Status::Unauthorized | Status::ServiceNotEnabled
                ),
                "{name} with {body} by a {least}: {:#?}",
                admitted.envelope
            );
        }
    }
    assert!(
        checked >= 20,
        "only {checked} actions above viewer were found"
    );
}

/// Makes `person` hold `role` in `project` (a viewer needs no membership).
async fn member_with(gw: &TestGateway, project: &str, person: &Person, role: Role) {
    if role > Role::Viewer {
        gw.add_member(project, person, role.as_str()).await;
    }
}
