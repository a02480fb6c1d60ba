//! Tokens as actions: `token/create|list|get|update|revoke|rotate`.
//!
//! Everyone manages their own tokens; organization admins (whose token is
//! not limited to a project) manage everyone's in their organization. A
//! token never holds more power than the caller who makes it: not a
//! higher role, another project, or a service the caller's token may not
//! call. The secret is made and kept by the kit (`actiongate_kit::tokens`,
//! which the command line uses too) and shown once: these actions declare
//! `secret` as shown once, so what the gateway keeps of the call holds
//! none.

use std::time::Duration;

use crate::api::token::{
    CreateToken, IssuedToken, ListTokens, RotateToken, Token, TokenId, TokenState, UpdateToken,
};
use actiongate_entity::{org_member, token};
use actiongate_kit::authz;
use actiongate_kit::page::{self, Page};
use actiongate_kit::tokens::{self, parse_services, NewToken};
use actiongate_kit::{roles, scope};
use actiongate_service::{
    ActionResult, ApiError, Catalog, Ctx, Principal, Role, Status, Timestamp,
};
use actiongate_wire::RoleName;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use std::sync::Arc;

/// The longest lifetime a token is given.
const MAX_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// The longest an old secret keeps working after a rotation.
const MAX_GRACE: Duration = Duration::from_secs(7 * 24 * 3600);

impl Token {
    fn new(row: token::Model, now: i64) -> Token {
        let state = if row.revoked_at.is_some() {
            TokenState::Revoked
        } else if row.expires_at.is_some_and(|at| at <= now) {
            TokenState::Expired
        } else {
            TokenState::Active
        };
        let at = |ms: Option<i64>| ms.map(Timestamp::from_unix_ms);
        Token {
            services: parse_services(&row.services).unwrap_or_else(|| vec!["*".to_owned()]),
            role: row.role.as_deref().and_then(|r| r.parse().ok()),
            state,
            created_at: Timestamp::from_unix_ms(row.created_at),
            expires_at: at(row.expires_at),
            last_used_at: at(row.last_used_at),
            revoked_at: at(row.revoked_at),
            previous_secret_until: at(row.previous_secret_until.filter(|until| *until > now)),
            id: row.id,
            name: row.name,
            description: row.description,
            last_four: row.hint,
            user_id: row.user_id,
            created_by: row.created_by,
            project_id: row.project_id,
        }
    }
}

/// Whether the caller manages others' tokens: an organization admin whose
/// token is not limited to one project.
fn manages_others(principal: &Principal) -> bool {
    authz::org_wide(principal, Role::Admin).is_ok()
}

fn forbidden(pointer: &str, why: impl Into<String>) -> ApiError {
    ApiError::forbidden(why).at(pointer, "Forbidden")
}

/// `duration` in milliseconds, if it is between one second and `max`.
fn millis(pointer: &str, duration: Duration, max: Duration) -> ActionResult<i64> {
    if duration < Duration::from_secs(1) || duration > max {
        return Err(ApiError::invalid_field(
            pointer,
            "InvalidValue",
            format!(
                "must be between 1s and {}",
                humantime_serde::re::humantime::format_duration(max)
            ),
        )
        .into());
    }
    Ok(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX))
}

/// When a token given `lifetime` from now expires.
fn expiry(lifetime: Option<Duration>) -> ActionResult<Option<i64>> {
    let Some(lifetime) = lifetime else {
        return Ok(None);
    };
    let ms = millis("/expires_in", lifetime, MAX_LIFETIME)?;
    Ok(Some(Timestamp::now_ms().saturating_add(ms)))
}

/// Token `id` in `txn`, if the caller may manage it and it is not revoked:
/// the first step of every change to one.
async fn live(ctx: &Ctx, txn: &impl ConnectionTrait, id: &str) -> ActionResult<token::Model> {
    let row = visible(ctx, txn, id).await?;
    if row.revoked_at.is_some() {
        return Err(revoked(&row.id));
    }
    Ok(row)
}

/// Token `id`, if the caller may manage it (else `ResourceNotFound`, as
/// for one that does not exist).
async fn visible(ctx: &Ctx, db: &impl ConnectionTrait, id: &str) -> ActionResult<token::Model> {
    let principal = &ctx.principal;
    Ok(token::Entity::find_by_id(id)
        .filter(token::Column::OrgId.eq(&principal.org_id))
        .one(db)
        .await?
        .filter(|row| row.user_id == principal.user_id || manages_others(principal))
        .ok_or_else(|| ApiError::not_found("token", id))?)
}

/// The services the caller's own token may call: `None` for every one.
async fn callers_services(
    ctx: &Ctx,
    db: &impl ConnectionTrait,
) -> ActionResult<Option<Vec<String>>> {
    let own = token::Entity::find_by_id(&ctx.principal.token_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::new(Status::Unauthorized, "The calling token no longer exists"))?;
    Ok(parse_services(&own.services))
}

/// The services a new token may call: those asked for, each one the
/// caller's token may call too; or, when left out, the caller's own.
fn services(asked: Option<Vec<String>>, mine: Option<Vec<String>>) -> ActionResult<Vec<String>> {
    let Some(asked) = asked else {
        return Ok(mine.unwrap_or_default());
    };
    if asked.is_empty() {
        return Err(ApiError::invalid_field(
            "/services",
            "InvalidValue",
            "name at least one service, or leave services out for the caller's own",
        )
        .into());
    }
    for (i, name) in asked.iter().enumerate() {
        let pointer = format!("/services/{i}");
        let well_formed = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(ApiError::invalid_field(
                pointer,
                "InvalidValue",
                format!("{name:?} is not a service name (1 to 64 of a-z, 0-9, - and _)"),
            )
            .into());
        }
        if let Some(mine) = &mine {
            if !mine.contains(name) {
                return Err(forbidden(
                    &pointer,
                    format!("The calling token may not call {name:?}, so it cannot give a token that may"),
                )
                .into());
            }
        }
    }
    Ok(asked)
}

/// The role a new token carries: `asked`, if the caller may give it, or
/// the caller's own. Nobody makes a token that may do more than they may:
/// a built-in role is at most the caller's; a custom role allows nothing
/// above it ([`roles::reach`]); a caller whose token carries a custom role
/// makes tokens carrying that one.
async fn token_role(
    ctx: &Ctx,
    db: &impl ConnectionTrait,
    asked: Option<RoleName>,
    for_self: bool,
) -> ActionResult<Option<RoleName>> {
    let principal = &ctx.principal;
    let carried = principal.custom.token.as_ref().map(|rules| rules.name());
    let Some(asked) = asked else {
        // Left out, the role is the caller's: for another user, never
        // above the caller's; for the caller, its own token's.
        return Ok(match carried {
            Some(name) => Some(name.parse().map_err(|_| {
                forbidden(
                    "/role",
                    "The calling token's role cannot be given: name one",
                )
            })?),
            None if for_self => principal.role_cap.map(RoleName::from),
            None => Some(principal.role.into()),
        });
    };
    if let Some(carried) = carried.filter(|carried| *carried != asked.as_str()) {
        return Err(forbidden(
            "/role",
            format!(
                "The calling token carries the role {carried}; the tokens it makes carry it too"
            ),
        )
        .into());
    }
    let catalog = ctx.state::<Arc<Catalog>>();
    let most = roles::most_of(db, catalog, &principal.org_id, asked.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found("role", asked.as_str()).at("/role", "NotFound"))?;
    if most > principal.role {
        return Err(forbidden(
            "/role",
            format!(
                "A token cannot do more than the caller who makes it, a {}; {asked} allows what needs {most}",
                principal.role
            ),
        )
        .into());
    }
    Ok(Some(asked))
}

pub async fn create(ctx: Ctx, input: CreateToken) -> ActionResult<IssuedToken> {
    let principal = &ctx.principal;
    let user_id = match input.user_id {
        Some(other) if other != principal.user_id => {
            if !manages_others(principal) {
                return Err(forbidden(
                    "/user_id",
                    "Only an organization admin makes tokens for other users",
                )
                .into());
            }
            other
        }
        _ => principal.user_id.clone(),
    };
    let for_self = user_id == principal.user_id;
    let expires_at = expiry(input.expires_in)?;
    let txn = ctx.begin_write().await?;
    let role = token_role(&ctx, &txn, input.role, for_self).await?;
    let services = services(input.services, callers_services(&ctx, &txn).await?)?;
    let project_id = match (input.project_id, &principal.project_id) {
        (None, only) => only.clone(),
        (Some(asked), Some(only)) if asked != *only => {
            return Err(forbidden(
                "/project_id",
                "The calling token is limited to one project; its tokens are limited to it too",
            )
            .into())
        }
        (Some(asked), _) => {
            scope::visible_project(&txn, principal, &asked)
                .await?
                .ok_or_else(|| {
                    ApiError::not_found("project", &asked).at("/project_id", "NotFound")
                })?;
            Some(asked)
        }
    };
    if !for_self
        && org_member::Entity::find_by_id((principal.org_id.clone(), user_id.clone()))
            .one(&txn)
            .await?
            .is_none()
    {
        return Err(ApiError::not_found("user", &user_id)
            .at("/user_id", "NotFound")
            .into());
    }
    let issued = tokens::create(
        &txn,
        NewToken {
            name: input.name.into_string(),
            description: input.description.map(String::from),
            user_id,
            org_id: principal.org_id.clone(),
            services,
            expires_at,
            role,
            project_id,
            created_by: Some(principal.user_id.clone()),
        },
    )
    .await?;
    let row = visible(&ctx, &txn, &issued.id).await?;
    txn.commit_for(&issued.id).await?;
    Ok(IssuedToken {
        token: Token::new(row, Timestamp::now_ms()),
        secret: Some(issued.secret),
    })
}

pub async fn list(ctx: Ctx, input: ListTokens) -> ActionResult<Page<Token>> {
    let (offset, limit) = page::bounds(input.offset, input.limit)?;
    let principal = &ctx.principal;
    let user_id = match input.user_id {
        Some(other) if other != principal.user_id && !manages_others(principal) => {
            return Err(forbidden(
                "/user_id",
                "Only an organization admin lists others' tokens",
            )
            .into())
        }
        Some(user_id) => Some(user_id),
        None if manages_others(principal) => None,
        None => Some(principal.user_id.clone()),
    };
    let now = Timestamp::now_ms();
    let mut query = token::Entity::find().filter(token::Column::OrgId.eq(&principal.org_id));
    if let Some(user_id) = &user_id {
        query = query.filter(token::Column::UserId.eq(user_id));
    }
    if !input.include_inactive {
        query = query.filter(token::Column::RevokedAt.is_null()).filter(
            sea_orm::Condition::any()
                .add(token::Column::ExpiresAt.is_null())
                .add(token::Column::ExpiresAt.gt(now)),
        );
    }
    let count = query.clone().count(ctx.read()).await?;
    let rows = query
        .order_by_desc(token::Column::CreatedAt)
        .order_by_desc(token::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(ctx.read())
        .await?;
    Ok(Page {
        results: rows.into_iter().map(|row| Token::new(row, now)).collect(),
        count,
        offset,
    })
}

pub async fn get(ctx: Ctx, input: TokenId) -> ActionResult<Token> {
    let row = visible(&ctx, ctx.read(), &input.id).await?;
    Ok(Token::new(row, Timestamp::now_ms()))
}

pub async fn update(ctx: Ctx, input: UpdateToken) -> ActionResult<Token> {
    let expires_at = expiry(input.expires_in)?;
    let txn = ctx.begin_write().await?;
    let row = live(&ctx, &txn, &input.id).await?;
    let mut active = row.into_active_model();
    if let Some(name) = input.name {
        active.name = Set(name.into_string());
    }
    if let Some(description) = input.description {
        active.description = Set(Some(description.into_string()));
    }
    if let Some(expires_at) = expires_at {
        active.expires_at = Set(Some(expires_at));
        // Verified copies carry the old expiry.
        ctx.invalidates_tokens();
    }
    let updated = active.update(&txn).await?;
    txn.commit_for(&updated.id).await?;
    Ok(Token::new(updated, Timestamp::now_ms()))
}

fn revoked(id: &str) -> actiongate_service::ActionError {
    ApiError::conflict(format!("Token {id} is revoked; make a new one"))
        .at("/id", "Revoked")
        .into()
}

pub async fn revoke(ctx: Ctx, input: TokenId) -> ActionResult<Token> {
    let txn = ctx.begin_write().await?;
    let row = live(&ctx, &txn, &input.id).await?;
    tokens::revoke(&txn, &row.id).await?;
    ctx.invalidates_tokens();
    let row = visible(&ctx, &txn, &input.id).await?;
    txn.commit_for(&row.id).await?;
    Ok(Token::new(row, Timestamp::now_ms()))
}

pub async fn rotate(ctx: Ctx, input: RotateToken) -> ActionResult<IssuedToken> {
    let grace = input
        .grace
        .map(|d| millis("/grace", d, MAX_GRACE))
        .transpose()?
        .unwrap_or(0);
    let txn = ctx.begin_write().await?;
    let row = live(&ctx, &txn, &input.id).await?;
    let until = Timestamp::now_ms().saturating_add(grace);
    let issued = tokens::rotate(&txn, &row.id, until)
        .await?
        .ok_or_else(|| revoked(&row.id))?;
    ctx.invalidates_tokens();
    let row = visible(&ctx, &txn, &input.id).await?;
    txn.commit_for(&row.id).await?;
    Ok(IssuedToken {
        token: Token::new(row, Timestamp::now_ms()),
        secret: Some(issued.secret),
    })
}
