//! `authz/policies` and `authz/check`: the gateway's catalog of policies
//! (`actiongate_service::Catalog`), and whether the caller may call one,
//! decided by the evaluator the pipeline itself uses
//! (`actiongate_kit::authz`), on the records named.

use std::sync::Arc;

use crate::api::authz::{Check, Decision, ListPolicies, Policies, Policy};
use actiongate_entity::token;
use actiongate_kit::authz::{self, Allowed, Asked, Place};
use actiongate_kit::scope;
use actiongate_kit::tokens::parse_services;
use actiongate_service::catalog::Entry;
use actiongate_service::rules::Target;
use actiongate_service::{ActionResult, ApiError, Catalog, Ctx, Home, Scope};
use sea_orm::EntityTrait;

pub async fn policies(ctx: Ctx, _input: ListPolicies) -> ActionResult<Policies> {
    let catalog = ctx.state::<Arc<Catalog>>();
    Ok(Policies {
        policies: catalog
            .policies()
            .map(|(code, entries)| Policy {
                code: code.to_owned(),
                actions: entries.iter().map(Entry::route).collect(),
                least_role: entries[0].least,
                scope: entries[0].scope.kind().to_owned(),
            })
            .collect(),
    })
}

fn refused(reason: impl Into<String>) -> Decision {
    Decision {
        ok: false,
        reason: reason.into(),
    }
}

pub async fn check(ctx: Ctx, input: Check) -> ActionResult<Decision> {
    let catalog = ctx.state::<Arc<Catalog>>();
    let entries = catalog.policy(&input.action).ok_or_else(|| {
        ApiError::invalid_field(
            "/action",
            "UnknownPolicy",
            format!(
                "{:?} is no policy code; authz/policies lists them",
                input.action
            ),
        )
    })?;
    let records = projects(&ctx, catalog, input.resources.unwrap_or_default()).await?;
    let own = token::Entity::find_by_id(&ctx.principal.token_id)
        .one(ctx.read())
        .await?;
    let services = own.and_then(|t| parse_services(&t.services));
    // Several versions of one action share its code: the caller may if it
    // may call any of them.
    let mut first_refusal = None;
    for entry in entries {
        let decision = weigh(&ctx, entry, services.as_deref(), &records).await?;
        if decision.ok {
            return Ok(decision);
        }
        first_refusal.get_or_insert(decision);
    }
    Ok(first_refusal.unwrap_or_else(|| refused("no route")))
}

/// A record `authz/check` was asked about, and what it belongs to
/// (`None`: it does not exist).
struct Named {
    resource: String,
    kind: String,
    id: String,
    home: Option<Home>,
}

/// What the named records belong to.
async fn projects(
    ctx: &Ctx,
    catalog: &Catalog,
    resources: Vec<String>,
) -> ActionResult<Vec<Named>> {
    let mut found = Vec::with_capacity(resources.len());
    for (i, resource) in resources.into_iter().enumerate() {
        let pointer = format!("/resources/{i}");
        let Some((kind, id)) = resource.split_once(':') else {
            return Err(ApiError::invalid_field(
                pointer,
                "InvalidValue",
                format!("{resource:?} is not a record: write <kind>:<id>, such as project:prj_..."),
            )
            .into());
        };
        let home = if kind == "project" {
            Some(Home::Project(id.to_owned()))
        } else {
            let project_of = catalog.project_of(kind).ok_or_else(|| {
                let kinds: Vec<&str> = std::iter::once("project").chain(catalog.kinds()).collect();
                ApiError::invalid_field(
                    &pointer,
                    "InvalidValue",
                    format!("{kind:?} is no kind of record: one of {}", kinds.join(", ")),
                )
            })?;
            project_of(ctx.read(), id).await?.map(|place| place.home)
        };
        found.push(Named {
            kind: kind.to_owned(),
            id: id.to_owned(),
            resource,
            home,
        });
    }
    Ok(found)
}

/// Why a call was allowed, said for `authz/check`.
fn allowed(how: Allowed, by_role: impl FnOnce() -> String, on: &str) -> Decision {
    Decision {
        ok: true,
        reason: match how {
            Allowed::ByRole => by_role(),
            Allowed::ByCustomRole(name) => format!("the custom role {name} allows it {on}"),
        },
    }
}

/// One route's decision, as the pipeline would make it.
async fn weigh(
    ctx: &Ctx,
    entry: &Entry,
    services: Option<&[String]>,
    records: &[Named],
) -> ActionResult<Decision> {
    let Some(least) = entry.least else {
        return Ok(Decision {
            ok: true,
            reason: "public: anyone may call it".into(),
        });
    };
    if services.is_some_and(|list| !list.iter().any(|s| s == entry.service)) {
        return Ok(refused(format!(
            "the token is not enabled for the {} service",
            entry.service
        )));
    }
    let principal = &ctx.principal;
    let asked = Asked {
        service: entry.service,
        path: entry.path,
        least,
    };
    if matches!(entry.scope, Scope::Org) {
        return Ok(match authz::decide(principal, asked, Place::Org(None)) {
            Ok(how) => allowed(
                how,
                || format!("the caller's organization role is {}", principal.role),
                "across the organization",
            ),
            Err(err) => refused(err.summary),
        });
    }
    if let Err(err) = authz::decide(principal, asked, Place::UnnamedProject) {
        return Ok(refused(err.summary));
    }
    if records.is_empty() {
        // The organization role is a floor in every project.
        return Ok(match authz::decide(principal, asked, Place::Org(None)) {
            Ok(how) => allowed(
                how,
                || format!(
                    "the caller's organization role is {}, and so its least role in each of its projects",
                    principal.role
                ),
                "across the organization",
            ),
            Err(_) => refused(format!(
                "this needs the {least} role in the project; name it in resources to weigh the caller's membership there"
            )),
        });
    }
    let unseen = |resource: &str| {
        refused(format!(
            "{resource} does not exist or is not visible to the caller"
        ))
    };
    let mut by_custom_role = None;
    for named in records {
        let decided = match &named.home {
            Some(Home::Project(id)) => {
                match scope::role_in_project(ctx.read(), principal, id).await? {
                    Some((project, role)) => {
                        let target = Target {
                            project_id: Some(&project.id),
                            kind: &named.kind,
                            id: &named.id,
                        };
                        authz::decide(principal, asked, Place::Project { role, target })
                    }
                    None => return Ok(unseen(&named.resource)),
                }
            }
            // A record of the organization as a whole, as the pipeline
            // weighs it (out of sight of a token limited to a project).
            Some(Home::Organization(org_id))
                if *org_id == principal.org_id && principal.project_id.is_none() =>
            {
                let target = Target {
                    project_id: None,
                    kind: &named.kind,
                    id: &named.id,
                };
                authz::decide(principal, asked, Place::Org(Some(target)))
            }
            _ => return Ok(unseen(&named.resource)),
        };
        match decided {
            Err(err) => return Ok(refused(err.summary)),
            Ok(Allowed::ByCustomRole(name)) => by_custom_role = Some(name),
            Ok(Allowed::ByRole) => {}
        }
    }
    let on = format!(
        "on {}",
        records
            .iter()
            .map(|n| n.resource.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(allowed(
        by_custom_role.map_or(Allowed::ByRole, Allowed::ByCustomRole),
        || format!("the caller holds the {least} role where it acts"),
        &on,
    ))
}
