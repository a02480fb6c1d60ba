//! Invites to a project (seed 004): an admin invites an email address with
//! a role; the invite token is returned once, at creation, and only its
//! hash is kept. The invitee, signed in as a user with that email, accepts
//! by token and becomes a member (and, if new to the organization, one of
//! its viewers). Invites expire after `invite_ttl`.
//!
//! States: `pending`, `accepted`, `cancelled`, and `expired` for a pending
//! invite past its expiry (computed, never stored).

use crate::entity::invite;
use actiongate_entity::{org_member, project, project_member, user};
use actiongate_kit::fields;
use actiongate_kit::page::{self, Page};
use actiongate_kit::{load, scope};
use actiongate_service::{
    sha256_hex, ActionResult, ApiError, Ctx, Role, Status, Timestamp, WriteTxn,
};
use actiongate_wire::new_id;
use futures_util::future::BoxFuture;
use rand::distributions::{Alphanumeric, DistString};
use sea_orm::sea_query::SelectStatement;
use sea_orm::DbErr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, Set,
};

use crate::api::invite::{CreateInvite, Invite, InviteId, InviteToken, ListInvites, Mine};
use crate::user::check_email;
use crate::Settings;

const PENDING: &str = "pending";
const ACCEPTED: &str = "accepted";
const CANCELLED: &str = "cancelled";
const EXPIRED: &str = "expired";

/// Invite tokens: `agi_` and 32 random letters and digits.
const TOKEN_PREFIX: &str = "agi_";

impl From<invite::Model> for Invite {
    fn from(i: invite::Model) -> Self {
        Invite {
            state: state_of(&i).to_owned(),
            id: i.id,
            project_id: i.project_id,
            email: i.email,
            role: i.role,
            invited_by: i.invited_by,
            accepted_by: i.accepted_by,
            created_at: Timestamp::from_unix_ms(i.created_at),
            updated_at: Timestamp::from_unix_ms(i.updated_at),
            expires_at: Timestamp::from_unix_ms(i.expires_at),
            token: None,
            project_name: None,
        }
    }
}

fn state_of(invite: &invite::Model) -> &str {
    if invite.state == PENDING && invite.expires_at <= fields::now() {
        EXPIRED
    } else {
        &invite.state
    }
}

pub async fn create(ctx: Ctx, input: CreateInvite) -> ActionResult<Invite> {
    let email = check_email("/email", &input.email)?;
    if input.role == Role::Owner {
        return Err(ApiError::invalid_field(
            "/role",
            "InvalidValue",
            "a project has exactly one owner; invite as admin, member or viewer, then use project/transfer",
        ).into());
    }
    let ttl = ctx.state::<Settings>().invite_ttl;
    let txn = ctx.begin_write().await?;
    // Locked, so two invites of one address cannot both be pending.
    let scope = scope::project_for_update(&ctx, &txn, &input.project_id, Role::Admin).await?;
    if let Some(member) = member_with_email(&txn, &scope.project.id, &email).await? {
        return Err(ApiError::conflict(format!(
            "{email} is already a member of project {} (as {member})",
            scope.project.id
        ))
        .at("/email", "AlreadyMember")
        .into());
    }
    let now = fields::now();
    let open = invite::Entity::find()
        .filter(invite::Column::ProjectId.eq(&scope.project.id))
        .filter(invite::Column::Email.eq(&email))
        .filter(invite::Column::State.eq(PENDING))
        .filter(invite::Column::ExpiresAt.gt(now))
        .one(&txn)
        .await?;
    if let Some(open) = open {
        return Err(ApiError::conflict(format!(
            "{email} already has a pending invite to this project ({}); cancel it first",
            open.id
        ))
        .at("/email", "Duplicate")
        .into());
    }
    let token = format!(
        "{TOKEN_PREFIX}{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 32)
    );
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    let created = invite::ActiveModel {
        id: Set(new_id("inv")),
        project_id: Set(scope.project.id.clone()),
        org_id: Set(scope.project.org_id.clone()),
        email: Set(email),
        role: Set(input.role.as_str().to_owned()),
        token_hash: Set(sha256_hex(token.as_bytes())),
        state: Set(PENDING.to_owned()),
        invited_by: Set(ctx.principal.user_id.clone()),
        accepted_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        expires_at: Set(now.saturating_add(ttl_ms)),
    }
    .insert(&txn)
    .await?;
    txn.commit_for(&created.id).await?;
    Ok(Invite {
        token: Some(token),
        project_name: Some(scope.project.name),
        ..created.into()
    })
}

/// The role of the project member whose email is `email`, if any.
async fn member_with_email(
    db: &impl ConnectionTrait,
    project_id: &str,
    email: &str,
) -> Result<Option<String>, sea_orm::DbErr> {
    let Some(user) = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(
        project_member::Entity::find_by_id((project_id.to_owned(), user.id))
            .one(db)
            .await?
            .map(|m| m.role),
    )
}

/// The project's pending invites (not expired), oldest first.
pub async fn list(ctx: Ctx, input: ListInvites) -> ActionResult<Page<Invite>> {
    let scope = scope::project(&ctx, ctx.read(), &input.project_id, Role::Admin).await?;
    let filter = Condition::all()
        .add(invite::Column::ProjectId.eq(&scope.project.id))
        .add(invite::Column::State.eq(PENDING))
        .add(invite::Column::ExpiresAt.gt(fields::now()));
    page(&ctx, filter, input.offset, input.limit).await
}

/// The caller's pending invites, to any project: those sent to its user's
/// email.
pub async fn mine(ctx: Ctx, input: Mine) -> ActionResult<Page<Invite>> {
    let me = caller(&ctx, ctx.read()).await?;
    let filter = Condition::all()
        .add(invite::Column::Email.eq(me.email))
        .add(invite::Column::State.eq(PENDING))
        .add(invite::Column::ExpiresAt.gt(fields::now()));
    page(&ctx, filter, input.offset, input.limit).await
}

async fn page(
    ctx: &Ctx,
    filter: Condition,
    offset: Option<u64>,
    limit: Option<u64>,
) -> ActionResult<Page<Invite>> {
    let (offset, limit) = page::bounds(offset, limit)?;
    let query = invite::Entity::find()
        .filter(filter)
        .order_by_asc(invite::Column::CreatedAt)
        .order_by_asc(invite::Column::Id);
    page::fetch(ctx, query, offset, limit).await
}

pub async fn cancel(ctx: Ctx, input: InviteId) -> ActionResult<Invite> {
    let txn = ctx.begin_write().await?;
    let found = load::<invite::Model>(&ctx, &txn, &input.id, Role::Admin)
        .await?
        .record;
    must_be_pending(&found, "/id")?;
    let mut active = found.into_active_model();
    active.state = Set(CANCELLED.to_owned());
    active.updated_at = Set(fields::now());
    let cancelled = active.update(&txn).await?;
    txn.commit_for(&cancelled.id).await?;
    Ok(cancelled.into())
}

actiongate_kit::project_record!(invite, "invite");

/// The access service's records in deleted projects: their invites (see
/// `actiongate_service::Hooks`).
pub fn delete_in_projects(
    txn: &WriteTxn,
    ids: SelectStatement,
) -> BoxFuture<'_, Result<(), DbErr>> {
    Box::pin(async move {
        invite::Entity::delete_many()
            .filter(invite::Column::ProjectId.in_subquery(ids))
            .exec(txn)
            .await?;
        Ok(())
    })
}

/// An invite, by its token: whoever holds the token may look.
pub async fn get(ctx: Ctx, input: InviteToken) -> ActionResult<Invite> {
    let found = by_token(ctx.read(), &input.token).await?;
    let project_name = project::Entity::find_by_id(&found.project_id)
        .one(ctx.read())
        .await?
        .map(|p| p.name);
    Ok(Invite {
        project_name,
        ..found.into()
    })
}

/// Accepts an invite sent to the caller's email: the caller becomes a
/// member of the project with the invited role.
pub async fn accept(ctx: Ctx, input: InviteToken) -> ActionResult<Invite> {
    let txn = ctx.begin_write().await?;
    let found = by_token(&txn, &input.token).await?;
    let me = caller(&ctx, &txn).await?;
    if found.email != me.email {
        return Err(ApiError::new(
            Status::Forbidden,
            "This invite was sent to another email address than the caller's",
        )
        .into());
    }
    must_be_pending(&found, "/token")?;
    let now = fields::now();
    let in_org = org_member::Entity::find_by_id((found.org_id.clone(), me.id.clone()))
        .one(&txn)
        .await?
        .is_some();
    if !in_org {
        org_member::ActiveModel {
            org_id: Set(found.org_id.clone()),
            user_id: Set(me.id.clone()),
            role: Set(Role::Viewer.as_str().to_owned()),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    let membership = project_member::Entity::find_by_id((found.project_id.clone(), me.id.clone()))
        .one(&txn)
        .await?;
    match membership {
        // Already in (added directly meanwhile): the better role stands,
        // and never the owner's.
        Some(current) => {
            let current_role: Role = current.role.parse().unwrap_or(Role::Viewer);
            let invited: Role = found.role.parse().unwrap_or(Role::Viewer);
            if invited > current_role {
                let mut active = current.into_active_model();
                active.role = Set(found.role.clone());
                active.updated_at = Set(now);
                active.update(&txn).await?;
            }
        }
        None => {
            project_member::ActiveModel {
                project_id: Set(found.project_id.clone()),
                user_id: Set(me.id.clone()),
                role: Set(found.role.clone()),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await
            .map_err(fields::duplicate_is_conflict(
                "The caller was added to the project at the same moment; retry",
                "/token",
            ))?;
        }
    }
    let mut active = found.into_active_model();
    active.state = Set(ACCEPTED.to_owned());
    active.accepted_by = Set(Some(me.id));
    active.updated_at = Set(now);
    let accepted = active.update(&txn).await?;
    txn.commit_for(&accepted.id).await?;
    Ok(accepted.into())
}

/// The invite whose token is `token`, or `ResourceNotFound`.
async fn by_token(db: &impl ConnectionTrait, token: &str) -> ActionResult<invite::Model> {
    let unknown = || {
        ApiError::new(
            Status::ResourceNotFound,
            "No invite has this token; check it was copied whole",
        )
        .at("/token", "NotFound")
    };
    if !token.starts_with(TOKEN_PREFIX) {
        return Err(unknown().into());
    }
    invite::Entity::find()
        .filter(invite::Column::TokenHash.eq(sha256_hex(token.as_bytes())))
        .one(db)
        .await?
        .ok_or_else(|| unknown().into())
}

/// `Conflict` naming the invite's state unless it is still pending.
fn must_be_pending(found: &invite::Model, pointer: &str) -> ActionResult<()> {
    let (code, why) = match state_of(found) {
        PENDING => return Ok(()),
        ACCEPTED => ("InviteAccepted", "has already been accepted"),
        CANCELLED => ("InviteCancelled", "was cancelled"),
        _ => ("InviteExpired", "has expired; ask for a new one"),
    };
    Err(ApiError::conflict(format!("Invite {} {why}", found.id))
        .at(pointer, code)
        .into())
}

/// The calling user.
async fn caller(ctx: &Ctx, db: &impl ConnectionTrait) -> ActionResult<user::Model> {
    user::Entity::find_by_id(&ctx.principal.user_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("user", &ctx.principal.user_id).into())
}
