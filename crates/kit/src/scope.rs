//! What a caller may do in a project.
//!
//! A caller sees every project of its token's organization (or, with a
//! project-limited token, that one). Its role there is the better of its
//! organization role, its project membership and the grants there of the
//! teams it is in, never above the token's cap
//! ([`Principal::project_role`]); its organization role, the better of
//! its membership and its teams' organization-wide grants ([`org_role`]).
//! The gateway checks a declared scope with [`role_in_project`];
//! handlers, inside their own transaction, with [`project`](fn@project)
//! and [`project_for_update`].

use actiongate_entity::{org_member, project, project_member, team, team_grant, team_member};
use actiongate_service::rules::Target;
use actiongate_service::{ActionResult, ApiError, Ctx, Principal, Role, Status};
use sea_orm::sea_query::{IntoCondition, Query, SelectStatement, UnionType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, Select,
};

/// A project the caller can see, and the caller's role in it.
pub struct ProjectScope {
    pub project: project::Model,
    pub role: Role,
}

impl ProjectScope {
    /// `Forbidden` unless the caller holds at least `least` on `target`
    /// (a record of the project, or the project itself): by its role
    /// there, or by a custom role ([`crate::authz::in_project`]).
    pub async fn require(
        &self,
        ctx: &Ctx,
        db: &impl ConnectionTrait,
        least: Role,
        target: Target<'_>,
    ) -> ActionResult<()> {
        crate::authz::in_project(ctx, db, self.role, least, target).await
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

/// `ResourceNotFound` at `/org_id` unless `org_id`, if the input names
/// one, is the caller's own organization (the only one it may name).
pub fn own_organization(principal: &Principal, org_id: Option<&str>) -> Result<(), ApiError> {
    match org_id {
        Some(org_id) if org_id != principal.org_id => {
            Err(ApiError::not_found("organization", org_id).at("/org_id", "NotFound"))
        }
        _ => Ok(()),
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
    Ok(crate::find::by_id::<project::Entity>(db, id)
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

/// The principal's role in project `project_id`: the best of its
/// organization role, its membership there and the grants there of every
/// team it is in, within its token's cap.
async fn membership_role(
    db: &impl ConnectionTrait,
    principal: &Principal,
    project_id: &str,
) -> Result<Role, DbErr> {
    // Nothing held in the project can raise a role already at the token's
    // cap, or at owner: an organization's owners, and tokens capped at
    // their user's organization role, are answered without a read.
    if principal.role >= principal.role_cap.unwrap_or(Role::Owner) {
        return Ok(principal.role);
    }
    // Its membership and its teams' grants there, in one statement.
    let user_id = principal.user_id.as_str();
    let granted = Query::select()
        .column(team_grant::Column::Role)
        .from(team_grant::Entity)
        .and_where(team_grant::Column::ProjectId.eq(project_id))
        .and_where(team_grant::Column::TeamId.in_subquery(teams_of(user_id)))
        .to_owned();
    let held = Query::select()
        .column(project_member::Column::Role)
        .from(project_member::Entity)
        .and_where(project_member::Column::ProjectId.eq(project_id))
        .and_where(project_member::Column::UserId.eq(user_id))
        .union(UnionType::All, granted)
        .to_owned();
    let rows = db.query_all(db.get_database_backend().build(&held)).await?;
    let best = rows
        .iter()
        .filter_map(|row| row.try_get::<String>("", "role").ok()?.parse::<Role>().ok())
        .max();
    Ok(principal.project_role(best))
}

/// The ids of the teams `user_id` is in, as a subquery.
fn teams_of(user_id: &str) -> SelectStatement {
    Query::select()
        .column(team_member::Column::TeamId)
        .from(team_member::Entity)
        .and_where(team_member::Column::UserId.eq(user_id))
        .to_owned()
}

/// The best role the teams `user_id` is in carry onto the place `place`
/// selects (a project's grants, or the organization's).
async fn team_role(
    db: &impl ConnectionTrait,
    user_id: &str,
    place: impl IntoCondition,
) -> Result<Option<Role>, DbErr> {
    let grants = team_grant::Entity::find()
        .filter(place)
        .filter(team_grant::Column::TeamId.in_subquery(teams_of(user_id)))
        .all(db)
        .await?;
    Ok(grants
        .iter()
        .filter_map(|g| g.role.parse::<Role>().ok())
        .max())
}

/// `user_id`'s role in organization `org_id`: the better of its membership
/// and the organization-wide grants of the teams it is in there; `None`
/// if it is no member. The token verifier computes principals' roles here.
pub async fn org_role(
    db: &impl ConnectionTrait,
    org_id: &str,
    user_id: &str,
) -> Result<Option<Role>, DbErr> {
    let Some(membership) = org_member::Entity::find_by_id((org_id.to_owned(), user_id.to_owned()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let member: Role = membership.role.parse().unwrap_or(Role::Viewer);
    let in_org = Query::select()
        .column(team::Column::Id)
        .from(team::Entity)
        .and_where(team::Column::OrgId.eq(org_id))
        .to_owned();
    let org_wide = Condition::all()
        .add(team_grant::Column::Place.eq(team_grant::ORG))
        .add(team_grant::Column::TeamId.in_subquery(in_org));
    let granted = team_role(db, user_id, org_wide).await?;
    Ok(Some(granted.map_or(member, |granted| granted.max(member))))
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
    Ok(crate::find::by_id::<project::Entity>(db, id)
        .await?
        .filter(|p| sees(&ctx.principal, p))
        .ok_or_else(|| ApiError::not_found("project", id))?)
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

/// [`project`](fn@project), for a writer whose change must not
/// interleave with another to the same project (its owner, its members,
/// its default environment): the project's row stays locked until the
/// transaction ends (`FOR UPDATE` on PostgreSQL; SQLite has one writer),
/// so such changes happen one at a time.
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
    let target = Target::project(&scope.project.id);
    scope.require(ctx, db, least, target).await?;
    Ok(scope)
}
