//! What a caller may do in a project, for every service that acts on a
//! project's contents (members, invites, environments, ...).
//!
//! A caller sees every project of its token's organization (or, with a
//! project-limited token, that one). Its role there is the better of its
//! organization role and its project membership, never above the token's
//! cap ([`actiongate_service::Principal::project_role`]).

use actiongate_entity::{project, project_member};
use actiongate_service::{ActionResult, ApiError, Ctx, Role, Status};
use sea_orm::{ConnectionTrait, EntityTrait};

/// A project the caller can see, and the caller's role in it.
pub struct ProjectScope {
    pub project: project::Model,
    pub role: Role,
}

impl ProjectScope {
    /// `Forbidden` unless the caller holds at least `least` in the project.
    pub fn require(&self, least: Role) -> ActionResult<()> {
        if self.role >= least {
            Ok(())
        } else {
            Err(ApiError::new(
                Status::Forbidden,
                format!(
                    "This needs the {least} role in project {}; the caller is a {} there",
                    self.project.id, self.role
                ),
            ))
        }
    }
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
    let project = crate::project::visible(ctx, db, id).await?;
    with_role(ctx, db, project, least).await
}

/// [`project`], for a writer whose change must not interleave with
/// another to the same project (its owner, its members, its default
/// environment): the project's row stays locked until the transaction
/// ends, so such changes happen one at a time.
pub async fn project_for_update(
    ctx: &Ctx,
    db: &impl ConnectionTrait,
    id: &str,
    least: Role,
) -> ActionResult<ProjectScope> {
    let project = crate::project::visible_locked(ctx, db, id).await?;
    with_role(ctx, db, project, least).await
}

async fn with_role(
    ctx: &Ctx,
    db: &impl ConnectionTrait,
    project: actiongate_entity::project::Model,
    least: Role,
) -> ActionResult<ProjectScope> {
    let membership =
        project_member::Entity::find_by_id((project.id.clone(), ctx.principal.user_id.clone()))
            .one(db)
            .await
            .map_err(|err| ctx.internal(err))?
            .and_then(|m| m.role.parse::<Role>().ok());
    let scope = ProjectScope {
        role: ctx.principal.project_role(membership),
        project,
    };
    scope.require(least)?;
    Ok(scope)
}
