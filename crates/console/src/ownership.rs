//! `project/transfer`: handing a project to another of its members. A
//! project has exactly one owner at all times; the old owner stays on as
//! an admin.

use actiongate_entity::{project, project_member};
use actiongate_service::{ActionResult, ApiError, Ctx, Role};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};

use crate::api::ownership::Transfer;
use crate::api::project::Project;
use actiongate_kit::fields;
use actiongate_kit::scope;

pub async fn transfer(ctx: Ctx, input: Transfer) -> ActionResult<Project> {
    let txn = ctx.begin_write().await?;
    let scope = scope::project_for_update(&ctx, &txn, &input.id, Role::Owner).await?;
    let project = scope.project;
    if input.new_owner_id == project.owner_id {
        return Err(ApiError::invalid_field(
            "/new_owner_id",
            "InvalidValue",
            format!("{} already owns this project", input.new_owner_id),
        )
        .into());
    }
    let Some(new_owner) =
        project_member::Entity::find_by_id((project.id.clone(), input.new_owner_id.clone()))
            .one(&txn)
            .await?
    else {
        return Err(ApiError::invalid_field(
            "/new_owner_id",
            "NotAMember",
            format!(
                "{} is not a member of project {}; add them with member/add first",
                input.new_owner_id, project.id
            ),
        )
        .into());
    };
    let now = fields::now();
    if let Some(old_owner) =
        project_member::Entity::find_by_id((project.id.clone(), project.owner_id.clone()))
            .one(&txn)
            .await?
    {
        let mut old_owner = old_owner.into_active_model();
        old_owner.role = Set(Role::Admin.as_str().to_owned());
        old_owner.updated_at = Set(now);
        old_owner.update(&txn).await?;
    }
    let mut new_owner = new_owner.into_active_model();
    new_owner.role = Set(Role::Owner.as_str().to_owned());
    new_owner.updated_at = Set(now);
    new_owner.update(&txn).await?;
    let mut active: project::ActiveModel = project.into_active_model();
    active.owner_id = Set(input.new_owner_id);
    active.updated_at = Set(now);
    let updated = active.update(&txn).await?;
    txn.commit_for(&updated.id).await?;
    Ok(updated.into())
}
