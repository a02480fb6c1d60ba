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

/// A caller under a custom role, and what it holds.
struct Ruled {
    what: &'static str,
    client: Client,
}

/// Whether `reply` says the scope's record `id` (of `kind`) does not
/// exist, as a record hidden from the caller is reported.
fn hides(reply: &Reply, kind: &str, id: Option<&str>) -> bool {
    id.is_some_and(|id| {
        reply.envelope.status == Status::ResourceNotFound
            && reply.envelope.summary == format!("No {kind} with id {id:?} exists")
    })
}

/// Under a handful of custom roles (held onto a project through a team,
/// held across the organization, carried by a token with resources), for
/// every action of the route table: `authz/check` answers what the call
/// then does. A refused call records nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authz_check_agrees_with_every_call_under_custom_roles() {
    let gw = common::start_with(common::allow_private_hooks).await;
    let config = Config::default();
    let owner = gw.client("");
    let ok = |reply: Reply| {
        expect(&reply, 200, Status::Success);
        reply.envelope.result
    };
    let rules = |actions: &[&str]| -> Value {
        actions
            .iter()
            .map(|action| json!({ "action": action, "effect": "allow" }))
            .collect()
    };
    let create_role = |name: &'static str, rules: Value| {
        let owner = owner.clone();
        async move {
            let reply = owner
                .call(
                    "access/v1/role/create",
                    &json!({ "name": name, "rules": rules }),
                )
                .await
                .unwrap();
            expect(&reply, 200, Status::Success);
            reply.envelope.result["id"].clone()
        }
    };
    let team_of = |team: &'static str, person: String| {
        let owner = owner.clone();
        async move {
            let made = owner
                .call("access/v1/team/create", &json!({ "name": team }))
                .await
                .unwrap();
            expect(&made, 200, Status::Success);
            let team_id = made.envelope.result["id"].clone();
            let added = owner
                .call(
                    "access/v1/team/member/add",
                    &json!({ "team_id": team_id, "user_id": person }),
                )
                .await
                .unwrap();
            expect(&added, 200, Status::Success);
            team_id
        }
    };

    create_role(
        "project-writer",
        rules(&["deploy:**", "console:project:*", "access:authz:check"]),
    )
    .await;
    create_role(
        "org-reader",
        rules(&["**:list", "**:get", "access:authz:check"]),
    )
    .await;
    let keeper_id = create_role("env-keeper", rules(&["deploy:environment:*"])).await;
    let pat = gw.person("pat", "viewer").await;
    let rey = gw.person("rey", "viewer").await;
    let kay = gw.person("kay", "admin").await;
    let writers = team_of("writers", pat.id.clone()).await;
    let readers = team_of("readers", rey.id.clone()).await;
    ok(owner
        .call(
            "access/v1/team/grant",
            &json!({ "team_id": readers, "role": "org-reader" }),
        )
        .await
        .unwrap());
    let keeper_token = ok(kay
        .client
        .call(
            "access/v1/token/create",
            &json!({ "name": "keeper", "role": "env-keeper" }),
        )
        .await
        .unwrap())["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let callers = [
        Ruled {
            what: "a viewer whose team holds project-writer in the project",
            client: pat.client.clone(),
        },
        Ruled {
            what: "a viewer whose team holds org-reader across the organization",
            client: rey.client.clone(),
        },
        Ruled {
            what: "an admin's token carrying env-keeper, limited to the project",
            client: gw.client("").with_token(&keeper_token),
        },
    ];

    let mut records_made = 0;
    let mut current: Option<Records> = None;
    let mut checked = 0;
    let mut admitted_total = 0;
    let mut refused_total = 0;
    for service in common::services(&config) {
        for (spec, _) in &service.actions {
            if !matches!(spec.access, Access::Token(_)) {
                continue;
            }
            let name = format!("{}/{}/{}", service.name, spec.version, spec.path);
            let code = actiongate_service::policy_code(service.name, spec.path);
            if current.is_none() {
                records_made += 1;
                let records = records(&gw, 1000 + records_made).await;
                ok(owner
                    .call(
                        "access/v1/team/grant",
                        &json!({ "team_id": writers, "project_id": records.project, "role": "project-writer" }),
                    )
                    .await
                    .unwrap());
                ok(owner
                    .call(
                        "access/v1/role/update",
                        &json!({ "id": keeper_id, "rules": [
                            { "action": "deploy:environment:*", "effect": "allow",
                              "resources": [format!("project:{}:**", records.project)] },
                            { "action": "deploy:backup:*", "effect": "allow",
                              "resources": [format!("project:{}:**", records.project)] },
                            { "action": "access:authz:check", "effect": "allow" },
                        ] }),
                    )
                    .await
                    .unwrap());
                current = Some(records);
            }
            let records = current.as_ref().unwrap();
            let body = body(&spec.scope, records);
            let scope_id = spec
                .scope
                .field()
                .and_then(|field| body.get(field))
                .and_then(Value::as_str)
                .map(str::to_owned);
            checked += 1;
            let mut decided = Vec::new();
            for caller in &callers {
                decided.push(may(&caller.client, &code, &spec.scope, &body).await);
            }
            // Refusals first: they change nothing the admitted calls see.
            for (caller, _) in callers.iter().zip(&decided).filter(|(_, may)| !**may) {
                let jobs = gw.count_jobs().await;
                let reply = caller.client.call(&name, &body).await.unwrap();
                assert!(
                    reply.envelope.status == Status::Forbidden
                        || hides(&reply, spec.scope.kind(), scope_id.as_deref()),
                    "authz/check refuses {code} to {}, yet {name} with {body} answered {:#?}",
                    caller.what,
                    reply.envelope
                );
                assert_eq!(
                    gw.count_jobs().await,
                    jobs,
                    "{name}: a refused call recorded something"
                );
                refused_total += 1;
            }
            let mut changed = false;
            for (caller, _) in callers.iter().zip(&decided).filter(|(_, may)| **may) {
                let reply = caller.client.call(&name, &body).await.unwrap();
                // The scope's record hidden from the caller, unless an
                // earlier call deleted it.
                let hidden = hides(&reply, spec.scope.kind(), scope_id.as_deref());
                let refused = matches!(
                    reply.envelope.status,
                    Status::Forbidden | Status::Unauthorized | Status::ServiceNotEnabled
                ) || (hidden && !changed);
                assert!(
                    !refused,
                    "authz/check admits {} to {code}, yet {name} with {body} answered {:#?}",
                    caller.what, reply.envelope
                );
                changed |= matches!(reply.http_status, 200 | 202);
                admitted_total += 1;
            }
            if changed {
                current = None;
            }
        }
    }
    assert!(checked >= 60, "only {checked} actions were found");
    assert!(
        admitted_total >= 40 && refused_total >= 40,
        "the roles should both admit and refuse plenty: {admitted_total} admitted, {refused_total} refused"
    );
}
