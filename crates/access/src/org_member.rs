//! An organization's members and their organization roles: `member/*`
//! with `org_id`. Admins manage them, never granting or touching a role
//! above their own; anyone may leave. The organization's owner, and its
//! last owner, stay until `org/transfer` hands it over (`ResourceInUse`).
//! A change takes effect from the next request on every node, the tokens
//! of the member it concerns included.

use crate::api::member::Member;
use crate::user::members_page;
use actiongate_entity::{
    org_member, organization, project, project_member, team, team_member, user,
};
use actiongate_kit::authz;
use actiongate_kit::fields;
use actiongate_kit::page::Page;
use actiongate_service::{ActionResult, ApiError, Ctx, Role, Status, Timestamp};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, Set,
};

impl Member {
    fn of_org(m: org_member::Model, u: Option<user::Model>) -> Self {
        let (email, name) = u.map(|u| (u.email, u.name)).unwrap_or_default();
        Member {
            project_id: None,
            org_id: Some(m.org_id),
            teams: Vec::new(),
            user_id: m.user_id,
            email,
            name,
            role: m.role,
            created_at: Timestamp::from_unix_ms(m.created_at),
            updated_at: Timestamp::from_unix_ms(m.created_at),
        }
    }
}

fn role_of(member: &org_member::Model) -> Role {
    member.role.parse().unwrap_or(Role::Viewer)
}

/// The caller's organization `org_id`, if it is the caller's and the
/// caller holds `least` there with a token not limited to one project.
pub(crate) async fn organization(
    ctx: &Ctx,
    db: &impl ConnectionTrait,
    org_id: &str,
    least: Role,
) -> ActionResult<organization::Model> {
    let principal = &ctx.principal;
    let org = organization::Entity::find_by_id(org_id)
        .one(db)
        .await?
        .filter(|org| org.id == principal.org_id)
        .ok_or_else(|| ApiError::not_found("organization", org_id).at("/org_id", "NotFound"))?;
    if least > Role::Viewer {
        authz::in_org(ctx, db, least).await?;
    } else {
        principal.require(least)?;
    }
    Ok(org)
}

/// `user_id`'s membership of the organization, or `ResourceNotFound`.
async fn membership(
    db: &impl ConnectionTrait,
    org_id: &str,
    user_id: &str,
) -> ActionResult<org_member::Model> {
    org_member::Entity::find_by_id((org_id.to_owned(), user_id.to_owned()))
        .one(db)
        .await?
        .ok_or_else(|| {
            ApiError::not_found("member of this organization", user_id)
                .at("/user_id", "NotFound")
                .into()
        })
}

/// `ResourceInUse` if `member` is the organization's recorded owner or
/// its last owner: who must stay until `org/transfer`.
async fn not_the_last_owner(
    db: &impl ConnectionTrait,
    org: &organization::Model,
    member: &org_member::Model,
    what: &str,
) -> ActionResult<()> {
    let in_use = |why: String| -> ActionResult<()> {
        Err(ApiError::new(Status::ResourceInUse, why)
            .at("/user_id", "ResourceInUse")
            .into())
    };
    if member.user_id == org.owner_id {
        return in_use(format!(
            "{} owns organization {}; to {what}, first hand it to another member with org/transfer",
            member.user_id, org.id
        ));
    }
    if role_of(member) == Role::Owner {
        let owners = org_member::Entity::find()
            .filter(org_member::Column::OrgId.eq(&org.id))
            .filter(org_member::Column::Role.eq(org_member::OWNER))
            .count(db)
            .await?;
        if owners <= 1 {
            return in_use(format!(
                "{} is the last owner of organization {}; to {what}, make another member an owner first",
                member.user_id, org.id
            ));
        }
    }
    Ok(())
}

/// No granting, changing or removing a role above the caller's own.
pub(crate) fn within_reach(ctx: &Ctx, pointer: &str, role: Role) -> ActionResult<()> {
    if role > ctx.principal.role {
        return Err(ApiError::forbidden(format!(
            "The caller, a {}, cannot act on the {role} role",
            ctx.principal.role
        ))
        .at(pointer, "Forbidden")
        .into());
    }
    Ok(())
}

pub async fn list(ctx: &Ctx, org_id: &str, offset: u64, limit: u64) -> ActionResult<Page<Member>> {
    let org = organization(ctx, ctx.read(), org_id, Role::Viewer).await?;
    let query = org_member::Entity::find()
        .filter(org_member::Column::OrgId.eq(&org.id))
        .order_by_asc(org_member::Column::CreatedAt)
        .order_by_asc(org_member::Column::UserId);
    members_page(ctx, query, offset, limit, |m| &m.user_id, Member::of_org).await
}

pub async fn add(ctx: &Ctx, org_id: &str, user_id: &str, role: Role) -> ActionResult<Member> {
    within_reach(ctx, "/role", role)?;
    let txn = ctx.begin_write().await?;
    let org = organization(ctx, &txn, org_id, Role::Admin).await?;
    let user = user::Entity::find_by_id(user_id)
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::not_found("user", user_id).at("/user_id", "NotFound"))?;
    let added = org_member::ActiveModel {
        org_id: Set(org.id.clone()),
        user_id: Set(user.id.clone()),
        role: Set(role.as_str().to_owned()),
        created_at: Set(fields::now()),
    }
    .insert(&txn)
    .await
    .map_err(fields::duplicate_is_conflict(
        &format!("{user_id} is already a member of organization {}", org.id),
        "/user_id",
    ))?;
    txn.commit_for(format!("{}/{}", added.org_id, added.user_id))
        .await?;
    Ok(Member::of_org(added, Some(user)))
}

pub async fn update(ctx: &Ctx, org_id: &str, user_id: &str, role: Role) -> ActionResult<Member> {
    within_reach(ctx, "/role", role)?;
    let txn = ctx.begin_write().await?;
    let org = organization(ctx, &txn, org_id, Role::Admin).await?;
    let current = membership(&txn, &org.id, user_id).await?;
    within_reach(ctx, "/user_id", role_of(&current))?;
    if role < Role::Owner {
        not_the_last_owner(&txn, &org, &current, "demote them").await?;
    }
    let mut active = current.into_active_model();
    active.role = Set(role.as_str().to_owned());
    let updated = active.update(&txn).await?;
    // Their tokens' verified roles are cached.
    ctx.invalidates_tokens();
    let user = user::Entity::find_by_id(&updated.user_id).one(&txn).await?;
    txn.commit_for(format!("{}/{}", updated.org_id, updated.user_id))
        .await?;
    Ok(Member::of_org(updated, user))
}

/// Removes a member from the organization, its projects and its teams. Admins
/// remove others; anyone may leave. A member who owns a project hands it
/// over first (`project/transfer`).
pub async fn remove(ctx: &Ctx, org_id: &str, user_id: &str) -> ActionResult<Member> {
    let leaving = user_id == ctx.principal.user_id;
    let least = if leaving { Role::Viewer } else { Role::Admin };
    let txn = ctx.begin_write().await?;
    let org = organization(ctx, &txn, org_id, least).await?;
    let current = membership(&txn, &org.id, user_id).await?;
    if !leaving {
        within_reach(ctx, "/user_id", role_of(&current))?;
    }
    not_the_last_owner(&txn, &org, &current, "remove them").await?;
    if let Some(owned) = project::Entity::find()
        .filter(project::Column::OrgId.eq(&org.id))
        .filter(project::Column::OwnerId.eq(user_id))
        .one(&txn)
        .await?
    {
        return Err(ApiError::new(
            Status::ResourceInUse,
            format!(
                "{user_id} owns project {}; hand it to another member with project/transfer first",
                owned.id
            ),
        )
        .at("/user_id", "ResourceInUse")
        .into());
    }
    let in_org = Query::select()
        .column(project::Column::Id)
        .from(project::Entity)
        .and_where(project::Column::OrgId.eq(&org.id))
        .to_owned();
    project_member::Entity::delete_many()
        .filter(project_member::Column::UserId.eq(user_id))
        .filter(project_member::Column::ProjectId.in_subquery(in_org))
        .exec(&txn)
        .await?;
    let teams = Query::select()
        .column(team::Column::Id)
        .from(team::Entity)
        .and_where(team::Column::OrgId.eq(&org.id))
        .to_owned();
    team_member::Entity::delete_many()
        .filter(team_member::Column::UserId.eq(user_id))
        .filter(team_member::Column::TeamId.in_subquery(teams))
        .exec(&txn)
        .await?;
    org_member::Entity::delete_by_id((current.org_id.clone(), current.user_id.clone()))
        .exec(&txn)
        .await?;
    // Their tokens stop working from the next request, on every node.
    ctx.invalidates_tokens();
    let user = user::Entity::find_by_id(&current.user_id).one(&txn).await?;
    txn.commit_for(format!("{}/{}", current.org_id, current.user_id))
        .await?;
    Ok(Member::of_org(current, user))
}
