//! Project actions: Pangea's `v1beta` surface and the fuller `v1` one, over
//! the same records.

use actiongate_entity::{project, project_member, user};
use actiongate_service::{ActionResult, ApiError, Ctx, Role, Status, Timestamp};
use actiongate_wire::new_id;
use sea_orm::sea_query::{Expr, Func, LikeExpr, Query, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, IntoActiveModel, QueryFilter, Set,
};
use serde::{Deserialize, Serialize};

use crate::contents;
use crate::org::{self, Deleted};
use crate::Settings;
use actiongate_kit::fields::{self, duplicate_is_conflict, Color, Description, Name, ShortText};
use actiongate_kit::page::{self, Order, Page};
use actiongate_kit::scope;
use actiongate_kit::write::save_update;

/// A project as the API shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Project {
    pub id: String,
    pub name: String,
    /// The organization's id.
    pub org: String,
    pub geo: String,
    pub region: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub color: Option<String>,
    pub icon_path: Option<String>,
    pub single_server_mode: bool,
    pub default_server_id: Option<String>,
    pub auto_error_tracking_enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

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

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ProjectId {
    pub id: String,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "ProjectFilter")]
pub struct Filter {
    /// Comma-separated keywords matched against id, name and owner's email.
    pub search: Option<String>,
    pub geo: Option<String>,
    pub region: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListV1beta {
    pub org_id: String,
    #[serde(default)]
    pub filter: Filter,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "ListProjects")]
pub struct List {
    /// Defaults to the token's organization.
    pub org_id: Option<String>,
    #[serde(default)]
    pub filter: Filter,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
    /// `field` or `-field`: `name`, `created_at`, `updated_at`, `geo`, `region`.
    pub order_by: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateV1beta {
    pub org_id: String,
    pub name: Name,
    pub geo: String,
    pub region: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "CreateProject")]
pub struct Create {
    /// Defaults to the token's organization.
    pub org_id: Option<String>,
    pub name: Name,
    /// Defaults to the configured `default_geo`.
    pub geo: Option<String>,
    pub region: Option<String>,
    pub display_name: Option<Name>,
    pub description: Option<Description>,
    pub color: Option<Color>,
    #[serde(default)]
    pub single_server_mode: bool,
    pub default_server_id: Option<ShortText>,
    #[serde(default)]
    pub auto_error_tracking_enabled: bool,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct UpdateV1beta {
    pub id: String,
    pub name: Name,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "UpdateProject")]
pub struct Update {
    pub id: String,
    pub name: Option<Name>,
    pub display_name: Option<Name>,
    pub description: Option<Description>,
    pub color: Option<Color>,
    pub single_server_mode: Option<bool>,
    pub default_server_id: Option<ShortText>,
    pub auto_error_tracking_enabled: Option<bool>,
    pub if_updated_at: Option<Timestamp>,
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
