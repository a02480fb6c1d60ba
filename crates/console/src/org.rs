//! Organization actions. A token is bound to one organization: it can read
//! and change that one only, and any other id is reported as not found.

use actiongate_entity::{
    org_member, organization, project, role, team, team_grant, team_member, token, user,
};
use actiongate_service::{ActionResult, ApiError, Ctx, Timestamp};
use actiongate_wire::new_id;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};

use crate::api::org::{
    CreateOrg, Deleted, ListOrgs, OrgId, Organization, TransferOrg, UpdateOrg, UpdateOrgV1beta,
};
use crate::contents;
use crate::Settings;
use actiongate_kit::fields;
use actiongate_kit::page::{self, Page};
use actiongate_kit::write::save_update;

/// The organization `id`, if the caller may see it.
pub(crate) async fn visible(
    ctx: &Ctx,
    db: &impl ConnectionTrait,
    id: &str,
) -> ActionResult<organization::Model> {
    if id != ctx.principal.org_id {
        return Err(ApiError::not_found("organization", id).into());
    }
    organization::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("organization", id).into())
}

async fn present(ctx: &Ctx, org: organization::Model) -> ActionResult<Organization> {
    let owner_email = user::Entity::find_by_id(&org.owner_id)
        .one(ctx.read())
        .await?
        .map(|owner| owner.email)
        .unwrap_or_default();
    Ok(Organization {
        id: org.id,
        name: org.name,
        owner: org.owner_id,
        owner_email,
        csp: org.csp,
        created_at: Timestamp::from_unix_ms(org.created_at),
        updated_at: Timestamp::from_unix_ms(org.updated_at),
    })
}

pub async fn get(ctx: Ctx, input: OrgId) -> ActionResult<Organization> {
    let org = visible(&ctx, ctx.read(), &input.id).await?;
    present(&ctx, org).await
}

pub async fn update_v1beta(ctx: Ctx, input: UpdateOrgV1beta) -> ActionResult<Organization> {
    let input = UpdateOrg {
        id: input.id,
        name: Some(input.name),
        if_updated_at: None,
    };
    update(ctx, input).await
}

pub async fn update(ctx: Ctx, input: UpdateOrg) -> ActionResult<Organization> {
    let name = input.name.map(String::from);
    let txn = ctx.begin_write().await?;
    let org = visible(&ctx, &txn, &input.id).await?;
    fields::check_unchanged(input.if_updated_at, org.updated_at)?;
    let mut active = org.into_active_model();
    if let Some(name) = name {
        active.name = Set(name);
    }
    let on_duplicate = ("organization", "/name");
    let org = save_update(
        txn,
        active,
        organization::Column::UpdatedAt,
        on_duplicate,
        |o| o.id.clone(),
    )
    .await?;
    present(&ctx, org).await
}

/// Creates an organization owned by the caller's user. The calling token
/// stays bound to its own organization; act in the new one with a token
/// created for it.
pub async fn create(ctx: Ctx, input: CreateOrg) -> ActionResult<Organization> {
    let name = input.name.into_string();
    let csp = ctx.state::<Settings>().csp.clone();
    let txn = ctx.begin_write().await?;
    let org = organization::create_with_owner(
        &txn,
        new_id("org"),
        name,
        ctx.principal.user_id.clone(),
        csp,
    )
    .await?;
    txn.commit_for(&org.id).await?;
    present(&ctx, org).await
}

pub async fn list(ctx: Ctx, input: ListOrgs) -> ActionResult<Page<Organization>> {
    let (offset, _limit) = page::bounds(input.offset, input.limit)?;
    let own = ctx.principal.org_id.clone();
    let org = visible(&ctx, ctx.read(), &own).await?;
    let results = if offset == 0 {
        vec![present(&ctx, org).await?]
    } else {
        Vec::new()
    };
    Ok(Page {
        results,
        count: 1,
        offset,
    })
}

/// Hands the organization to another of its members, who becomes an
/// owner and its recorded owner; the previous owner stays on as an admin.
/// Who may do what changes, so every cached token verification ends.
pub async fn transfer(ctx: Ctx, input: TransferOrg) -> ActionResult<Organization> {
    let txn = ctx.begin_write().await?;
    let org = visible(&ctx, &txn, &input.id).await?;
    if input.new_owner_id == org.owner_id {
        return Err(ApiError::invalid_field(
            "/new_owner_id",
            "InvalidValue",
            format!("{} already owns the organization", org.owner_id),
        )
        .into());
    }
    let Some(heir) = org_member::Entity::find_by_id((org.id.clone(), input.new_owner_id.clone()))
        .one(&txn)
        .await?
    else {
        return Err(
            ApiError::not_found("member of this organization", &input.new_owner_id)
                .at("/new_owner_id", "NotFound")
                .into(),
        );
    };
    let now = fields::now();
    let mut heir = heir.into_active_model();
    heir.role = Set(org_member::OWNER.to_owned());
    heir.update(&txn).await?;
    org_member::Entity::update_many()
        .col_expr(org_member::Column::Role, Expr::value("admin"))
        .filter(org_member::Column::OrgId.eq(&org.id))
        .filter(org_member::Column::UserId.eq(&org.owner_id))
        .exec(&txn)
        .await?;
    let mut active = org.into_active_model();
    active.owner_id = Set(input.new_owner_id.clone());
    active.updated_at = Set(now);
    let org = active.update(&txn).await?;
    ctx.invalidates_tokens();
    txn.commit_for(&org.id).await?;
    present(&ctx, org).await
}

/// Deletes the organization and everything in it: its projects and
/// memberships go, its tokens are revoked.
pub async fn delete(ctx: Ctx, input: OrgId) -> ActionResult<Deleted> {
    let txn = ctx.begin_write().await?;
    let org = visible(&ctx, &txn, &input.id).await?;
    ctx.audit_target(&org.id);
    contents::delete_projects(
        &ctx,
        &txn,
        contents::projects_where(project::Column::OrgId, &org.id),
    )
    .await?;
    org_member::Entity::delete_many()
        .filter(org_member::Column::OrgId.eq(&org.id))
        .exec(&txn)
        .await?;
    let teams = Query::select()
        .column(team::Column::Id)
        .from(team::Entity)
        .and_where(team::Column::OrgId.eq(&org.id))
        .to_owned();
    team_grant::Entity::delete_many()
        .filter(team_grant::Column::TeamId.in_subquery(teams.clone()))
        .exec(&txn)
        .await?;
    team_member::Entity::delete_many()
        .filter(team_member::Column::TeamId.in_subquery(teams))
        .exec(&txn)
        .await?;
    team::Entity::delete_many()
        .filter(team::Column::OrgId.eq(&org.id))
        .exec(&txn)
        .await?;
    role::Entity::delete_many()
        .filter(role::Column::OrgId.eq(&org.id))
        .exec(&txn)
        .await?;
    token::Entity::update_many()
        .col_expr(token::Column::RevokedAt, Expr::value(fields::now()))
        .filter(token::Column::OrgId.eq(&org.id))
        .filter(token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    // Cached verifications of those tokens end with the next request.
    ctx.invalidates_tokens();
    organization::Entity::delete_by_id(&org.id)
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(Deleted {})
}
