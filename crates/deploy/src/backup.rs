//! Backups (seed 002): `backup/create|get|list|delete|restore`.
//!
//! A backup is a consistent snapshot of an environment's settings and
//! variables, taken by an `environment.backup` activity and restored by an
//! `environment.restore` one, both in their environment's queue. It is kept
//! for `backup_ttl` (then swept), even after its environment is deleted, so
//! a deleted environment can be restored under a new name.
//!
//! A safe backup holds the environment's writes back while it reads: on
//! PostgreSQL it takes the environment's row for update, which every change
//! to its variables or settings share-locks. A live one reads a
//! repeatable-read snapshot and holds nothing. On SQLite both read inside
//! the one writer's transaction, so writes wait either way.

use actiongate_kit::fields::{self};
use actiongate_kit::page::{self, Page};
use actiongate_kit::{actor, load, Record};
use actiongate_service::{ActionResult, ApiError, Ctx, Role, Status, Timestamp, WriteTxn};
use actiongate_wire::new_id;
use futures_util::future::BoxFuture;
use sea_orm::sea_query::{Query, SelectStatement};
use sea_orm::{
    AccessMode, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, EntityTrait, IsolationLevel, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use crate::api::backup::{Backup, BackupId, BackupStatus, Create, List, Restore};
use crate::api::environment::Environment;
use crate::config::Settings as Config;
use crate::entity::{backup, environment, variable};
use crate::environment::{writable, NewEnvironment};
use crate::settings::{self, Settings};
use crate::variable::Carried;
use actiongate_service::secrets::Keyring;

/// What a backup holds. Sensitive values stay sealed in it.
#[derive(Debug, Serialize, Deserialize)]
struct Contents {
    environment: Snapshot,
    variables: Vec<Carried>,
}

/// The environment's own fields, as backed up.
#[derive(Debug, Serialize, Deserialize)]
struct Snapshot {
    name: String,
    display_name: Option<String>,
    r#type: String,
    description: Option<String>,
    color: Option<String>,
    git_branch: Option<String>,
    settings: Settings,
}

impl From<backup::Model> for Backup {
    fn from(b: backup::Model) -> Self {
        let variables = serde_json::from_str::<Contents>(&b.contents)
            .map(|c| c.variables.len())
            .unwrap_or(0);
        Backup {
            restorable: b.expires_at > fields::now(),
            id: b.id,
            project_id: b.project_id,
            environment_id: b.environment_id,
            environment_name: b.environment_name,
            safe: b.safe,
            status: BackupStatus::Complete,
            size: b.size,
            variables,
            created_at: Timestamp::from_unix_ms(b.created_at),
            expires_at: Timestamp::from_unix_ms(b.expires_at),
        }
    }
}

impl Record for backup::Model {
    const KIND: &'static str = "backup";

    async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Self>, DbErr> {
        backup::Entity::find_by_id(id).one(db).await
    }

    fn project_id(&self) -> &str {
        &self.project_id
    }

    /// A restore queues with the operations on its environment.
    fn queue_key(&self) -> Option<String> {
        Some(format!("environment:{}", self.environment_id))
    }
}

/// An environment as backups name it: the environment, or, once it is
/// deleted, what its backups remember of it (its project), so that its
/// backups can still be listed.
pub struct BackedUpEnvironment {
    id: String,
    project_id: String,
}

impl Record for BackedUpEnvironment {
    const KIND: &'static str = "environment";

    async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Self>, DbErr> {
        let project_id = match environment::Entity::find_by_id(id).one(db).await? {
            Some(env) => Some(env.project_id),
            None => backup::Entity::find()
                .filter(backup::Column::EnvironmentId.eq(id))
                .one(db)
                .await?
                .map(|b| b.project_id),
        };
        Ok(project_id.map(|project_id| BackedUpEnvironment {
            id: id.to_owned(),
            project_id,
        }))
    }

    fn project_id(&self) -> &str {
        &self.project_id
    }
}

/// Takes a backup of an environment, as an `environment.backup` activity.
pub async fn create(ctx: Ctx, input: Create) -> ActionResult<Backup> {
    ctx.progress(0);
    let txn = ctx.begin_write().await?;
    let env = load::<environment::Model>(&ctx, &txn, &input.environment_id, Role::Member)
        .await?
        .record;
    let actor = actor::name(&ctx, &txn).await?;
    let kind = if input.safe { "safe" } else { "live" };
    ctx.describe(format!("{actor} took a {kind} backup of {}", env.name));
    let contents = if input.safe || txn.get_database_backend() != DbBackend::Postgres {
        snapshot(&txn, &env.id, true).await?
    } else {
        let read = ctx
            .read()
            .begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await?;
        let contents = snapshot(&read, &env.id, false).await?;
        read.commit().await?;
        contents
    };
    let Some(contents) = contents else {
        return Err(ApiError::not_found("environment", &input.environment_id).into());
    };
    ctx.progress(60);
    let text = serde_json::to_string(&contents).expect("a backup serializes");
    let now = fields::now();
    let ttl = ctx.state::<Config>().backup_ttl;
    let expires_at = now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
    let created = backup::ActiveModel {
        id: Set(new_id("bkp")),
        project_id: Set(env.project_id.clone()),
        environment_id: Set(env.id.clone()),
        environment_name: Set(env.name.clone()),
        safe: Set(input.safe),
        size: Set(i64::try_from(text.len()).unwrap_or(i64::MAX)),
        contents: Set(text),
        created_at: Set(now),
        expires_at: Set(expires_at),
    }
    .insert(&txn)
    .await?;
    ctx.log(format!(
        "Backed up {} variables and the settings of {}",
        contents.variables.len(),
        env.name
    ));
    txn.commit_for(&created.id).await?;
    ctx.progress(100);
    Ok(created.into())
}

/// The environment and its variables as one moment saw them; `None` if it
/// is gone. `hold` takes its row for update on PostgreSQL first, so that
/// changes to it wait until the transaction ends.
async fn snapshot(
    db: &impl ConnectionTrait,
    environment_id: &str,
    hold: bool,
) -> ActionResult<Option<Contents>> {
    let mut query = environment::Entity::find_by_id(environment_id);
    if hold && db.get_database_backend() == DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    let Some(env) = query.one(db).await? else {
        return Ok(None);
    };
    let variables = variable::Entity::find()
        .filter(variable::Column::EnvironmentId.eq(environment_id))
        .order_by_asc(variable::Column::Name)
        .all(db)
        .await?
        .iter()
        .map(Carried::from)
        .collect();
    Ok(Some(Contents {
        environment: Snapshot {
            settings: settings::parse(&env.settings),
            name: env.name,
            display_name: env.display_name,
            r#type: env.r#type,
            description: env.description,
            color: env.color,
            git_branch: env.git_branch,
        },
        variables,
    }))
}

pub async fn get(ctx: Ctx, input: BackupId) -> ActionResult<Backup> {
    let found = load::<backup::Model>(&ctx, ctx.read(), &input.id, Role::Viewer)
        .await?
        .record;
    Ok(found.into())
}

/// An environment's backups, newest first; its backups outlive it.
pub async fn list(ctx: Ctx, input: List) -> ActionResult<Page<Backup>> {
    let (offset, limit) = page::bounds(input.offset, input.limit)?;
    let env = load::<BackedUpEnvironment>(&ctx, ctx.read(), &input.environment_id, Role::Viewer)
        .await?
        .record;
    let query = backup::Entity::find()
        .filter(backup::Column::EnvironmentId.eq(&env.id))
        .order_by_desc(backup::Column::CreatedAt)
        .order_by_desc(backup::Column::Id);
    page::fetch(&ctx, query, offset, limit).await
}

pub async fn delete(ctx: Ctx, input: BackupId) -> ActionResult<Backup> {
    let txn = ctx.begin_write().await?;
    let found = load::<backup::Model>(&ctx, &txn, &input.id, Role::Admin)
        .await?
        .record;
    backup::Entity::delete_by_id(&found.id).exec(&txn).await?;
    txn.commit_for(&found.id).await?;
    Ok(found.into())
}

/// Restores a backup, as an `environment.restore` activity: into its
/// environment, replacing its variables and settings, or into a new one.
pub async fn restore(ctx: Ctx, input: Restore) -> ActionResult<Environment> {
    ctx.progress(0);
    let txn = ctx.begin_write().await?;
    let found = load::<backup::Model>(&ctx, &txn, &input.id, Role::Admin)
        .await?
        .record;
    if found.expires_at <= fields::now() {
        return Err(ApiError::new(
            Status::Conflict,
            format!(
                "Backup {} has expired; it can no longer be restored",
                found.id
            ),
        )
        .at("/id", "BackupExpired")
        .into());
    }
    let contents: Contents = serde_json::from_str(&found.contents)
        .map_err(|err| ctx.internal(format!("backup {} unreadable: {err}", found.id)))?;
    let actor = actor::name(&ctx, &txn).await?;
    let restored = match input.environment_name {
        None => {
            ctx.describe(format!(
                "{actor} restored {} from backup {}",
                found.environment_name, found.id
            ));
            into_same(&txn, &found, contents).await?
        }
        Some(name) => {
            let name = name.into_string();
            ctx.describe(format!(
                "{actor} restored backup {} of {} as {name}",
                found.id, found.environment_name
            ));
            let parent = match &input.branch_from {
                Some(id) => {
                    let parent = load::<environment::Model>(&ctx, &txn, id, Role::Member)
                        .await
                        .map_err(|err| match err.api().map(|e| e.status) {
                            Some(Status::ResourceNotFound) => {
                                ApiError::not_found("environment", id)
                                    .at("/branch_from", "NotFound")
                                    .into()
                            }
                            _ => err,
                        })?
                        .record;
                    if parent.project_id != found.project_id {
                        return Err(ApiError::not_found("environment", id)
                            .at("/branch_from", "NotFound")
                            .into());
                    }
                    Some(parent.id)
                }
                None => environment::Entity::find_by_id(&found.environment_id)
                    .one(&txn)
                    .await?
                    .map(|env| env.id),
            };
            into_new(&txn, &found, contents, name, parent).await?
        }
    };
    ctx.log(format!(
        "Restored backup {} into {}",
        found.id, restored.name
    ));
    txn.commit_for(&restored.id).await?;
    ctx.progress(100);
    Ok(restored.into())
}

/// Replaces the backed-up environment's variables and settings with the
/// backup's.
async fn into_same(
    txn: &WriteTxn,
    found: &backup::Model,
    contents: Contents,
) -> ActionResult<environment::Model> {
    let Some(env) = writable(txn, &found.environment_id).await? else {
        return Err(ApiError::new(
            Status::Conflict,
            format!(
                "Environment {} was deleted; restore its backup under a new environment_name",
                found.environment_id
            ),
        )
        .at("/environment_name", "EnvironmentDeleted")
        .into());
    };
    variable::Entity::delete_many()
        .filter(variable::Column::EnvironmentId.eq(&env.id))
        .exec(txn)
        .await?;
    insert_variables(txn, &env, contents.variables).await?;
    let mut active: environment::ActiveModel = env.into();
    active.settings = Set(settings::store(&contents.environment.settings));
    active.updated_at = Set(fields::now());
    Ok(active.update(txn).await?)
}

/// A new environment holding the backup, a child of `parent` if any.
async fn into_new(
    txn: &WriteTxn,
    found: &backup::Model,
    contents: Contents,
    name: String,
    parent: Option<String>,
) -> ActionResult<environment::Model> {
    let snapshot = contents.environment;
    let created = NewEnvironment {
        project_id: found.project_id.clone(),
        name,
        display_name: snapshot.display_name,
        r#type: snapshot.r#type,
        description: snapshot.description,
        color: snapshot.color,
        git_branch: snapshot.git_branch,
        is_default: false,
        parent_id: parent,
        settings: settings::store(&snapshot.settings),
    }
    .insert(txn, "/environment_name")
    .await?;
    insert_variables(txn, &created, contents.variables).await?;
    Ok(created)
}

async fn insert_variables(
    txn: &WriteTxn,
    env: &environment::Model,
    variables: Vec<Carried>,
) -> Result<(), DbErr> {
    let now = fields::now();
    for batch in variables.chunks(200) {
        let rows = batch
            .iter()
            .map(|v| v.clone().into_row(&env.project_id, &env.id, now));
        variable::Entity::insert_many(rows)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// Every backup holding a value sealed by another key than the primary,
/// sealed again under it (see `Service::reseal_secrets`).
pub fn reseal_secrets<'a>(
    txn: &'a DatabaseTransaction,
    keyring: &'a Keyring,
) -> BoxFuture<'a, Result<u64, DbErr>> {
    Box::pin(async move {
        let mut resealed = 0;
        let mut after = String::new();
        loop {
            // In pages by id: a backup can be large.
            let page = backup::Entity::find()
                .filter(backup::Column::Id.gt(after.as_str()))
                .order_by_asc(backup::Column::Id)
                .limit(100)
                .all(txn)
                .await?;
            let Some(last) = page.last() else {
                return Ok(resealed);
            };
            after = last.id.clone();
            for row in page {
                let Ok(mut contents) = serde_json::from_str::<Contents>(&row.contents) else {
                    continue;
                };
                let mut changed = false;
                for variable in &mut contents.variables {
                    changed |= variable.reseal(keyring)?;
                }
                if changed {
                    let text = serde_json::to_string(&contents).expect("a backup serializes");
                    let mut active: backup::ActiveModel = row.into();
                    active.size = Set(i64::try_from(text.len()).unwrap_or(i64::MAX));
                    active.contents = Set(text);
                    active.update(txn).await?;
                    resealed += 1;
                }
            }
        }
    })
}

/// Deletes up to `limit` expired backups (see `Service::sweep_expired`).
pub fn sweep_expired(
    db: &DatabaseConnection,
    now: i64,
    limit: u64,
) -> BoxFuture<'_, Result<u64, DbErr>> {
    Box::pin(async move {
        let pick = Query::select()
            .column(backup::Column::Id)
            .from(backup::Entity)
            .and_where(backup::Column::ExpiresAt.lt(now))
            .limit(limit)
            .to_owned();
        let deleted = backup::Entity::delete_many()
            .filter(backup::Column::Id.in_subquery(pick))
            .exec(db)
            .await?;
        Ok(deleted.rows_affected)
    })
}

/// The backups of deleted projects (see `actiongate_service::Hooks`).
pub async fn delete_in_projects(txn: &WriteTxn, ids: SelectStatement) -> Result<(), DbErr> {
    backup::Entity::delete_many()
        .filter(backup::Column::ProjectId.in_subquery(ids))
        .exec(txn)
        .await
        .map(|_| ())
}
