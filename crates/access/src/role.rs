//! `role/*`: the built-in roles, listed with their rules, and an
//! organization's custom roles. Admins write custom roles; nobody writes
//! one that allows an action needing more than their own role, so a role
//! is never a way up. A change to a role's rules holds from the next
//! request of everyone holding it, on every node (the auth epoch moves
//! on). A role a team grant or a live token names is not deleted.

use std::sync::Arc;

use crate::api::role::{CreateRole, ListRoles, RoleId, RoleView, UpdateRole};
use actiongate_entity::{role, team, team_grant, token};
use actiongate_kit::fields;
use actiongate_kit::page::{self, Page};
use actiongate_kit::{roles, scope};
use actiongate_service::rules::{Pattern, RuleSet};
use actiongate_service::{ActionResult, ApiError, Catalog, Ctx, Role, Status, Timestamp};
use actiongate_wire::{new_id, Rule};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

fn catalog(ctx: &Ctx) -> &Catalog {
    ctx.state::<Arc<Catalog>>()
}

fn builtin(role: Role, catalog: &Catalog) -> RoleView {
    RoleView {
        id: role.as_str().to_owned(),
        org_id: None,
        name: role.as_str().to_owned(),
        display_name: None,
        description: Some(
            match role {
                Role::Viewer => "Reads everything in the organization's projects",
                Role::Member => {
                    "Changes the contents of projects: environments, variables, backups"
                }
                Role::Admin => "Manages projects, members, teams, roles and tokens",
                Role::Owner => "Everything, the organization itself included",
            }
            .to_owned(),
        ),
        builtin: true,
        rules: roles::builtin_rules(role, catalog),
        created_at: None,
        updated_at: None,
    }
}

fn present(model: role::Model) -> RoleView {
    RoleView {
        rules: roles::rules_of(&model),
        id: model.id,
        org_id: Some(model.org_id),
        name: model.name,
        display_name: model.display_name,
        description: model.description,
        builtin: false,
        created_at: Some(Timestamp::from_unix_ms(model.created_at)),
        updated_at: Some(Timestamp::from_unix_ms(model.updated_at)),
    }
}

/// `rules` checked and stored as JSON: each compiles, each action pattern
/// names at least one policy, each resource a kind of record, and none
/// allows an action needing more than the caller's organization role.
fn checked(ctx: &Ctx, rules: &[Rule]) -> Result<String, ApiError> {
    if rules.is_empty() {
        return Err(ApiError::invalid_field(
            "/rules",
            "Required",
            "a role has at least one rule",
        ));
    }
    if rules.len() > 500 {
        return Err(ApiError::invalid_field(
            "/rules",
            "TooMany",
            "a role has at most 500 rules",
        ));
    }
    RuleSet::compile("", rules).map_err(|err| {
        ApiError::invalid_field(
            format!("/rules/{}{}", err.rule, err.at),
            "InvalidValue",
            err.detail,
        )
    })?;
    let catalog = catalog(ctx);
    let caller = ctx.principal.role;
    for (i, rule) in rules.iter().enumerate() {
        let pattern = Pattern::parse(&rule.action).expect("compiled above");
        let mut matched = false;
        for (code, entries) in catalog.policies().filter(|(code, _)| pattern.matches(code)) {
            matched = true;
            let needs = entries.iter().filter_map(|entry| entry.least).max();
            if let Some(needs) = needs.filter(|needs| *needs > caller) {
                return Err(ApiError::forbidden(format!(
                    "The rule allows {code}, which needs the {needs} role; the caller is a {caller} and gives no more than it holds"
                ))
                .at(format!("/rules/{i}/action"), "Forbidden"));
            }
        }
        if !matched {
            return Err(ApiError::invalid_field(
                format!("/rules/{i}/action"),
                "UnknownPolicy",
                format!(
                    "{:?} matches no policy code; access/v1/authz/policies lists them",
                    rule.action
                ),
            ));
        }
        for (j, resource) in rule.resources.iter().flatten().enumerate() {
            let pattern = Pattern::parse(resource).expect("compiled above");
            let known = match pattern.first_literal() {
                None => true,
                Some(kind) => kind == "project" || catalog.project_of(kind).is_some(),
            };
            if !known {
                let kinds: Vec<&str> = std::iter::once("project").chain(catalog.kinds()).collect();
                return Err(ApiError::invalid_field(
                    format!("/rules/{i}/resources/{j}"),
                    "InvalidValue",
                    format!(
                        "{resource:?} names no kind of record: one of {}",
                        kinds.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(roles::stored(rules))
}

/// `Forbidden` for a built-in role's `id`: they never change.
fn changeable(id: &str) -> Result<(), ApiError> {
    if roles::is_builtin(id) {
        return Err(ApiError::forbidden(format!(
            "{id} is a built-in role: it cannot be changed; create a custom role instead"
        ))
        .at("/id", "Forbidden"));
    }
    Ok(())
}

/// Custom role `id` of the caller's organization, else
/// `ResourceNotFound`.
async fn custom(ctx: &Ctx, db: &impl ConnectionTrait, id: &str) -> ActionResult<role::Model> {
    changeable(id)?;
    Ok(role::Entity::find_by_id(id)
        .filter(role::Column::OrgId.eq(&ctx.principal.org_id))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("role", id).at("/id", "NotFound"))?)
}

pub async fn create(ctx: Ctx, input: CreateRole) -> ActionResult<RoleView> {
    scope::own_organization(&ctx.principal, input.org_id.as_deref())?;
    if roles::is_builtin(input.name.as_str()) {
        return Err(
            ApiError::conflict(format!("{} is a built-in role's name", input.name))
                .at("/name", "Duplicate")
                .into(),
        );
    }
    let rules = checked(&ctx, &input.rules)?;
    let now = fields::now();
    let txn = ctx.begin_write().await?;
    let created = role::ActiveModel {
        id: Set(new_id("rol")),
        org_id: Set(ctx.principal.org_id.clone()),
        name: Set(input.name.into_string()),
        display_name: Set(input.display_name.map(String::from)),
        description: Set(input.description.map(String::from)),
        rules: Set(rules),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(fields::duplicate_is_conflict(
        "A role of this name exists in the organization",
        "/name",
    ))?;
    txn.commit_for(&created.id).await?;
    Ok(present(created))
}

pub async fn get(ctx: Ctx, input: RoleId) -> ActionResult<RoleView> {
    if let Ok(role) = input.id.parse::<Role>() {
        return Ok(builtin(role, catalog(&ctx)));
    }
    let found = role::Entity::find_by_id(&input.id)
        .filter(role::Column::OrgId.eq(&ctx.principal.org_id))
        .one(ctx.read())
        .await?
        .ok_or_else(|| ApiError::not_found("role", &input.id).at("/id", "NotFound"))?;
    Ok(present(found))
}

/// The built-in roles first, least first; then the custom roles by name.
pub async fn list(ctx: Ctx, input: ListRoles) -> ActionResult<Page<RoleView>> {
    let (offset, limit) = page::bounds(input.offset, input.limit)?;
    let builtins: Vec<Role> = match input.builtin {
        Some(false) => Vec::new(),
        _ => Role::ALL
            .into_iter()
            .filter(|role| {
                input
                    .name
                    .as_deref()
                    .is_none_or(|name| name == role.as_str())
            })
            .collect(),
    };
    let mut query = role::Entity::find().filter(role::Column::OrgId.eq(&ctx.principal.org_id));
    if let Some(name) = &input.name {
        query = query.filter(role::Column::Name.eq(name));
    }
    let customs = if input.builtin == Some(true) {
        0
    } else {
        query.clone().count(ctx.read()).await?
    };
    let shown_builtins = builtins.len() as u64;
    let mut results: Vec<RoleView> = builtins
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|role| builtin(role, catalog(&ctx)))
        .collect();
    let room = limit - results.len() as u64;
    if customs > 0 && room > 0 {
        let skip = offset.saturating_sub(shown_builtins);
        let found = query
            .order_by_asc(role::Column::Name)
            .offset(skip)
            .limit(room)
            .all(ctx.read())
            .await?;
        results.extend(found.into_iter().map(present));
    }
    Ok(Page {
        results,
        count: shown_builtins + customs,
        offset,
    })
}

pub async fn update(ctx: Ctx, input: UpdateRole) -> ActionResult<RoleView> {
    changeable(&input.id)?;
    let rules = input
        .rules
        .as_deref()
        .map(|r| checked(&ctx, r))
        .transpose()?;
    let txn = ctx.begin_write().await?;
    let found = custom(&ctx, &txn, &input.id).await?;
    let mut active = found.into_active_model();
    if let Some(rules) = rules {
        active.rules = Set(rules);
        // Everyone holding it does what it now says from the next request.
        ctx.invalidates_tokens();
    }
    if let Some(display_name) = input.display_name {
        active.display_name = Set(Some(display_name.into_string()));
    }
    if let Some(description) = input.description {
        active.description = Set(Some(description.into_string()));
    }
    active.updated_at = Set(fields::now());
    let updated = active.update(&txn).await?;
    txn.commit_for(&updated.id).await?;
    Ok(present(updated))
}

pub async fn delete(ctx: Ctx, input: RoleId) -> ActionResult<RoleView> {
    let txn = ctx.begin_write().await?;
    let found = custom(&ctx, &txn, &input.id).await?;
    let teams = Query::select()
        .column(team::Column::Id)
        .from(team::Entity)
        .and_where(team::Column::OrgId.eq(&found.org_id))
        .to_owned();
    let granted = team_grant::Entity::find()
        .filter(team_grant::Column::Role.eq(&found.name))
        .filter(team_grant::Column::TeamId.in_subquery(teams))
        .count(&txn)
        .await?;
    let carried = token::Entity::find()
        .filter(token::Column::OrgId.eq(&found.org_id))
        .filter(token::Column::Role.eq(&found.name))
        .filter(token::Column::RevokedAt.is_null())
        .count(&txn)
        .await?;
    if granted + carried > 0 {
        return Err(ApiError::new(
            Status::ResourceInUse,
            format!(
                "The role {} is in use: {granted} team grant(s) and {carried} live token(s) name it; revoke them first",
                found.name
            ),
        )
        .at("/id", "InUse")
        .into());
    }
    role::Entity::delete_by_id(&found.id).exec(&txn).await?;
    txn.commit_for(&found.id).await?;
    Ok(present(found))
}
