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
use actiongate_kit::{load, scope, Record};
use actiongate_service::{
    sha256_hex, ActionResult, ApiError, Ctx, Home, Role, Status, Timestamp, WriteTxn,
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
use crate::member::{self, Place};
use crate::org_member as org_members;
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
            org_id: i.org_id,
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

/// Creates an invite to a project (by its admins) or to the organization
/// as a whole (by organization admins, never above their own role).
pub async fn create(ctx: Ctx, input: CreateInvite) -> ActionResult<Invite> {
    let email = check_email("/email", &input.email)?;
    if input.role == Role::Owner {
        return Err(ApiError::invalid_field(
            "/role",
            "InvalidValue",
            "invite as admin, member or viewer: a project's owner changes by project/transfer, an organization's by org/transfer",
        ).into());
    }
    let place = member::place(input.project_id, input.org_id)?;
    let ttl = ctx.state::<Settings>().invite_ttl;
    let txn = ctx.begin_write().await?;
    let (project, org_id) = match place {
        Place::Project(project_id) => {
            // Locked, so two invites of one address cannot both be pending.
            let scope = scope::project_for_update(&ctx, &txn, &project_id, Role::Admin).await?;
            if let Some(member) = member_with_email(&txn, &scope.project.id, &email).await? {
                return Err(ApiError::conflict(format!(
                    "{email} is already a member of project {} (as {member})",
                    scope.project.id
                ))
                .at("/email", "AlreadyMember")
                .into());
            }
            let org_id = scope.project.org_id.clone();
            (Some(scope.project), org_id)
        }
        Place::Org(org_id) => {
            org_members::within_reach(&ctx, "/role", input.role)?;
            let org = org_members::organization(&ctx, &txn, &org_id, Role::Admin).await?;
            if let Some(member) = org_member_with_email(&txn, &org.id, &email).await? {
                return Err(ApiError::conflict(format!(
                    "{email} is already a member of organization {} (as {member})",
                    org.id
                ))
                .at("/email", "AlreadyMember")
                .into());
            }
            (None, org.id)
        }
    };
    let now = fields::now();
    let project_id = project.as_ref().map(|p| p.id.clone());
    let to_the_same = match &project_id {
        Some(project_id) => Condition::all().add(invite::Column::ProjectId.eq(project_id)),
        None => Condition::all()
            .add(invite::Column::ProjectId.is_null())
            .add(invite::Column::OrgId.eq(&org_id)),
    };
    let open = invite::Entity::find()
        .filter(to_the_same)
        .filter(invite::Column::Email.eq(&email))
        .filter(invite::Column::State.eq(PENDING))
        .filter(invite::Column::ExpiresAt.gt(now))
        .one(&txn)
        .await?;
    if let Some(open) = open {
        return Err(ApiError::conflict(format!(
            "{email} already has a pending invite here ({}); cancel it first",
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
        project_id: Set(project_id),
        org_id: Set(org_id),
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
        project_name: project.map(|p| p.name),
        ..created.into()
    })
}

/// The organization role of the member whose email is `email`, if any.
async fn org_member_with_email(
    db: &impl ConnectionTrait,
    org_id: &str,
    email: &str,
) -> Result<Option<String>, sea_orm::DbErr> {
    let Some(user) = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(org_member::Entity::find_by_id((org_id.to_owned(), user.id))
        .one(db)
        .await?
        .map(|m| m.role))
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

/// A project's pending invites (not expired), or the organization's own,
/// oldest first.
pub async fn list(ctx: Ctx, input: ListInvites) -> ActionResult<Page<Invite>> {
    let to = match member::place(input.project_id, input.org_id)? {
        Place::Project(project_id) => {
            let scope = scope::project(&ctx, ctx.read(), &project_id, Role::Admin).await?;
            Condition::all().add(invite::Column::ProjectId.eq(&scope.project.id))
        }
        Place::Org(org_id) => {
            let org = org_members::organization(&ctx, ctx.read(), &org_id, Role::Admin).await?;
            Condition::all()
                .add(invite::Column::OrgId.eq(&org.id))
                .add(invite::Column::ProjectId.is_null())
        }
    };
    let filter = to
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

/// Cancels a pending invite: a project's, by its admins; the
/// organization's, by organization admins.
pub async fn cancel(ctx: Ctx, input: InviteId) -> ActionResult<Invite> {
    let txn = ctx.begin_write().await?;
    let found = match <invite::Model as Record>::find(&txn, &input.id).await? {
        Some(found) if found.project_id.is_none() => {
            org_members::organization(&ctx, &txn, &found.org_id, Role::Admin)
                .await
                .map_err(|_| ApiError::not_found("invite", &input.id))?;
            found
        }
        _ => {
            load::<invite::Model>(&ctx, &txn, &input.id, Role::Admin)
                .await?
                .record
        }
    };
    must_be_pending(&found, "/id")?;
    let mut active = found.into_active_model();
    active.state = Set(CANCELLED.to_owned());
    active.updated_at = Set(fields::now());
    let cancelled = active.update(&txn).await?;
    txn.commit_for(&cancelled.id).await?;
    Ok(cancelled.into())
}

impl Record for invite::Model {
    const KIND: &'static str = "invite";

    async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Self>, DbErr> {
        invite::Entity::find_by_id(id).one(db).await
    }

    /// An organization's invite is in no project: none is found by this.
    fn project_id(&self) -> &str {
        self.project_id.as_deref().unwrap_or_default()
    }

    fn home(&self) -> Home {
        match &self.project_id {
            Some(project_id) => Home::Project(project_id.clone()),
            None => Home::Organization(self.org_id.clone()),
        }
    }
}

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
    let project_name = match &found.project_id {
        Some(project_id) => project::Entity::find_by_id(project_id)
            .one(ctx.read())
            .await?
            .map(|p| p.name),
        None => None,
    };
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
    let invited: Role = found.role.parse().unwrap_or(Role::Viewer);
    let in_org = org_member::Entity::find_by_id((found.org_id.clone(), me.id.clone()))
        .one(&txn)
        .await?;
    // An invite to the organization gives its role there; one to a project,
    // a viewer's to a newcomer.
    let org_role = if found.project_id.is_none() {
        invited
    } else {
        Role::Viewer
    };
    match in_org {
        None => {
            org_member::ActiveModel {
                org_id: Set(found.org_id.clone()),
                user_id: Set(me.id.clone()),
                role: Set(org_role.as_str().to_owned()),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }
        // Already in: the better role stands.
        Some(current) if found.project_id.is_none() => {
            if invited > current.role.parse().unwrap_or(Role::Viewer) {
                let mut active = current.into_active_model();
                active.role = Set(found.role.clone());
                active.update(&txn).await?;
                // The caller's tokens carry the organization role.
                ctx.invalidates_tokens();
            }
        }
        Some(_) => {}
    }
    if let Some(project_id) = &found.project_id {
        join_project(&txn, project_id, &me.id, invited, now).await?;
    }
    let mut active = found.into_active_model();
    active.state = Set(ACCEPTED.to_owned());
    active.accepted_by = Set(Some(me.id));
    active.updated_at = Set(now);
    let accepted = active.update(&txn).await?;
    txn.commit_for(&accepted.id).await?;
    Ok(accepted.into())
}

/// Makes `user_id` a member of `project_id` with `role`; one already in
/// keeps the better of the two roles (never the owner's, which an invite
/// does not give).
async fn join_project(
    txn: &impl ConnectionTrait,
    project_id: &str,
    user_id: &str,
    role: Role,
    now: i64,
) -> ActionResult<()> {
    let membership =
        project_member::Entity::find_by_id((project_id.to_owned(), user_id.to_owned()))
            .one(txn)
            .await?;
    match membership {
        Some(current) => {
            if role > current.role.parse().unwrap_or(Role::Viewer) {
                let mut active = current.into_active_model();
                active.role = Set(role.as_str().to_owned());
                active.updated_at = Set(now);
                active.update(txn).await?;
            }
        }
        None => {
            project_member::ActiveModel {
                project_id: Set(project_id.to_owned()),
                user_id: Set(user_id.to_owned()),
                role: Set(role.as_str().to_owned()),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(txn)
            .await
            .map_err(fields::duplicate_is_conflict(
                "The caller was added to the project at the same moment; retry",
                "/token",
            ))?;
        }
    }
    Ok(())
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
