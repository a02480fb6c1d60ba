//! Custom roles as the evaluator reads them: the ones a user holds
//! through its teams, the one a token carries, and what it takes to hand
//! one out. The `role/*` actions manage them (access service); the token
//! verifier and [`crate::authz`] read them here.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use actiongate_entity::{role, team, team_grant, team_member};
use actiongate_service::rules::{Held, HeldRoles, RuleSet};
use actiongate_service::{Catalog, Role};
use actiongate_wire::{Effect, Rule};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

/// Whether `name` is one of the built-in roles (stored in the same
/// columns as custom roles' names).
pub fn is_builtin(name: &str) -> bool {
    name.parse::<Role>().is_ok()
}

fn builtin_names() -> impl Iterator<Item = &'static str> {
    Role::ALL.into_iter().map(Role::as_str)
}

/// `rules` as a role stores them.
pub fn stored(rules: &[Rule]) -> String {
    serde_json::to_string(rules).expect("rules serialize")
}

/// A stored role's rules. Stored rules were checked when they were
/// written; unreadable ones (never expected) are none.
pub fn rules_of(model: &role::Model) -> Vec<Rule> {
    serde_json::from_str(&model.rules).unwrap_or_else(|err| {
        tracing::error!(role = model.id, error = %err, "stored rules unreadable; the role allows nothing");
        Vec::new()
    })
}

/// A stored role's rules, compiled. One that no longer compiles allows
/// nothing.
pub fn compile(model: &role::Model) -> RuleSet {
    RuleSet::compile(&model.name, &rules_of(model)).unwrap_or_else(|err| {
        tracing::error!(
            role = model.id,
            detail = err.detail,
            "stored rule invalid; the role allows nothing"
        );
        RuleSet::compile(&model.name, &[]).expect("no rules compile")
    })
}

/// Custom role `name` of organization `org_id`.
pub async fn find(
    db: &impl ConnectionTrait,
    org_id: &str,
    name: &str,
) -> Result<Option<role::Model>, DbErr> {
    role::Entity::find()
        .filter(role::Column::OrgId.eq(org_id))
        .filter(role::Column::Name.eq(name))
        .one(db)
        .await
}

/// The custom role a token of organization `org_id` carries as its role
/// `name`, compiled; `None` for a built-in role or none.
pub async fn carried(
    db: &impl ConnectionTrait,
    org_id: &str,
    name: Option<&str>,
) -> Result<Option<Arc<RuleSet>>, DbErr> {
    let Some(name) = name.filter(|name| !is_builtin(name)) else {
        return Ok(None);
    };
    // A token's role cannot be deleted while the token lives, so it is
    // there; were it not, the token could do nothing.
    Ok(Some(Arc::new(match find(db, org_id, name).await? {
        Some(model) => compile(&model),
        None => RuleSet::compile(name, &[]).expect("no rules compile"),
    })))
}

/// The custom roles `user_id` holds in organization `org_id` through the
/// grants of the teams it is in there, each where it holds it.
pub async fn held(
    db: &impl ConnectionTrait,
    org_id: &str,
    user_id: &str,
) -> Result<HeldRoles, DbErr> {
    let in_org = Query::select()
        .column(team::Column::Id)
        .from(team::Entity)
        .and_where(team::Column::OrgId.eq(org_id))
        .to_owned();
    let mine = Query::select()
        .column(team_member::Column::TeamId)
        .from(team_member::Entity)
        .and_where(team_member::Column::UserId.eq(user_id))
        .to_owned();
    let grants = team_grant::Entity::find()
        .filter(team_grant::Column::TeamId.in_subquery(mine))
        .filter(team_grant::Column::TeamId.in_subquery(in_org))
        .filter(team_grant::Column::Role.is_not_in(builtin_names()))
        .all(db)
        .await?;
    if grants.is_empty() {
        return Ok(HeldRoles::default());
    }
    let names: BTreeSet<&str> = grants.iter().map(|g| g.role.as_str()).collect();
    let compiled: HashMap<String, Arc<RuleSet>> = role::Entity::find()
        .filter(role::Column::OrgId.eq(org_id))
        .filter(role::Column::Name.is_in(names))
        .all(db)
        .await?
        .iter()
        .map(|model| (model.name.clone(), Arc::new(compile(model))))
        .collect();
    Ok(HeldRoles {
        roles: grants
            .into_iter()
            .filter_map(|grant| {
                let rules = compiled.get(&grant.role)?.clone();
                let held = grant.project_id.map_or(Held::Org, Held::Project);
                Some((held, rules))
            })
            .collect(),
    })
}

/// The most any action `rules` allows needs: what a caller must hold,
/// built in, to write such a role or hand it out (nobody hands out more
/// than they hold).
pub fn reach(rules: &RuleSet, catalog: &Catalog) -> Role {
    catalog
        .policies()
        .filter(|(code, _)| rules.allows_somewhere(code))
        .flat_map(|(_, entries)| entries.iter().filter_map(|entry| entry.least))
        .max()
        .unwrap_or(Role::Viewer)
}

/// The most role `name` gives in organization `org_id`: a built-in role
/// itself; a custom one, its [`reach`]; `None` if no such custom role
/// exists.
pub async fn most_of(
    db: &impl ConnectionTrait,
    catalog: &Catalog,
    org_id: &str,
    name: &str,
) -> Result<Option<Role>, DbErr> {
    if let Ok(role) = name.parse::<Role>() {
        return Ok(Some(role));
    }
    Ok(find(db, org_id, name)
        .await?
        .map(|found| reach(&compile(&found), catalog)))
}

/// The rules of built-in role `role`, as `role/list` shows them: every
/// policy at or below it (for the owner, everything).
pub fn builtin_rules(role: Role, catalog: &Catalog) -> Vec<Rule> {
    let rule = |action: &str| Rule {
        action: action.to_owned(),
        effect: Effect::Allow,
        resources: None,
    };
    if role == Role::Owner {
        return vec![rule("**")];
    }
    catalog
        .policies()
        .filter(|(_, entries)| {
            entries
                .iter()
                .all(|entry| entry.least.is_none_or(|least| least <= role))
        })
        .map(|(code, _)| rule(code))
        .collect()
}
