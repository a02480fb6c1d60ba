//! The environment lifecycle (seed 002): `environment/pause|resume|branch|
//! merge|sync`.
//!
//! Each is an activity on the environment it names, so operations on one
//! environment run one at a time, in the order they were accepted, and
//! each commits all or nothing with its activity's result.

use std::collections::HashMap;

use actiongate_kit::fields::{self};
use actiongate_kit::{actor, load};
use actiongate_service::{ActionResult, ApiError, Ctx, Role, Status, WriteTxn};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};

use crate::api::environment::{Environment, EnvironmentId, EnvironmentType};
use crate::api::lifecycle::{Branch, Sync};
use crate::entity::{environment, variable};
use crate::environment::{ensure_active, make_child, Derived, ACTIVE, PAUSED};
use crate::settings;
use crate::variable::Carried;

/// Sets an environment's status, refusing a change to the one it has.
async fn set_status(
    ctx: Ctx,
    id: &str,
    status: &'static str,
    verb: &str,
) -> ActionResult<Environment> {
    let txn = ctx.begin_write().await?;
    let found = load::<environment::Model>(&ctx, &txn, id, Role::Member)
        .await?
        .record;
    let actor = actor::name(&ctx, &txn).await?;
    ctx.describe(format!("{actor} {verb} {}", found.name));
    if found.status == status {
        return Err(ApiError::new(
            Status::Conflict,
            format!("Environment {} is already {status}", found.id),
        )
        .at("/id", "AlreadyInState")
        .into());
    }
    let mut active = found.into_active_model();
    active.status = Set(status.to_owned());
    active.updated_at = Set(fields::now());
    let updated = active.update(&txn).await?;
    ctx.log(format!("Environment {} is {status}", updated.name));
    txn.commit_for(&updated.id).await?;
    ctx.progress(100);
    Ok(updated.into())
}

pub async fn pause(ctx: Ctx, input: EnvironmentId) -> ActionResult<Environment> {
    set_status(ctx, &input.id, PAUSED, "paused").await
}

pub async fn resume(ctx: Ctx, input: EnvironmentId) -> ActionResult<Environment> {
    set_status(ctx, &input.id, ACTIVE, "resumed").await
}

/// A new child of the environment, with a copy of its variables when
/// `clone_data`.
pub async fn branch(ctx: Ctx, input: Branch) -> ActionResult<Environment> {
    if input.r#type == Some(EnvironmentType::Production) {
        return Err(ApiError::invalid_field(
            "/type",
            "InvalidValue",
            "a branch is staging or development",
        )
        .into());
    }
    ctx.progress(0);
    let txn = ctx.begin_write().await?;
    let parent = load::<environment::Model>(&ctx, &txn, &input.id, Role::Member)
        .await?
        .record;
    let r#type = input.r#type.or_else(|| {
        (parent.r#type == EnvironmentType::Production.as_str())
            .then_some(EnvironmentType::Development)
    });
    let derived = Derived {
        name: input.name.into_string(),
        display_name: input.display_name.map(String::from),
        r#type,
        description: None,
        color: None,
        git_branch: None,
    };
    let actor = actor::name(&ctx, &txn).await?;
    ctx.describe(format!(
        "{actor} branched {} into {}",
        parent.name, derived.name
    ));
    let created = make_child(&ctx, &txn, parent, derived, input.clone_data).await?;
    txn.commit_for(&created.id).await?;
    ctx.progress(100);
    Ok(created.into())
}

/// The child's settings and variables into its parent: same-named ones
/// overwritten, the parent's others kept. Answers the parent.
pub async fn merge(ctx: Ctx, input: EnvironmentId) -> ActionResult<Environment> {
    let txn = ctx.begin_write().await?;
    let child = load::<environment::Model>(&ctx, &txn, &input.id, Role::Member)
        .await?
        .record;
    let actor = actor::name(&ctx, &txn).await?;
    ctx.describe(format!("{actor} merged {} into its parent", child.name));
    let parent = parent_of(&txn, &child, "merge into").await?;
    ensure_active(&parent)?;
    ctx.describe(format!(
        "{actor} merged {} into {}",
        child.name, parent.name
    ));
    let merged = settings::overlay(
        &settings::parse(&parent.settings),
        &settings::parse(&child.settings),
    );
    ctx.progress(10);
    let carried = carry_variables(&ctx, &txn, &child.id, &parent).await?;
    ctx.log(format!(
        "Merged {carried} variables and the settings of {} into {}",
        child.name, parent.name
    ));
    let mut active = parent.into_active_model();
    active.settings = Set(settings::store(&merged));
    active.updated_at = Set(fields::now());
    let updated = active.update(&txn).await?;
    txn.commit_for(&updated.id).await?;
    ctx.progress(100);
    Ok(updated.into())
}

/// The parent's variables and, if asked, settings into the child: same-
/// named ones overwritten, the child's others kept. Answers the child.
pub async fn sync(ctx: Ctx, input: Sync) -> ActionResult<Environment> {
    let txn = ctx.begin_write().await?;
    let child = load::<environment::Model>(&ctx, &txn, &input.id, Role::Member)
        .await?
        .record;
    let actor = actor::name(&ctx, &txn).await?;
    ctx.describe(format!("{actor} synced {} from its parent", child.name));
    let parent = parent_of(&txn, &child, "sync from").await?;
    ensure_active(&child)?;
    ctx.describe(format!(
        "{actor} synced {} from {}",
        child.name, parent.name
    ));
    ctx.progress(10);
    if input.variables {
        let carried = carry_variables(&ctx, &txn, &parent.id, &child).await?;
        ctx.log(format!("Synced {carried} variables from {}", parent.name));
    }
    let mut active = child.clone().into_active_model();
    if input.settings {
        let synced = settings::overlay(
            &settings::parse(&child.settings),
            &settings::parse(&parent.settings),
        );
        active.settings = Set(settings::store(&synced));
        ctx.log(format!("Synced the settings of {}", parent.name));
    }
    active.updated_at = Set(fields::now());
    let updated = active.update(&txn).await?;
    txn.commit_for(&updated.id).await?;
    ctx.progress(100);
    Ok(updated.into())
}

/// The environment's parent, or `Conflict` at `/id` when it has none.
async fn parent_of(
    txn: &WriteTxn,
    child: &environment::Model,
    what: &str,
) -> ActionResult<environment::Model> {
    let no_parent = || {
        ApiError::new(
            Status::Conflict,
            format!("Environment {} has no parent to {what}", child.id),
        )
        .at("/id", "NoParent")
    };
    let parent_id = child.parent_id.as_deref().ok_or_else(no_parent)?;
    Ok(environment::Entity::find_by_id(parent_id)
        .one(txn)
        .await?
        .ok_or_else(no_parent)?)
}

/// Copies every variable of `from` into `to` (sealed values as they are),
/// overwriting `to`'s same-named ones and keeping its others; how many
/// were copied.
async fn carry_variables(
    ctx: &Ctx,
    txn: &WriteTxn,
    from: &str,
    to: &environment::Model,
) -> ActionResult<usize> {
    let by_name = |id: &str| {
        variable::Entity::find()
            .filter(variable::Column::EnvironmentId.eq(id))
            .order_by_asc(variable::Column::Name)
    };
    let incoming = by_name(from).all(txn).await?;
    let mut existing: HashMap<String, variable::Model> = by_name(&to.id)
        .all(txn)
        .await?
        .into_iter()
        .map(|v| (v.name.clone(), v))
        .collect();
    let now = fields::now();
    let total = incoming.len().max(1);
    for (done, variable) in incoming.iter().enumerate() {
        ctx.checkpoint()?;
        match existing.remove(&variable.name) {
            Some(current) => {
                let mut active = current.into_active_model();
                Carried::from(variable).apply_to(&mut active, now);
                active.update(txn).await?;
            }
            None => {
                Carried::from(variable)
                    .into_row(&to.project_id, &to.id, now)
                    .insert(txn)
                    .await?;
            }
        }
        ctx.progress(u8::try_from(10 + (done + 1) * 85 / total).unwrap_or(95));
    }
    Ok(incoming.len())
}
