//! Members: `member/list|add|update|remove`, of a project (`project_id`)
//! or of an organization (`org_id`, in [`crate::org_member`]). Admins of a
//! project manage its members; its one owner changes only by
//! `project/transfer` and is never removed.

use crate::api::member::{AddMember, ListMembers, Member, RemoveMember};
use crate::org_member;
use crate::user::users_by_id;
use std::collections::HashMap;

use actiongate_entity::{project_member, team, team_grant, team_member, user};
use actiongate_kit::fields;
use actiongate_kit::page::{self, Page};
use actiongate_kit::scope::{self, ProjectScope};
use actiongate_service::{ActionResult, ApiError, Ctx, Role, Timestamp};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

/// Where a member call acts: the one of `project_id` and `org_id` it
/// names.
pub(crate) enum Place {
    Project(String),
    Org(String),
}

pub(crate) fn place(project_id: Option<String>, org_id: Option<String>) -> ActionResult<Place> {
    match (project_id, org_id) {
        (Some(project), None) => Ok(Place::Project(project)),
        (None, Some(org)) => Ok(Place::Org(org)),
        (Some(_), Some(_)) => Err(ApiError::invalid_field(
            "/org_id",
            "InvalidValue",
            "name a project_id or an org_id, not both",
        )
        .into()),
        (None, None) => Err(ApiError::invalid_field(
            "/project_id",
            "MissingField",
            "name the project_id (or the org_id) whose members these are",
        )
        .into()),
    }
}

impl Member {
    fn new(m: project_member::Model, u: Option<user::Model>) -> Self {
        let (email, name) = u.map(|u| (u.email, u.name)).unwrap_or_default();
        Member {
            org_id: None,
            teams: Vec::new(),
            project_id: Some(m.project_id),
            user_id: m.user_id,
            email,
            name,
            role: m.role,
            created_at: Timestamp::from_unix_ms(m.created_at),
            updated_at: Timestamp::from_unix_ms(m.updated_at),
        }
    }
}

pub async fn list(ctx: Ctx, input: ListMembers) -> ActionResult<Page<Member>> {
    let (offset, limit) = page::bounds(input.offset, input.limit)?;
    let project_id = match place(input.project_id, input.org_id)? {
        Place::Project(id) => id,
        Place::Org(id) => return org_member::list(&ctx, &id, offset, limit).await,
    };
    let scope = scope::project(&ctx, ctx.read(), &project_id, Role::Viewer).await?;
    let db = ctx.read();
    let direct = project_member::Entity::find()
        .filter(project_member::Column::ProjectId.eq(&scope.project.id));
    let grants = team_grant::Entity::find()
        .filter(team_grant::Column::ProjectId.eq(&scope.project.id))
        .all(db)
        .await?;
    if grants.is_empty() {
        // The members are the direct ones: a page read in index order.
        let count = direct.clone().count(db).await?;
        let rows = direct
            .find_also_related(user::Entity)
            .order_by_asc(project_member::Column::CreatedAt)
            .order_by_asc(project_member::Column::UserId)
            .offset(offset)
            .limit(limit)
            .all(db)
            .await?;
        return Ok(Page {
            results: rows.into_iter().map(|(m, u)| Member::new(m, u)).collect(),
            count,
            offset,
        });
    }
    // Teams add members: all of them, merged, then the page.
    let mut members: Vec<Member> = direct
        .find_also_related(user::Entity)
        .order_by_asc(project_member::Column::CreatedAt)
        .order_by_asc(project_member::Column::UserId)
        .all(db)
        .await?
        .into_iter()
        .map(|(m, u)| Member::new(m, u))
        .collect();
    through_teams(db, grants, &mut members).await?;
    let count = members.len() as u64;
    Ok(Page {
        results: members
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect(),
        count,
        offset,
    })
}

/// Adds to a project's `members` those who hold a role there through the
/// teams `grants` name, and names the teams: each member's role is the
/// better of the two (a custom role shows only where nothing built in
/// does), and whoever holds one only through a team is listed
/// after the direct members, in the order they joined the team.
async fn through_teams(
    db: &impl ConnectionTrait,
    grants: Vec<team_grant::Model>,
    members: &mut Vec<Member>,
) -> ActionResult<()> {
    let project_id = grants[0].project_id.clone().unwrap_or_default();
    let team_ids: Vec<String> = grants.iter().map(|g| g.team_id.clone()).collect();
    let names: HashMap<String, String> = team::Entity::find()
        .filter(team::Column::Id.is_in(team_ids.clone()))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    // A custom role (by its name) shows for a member who holds nothing
    // built in there; a built-in role shows over it, the best one.
    let roles: HashMap<&str, &str> = grants
        .iter()
        .map(|g| (g.team_id.as_str(), g.role.as_str()))
        .collect();
    let mut in_teams = team_member::Entity::find()
        .filter(team_member::Column::TeamId.is_in(team_ids))
        .all(db)
        .await?;
    in_teams.sort_by(|a, b| (a.created_at, &a.user_id).cmp(&(b.created_at, &b.user_id)));
    let new_ids: Vec<String> = in_teams
        .iter()
        .map(|m| m.user_id.clone())
        .filter(|id| !members.iter().any(|m| m.user_id == *id))
        .collect();
    let mut users = users_by_id(db, new_ids).await?;
    for in_team in in_teams {
        let role = roles[in_team.team_id.as_str()];
        let team = names.get(&in_team.team_id).cloned().unwrap_or_default();
        let index = match members.iter().position(|m| m.user_id == in_team.user_id) {
            Some(index) => index,
            None => {
                let (email, name) = users
                    .remove(&in_team.user_id)
                    .map(|u| (u.email, u.name))
                    .unwrap_or_default();
                members.push(Member {
                    project_id: Some(project_id.clone()),
                    org_id: None,
                    user_id: in_team.user_id.clone(),
                    email,
                    name,
                    role: role.to_owned(),
                    teams: Vec::new(),
                    created_at: Timestamp::from_unix_ms(in_team.created_at),
                    updated_at: Timestamp::from_unix_ms(in_team.created_at),
                });
                members.len() - 1
            }
        };
        let member = &mut members[index];
        let held = member.role.parse::<Role>().ok();
        if role
            .parse::<Role>()
            .is_ok_and(|role| held.is_none_or(|held| role > held))
        {
            member.role = role.to_owned();
        }
        member.teams.push(team);
    }
    Ok(())
}

/// `role` as a member may be given it: anything but `owner`.
fn grantable(role: Role) -> ActionResult<Role> {
    if role == Role::Owner {
        return Err(ApiError::invalid_field(
            "/role",
            "InvalidValue",
            "a project has exactly one owner; hand it over with project/transfer",
        )
        .into());
    }
    Ok(role)
}

pub async fn add(ctx: Ctx, input: AddMember) -> ActionResult<Member> {
    let project_id = match place(input.project_id, input.org_id)? {
        Place::Project(id) => id,
        Place::Org(id) => return org_member::add(&ctx, &id, &input.user_id, input.role).await,
    };
    let role = grantable(input.role)?;
    let txn = ctx.begin_write().await?;
    let scope = scope::project_for_update(&ctx, &txn, &project_id, Role::Admin).await?;
    let user = org_user(&txn, &scope, &input.user_id).await?;
    let now = fields::now();
    let added = project_member::ActiveModel {
        project_id: Set(scope.project.id.clone()),
        user_id: Set(user.id.clone()),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(fields::duplicate_is_conflict(
        &format!(
            "{} is already a member of project {}",
            input.user_id, scope.project.id
        ),
        "/user_id",
    ))?;
    txn.commit_for(format!("{}/{}", added.project_id, added.user_id))
        .await?;
    Ok(Member::new(added, Some(user)))
}

pub async fn update(ctx: Ctx, input: AddMember) -> ActionResult<Member> {
    let project_id = match place(input.project_id, input.org_id)? {
        Place::Project(id) => id,
        Place::Org(id) => return org_member::update(&ctx, &id, &input.user_id, input.role).await,
    };
    let role = grantable(input.role)?;
    let txn = ctx.begin_write().await?;
    let scope = scope::project_for_update(&ctx, &txn, &project_id, Role::Admin).await?;
    let current = membership(&txn, &scope, &input.user_id).await?;
    not_the_owner(&scope, &current, "change the owner's role")?;
    let mut active = current.into_active_model();
    active.role = Set(role.as_str().to_owned());
    active.updated_at = Set(fields::now());
    let updated = active.update(&txn).await?;
    let user = user::Entity::find_by_id(&updated.user_id).one(&txn).await?;
    txn.commit_for(format!("{}/{}", updated.project_id, updated.user_id))
        .await?;
    Ok(Member::new(updated, user))
}

/// Removes a member. Admins remove others; anyone may leave, except the
/// owner, who must hand the project over first.
pub async fn remove(ctx: Ctx, input: RemoveMember) -> ActionResult<Member> {
    let project_id = match place(input.project_id, input.org_id)? {
        Place::Project(id) => id,
        Place::Org(id) => return org_member::remove(&ctx, &id, &input.user_id).await,
    };
    let leaving = input.user_id == ctx.principal.user_id;
    let least = if leaving { Role::Viewer } else { Role::Admin };
    let txn = ctx.begin_write().await?;
    let scope = scope::project_for_update(&ctx, &txn, &project_id, least).await?;
    let current = membership(&txn, &scope, &input.user_id).await?;
    not_the_owner(&scope, &current, "remove the owner")?;
    project_member::Entity::delete_by_id((current.project_id.clone(), current.user_id.clone()))
        .exec(&txn)
        .await?;
    let user = user::Entity::find_by_id(&current.user_id).one(&txn).await?;
    txn.commit_for(format!("{}/{}", current.project_id, current.user_id))
        .await?;
    Ok(Member::new(current, user))
}

fn not_the_owner(
    scope: &ProjectScope,
    member: &project_member::Model,
    what: &str,
) -> ActionResult<()> {
    if member.role == Role::Owner.as_str() {
        return Err(ApiError::invalid_field(
            "/user_id",
            "ProjectOwner",
            format!(
                "{} owns project {}, which always has exactly one owner; to {what}, first hand the project to another member with project/transfer",
                member.user_id, scope.project.id
            ),
        ).into());
    }
    Ok(())
}

/// `user_id`'s membership of the project, or `ResourceNotFound`.
async fn membership(
    db: &impl ConnectionTrait,
    scope: &ProjectScope,
    user_id: &str,
) -> ActionResult<project_member::Model> {
    project_member::Entity::find_by_id((scope.project.id.clone(), user_id.to_owned()))
        .one(db)
        .await?
        .ok_or_else(|| {
            ApiError::not_found("member of this project", user_id)
                .at("/user_id", "NotFound")
                .into()
        })
}

/// User `user_id`, if it belongs to the project's organization.
async fn org_user(
    db: &impl ConnectionTrait,
    scope: &ProjectScope,
    user_id: &str,
) -> ActionResult<user::Model> {
    let in_org = actiongate_entity::org_member::Entity::find_by_id((
        scope.project.org_id.clone(),
        user_id.to_owned(),
    ))
    .one(db)
    .await?
    .is_some();
    let found = if in_org {
        user::Entity::find_by_id(user_id).one(db).await?
    } else {
        None
    };
    found.ok_or_else(|| {
        ApiError::not_found("user in this organization", user_id)
            .at("/user_id", "NotFound")
            .into()
    })
}
