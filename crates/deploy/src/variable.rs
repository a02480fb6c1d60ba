//! Environment variables: `variable/create|list|get|update|delete`. What
//! an environment holds; `environment/clone` copies them.

use actiongate_kit::fields::{self, duplicate_is_conflict};
use actiongate_kit::page::{self, Page};
use actiongate_kit::{load, Record};
use actiongate_service::{ActionResult, ApiError, Ctx, Role, Timestamp};
use actiongate_wire::new_id;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};

use crate::entity::{environment, environment_variable};
use crate::environment::writable;

/// The longest value taken, in bytes.
const VALUE_MAX: usize = 64 * 1024;

/// A variable as the API shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Variable {
    pub id: String,
    pub environment_id: String,
    pub name: String,
    pub value: String,
    pub is_json: bool,
    pub inheritable: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<environment_variable::Model> for Variable {
    fn from(v: environment_variable::Model) -> Self {
        Variable {
            id: v.id,
            environment_id: v.environment_id,
            name: v.name,
            value: v.value,
            is_json: v.is_json,
            inheritable: v.inheritable,
            created_at: Timestamp::from_unix_ms(v.created_at),
            updated_at: Timestamp::from_unix_ms(v.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "CreateVariable")]
pub struct Create {
    pub environment_id: String,
    pub name: String,
    pub value: String,
    #[serde(default)]
    pub is_json: bool,
    #[serde(default = "yes")]
    pub inheritable: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "ListVariables")]
pub struct List {
    pub environment_id: String,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct VariableId {
    pub id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "UpdateVariable")]
pub struct Update {
    pub id: String,
    pub value: Option<String>,
    pub is_json: Option<bool>,
    pub inheritable: Option<bool>,
    pub if_updated_at: Option<Timestamp>,
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

/// What a copy of a variable carries into another environment (a clone,
/// branch, merge, sync or restore).
pub(crate) struct Carried<'a> {
    pub name: &'a str,
    pub value: &'a str,
    pub is_json: bool,
    pub inheritable: bool,
}

impl<'a> From<&'a environment_variable::Model> for Carried<'a> {
    fn from(v: &'a environment_variable::Model) -> Self {
        Carried {
            name: &v.name,
            value: &v.value,
            is_json: v.is_json,
            inheritable: v.inheritable,
        }
    }
}

impl Carried<'_> {
    /// A new variable of `environment_id` holding it.
    pub(crate) fn into_row(
        self,
        environment_id: &str,
        now: i64,
    ) -> environment_variable::ActiveModel {
        environment_variable::ActiveModel {
            id: Set(new_id("var")),
            environment_id: Set(environment_id.to_owned()),
            name: Set(self.name.to_owned()),
            value: Set(self.value.to_owned()),
            is_json: Set(self.is_json),
            inheritable: Set(self.inheritable),
            created_at: Set(now),
            updated_at: Set(now),
        }
    }
}

/// A variable with the project of its environment, which is where roles
/// over it are checked.
pub struct InProject {
    pub variable: environment_variable::Model,
    project_id: String,
}

impl Record for InProject {
    const KIND: &'static str = "variable";

    async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Self>, DbErr> {
        let Some(variable) = environment_variable::Entity::find_by_id(id).one(db).await? else {
            return Ok(None);
        };
        let project_id = environment::Entity::find_by_id(&variable.environment_id)
            .select_only()
            .column(environment::Column::ProjectId)
            .into_tuple::<String>()
            .one(db)
            .await?;
        Ok(project_id.map(|project_id| InProject {
            variable,
            project_id,
        }))
    }

    fn project_id(&self) -> &str {
        &self.project_id
    }
}

/// Variable `id`, if the caller holds at least `least` in its project.
async fn visible(
    ctx: &Ctx,
    db: &impl ConnectionTrait,
    id: &str,
    least: Role,
) -> ActionResult<environment_variable::Model> {
    Ok(load::<InProject>(ctx, db, id, least).await?.record.variable)
}

pub async fn create(ctx: Ctx, input: Create) -> ActionResult<Variable> {
    let name = name("/name", &input.name)?;
    value(&input.value, input.is_json)?;
    let txn = ctx.begin_write().await?;
    let env = load::<environment::Model>(&ctx, &txn, &input.environment_id, Role::Member)
        .await?
        .record;
    writable(&txn, &env.id).await?;
    let now = fields::now();
    let created = environment_variable::ActiveModel {
        id: Set(new_id("var")),
        environment_id: Set(env.id),
        name: Set(name.clone()),
        value: Set(input.value),
        is_json: Set(input.is_json),
        inheritable: Set(input.inheritable),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(duplicate_is_conflict(
        &format!("A variable named {name:?} already exists in this environment"),
        "/name",
    ))?;
    txn.commit_for(&created.id).await?;
    Ok(created.into())
}

pub async fn list(ctx: Ctx, input: List) -> ActionResult<Page<Variable>> {
    let (offset, limit) = page::bounds(input.offset, input.limit)?;
    let env = load::<environment::Model>(&ctx, ctx.read(), &input.environment_id, Role::Viewer)
        .await?
        .record;
    let query = environment_variable::Entity::find()
        .filter(environment_variable::Column::EnvironmentId.eq(&env.id))
        .order_by_asc(environment_variable::Column::Name);
    page::fetch(&ctx, query, offset, limit).await
}

pub async fn get(ctx: Ctx, input: VariableId) -> ActionResult<Variable> {
    visible(&ctx, ctx.read(), &input.id, Role::Viewer)
        .await
        .map(Variable::from)
}

pub async fn update(ctx: Ctx, input: Update) -> ActionResult<Variable> {
    let txn = ctx.begin_write().await?;
    let current = visible(&ctx, &txn, &input.id, Role::Member).await?;
    writable(&txn, &current.environment_id).await?;
    fields::check_unchanged(input.if_updated_at, current.updated_at)?;
    let is_json = input.is_json.unwrap_or(current.is_json);
    value(input.value.as_deref().unwrap_or(&current.value), is_json)?;
    let mut active = current.into_active_model();
    active.is_json = Set(is_json);
    actiongate_kit::patch!(active, input, [value, inheritable]);
    active.updated_at = Set(fields::now());
    let updated = active.update(&txn).await?;
    txn.commit_for(&updated.id).await?;
    Ok(updated.into())
}

pub async fn delete(ctx: Ctx, input: VariableId) -> ActionResult<Variable> {
    let txn = ctx.begin_write().await?;
    let found = visible(&ctx, &txn, &input.id, Role::Member).await?;
    writable(&txn, &found.environment_id).await?;
    environment_variable::Entity::delete_by_id(&found.id)
        .exec(&txn)
        .await?;
    txn.commit_for(&found.id).await?;
    Ok(found.into())
}
