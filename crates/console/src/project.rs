//! Project actions: Pangea's `v1beta` surface and the fuller `v1` one, over
//! the same records.

use actiongate_entity::{project, project_member, user};
use actiongate_service::{ActionResult, ApiError, Ctx, Role, Status, Timestamp};
use actiongate_wire::new_id;
use sea_orm::sea_query::{Expr, Func, LikeExpr, Query, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, IntoActiveModel, QueryFilter, Set,
};

use crate::api::org::Deleted;
use crate::api::project::{
    Create, CreateV1beta, List, ListV1beta, Project, ProjectId, Update, UpdateV1beta,
};
use crate::contents;
use crate::org;
use crate::Settings;
use actiongate_kit::fields::{self, duplicate_is_conflict};
use actiongate_kit::page::{self, Order, Page};
use actiongate_kit::scope;
use actiongate_kit::write::save_update;

impl From<project::Model> for Project {
    fn from(p: project::Model) -> Self {
        Project {
            id: p.id,
            name: p.name,
            org: p.org_id,
            geo: p.geo,
            region: p.region,
            display_name: p.display_name,
            description: p.description,
            color: p.color,
            icon_path: p.icon_path,
            single_server_mode: p.single_server_mode,
            default_server_id: p.default_server_id,
            auto_error_tracking_enabled: p.auto_error_tracking_enabled,
            created_at: Timestamp::from_unix_ms(p.created_at),
            updated_at: Timestamp::from_unix_ms(p.updated_at),
        }
    }
}

pub async fn get(ctx: Ctx, input: ProjectId) -> ActionResult<Project> {
    scope::visible_for_reading(&ctx, &input.id)
        .await
        .map(Project::from)
}

pub async fn list_v1beta(ctx: Ctx, input: ListV1beta) -> ActionResult<Page<Project>> {
    let input = List {
        org_id: Some(input.org_id),
        filter: input.filter,
        offset: input.offset,
        limit: input.limit,
        order_by: None,
    };
    list(ctx, input).await
}

pub async fn list(ctx: Ctx, input: List) -> ActionResult<Page<Project>> {
    let (offset, limit) = page::bounds(input.offset, input.limit)?;
    let org_id = input.org_id.unwrap_or_else(|| ctx.principal.org_id.clone());
    org::visible(&ctx, ctx.read(), &org_id).await?;
    let mut condition = Condition::all().add(project::Column::OrgId.eq(&org_id));
    if let Some(only) = &ctx.principal.project_id {
        condition = condition.add(project::Column::Id.eq(only));
    }
    if let Some(geo) = &input.filter.geo {
        condition = condition.add(project::Column::Geo.eq(geo));
    }
    if let Some(region) = &input.filter.region {
        condition = condition.add(project::Column::Region.eq(region));
    }
    if let Some(search) = &input.filter.search {
        condition = condition.add(search_condition(search));
    }
    let query = ORDER.apply(
        project::Entity::find().filter(condition),
        input.order_by.as_deref(),
    )?;
    page::fetch(&ctx, query, offset, limit).await
}

const ORDER: Order<project::Column> = Order {
    columns: &[
        ("name", project::Column::Name),
        ("created_at", project::Column::CreatedAt),
        ("updated_at", project::Column::UpdatedAt),
        ("geo", project::Column::Geo),
        ("region", project::Column::Region),
    ],
    default: project::Column::CreatedAt,
    id: project::Column::Id,
    unique: &[project::Column::Name],
};

/// Any keyword matching, case-insensitively, part of the project's id,
/// name, or its owner's email.
fn search_condition(search: &str) -> Condition {
    let mut any = Condition::any();
    for keyword in search.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        let pattern = format!("%{}%", escape_like(&keyword.to_lowercase()));
        let like = |column: SimpleExpr| {
            Expr::expr(Func::lower(column)).like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        let owners = Query::select()
            .column(user::Column::Id)
            .from(user::Entity)
            .and_where(like(Expr::col(user::Column::Email).into()))
            .to_owned();
        any = any
            .add(like(Expr::col(project::Column::Id).into()))
            .add(like(Expr::col(project::Column::Name).into()))
            .add(project::Column::OwnerId.in_subquery(owners));
    }
    any
}

fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The geo and region to use, checked against the configured set.
fn placement(
    settings: &Settings,
    geo: Option<&str>,
    region: Option<&str>,
) -> ActionResult<(String, String)> {
    let geos: Vec<&str> = settings.regions.keys().map(String::as_str).collect();
    let geo = geo.unwrap_or(&settings.default_geo);
    let Some(regions) = settings.regions.get(geo) else {
        return Err(ApiError::invalid_field(
            "/geo",
            "InvalidValue",
            format!("{geo:?} is not a geo; use one of {}", geos.join(", ")),
        )
        .into());
    };
    let region = match region {
        Some(region) if regions.iter().any(|r| r == region) => region.to_owned(),
        Some(region) => {
            return Err(ApiError::invalid_field(
                "/region",
                "InvalidValue",
                format!(
                    "{region:?} is not a region of geo {geo}; use one of {}",
                    regions.join(", ")
                ),
            )
            .into())
        }
        None => regions.first().cloned().ok_or_else(|| {
            ApiError::invalid_field(
                "/region",
                "MissingField",
                format!("geo {geo} has no regions"),
            )
        })?,
    };
    Ok((geo.to_owned(), region))
}

pub async fn create_v1beta(ctx: Ctx, input: CreateV1beta) -> ActionResult<Project> {
    let input = Create {
        org_id: Some(input.org_id),
        name: input.name,
        geo: Some(input.geo),
        region: input.region,
        display_name: None,
        description: None,
        color: None,
        single_server_mode: false,
        default_server_id: None,
        auto_error_tracking_enabled: false,
    };
    create(ctx, input).await
}

pub async fn create(ctx: Ctx, input: Create) -> ActionResult<Project> {
    if ctx.principal.project_id.is_some() {
        return Err(ApiError::new(
            Status::Forbidden,
            "This token is limited to one project and cannot create others",
        )
        .into());
    }
    let name = input.name.into_string();
    let (geo, region) = placement(
        ctx.state::<Settings>(),
        input.geo.as_deref(),
        input.region.as_deref(),
    )?;
    let org_id = input.org_id.unwrap_or_else(|| ctx.principal.org_id.clone());
    let txn = ctx.begin_write().await?;
    org::visible(&ctx, &txn, &org_id).await?;
    let now = fields::now();
    let created = project::ActiveModel {
        id: Set(new_id("prj")),
        org_id: Set(org_id),
        owner_id: Set(ctx.principal.user_id.clone()),
        name: Set(name.clone()),
        geo: Set(geo),
        region: Set(region),
        display_name: Set(input.display_name.map(String::from)),
        description: Set(input.description.map(String::from)),
        color: Set(input.color.map(String::from)),
        icon_path: Set(None),
        single_server_mode: Set(input.single_server_mode),
        default_server_id: Set(input.default_server_id.map(String::from)),
        auto_error_tracking_enabled: Set(input.auto_error_tracking_enabled),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(duplicate_is_conflict(
        &format!("A project named {name:?} already exists in this organization"),
        "/name",
    ))?;
    // Its creator is its one owner.
    project_member::ActiveModel {
        project_id: Set(created.id.clone()),
        user_id: Set(ctx.principal.user_id.clone()),
        role: Set(Role::Owner.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    txn.commit_for(&created.id).await?;
    Ok(created.into())
}

pub async fn update_v1beta(ctx: Ctx, input: UpdateV1beta) -> ActionResult<Project> {
    let input = Update {
        id: input.id,
        name: Some(input.name),
        ..Update::default()
    };
    update(ctx, input).await
}

pub async fn update(ctx: Ctx, input: Update) -> ActionResult<Project> {
    let name = input.name.map(String::from);
    let txn = ctx.begin_write().await?;
    let current = scope::project(&ctx, &txn, &input.id, Role::Admin)
        .await?
        .project;
    fields::check_unchanged(input.if_updated_at, current.updated_at)?;
    let mut active = current.into_active_model();
    let conflict = name
        .as_ref()
        .map(|n| format!("A project named {n:?} already exists in this organization"))
        .unwrap_or_default();
    if let Some(v) = name {
        active.name = Set(v);
    }
    actiongate_kit::patch!(active, input, optional: [display_name, description, color, default_server_id]);
    actiongate_kit::patch!(
        active,
        input,
        [single_server_mode, auto_error_tracking_enabled]
    );
    let on_duplicate = (conflict.as_str(), "/name");
    save_update(txn, active, project::Column::UpdatedAt, on_duplicate, |p| {
        p.id.clone()
    })
    .await
    .map(Project::from)
}

/// Deletes the project and every record in it, in one transaction.
pub async fn delete(ctx: Ctx, input: ProjectId) -> ActionResult<Deleted> {
    let txn = ctx.begin_write().await?;
    let project = scope::project(&ctx, &txn, &input.id, Role::Admin)
        .await?
        .project;
    ctx.audit_target(&project.id);
    contents::delete_projects(
        &ctx,
        &txn,
        contents::projects_where(project::Column::Id, &project.id),
    )
    .await?;
    txn.commit().await?;
    Ok(Deleted {})
}
