//! Teams: `team/create|get|list|update|delete`, `team/member/add|list|
//! remove`, `team/grant|revoke`.
//!
//! A team carries roles to its members: onto one project, or onto the
//! whole organization. A member's role anywhere is the best of its
//! organization role, its project membership and its teams' grants, never
//! above its token's cap (`actiongate_kit::scope`). Organization admins
//! manage teams, and nobody hands out more than they hold: a grant above
//! the caller's own role where it applies is `Forbidden`, and so is adding
//! a member to a team that carries one. Every change to a grant or a
//! team's membership moves the auth epoch on, so it holds from the next
//! request on every node.

use std::collections::HashMap;

use crate::api::team::{
    CreateTeam, GrantTeam, ListTeamMembers, ListTeams, RevokeTeam, Team, TeamId, TeamMember,
    TeamMemberRef, TeamRole, UpdateTeam,
};
use crate::user::members_page;
use actiongate_entity::{org_member, team, team_grant, team_member, user};
use actiongate_kit::authz;
use actiongate_kit::fields;
use actiongate_kit::page::{self, Order, Page};
use actiongate_kit::{roles, scope};
use actiongate_service::{ActionResult, ApiError, Catalog, Ctx, Role, Timestamp};
use actiongate_wire::{new_id, RoleName};
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use std::sync::Arc;

/// `Forbidden` unless the caller may manage its organization's teams: an
/// admin whose token is not limited to one project.
async fn manages_teams(ctx: &Ctx) -> ActionResult<()> {
    authz::in_org(ctx, ctx.read(), Role::Admin).await
}

/// Team `id` of the caller's organization, else `ResourceNotFound` at
/// `pointer`.
async fn visible(
    ctx: &Ctx,
    db: &impl ConnectionTrait,
    id: &str,
    pointer: &str,
) -> ActionResult<team::Model> {
    Ok(team::Entity::find_by_id(id)
        .filter(team::Column::OrgId.eq(&ctx.principal.org_id))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("team", id).at(pointer, "NotFound"))?)
}

/// Teams as the API shows them, with their member counts and grants.
async fn present(db: &impl ConnectionTrait, teams: Vec<team::Model>) -> ActionResult<Vec<Team>> {
    let ids: Vec<String> = teams.iter().map(|t| t.id.clone()).collect();
    let mut grants: HashMap<String, Vec<TeamRole>> = HashMap::new();
    for grant in team_grant::Entity::find()
        .filter(team_grant::Column::TeamId.is_in(ids.clone()))
        .order_by_asc(team_grant::Column::Place)
        .all(db)
        .await?
    {
        grants.entry(grant.team_id).or_default().push(TeamRole {
            project_id: grant.project_id,
            role: grant
                .role
                .parse()
                .unwrap_or(RoleName::Builtin(Role::Viewer)),
        });
    }
    let mut members: HashMap<String, u64> = HashMap::new();
    for member in team_member::Entity::find()
        .filter(team_member::Column::TeamId.is_in(ids))
        .all(db)
        .await?
    {
        *members.entry(member.team_id).or_default() += 1;
    }
    Ok(teams
        .into_iter()
        .map(|t| Team {
            members: members.get(&t.id).copied().unwrap_or(0),
            grants: grants.remove(&t.id).unwrap_or_default(),
            id: t.id,
            org_id: t.org_id,
            name: t.name,
            display_name: t.display_name,
            description: t.description,
            created_at: Timestamp::from_unix_ms(t.created_at),
            updated_at: Timestamp::from_unix_ms(t.updated_at),
        })
        .collect())
}

async fn one(db: &impl ConnectionTrait, team: team::Model) -> ActionResult<Team> {
    Ok(present(db, vec![team])
        .await?
        .pop()
        .expect("one team presented"))
}

pub async fn create(ctx: Ctx, input: CreateTeam) -> ActionResult<Team> {
    manages_teams(&ctx).await?;
    scope::own_organization(&ctx.principal, input.org_id.as_deref())?;
    let now = fields::now();
    let txn = ctx.begin_write().await?;
    let created = team::ActiveModel {
        id: Set(new_id("team")),
        org_id: Set(ctx.principal.org_id.clone()),
        name: Set(input.name.into_string()),
        display_name: Set(input.display_name.map(String::from)),
        description: Set(input.description.map(String::from)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(fields::duplicate_is_conflict(
        "A team of this name exists in the organization",
        "/name",
    ))?;
    txn.commit_for(&created.id).await?;
    one(ctx.read(), created).await
}

pub async fn get(ctx: Ctx, input: TeamId) -> ActionResult<Team> {
    let found = visible(&ctx, ctx.read(), &input.id, "/id").await?;
    one(ctx.read(), found).await
}

const ORDER: Order<team::Column> = Order {
    columns: &[
        ("name", team::Column::Name),
        ("created_at", team::Column::CreatedAt),
        ("updated_at", team::Column::UpdatedAt),
    ],
    default: team::Column::Name,
    id: team::Column::Id,
    unique: &[team::Column::Name],
};

pub async fn list(ctx: Ctx, input: ListTeams) -> ActionResult<Page<Team>> {
    let (offset, limit) = page::bounds(input.offset, input.limit)?;
    let mut query = team::Entity::find().filter(team::Column::OrgId.eq(&ctx.principal.org_id));
    if let Some(name) = &input.name {
        query = query.filter(team::Column::Name.eq(name));
    }
    if let Some(member) = &input.member {
        let teams = Query::select()
            .column(team_member::Column::TeamId)
            .from(team_member::Entity)
            .and_where(team_member::Column::UserId.eq(member))
            .to_owned();
        query = query.filter(team::Column::Id.in_subquery(teams));
    }
    let query = ORDER.apply(query, input.order_by.as_deref())?;
    let count = query.clone().count(ctx.read()).await?;
    let teams = query.offset(offset).limit(limit).all(ctx.read()).await?;
    Ok(Page {
        results: present(ctx.read(), teams).await?,
        count,
        offset,
    })
}

pub async fn update(ctx: Ctx, input: UpdateTeam) -> ActionResult<Team> {
    manages_teams(&ctx).await?;
    let txn = ctx.begin_write().await?;
    let found = visible(&ctx, &txn, &input.id, "/id").await?;
    let mut active = found.into_active_model();
    if let Some(name) = input.name {
        active.name = Set(name.into_string());
    }
    if let Some(display_name) = input.display_name {
        active.display_name = Set(Some(display_name.into_string()));
    }
    if let Some(description) = input.description {
        active.description = Set(Some(description.into_string()));
    }
    active.updated_at = Set(fields::now());
    let updated = active
        .update(&txn)
        .await
        .map_err(fields::duplicate_is_conflict(
            "A team of this name exists in the organization",
            "/name",
        ))?;
    let shown = one(&txn, updated).await?;
    txn.commit_for(&shown.id).await?;
    Ok(shown)
}

/// Deletes a team, its grants and its membership: its members lose what
/// it carried from the next request.
pub async fn delete(ctx: Ctx, input: TeamId) -> ActionResult<Team> {
    manages_teams(&ctx).await?;
    let txn = ctx.begin_write().await?;
    let found = visible(&ctx, &txn, &input.id, "/id").await?;
    let shown = one(&txn, found).await?;
    team_grant::Entity::delete_many()
        .filter(team_grant::Column::TeamId.eq(&shown.id))
        .exec(&txn)
        .await?;
    team_member::Entity::delete_many()
        .filter(team_member::Column::TeamId.eq(&shown.id))
        .exec(&txn)
        .await?;
    team::Entity::delete_by_id(&shown.id).exec(&txn).await?;
    ctx.invalidates_tokens();
    txn.commit_for(&shown.id).await?;
    Ok(shown)
}

/// The most role `name` gives ([`roles::most_of`]); a custom role that
/// does not exist is `ResourceNotFound` at `pointer`.
async fn reach(
    ctx: &Ctx,
    db: &impl ConnectionTrait,
    org_id: &str,
    name: &str,
    pointer: &str,
) -> ActionResult<Role> {
    let catalog = ctx.state::<Arc<Catalog>>();
    Ok(roles::most_of(db, catalog, org_id, name)
        .await?
        .ok_or_else(|| ApiError::not_found("role", name).at(pointer, "NotFound"))?)
}

/// `Forbidden` at `pointer` unless the caller holds `role` where `grant`
/// applies: nobody hands out more than they hold.
async fn within_reach(
    ctx: &Ctx,
    db: &impl ConnectionTrait,
    project_id: Option<&str>,
    role: Role,
    pointer: &str,
) -> ActionResult<()> {
    let held = match project_id {
        None => ctx.principal.role,
        Some(project_id) => match scope::role_in_project(db, &ctx.principal, project_id).await? {
            Some((_, held)) => held,
            None => {
                return Err(ApiError::not_found("project", project_id)
                    .at("/project_id", "NotFound")
                    .into())
            }
        },
    };
    if role > held {
        let place = project_id.map_or("the organization".to_owned(), |p| format!("project {p}"));
        return Err(ApiError::forbidden(format!(
            "The caller, a {held} in {place}, cannot hand out the {role} role there"
        ))
        .at(pointer, "Forbidden")
        .into());
    }
    Ok(())
}

fn present_member(m: team_member::Model, u: Option<user::Model>) -> TeamMember {
    let (email, name) = u.map(|u| (u.email, u.name)).unwrap_or_default();
    TeamMember {
        team_id: m.team_id,
        user_id: m.user_id,
        email,
        name,
        created_at: Timestamp::from_unix_ms(m.created_at),
    }
}

pub async fn add_member(ctx: Ctx, input: TeamMemberRef) -> ActionResult<TeamMember> {
    manages_teams(&ctx).await?;
    let txn = ctx.begin_write().await?;
    let found = visible(&ctx, &txn, &input.team_id, "/team_id").await?;
    // Adding someone gives them everything the team carries.
    for grant in team_grant::Entity::find()
        .filter(team_grant::Column::TeamId.eq(&found.id))
        .all(&txn)
        .await?
    {
        let role = reach(&ctx, &txn, &found.org_id, &grant.role, "/team_id").await?;
        within_reach(&ctx, &txn, grant.project_id.as_deref(), role, "/team_id").await?;
    }
    if org_member::Entity::find_by_id((found.org_id.clone(), input.user_id.clone()))
        .one(&txn)
        .await?
        .is_none()
    {
        return Err(
            ApiError::not_found("member of this organization", &input.user_id)
                .at("/user_id", "NotFound")
                .into(),
        );
    }
    let added = team_member::ActiveModel {
        team_id: Set(found.id.clone()),
        user_id: Set(input.user_id.clone()),
        created_at: Set(fields::now()),
    }
    .insert(&txn)
    .await
    .map_err(fields::duplicate_is_conflict(
        "The user is already in this team",
        "/user_id",
    ))?;
    ctx.invalidates_tokens();
    let user = user::Entity::find_by_id(&added.user_id).one(&txn).await?;
    txn.commit_for(format!("{}/{}", added.team_id, added.user_id))
        .await?;
    Ok(present_member(added, user))
}

pub async fn list_members(ctx: Ctx, input: ListTeamMembers) -> ActionResult<Page<TeamMember>> {
    let (offset, limit) = page::bounds(input.offset, input.limit)?;
    let found = visible(&ctx, ctx.read(), &input.team_id, "/team_id").await?;
    let query = team_member::Entity::find()
        .filter(team_member::Column::TeamId.eq(&found.id))
        .order_by_asc(team_member::Column::CreatedAt)
        .order_by_asc(team_member::Column::UserId);
    members_page(&ctx, query, offset, limit, |m| &m.user_id, present_member).await
}

/// Takes a member out of a team. Admins remove anyone; anyone may leave.
pub async fn remove_member(ctx: Ctx, input: TeamMemberRef) -> ActionResult<TeamMember> {
    if input.user_id != ctx.principal.user_id {
        manages_teams(&ctx).await?;
    }
    let txn = ctx.begin_write().await?;
    let found = visible(&ctx, &txn, &input.team_id, "/team_id").await?;
    let member = team_member::Entity::find_by_id((found.id.clone(), input.user_id.clone()))
        .one(&txn)
        .await?
        .ok_or_else(|| {
            ApiError::not_found("member of this team", &input.user_id).at("/user_id", "NotFound")
        })?;
    team_member::Entity::delete_by_id((member.team_id.clone(), member.user_id.clone()))
        .exec(&txn)
        .await?;
    ctx.invalidates_tokens();
    let user = user::Entity::find_by_id(&member.user_id).one(&txn).await?;
    txn.commit_for(format!("{}/{}", member.team_id, member.user_id))
        .await?;
    Ok(present_member(member, user))
}

/// The grant's place: a project's id, or the organization's.
fn place(project_id: Option<&str>) -> String {
    project_id.unwrap_or(team_grant::ORG).to_owned()
}

pub async fn grant(ctx: Ctx, input: GrantTeam) -> ActionResult<Team> {
    manages_teams(&ctx).await?;
    if input.project_id.is_some() && input.role.builtin() == Some(Role::Owner) {
        return Err(ApiError::invalid_field(
            "/role",
            "InvalidValue",
            "a project has exactly one owner; a team carries admin, member or viewer onto one",
        )
        .into());
    }
    let txn = ctx.begin_write().await?;
    let found = visible(&ctx, &txn, &input.team_id, "/team_id").await?;
    let most = reach(&ctx, &txn, &found.org_id, input.role.as_str(), "/role").await?;
    within_reach(&ctx, &txn, input.project_id.as_deref(), most, "/role").await?;
    team_grant::Entity::insert(team_grant::ActiveModel {
        team_id: Set(found.id.clone()),
        place: Set(place(input.project_id.as_deref())),
        project_id: Set(input.project_id.clone()),
        role: Set(input.role.to_string()),
        created_at: Set(fields::now()),
    })
    .on_conflict(
        OnConflict::columns([team_grant::Column::TeamId, team_grant::Column::Place])
            .update_column(team_grant::Column::Role)
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    ctx.invalidates_tokens();
    let shown = one(&txn, found).await?;
    txn.commit_for(&shown.id).await?;
    Ok(shown)
}

pub async fn revoke(ctx: Ctx, input: RevokeTeam) -> ActionResult<Team> {
    manages_teams(&ctx).await?;
    let txn = ctx.begin_write().await?;
    let found = visible(&ctx, &txn, &input.team_id, "/team_id").await?;
    let at = place(input.project_id.as_deref());
    let grant = team_grant::Entity::find_by_id((found.id.clone(), at))
        .one(&txn)
        .await?
        .ok_or_else(|| {
            let pointer = if input.project_id.is_some() {
                "/project_id"
            } else {
                "/team_id"
            };
            ApiError::not_found(
                "grant of this team",
                input.project_id.as_deref().unwrap_or("org"),
            )
            .at(pointer, "NotFound")
        })?;
    // Taking a role away is reaching it too.
    let role = reach(&ctx, &txn, &found.org_id, &grant.role, "/team_id").await?;
    within_reach(&ctx, &txn, grant.project_id.as_deref(), role, "/team_id").await?;
    team_grant::Entity::delete_by_id((grant.team_id.clone(), grant.place.clone()))
        .exec(&txn)
        .await?;
    ctx.invalidates_tokens();
    let shown = one(&txn, found).await?;
    txn.commit_for(&shown.id).await?;
    Ok(shown)
}

/// The teams of the deleted projects lose their grants there (see
/// `actiongate_service::Hooks`).
pub fn delete_grants_in_projects(
    txn: &actiongate_service::WriteTxn,
    ids: sea_orm::sea_query::SelectStatement,
) -> futures_util::future::BoxFuture<'_, Result<(), sea_orm::DbErr>> {
    Box::pin(async move {
        team_grant::Entity::delete_many()
            .filter(team_grant::Column::ProjectId.in_subquery(ids))
            .exec(txn)
            .await?;
        Ok(())
    })
}
