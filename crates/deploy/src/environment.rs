//! Environments: `environment/create|list|get|update|delete|set_default|clone`.

use crate::api::environment::{
    Clone, Create, Delete, Deleted, Environment, EnvironmentId, EnvironmentType, List, Update,
};
use crate::entity::{environment, variable};
use crate::settings::{self, Settings};
use crate::variable::Carried;
use actiongate_kit::fields::{self, duplicate_is_conflict, Slug};
use actiongate_kit::page::{self, Order, Page};
use actiongate_kit::scope;
use actiongate_kit::write::save_update;
use actiongate_kit::{load, load_for_update};
use actiongate_service::{ActionResult, ApiError, Ctx, Role, Status, Timestamp, WriteTxn};
use actiongate_wire::new_id;
use futures_util::future::BoxFuture;
use sea_orm::sea_query::{Expr, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

pub(crate) const ACTIVE: &str = "active";
pub(crate) const PAUSED: &str = "paused";

impl EnvironmentType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EnvironmentType::Production => "production",
            EnvironmentType::Staging => "staging",
            EnvironmentType::Development => "development",
        }
    }
}

impl From<environment::Model> for Environment {
    fn from(e: environment::Model) -> Self {
        Environment {
            id: e.id,
            project_id: e.project_id,
            name: e.name,
            display_name: e.display_name,
            r#type: e.r#type,
            description: e.description,
            color: e.color,
            git_branch: e.git_branch,
            is_default: e.is_default,
            status: e.status,
            parent: e.parent_id,
            settings: settings::parse(&e.settings),
            created_at: Timestamp::from_unix_ms(e.created_at),
            updated_at: Timestamp::from_unix_ms(e.updated_at),
        }
    }
}

actiongate_kit::project_record!(environment, "environment");

/// The deploy service's records in deleted projects: their environments,
/// the variables those hold, and their backups (see `actiongate_service::Hooks`).
pub fn delete_in_projects(
    txn: &WriteTxn,
    ids: SelectStatement,
) -> BoxFuture<'_, Result<(), DbErr>> {
    Box::pin(async move {
        variable::Entity::delete_many()
            .filter(variable::Column::ProjectId.in_subquery(ids.clone()))
            .exec(txn)
            .await?;
        environment::Entity::delete_many()
            .filter(environment::Column::ProjectId.in_subquery(ids.clone()))
            .exec(txn)
            .await?;
        crate::backup::delete_in_projects(txn, ids).await
    })
}

/// `ResourceInUse` for a paused environment: its variables and settings
/// stay as they are until it is resumed.
pub(crate) fn ensure_active(environment: &environment::Model) -> Result<(), ApiError> {
    if environment.status == PAUSED {
        return Err(ApiError::new(
            Status::ResourceInUse,
            format!(
                "Environment {} is paused; resume it first (environment/resume)",
                environment.id
            ),
        ));
    }
    Ok(())
}

/// Environment `id` for a change to its variables or settings, in `txn`:
/// `ResourceInUse` if it is paused. On PostgreSQL its row is share-locked
/// until the transaction ends, so a safe backup (which takes the row for
/// update) and the change wait for one another.
pub(crate) async fn writable(
    txn: &impl sea_orm::ConnectionTrait,
    id: &str,
) -> ActionResult<Option<environment::Model>> {
    let mut query = environment::Entity::find_by_id(id);
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        query = query.lock_shared();
    }
    let found = query.one(txn).await?;
    if let Some(found) = &found {
        ensure_active(found)?;
    }
    Ok(found)
}

pub(crate) fn duplicate(name: &str) -> String {
    format!("An environment named {name:?} already exists in this project")
}

/// An environment about to be made (created, cloned, branched or
/// restored from a backup): active, and in its project by `name`.
pub(crate) struct NewEnvironment {
    pub project_id: String,
    pub name: String,
    pub display_name: Option<String>,
    pub r#type: String,
    pub description: Option<String>,
    pub color: Option<String>,
    pub git_branch: Option<String>,
    pub is_default: bool,
    pub parent_id: Option<String>,
    /// Stored form (see `crate::settings`).
    pub settings: String,
}

impl NewEnvironment {
    /// Inserts it; a taken name is `Conflict` at `name_pointer`.
    pub(crate) async fn insert(
        self,
        txn: &WriteTxn,
        name_pointer: &str,
    ) -> ActionResult<environment::Model> {
        let now = fields::now();
        let conflict = duplicate(&self.name);
        environment::ActiveModel {
            id: Set(new_id("env")),
            project_id: Set(self.project_id),
            name: Set(self.name),
            display_name: Set(self.display_name),
            r#type: Set(self.r#type),
            description: Set(self.description),
            color: Set(self.color),
            git_branch: Set(self.git_branch),
            is_default: Set(self.is_default),
            status: Set(ACTIVE.to_owned()),
            parent_id: Set(self.parent_id),
            created_at: Set(now),
            updated_at: Set(now),
            settings: Set(self.settings),
        }
        .insert(txn)
        .await
        .map_err(duplicate_is_conflict(&conflict, name_pointer))
    }
}

pub async fn create(ctx: Ctx, input: Create) -> ActionResult<Environment> {
    let name = input.name.into_string();
    let settings = settings::apply(&Settings::new(), input.settings.unwrap_or_default())?;
    let txn = ctx.begin_write().await?;
    // Locked: of two first environments made at once, one is the default.
    let scope = scope::project_for_update(&ctx, &txn, &input.project_id, Role::Member).await?;
    // The first environment of a project is its default.
    let first = environment::Entity::find()
        .filter(environment::Column::ProjectId.eq(&scope.project.id))
        .count(&txn)
        .await?
        == 0;
    let created = NewEnvironment {
        project_id: scope.project.id,
        name,
        display_name: input.display_name.map(String::from),
        r#type: input
            .r#type
            .unwrap_or(EnvironmentType::Development)
            .as_str()
            .to_owned(),
        description: input.description.map(String::from),
        color: input.color.map(String::from),
        git_branch: input.git_branch.map(String::from),
        is_default: first,
        parent_id: None,
        settings: settings::store(&settings),
    }
    .insert(&txn, "/name")
    .await?;
    txn.commit_for(&created.id).await?;
    Ok(created.into())
}

pub async fn list(ctx: Ctx, input: List) -> ActionResult<Page<Environment>> {
    let (offset, limit) = page::bounds(input.offset, input.limit)?;
    let scope = scope::project(&ctx, ctx.read(), &input.project_id, Role::Viewer).await?;
    let mut query =
        environment::Entity::find().filter(environment::Column::ProjectId.eq(&scope.project.id));
    if let Some(kind) = input.filter.r#type {
        query = query.filter(environment::Column::Type.eq(kind.as_str()));
    }
    if let Some(is_default) = input.filter.is_default {
        query = query.filter(environment::Column::IsDefault.eq(is_default));
    }
    let query = ORDER.apply(query, input.order_by.as_deref())?;
    page::fetch(&ctx, query, offset, limit).await
}

const ORDER: Order<environment::Column> = Order {
    columns: &[
        ("name", environment::Column::Name),
        ("created_at", environment::Column::CreatedAt),
        ("updated_at", environment::Column::UpdatedAt),
        ("type", environment::Column::Type),
    ],
    default: environment::Column::CreatedAt,
    id: environment::Column::Id,
    unique: &[environment::Column::Name],
};

pub async fn get(ctx: Ctx, input: EnvironmentId) -> ActionResult<Environment> {
    let found = load::<environment::Model>(&ctx, ctx.read(), &input.id, Role::Viewer)
        .await?
        .record;
    Ok(found.into())
}

pub async fn update(ctx: Ctx, input: Update) -> ActionResult<Environment> {
    let name = input.name.map(Slug::into_string);
    let txn = ctx.begin_write().await?;
    let current = load::<environment::Model>(&ctx, &txn, &input.id, Role::Member)
        .await?
        .record;
    fields::check_unchanged(input.if_updated_at, current.updated_at)?;
    writable(&txn, &current.id).await?;
    let patched = match input.settings {
        Some(patch) => Some(settings::apply(&settings::parse(&current.settings), patch)?),
        None => None,
    };
    let conflict = name.as_deref().map(duplicate).unwrap_or_default();
    let mut active = current.into_active_model();
    if let Some(patched) = patched {
        active.settings = Set(settings::store(&patched));
    }
    if let Some(v) = name {
        active.name = Set(v);
    }
    if let Some(v) = input.r#type {
        active.r#type = Set(v.as_str().to_owned());
    }
    actiongate_kit::patch!(active, input, optional: [display_name, description, color, git_branch]);
    let on_duplicate = (conflict.as_str(), "/name");
    save_update(
        txn,
        active,
        environment::Column::UpdatedAt,
        on_duplicate,
        |e| e.id.clone(),
    )
    .await
    .map(Environment::from)
}

pub async fn delete(ctx: Ctx, input: Delete) -> ActionResult<Deleted> {
    let txn = ctx.begin_write().await?;
    let found = load_for_update::<environment::Model>(&ctx, &txn, &input.id, Role::Admin)
        .await?
        .record;
    let variables = variable::Entity::find()
        .filter(variable::Column::EnvironmentId.eq(&found.id))
        .count(&txn)
        .await?;
    if !input.force {
        let why = match (found.is_default, variables) {
            (true, _) => Some("is the project's default environment".to_owned()),
            (false, 0) => None,
            (false, n) => Some(format!("holds {n} variables")),
        };
        if let Some(why) = why {
            return Err(ApiError::new(
                Status::ResourceInUse,
                format!("Environment {} {why}; delete it with force: true", found.id),
            )
            .at("/force", "ForceRequired")
            .into());
        }
    }
    variable::Entity::delete_many()
        .filter(variable::Column::EnvironmentId.eq(&found.id))
        .exec(&txn)
        .await?;
    environment::Entity::delete_by_id(&found.id)
        .exec(&txn)
        .await?;
    // Clones of it now stand alone.
    environment::Entity::update_many()
        .col_expr(environment::Column::ParentId, Expr::value(None::<String>))
        .filter(environment::Column::ParentId.eq(&found.id))
        .exec(&txn)
        .await?;
    // A project keeps a default while it has environments: the oldest.
    let mut new_default = None;
    if found.is_default {
        let oldest = environment::Entity::find()
            .filter(environment::Column::ProjectId.eq(&found.project_id))
            .order_by_asc(environment::Column::CreatedAt)
            .order_by_asc(environment::Column::Id)
            .one(&txn)
            .await?;
        if let Some(oldest) = oldest {
            new_default = Some(oldest.id.clone());
            let mut active = oldest.into_active_model();
            active.is_default = Set(true);
            active.updated_at = Set(fields::now());
            active.update(&txn).await?;
        }
    }
    txn.commit_for(&found.id).await?;
    Ok(Deleted {
        id: found.id,
        new_default,
    })
}

pub async fn set_default(ctx: Ctx, input: EnvironmentId) -> ActionResult<Environment> {
    let txn = ctx.begin_write().await?;
    let found = load_for_update::<environment::Model>(&ctx, &txn, &input.id, Role::Admin)
        .await?
        .record;
    if found.is_default {
        return Ok(found.into());
    }
    let now = fields::now();
    // Cleared first: the partial unique index allows one default at a time.
    environment::Entity::update_many()
        .col_expr(environment::Column::IsDefault, Expr::value(false))
        .col_expr(environment::Column::UpdatedAt, Expr::value(now))
        .filter(environment::Column::ProjectId.eq(&found.project_id))
        .filter(environment::Column::IsDefault.eq(true))
        .exec(&txn)
        .await?;
    let mut active = found.into_active_model();
    active.is_default = Set(true);
    active.updated_at = Set(now);
    let updated = active.update(&txn).await?;
    txn.commit_for(&updated.id).await?;
    Ok(updated.into())
}

/// Variables copied per statement; progress is reported, and cancellation
/// honoured, between batches.
const COPY_BATCH: usize = 200;

/// What a new environment made from another (a clone, a branch) takes
/// from its caller; the rest comes from its source.
pub(crate) struct Derived {
    pub name: String,
    pub display_name: Option<String>,
    pub r#type: Option<EnvironmentType>,
    pub description: Option<String>,
    pub color: Option<String>,
    pub git_branch: Option<String>,
}

/// Makes a child of `source` in `txn`: its fields from `derived` or the
/// source, the source's settings, and copies of the source's variables
/// when `with_variables`. Progress goes from 10 to 95 as it copies.
pub(crate) async fn make_child(
    ctx: &Ctx,
    txn: &WriteTxn,
    source: environment::Model,
    derived: Derived,
    with_variables: bool,
) -> ActionResult<environment::Model> {
    let variables = if with_variables {
        variable::Entity::find()
            .filter(variable::Column::EnvironmentId.eq(&source.id))
            .order_by_asc(variable::Column::Name)
            .all(txn)
            .await?
    } else {
        Vec::new()
    };
    ctx.progress(10);
    ctx.checkpoint()?;
    let created = NewEnvironment {
        project_id: source.project_id.clone(),
        name: derived.name,
        display_name: derived.display_name.or(source.display_name),
        r#type: derived
            .r#type
            .map_or(source.r#type, |t| t.as_str().to_owned()),
        description: derived.description.or(source.description),
        color: derived.color.or(source.color),
        git_branch: derived.git_branch.or(source.git_branch),
        is_default: false,
        parent_id: Some(source.id.clone()),
        settings: source.settings,
    }
    .insert(txn, "/name")
    .await?;
    let now = fields::now();
    let total = variables.len().max(1);
    let mut copied = 0;
    for batch in variables.chunks(COPY_BATCH) {
        ctx.checkpoint()?;
        let rows = batch
            .iter()
            .map(|v| Carried::from(v).into_row(&created.project_id, &created.id, now));
        variable::Entity::insert_many(rows)
            .exec_without_returning(txn)
            .await?;
        copied += batch.len();
        let percent = 10 + copied * 85 / total;
        ctx.progress(u8::try_from(percent).unwrap_or(95));
    }
    if with_variables {
        ctx.log(format!("Copied {copied} variables from {}", source.name));
    }
    Ok(created)
}

/// Copies an environment and its variables into a new environment. Runs
/// as an `environment.clone` activity; the copy commits with its result,
/// all at once.
pub async fn clone(ctx: Ctx, input: Clone) -> ActionResult<Environment> {
    ctx.progress(0);
    // Read inside the write transaction, so the copy is of one moment:
    // nothing written to the source meanwhile is half in it.
    let txn = ctx.begin_write().await?;
    let source = load::<environment::Model>(&ctx, &txn, &input.id, Role::Member)
        .await?
        .record;
    let derived = Derived {
        name: input.name.into_string(),
        display_name: input.display_name.map(String::from),
        r#type: input.r#type,
        description: input.description.map(String::from),
        color: input.color.map(String::from),
        git_branch: input.git_branch.map(String::from),
    };
    let actor = actiongate_kit::actor::name(&ctx, &txn).await?;
    ctx.describe(format!(
        "{actor} cloned {} into {}",
        source.name, derived.name
    ));
    let created = make_child(&ctx, &txn, source, derived, true).await?;
    txn.commit_for(&created.id).await?;
    ctx.progress(100);
    Ok(created.into())
}
