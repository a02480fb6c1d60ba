//! Variables (seed 002): `variable/create|list|get|update|delete` at the
//! project level (`project_id`) or an environment's (`environment_id`),
//! and `variable/resolve`, an environment's effective set.
//!
//! A sensitive value is sealed at rest (`actiongate_service::secrets`) and
//! never shown again: not by `get`, `list` or `resolve`, nor in an
//! activity, a backup or the audit trail. Only its flag and `updated_at`
//! show. Copies (clone, branch, merge, sync, restore) carry the sealed
//! value as it is.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

use actiongate_kit::fields::{self, duplicate_is_conflict};
use actiongate_kit::page::{self, Page};
use actiongate_kit::{load, scope};
use actiongate_service::secrets::{Keyring, Sealed};
use actiongate_service::{ActionResult, ApiError, Ctx, Role, Timestamp};
use actiongate_wire::new_id;
use futures_util::future::BoxFuture;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, Set,
};

use crate::api::variable::{
    Create, List, Resolve, Resolved, ResolvedSet, Source, Update, Variable, VariableId,
};
use crate::entity::{environment, variable};
use crate::environment::writable;

/// The longest value taken, in bytes.
const VALUE_MAX: usize = 64 * 1024;
/// The deepest chain of parents `resolve` follows.
const ANCESTORS_MAX: usize = 64;

actiongate_kit::project_record!(variable, "variable");

impl From<variable::Model> for Variable {
    fn from(v: variable::Model) -> Self {
        Variable {
            value: (!v.is_sensitive).then_some(v.value),
            id: v.id,
            project_id: v.project_id,
            environment_id: v.environment_id,
            name: v.name,
            is_json: v.is_json,
            is_sensitive: v.is_sensitive,
            is_inheritable: v.is_inheritable,
            inheritable: v.is_inheritable,
            is_enabled: v.is_enabled,
            visible_build: v.visible_build,
            visible_runtime: v.visible_runtime,
            created_at: Timestamp::from_unix_ms(v.created_at),
            updated_at: Timestamp::from_unix_ms(v.updated_at),
        }
    }
}

/// Where a variable lives, from an input naming `project_id` or
/// `environment_id` (exactly one).
enum Level {
    Project(String),
    Environment(String),
}

impl Level {
    fn of(project_id: Option<String>, environment_id: Option<String>) -> Result<Level, ApiError> {
        match (project_id, environment_id) {
            (Some(project), None) => Ok(Level::Project(project)),
            (None, Some(environment)) => Ok(Level::Environment(environment)),
            (Some(_), Some(_)) => Err(ApiError::invalid_field(
                "/environment_id",
                "InvalidValue",
                "give project_id or environment_id, not both",
            )),
            (None, None) => Err(ApiError::invalid_field(
                "/project_id",
                "MissingField",
                "project_id or environment_id is required",
            )),
        }
    }

    /// The project and environment of this level, if the caller holds
    /// `least` there; a paused environment refuses `for_change`.
    async fn check(
        &self,
        ctx: &Ctx,
        db: &impl ConnectionTrait,
        least: Role,
        for_change: bool,
    ) -> ActionResult<(String, Option<String>)> {
        match self {
            Level::Project(id) => {
                let found = scope::project(ctx, db, id, least).await?;
                Ok((found.project.id, None))
            }
            Level::Environment(id) => {
                let env = load::<environment::Model>(ctx, db, id, least).await?.record;
                if for_change {
                    writable(db, &env.id).await?;
                }
                Ok((env.project_id, Some(env.id)))
            }
        }
    }
}

/// A variable name: a letter or `_`, then letters, digits, `_`, `.`, `:`
/// or `-`; at most 100 characters.
fn name(pointer: &str, value: &str) -> Result<String, ApiError> {
    let mut chars = value.chars();
    let ok = value.len() <= 100
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c));
    fields::accept(ok, pointer, value, || {
        format!("{value:?} is not a variable name: a letter or _, then letters, digits, _ . : -, at most 100")
    })
}

/// A value: at most 64 KiB, and JSON text when `is_json`.
fn value(value: &str, is_json: bool) -> ActionResult<()> {
    if value.len() > VALUE_MAX {
        return Err(ApiError::invalid_field(
            "/value",
            "InvalidValue",
            format!("must be at most {VALUE_MAX} bytes"),
        )
        .into());
    }
    if is_json && serde_json::from_str::<serde::de::IgnoredAny>(value).is_err() {
        return Err(ApiError::invalid_field(
            "/value",
            "InvalidValue",
            "is not JSON text, and is_json is true",
        )
        .into());
    }
    Ok(())
}

/// The stored form of a value: sealed when sensitive.
fn stored(ctx: &Ctx, value: String, sensitive: bool) -> (String, Option<String>) {
    if sensitive {
        let sealed = ctx.state::<Arc<Keyring>>().seal(value.as_bytes());
        (sealed.text, Some(sealed.key_id))
    } else {
        (value, None)
    }
}

pub async fn create(ctx: Ctx, input: Create) -> ActionResult<Variable> {
    let level = Level::of(input.project_id, input.environment_id)?;
    let name = name("/name", &input.name)?;
    value(&input.value, input.is_json)?;
    let txn = ctx.begin_write().await?;
    let (project_id, environment_id) = level.check(&ctx, &txn, Role::Member, true).await?;
    let (stored, key_id) = stored(&ctx, input.value, input.is_sensitive);
    let now = fields::now();
    let created = variable::ActiveModel {
        id: Set(new_id("var")),
        project_id: Set(project_id),
        environment_id: Set(environment_id),
        name: Set(name.clone()),
        value: Set(stored),
        is_json: Set(input.is_json),
        is_sensitive: Set(input.is_sensitive),
        is_inheritable: Set(input.is_inheritable),
        is_enabled: Set(input.is_enabled),
        visible_build: Set(input.visible_build),
        visible_runtime: Set(input.visible_runtime),
        key_id: Set(key_id),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(duplicate_is_conflict(
        &format!("A variable named {name:?} already exists here"),
        "/name",
    ))?;
    txn.commit_for(&created.id).await?;
    Ok(created.into())
}

pub async fn list(ctx: Ctx, input: List) -> ActionResult<Page<Variable>> {
    let (offset, limit) = page::bounds(input.offset, input.limit)?;
    let level = Level::of(input.project_id, input.environment_id)?;
    let (project_id, environment_id) = level.check(&ctx, ctx.read(), Role::Viewer, false).await?;
    let query = variable::Entity::find()
        .filter(variable::Column::ProjectId.eq(project_id))
        .filter(match environment_id {
            Some(id) => variable::Column::EnvironmentId.eq(id),
            None => variable::Column::EnvironmentId.is_null(),
        })
        .order_by_asc(variable::Column::Name);
    page::fetch(&ctx, query, offset, limit).await
}

pub async fn get(ctx: Ctx, input: VariableId) -> ActionResult<Variable> {
    Ok(
        load::<variable::Model>(&ctx, ctx.read(), &input.id, Role::Viewer)
            .await?
            .record
            .into(),
    )
}

pub async fn update(ctx: Ctx, input: Update) -> ActionResult<Variable> {
    let txn = ctx.begin_write().await?;
    let current = load::<variable::Model>(&ctx, &txn, &input.id, Role::Member)
        .await?
        .record;
    if let Some(environment_id) = &current.environment_id {
        writable(&txn, environment_id).await?;
    }
    fields::check_unchanged(input.if_updated_at, current.updated_at)?;
    if current.is_sensitive && input.is_sensitive == Some(false) {
        return Err(ApiError::invalid_field(
            "/is_sensitive",
            "InvalidValue",
            "a sensitive variable stays sensitive; delete it and create it again",
        )
        .into());
    }
    let sensitive = current.is_sensitive || input.is_sensitive == Some(true);
    let is_json = input.is_json.unwrap_or(current.is_json);
    let plain = match input.value {
        Some(new) => Some(new),
        // A sealed value cannot be checked or sealed again unseen.
        None if current.is_sensitive && is_json && !current.is_json => {
            return Err(ApiError::invalid_field(
                "/value",
                "MissingField",
                "give the value again to make a sensitive variable JSON",
            )
            .into())
        }
        None if current.is_sensitive => None,
        None => Some(current.value.clone()),
    };
    if let Some(plain) = &plain {
        value(plain, is_json)?;
    }
    let mut active = current.into_active_model();
    if let Some(plain) = plain {
        let (stored, key_id) = stored(&ctx, plain, sensitive);
        active.value = Set(stored);
        active.key_id = Set(key_id);
    }
    active.is_json = Set(is_json);
    active.is_sensitive = Set(sensitive);
    actiongate_kit::patch!(
        active,
        input,
        [is_inheritable, is_enabled, visible_build, visible_runtime]
    );
    active.updated_at = Set(fields::now());
    let updated = active.update(&txn).await?;
    txn.commit_for(&updated.id).await?;
    Ok(updated.into())
}

pub async fn delete(ctx: Ctx, input: VariableId) -> ActionResult<Variable> {
    let txn = ctx.begin_write().await?;
    let found = load::<variable::Model>(&ctx, &txn, &input.id, Role::Member)
        .await?
        .record;
    if let Some(environment_id) = &found.environment_id {
        writable(&txn, environment_id).await?;
    }
    variable::Entity::delete_by_id(&found.id).exec(&txn).await?;
    txn.commit_for(&found.id).await?;
    Ok(found.into())
}

/// An environment's effective variables: the project's, overridden by
/// the inheritable ones of its ancestors (the nearest last), overridden by
/// its own. Disabled ones are left out.
pub async fn resolve(ctx: Ctx, input: Resolve) -> ActionResult<ResolvedSet> {
    let db = ctx.read();
    let env = load::<environment::Model>(&ctx, db, &input.environment_id, Role::Viewer)
        .await?
        .record;
    // The chain of parents, nearest first; a loop or a lost parent ends it.
    let mut ancestors = Vec::new();
    let mut next = env.parent_id.clone();
    while let Some(id) = next.take() {
        if ancestors.len() == ANCESTORS_MAX || id == env.id || ancestors.contains(&id) {
            break;
        }
        if let Some(parent) = environment::Entity::find_by_id(&id).one(db).await? {
            next = parent.parent_id;
            ancestors.push(parent.id);
        }
    }
    let mut levels: Vec<Option<String>> = vec![None];
    levels.extend(ancestors.iter().rev().cloned().map(Some));
    levels.push(Some(env.id.clone()));
    let rows = variable::Entity::find()
        .filter(variable::Column::ProjectId.eq(&env.project_id))
        .filter(
            variable::Column::EnvironmentId
                .is_null()
                .or(variable::Column::EnvironmentId.is_in(levels.iter().flatten().cloned())),
        )
        .filter(variable::Column::IsEnabled.eq(true))
        .all(db)
        .await?;
    let mut effective: BTreeMap<String, variable::Model> = BTreeMap::new();
    for level in &levels {
        let own = level.as_deref() == Some(env.id.as_str());
        for row in rows.iter().filter(|r| r.environment_id == *level) {
            // An ancestor passes down only what is inheritable.
            if level.is_some() && !own && !row.is_inheritable {
                continue;
            }
            effective.insert(row.name.clone(), row.clone());
        }
    }
    let variables = effective
        .into_values()
        .map(|v| Resolved {
            inherited: v.environment_id.as_deref() != Some(env.id.as_str()),
            source: match &v.environment_id {
                Some(id) => Source {
                    project_id: None,
                    environment_id: Some(id.clone()),
                },
                None => Source {
                    project_id: Some(v.project_id.clone()),
                    environment_id: None,
                },
            },
            value: (!v.is_sensitive).then_some(v.value),
            name: v.name,
            is_json: v.is_json,
            is_sensitive: v.is_sensitive,
            visible_build: v.visible_build,
            visible_runtime: v.visible_runtime,
        })
        .collect();
    Ok(ResolvedSet {
        environment_id: env.id,
        variables,
    })
}

/// A variable as a copy carries it into another environment (a clone,
/// branch, merge, sync or restore), or a backup holds it: a sensitive
/// value stays sealed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Carried {
    pub name: String,
    pub value: String,
    pub is_json: bool,
    #[serde(default)]
    pub is_sensitive: bool,
    #[serde(default = "crate::api::yes", alias = "inheritable")]
    pub is_inheritable: bool,
    #[serde(default = "crate::api::yes")]
    pub is_enabled: bool,
    #[serde(default = "crate::api::yes")]
    pub visible_build: bool,
    #[serde(default = "crate::api::yes")]
    pub visible_runtime: bool,
    #[serde(default)]
    pub key_id: Option<String>,
}

impl From<&variable::Model> for Carried {
    fn from(v: &variable::Model) -> Self {
        Carried {
            name: v.name.clone(),
            value: v.value.clone(),
            is_json: v.is_json,
            is_sensitive: v.is_sensitive,
            is_inheritable: v.is_inheritable,
            is_enabled: v.is_enabled,
            visible_build: v.visible_build,
            visible_runtime: v.visible_runtime,
            key_id: v.key_id.clone(),
        }
    }
}

impl Carried {
    /// A new variable of environment `environment_id` holding it.
    pub(crate) fn into_row(
        self,
        project_id: &str,
        environment_id: &str,
        now: i64,
    ) -> variable::ActiveModel {
        variable::ActiveModel {
            id: Set(new_id("var")),
            project_id: Set(project_id.to_owned()),
            environment_id: Set(Some(environment_id.to_owned())),
            name: Set(self.name),
            value: Set(self.value),
            is_json: Set(self.is_json),
            is_sensitive: Set(self.is_sensitive),
            is_inheritable: Set(self.is_inheritable),
            is_enabled: Set(self.is_enabled),
            visible_build: Set(self.visible_build),
            visible_runtime: Set(self.visible_runtime),
            key_id: Set(self.key_id),
            created_at: Set(now),
            updated_at: Set(now),
        }
    }

    /// Sets `row`'s value and flags to this one's.
    pub(crate) fn apply_to(self, row: &mut variable::ActiveModel, now: i64) {
        row.value = Set(self.value);
        row.is_json = Set(self.is_json);
        row.is_sensitive = Set(self.is_sensitive);
        row.is_inheritable = Set(self.is_inheritable);
        row.is_enabled = Set(self.is_enabled);
        row.visible_build = Set(self.visible_build);
        row.visible_runtime = Set(self.visible_runtime);
        row.key_id = Set(self.key_id);
        row.updated_at = Set(now);
    }

    /// Its value sealed again under the keyring's primary key, if another
    /// key sealed it; whether it changed.
    pub(crate) fn reseal(&mut self, keyring: &Keyring) -> Result<bool, DbErr> {
        let Some(key_id) = &self.key_id else {
            return Ok(false);
        };
        let sealed = Sealed {
            key_id: key_id.clone(),
            text: std::mem::take(&mut self.value),
        };
        let resealed = keyring
            .reseal(&sealed)
            .map_err(|err| DbErr::Custom(err.to_string()))?;
        let now = resealed.unwrap_or(sealed);
        let changed = now.key_id != *key_id;
        self.value = now.text;
        self.key_id = Some(now.key_id);
        Ok(changed)
    }
}

/// Every variable's value sealed by another key than the primary, sealed
/// again under it (see `Service::reseal_secrets`).
pub fn reseal_secrets<'a>(
    txn: &'a DatabaseTransaction,
    keyring: &'a Keyring,
) -> BoxFuture<'a, Result<u64, DbErr>> {
    Box::pin(async move {
        let stale = variable::Entity::find()
            .filter(variable::Column::KeyId.is_not_null())
            .filter(variable::Column::KeyId.ne(keyring.primary()))
            .all(txn)
            .await?;
        let mut resealed = 0;
        for row in stale {
            let mut carried = Carried::from(&row);
            if carried.reseal(keyring)? {
                let mut active = row.into_active_model();
                active.value = Set(carried.value);
                active.key_id = Set(carried.key_id);
                active.update(txn).await?;
                resealed += 1;
            }
        }
        Ok(resealed)
    })
}
