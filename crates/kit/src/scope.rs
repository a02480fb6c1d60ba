//! What a caller may do in a project.
//!
//! A caller sees every project of its token's organization (or, with a
//! project-limited token, that one). Its role there is the better of its
//! organization role and its project membership, never above the token's
//! cap ([`Principal::project_role`]). The gateway checks a declared scope
//! with [`role_in_project`]; handlers, inside their own transaction, with
//! [`project`] and [`project_for_update`].

use actiongate_entity::{project, project_member};
use actiongate_service::{ActionResult, ApiError, Ctx, Principal, Role, Status};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QuerySelect, Select};

/// A project the caller can see, and the caller's role in it.
pub struct ProjectScope {
    pub project: project::Model,
    pub role: Role,
}

impl ProjectScope {
    /// `Forbidden` unless the caller holds at least `least` in the project.
    pub fn require(&self, least: Role) -> Result<(), ApiError> {
        require(&self.project.id, self.role, least)
    }
}

/// `Forbidden` unless `role` in project `project_id` is at least `least`.
pub fn require(project_id: &str, role: Role, least: Role) -> Result<(), ApiError> {
    if role >= least {
        Ok(())
    } else {
        Err(ApiError::new(
            Status::Forbidden,
            format!(
                "This needs the {least} role in project {project_id}; the caller is a {role} there"
            ),
        ))
    }
}

/// Whether `principal` may see project `project` at all: its organization,
/// within the token's project limit.
pub fn sees(principal: &Principal, project: &project::Model) -> bool {
    project.org_id == principal.org_id
        && principal
            .project_id
            .as_deref()
            .is_none_or(|only| only == project.id)
}

/// Project `id`, or `None` if the principal cannot see it.
pub async fn visible_project(
    db: &impl ConnectionTrait,
    principal: &Principal,
    id: &str,
) -> Result<Option<project::Model>, DbErr> {
    Ok(project::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|project| sees(principal, project)))
}

/// The principal's role in project `id`, or `None` if it cannot see it.
/// The gateway's check of a declared scope, and every handler's, use this.
pub async fn role_in_project(
    db: &impl ConnectionTrait,
    principal: &Principal,
    id: &str,
) -> Result<Option<(project::Model, Role)>, DbErr> {
    let Some(project) = visible_project(db, principal, id).await? else {
        return Ok(None);
    };
    let role = membership_role(db, principal, &project.id).await?;
    Ok(Some((project, role)))
}

async fn membership_role(
    db: &impl ConnectionTrait,
    principal: &Principal,
    project_id: &str,
) -> Result<Role, DbErr> {
    let membership =
        project_member::Entity::find_by_id((project_id.to_owned(), principal.user_id.clone()))
            .one(db)
            .await?
            .and_then(|m| m.role.parse::<Role>().ok());
    Ok(principal.project_role(membership))
}

/// Project `id` for a read-only handler: the row the gateway read while
/// checking the action's declared scope, or, without one, read now.
pub async fn visible_for_reading(ctx: &Ctx, id: &str) -> ActionResult<project::Model> {
    match ctx.checked_record::<project::Model>() {
        Some(project) if project.id == id => Ok(project.clone()),
        _ => visible(ctx, ctx.read(), id).await,
    }
}

/// Project `id`, if the caller may see it (else `ResourceNotFound`).
pub async fn visible(
    ctx: &Ctx,
    db: &impl ConnectionTrait,
    id: &str,
) -> ActionResult<project::Model> {
    visible_in(ctx, db, project::Entity::find_by_id(id), id).await
}

async fn visible_in(
    ctx: &Ctx,
    db: &impl ConnectionTrait,
    select: Select<project::Entity>,
    id: &str,
) -> ActionResult<project::Model> {
    Ok(select
        .one(db)
        .await?
        .filter(|p| sees(&ctx.principal, p))
        .ok_or_else(|| ApiError::not_found("project", id))?)
}

/// Project `id` with the caller's role in it, if the caller may see it and
/// holds at least `least` there. Read on `db`, so that a writer can look
/// inside its own transaction.
pub async fn project(
    ctx: &Ctx,
    db: &impl ConnectionTrait,
    id: &str,
    least: Role,
) -> ActionResult<ProjectScope> {
    let project = visible(ctx, db, id).await?;
    with_role(ctx, db, project, least).await
}

/// [`project`], for a writer whose change must not interleave with
/// another to the same project (its owner, its members, its default
/// environment): the project's row stays locked until the transaction
/// ends (`FOR UPDATE` on PostgreSQL; SQLite has one writer), so such
/// changes happen one at a time.
pub async fn project_for_update(
    ctx: &Ctx,
    db: &impl ConnectionTrait,
    id: &str,
    least: Role,
) -> ActionResult<ProjectScope> {
    let select = project::Entity::find_by_id(id).lock_exclusive();
    let project = visible_in(ctx, db, select, id).await?;
    with_role(ctx, db, project, least).await
}

async fn with_role(
    ctx: &Ctx,
    db: &impl ConnectionTrait,
    project: project::Model,
    least: Role,
) -> ActionResult<ProjectScope> {
    let role = membership_role(db, &ctx.principal, &project.id).await?;
    let scope = ProjectScope { role, project };
    scope.require(least)?;
    Ok(scope)
}
