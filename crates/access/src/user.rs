//! Users: `user/me`, and `user/create` for organization admins (the CLI's
//! `actiongate user create` goes through [`create_in_org`] too).

use crate::api::user::{CreateUser, Empty, Me, User};
use actiongate_entity::{org_member, user};
use actiongate_kit::fields;
use actiongate_service::{ActionResult, ApiError, Ctx, Role, Timestamp};
use actiongate_wire::new_id;
use std::collections::HashMap;

use actiongate_kit::page::Page;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QuerySelect, Select, Set,
};

impl From<user::Model> for User {
    fn from(u: user::Model) -> Self {
        User {
            id: u.id,
            email: u.email,
            name: u.name,
            created_at: Timestamp::from_unix_ms(u.created_at),
            updated_at: Timestamp::from_unix_ms(u.updated_at),
        }
    }
}

/// The users `ids`, by id: the one read a list of members makes for their
/// names and emails.
pub(crate) async fn users_by_id(
    db: &impl ConnectionTrait,
    ids: Vec<String>,
) -> Result<HashMap<String, user::Model>, DbErr> {
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect())
}

/// One page of `query`'s memberships (already filtered and ordered), each
/// shown with its user by `present`: a list of an organization's or a
/// team's members.
pub(crate) async fn members_page<E, T>(
    ctx: &Ctx,
    query: Select<E>,
    offset: u64,
    limit: u64,
    user_of: fn(&E::Model) -> &str,
    present: fn(E::Model, Option<user::Model>) -> T,
) -> ActionResult<Page<T>>
where
    E: EntityTrait,
    E::Model: Sync,
{
    let count = query.clone().count(ctx.read()).await?;
    let rows = query.offset(offset).limit(limit).all(ctx.read()).await?;
    let ids: Vec<String> = rows.iter().map(|m| user_of(m).to_owned()).collect();
    let mut users = users_by_id(ctx.read(), ids).await?;
    Ok(Page {
        results: rows
            .into_iter()
            .map(|m| {
                let u = users.remove(user_of(&m));
                present(m, u)
            })
            .collect(),
        count,
        offset,
    })
}

pub async fn me(ctx: Ctx, _input: Empty) -> ActionResult<Me> {
    let found = user::Entity::find_by_id(&ctx.principal.user_id)
        .one(ctx.read())
        .await?
        .ok_or_else(|| ApiError::not_found("user", &ctx.principal.user_id))?;
    Ok(Me {
        user: found.into(),
        org_id: ctx.principal.org_id.clone(),
        role: ctx.principal.role,
        project_id: ctx.principal.project_id.clone(),
    })
}

pub async fn create(ctx: Ctx, input: CreateUser) -> ActionResult<User> {
    // Nobody grants more than they hold.
    if input.role > ctx.principal.role {
        return Err(ApiError::invalid_field(
            "/role",
            "InvalidValue",
            format!(
                "the caller, a {}, cannot grant the {} role",
                ctx.principal.role, input.role
            ),
        )
        .into());
    }
    let txn = ctx.begin_write().await?;
    let created = create_in_org(
        &txn,
        &ctx.principal.org_id,
        &input.email,
        &input.name,
        input.role,
    )
    .await
    .map_err(|err| match err {
        CreateError::Invalid(err) => err,
        CreateError::Db(err) => ctx.internal(err),
    })?;
    txn.commit_for(&created.id).await?;
    Ok(created.into())
}

/// Why [`create_in_org`] failed.
#[derive(Debug)]
pub enum CreateError {
    /// The caller's mistake: a bad field, or the email taken.
    Invalid(ApiError),
    Db(sea_orm::DbErr),
}

impl std::fmt::Display for CreateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CreateError::Invalid(err) => write!(f, "{}", err.summary),
            CreateError::Db(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for CreateError {}

/// Creates a user with `role` in organization `org_id`.
pub async fn create_in_org(
    db: &impl ConnectionTrait,
    org_id: &str,
    email: &str,
    name: &str,
    role: Role,
) -> Result<user::Model, CreateError> {
    let email = check_email("/email", email).map_err(CreateError::Invalid)?;
    let name = fields::name("/name", name).map_err(CreateError::Invalid)?;
    let now = fields::now();
    let created = user::ActiveModel {
        id: Set(new_id("usr")),
        email: Set(email.clone()),
        name: Set(name),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(|err| {
        if actiongate_service::is_unique_violation(&err) {
            CreateError::Invalid(
                ApiError::conflict(format!("A user with email {email:?} already exists"))
                    .at("/email", "Duplicate"),
            )
        } else {
            CreateError::Db(err)
        }
    })?;
    org_member::ActiveModel {
        org_id: Set(org_id.to_owned()),
        user_id: Set(created.id.clone()),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(CreateError::Db)?;
    Ok(created)
}

/// An email address, lower-cased: one `@` with text on both sides, no
/// spaces or control characters, at most 254 characters.
pub fn check_email(pointer: &str, value: &str) -> Result<String, ApiError> {
    let email = value.trim().to_lowercase();
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if ok {
        Ok(email)
    } else {
        Err(ApiError::invalid_field(
            pointer,
            "InvalidValue",
            format!("{value:?} is not an email address"),
        ))
    }
}
