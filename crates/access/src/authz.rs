//! `authz/policies` and `authz/check`: the gateway's catalog of policies
//! (`actiongate_service::Catalog`), and whether the caller may call one,
//! decided by the evaluator the pipeline itself uses
//! (`actiongate_kit::authz`), on the records named.

use std::sync::Arc;

use crate::api::authz::{Check, Decision, ListPolicies, Policies, Policy};
use actiongate_entity::token;
use actiongate_kit::authz::{self, Place};
use actiongate_kit::scope;
use actiongate_kit::tokens::parse_services;
use actiongate_service::catalog::Entry;
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
    let projects = projects(&ctx, catalog, input.resources.unwrap_or_default()).await?;
    let own = token::Entity::find_by_id(&ctx.principal.token_id)
        .one(ctx.read())
        .await?;
    let services = own.and_then(|t| parse_services(&t.services));
    // Several versions of one action share its code: the caller may if it
    // may call any of them.
    let mut first_refusal = None;
    for entry in entries {
        let decision = weigh(&ctx, entry, services.as_deref(), &projects).await?;
        if decision.ok {
            return Ok(decision);
        }
        first_refusal.get_or_insert(decision);
    }
    Ok(first_refusal.unwrap_or_else(|| refused("no route")))
}

/// What the named records belong to, each `None` for a record that does
/// not exist.
async fn projects(
    ctx: &Ctx,
    catalog: &Catalog,
    resources: Vec<String>,
) -> ActionResult<Vec<(String, Option<Home>)>> {
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
        found.push((resource, home));
    }
    Ok(found)
}

/// One route's decision, as the pipeline would make it.
async fn weigh(
    ctx: &Ctx,
    entry: &Entry,
    services: Option<&[String]>,
    projects: &[(String, Option<Home>)],
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
    if matches!(entry.scope, Scope::Org) {
        return Ok(match authz::decide(principal, least, Place::Org) {
            Ok(()) => Decision {
                ok: true,
                reason: format!("the caller's organization role is {}", principal.role),
            },
            Err(err) => refused(err.summary),
        });
    }
    if let Err(err) = authz::decide(principal, least, Place::UnnamedProject) {
        return Ok(refused(err.summary));
    }
    if projects.is_empty() {
        // The organization role is a floor in every project.
        return Ok(match authz::decide(principal, least, Place::Org) {
            Ok(()) => Decision {
                ok: true,
                reason: format!(
                    "the caller's organization role is {}, and so its least role in each of its projects",
                    principal.role
                ),
            },
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
    for (resource, home) in projects {
        let decided = match home {
            Some(Home::Project(id)) => {
                match scope::role_in_project(ctx.read(), principal, id).await? {
                    Some((project, role)) => authz::decide(
                        principal,
                        least,
                        Place::Project {
                            id: &project.id,
                            role,
                        },
                    ),
                    None => return Ok(unseen(resource)),
                }
            }
            // A record of the organization as a whole, as the pipeline
            // weighs it (out of sight of a token limited to a project).
            Some(Home::Organization(org_id))
                if *org_id == principal.org_id && principal.project_id.is_none() =>
            {
                authz::decide(principal, least, Place::Org)
            }
            _ => return Ok(unseen(resource)),
        };
        if let Err(err) = decided {
            return Ok(refused(err.summary));
        }
    }
    Ok(Decision {
        ok: true,
        reason: format!("the caller holds the {least} role where it acts"),
    })
}
