//! Who may reach a recorded request: its poll, its cancel, and a replay of
//! it (`Idempotency-Key`, retried request ids) all ask here.
//!
//! A token reaches a request only where it could have made the original
//! call: the same user and organization, the original's service enabled
//! for it, the call's project inside its project limit, and the action's
//! least role within its cap and held in that project (or organization)
//! now, weighed by the evaluator the call itself was (custom roles
//! included, on the record the call named). Anything else is answered exactly as a request that does not
//! exist, so nothing about other people's requests leaks.

use actiongate_entity::{job, project};
use actiongate_kit::authz::{self, Asked, Place};
use actiongate_kit::scope;
use actiongate_service::rules::Target;
use actiongate_service::{Role, Scope};
use actiongate_wire::{ApiError, Status};
use sea_orm::{DbErr, EntityTrait};

use super::context::RequestCtx;
use crate::outcome::unavailable_db;
use crate::tokens::Grant;
use crate::Gateway;

/// The live request named `id_text`, if the caller may reach it.
pub async fn recorded(
    gateway: &Gateway,
    ctx: &RequestCtx<'_>,
    id_text: &str,
) -> Result<job::Model, ApiError> {
    find(gateway, ctx, id_text, false).await
}

/// As [`recorded`], from what this node knows of a job it runs when it
/// can, without reading the table. Those rows have no input, so a caller
/// with a custom role, whose check may read it, is answered from the table.
pub async fn polled(
    gateway: &Gateway,
    ctx: &RequestCtx<'_>,
    id_text: &str,
) -> Result<job::Model, ApiError> {
    find(gateway, ctx, id_text, true).await
}

async fn find(
    gateway: &Gateway,
    ctx: &RequestCtx<'_>,
    id_text: &str,
    known_first: bool,
) -> Result<job::Model, ApiError> {
    if actiongate_wire::RequestId::parse(id_text).is_err() {
        return Err(not_found(id_text));
    }
    let jobs = gateway.jobs();
    let known = (known_first && !ctx.grant().principal.custom.in_play())
        .then(|| jobs.known(id_text))
        .flatten();
    let row = match known {
        Some(row) => Some(row),
        None => jobs
            .find_live(id_text)
            .await
            .map_err(|err| unavailable_db(ctx.request_id, &err))?,
    };
    match row {
        Some(row)
            if reaches(gateway, ctx.grant(), &row)
                .await
                .map_err(|err| unavailable_db(ctx.request_id, &err))? =>
        {
            Ok(row)
        }
        _ => Err(not_found(id_text)),
    }
}

/// Whether `grant`'s token could have made the call `row` records.
pub async fn reaches(gateway: &Gateway, grant: &Grant, row: &job::Model) -> Result<bool, DbErr> {
    let principal = &grant.principal;
    if row.user_id != principal.user_id
        || row.org_id != principal.org_id
        || !grant.allows(&row.service)
    {
        return Ok(false);
    }
    let key = format!("{}/{}", row.version, row.action);
    let Some(action) = gateway
        .routes()
        .service_named(&row.service)
        .and_then(|service| service.action(&key))
    else {
        // No longer served: nothing says who else could have called it.
        return Ok(row.token_id == principal.token_id);
    };
    let least = action.spec.least_role().unwrap_or(Role::Viewer);
    if principal.role_cap.is_some_and(|cap| cap < least) {
        return Ok(false);
    }
    let within_limit = |project_id: Option<&String>| {
        principal
            .project_id
            .as_ref()
            .is_none_or(|only| project_id == Some(only))
    };
    let asked = Asked {
        service: &row.service,
        path: &row.action,
        least,
    };
    match (&row.scope_project_id, action.spec.scope) {
        (Some(project_id), declared) => {
            let db = &gateway.db().read;
            if !within_limit(Some(project_id)) {
                return Ok(false);
            }
            if let Some((project, role)) = scope::role_in_project(db, principal, project_id).await?
            {
                // The record the call named, as `authorize` weighed it;
                // only a custom role's rules look at it, so the input is
                // read only for a caller with one.
                let named = principal
                    .custom
                    .in_play()
                    .then(|| {
                        let input = &row.input;
                        let scope = declared.applying(|field| {
                            super::authorize::string_field(input, field).is_some()
                        })?;
                        let id = super::authorize::string_field(input, scope.field()?)?;
                        Some((scope.kind(), id))
                    })
                    .flatten();
                let target = match &named {
                    Some((kind, id)) if *kind != "project" => Target {
                        project_id: Some(&project.id),
                        kind,
                        id,
                    },
                    _ => Target::project(&project.id),
                };
                return Ok(
                    authz::decide(principal, asked, Place::Project { role, target }).is_ok(),
                );
            }
            // Not seen: hidden from the caller, or gone since (deleted by
            // this very request, perhaps). Deletion is final, so looking
            // second cannot mistake a project hidden at the first look for
            // a gone one; for a gone one, the organization role is all that
            // is left to check.
            let gone = project::Entity::find_by_id(project_id)
                .one(db)
                .await?
                .is_none();
            Ok(gone && authz::decide(principal, asked, Place::Org(None)).is_ok())
        }
        (None, Scope::Org) => Ok(within_limit(row.project_id.as_ref())
            && authz::decide(principal, asked, Place::Org(None)).is_ok()),
        // Recorded before actions declared their scopes: only the token
        // that made it.
        (None, _) => Ok(row.token_id == principal.token_id),
    }
}

pub fn not_found(id_text: &str) -> ApiError {
    ApiError::new(
        Status::ResourceNotFound,
        format!("No request {id_text:?} is known to this caller; its result may have expired"),
    )
}
