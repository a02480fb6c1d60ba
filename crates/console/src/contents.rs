//! Deleting projects: every service's records in them first (each
//! service's `on_projects_deleted` hook, the console's icons among them),
//! then their members and the projects themselves. Deleting a project or an
//! organization goes through here, so nothing a project held is left.

use crate::entity::project_icon;
use actiongate_entity::{project, project_member};
use actiongate_service::{Ctx, WriteTxn};
use futures_util::future::BoxFuture;
use sea_orm::sea_query::{Query, SelectStatement};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter};

/// Deletes the projects `ids` selects (a subquery of project ids), and
/// all they hold.
pub async fn delete_projects(ctx: &Ctx, txn: &WriteTxn, ids: SelectStatement) -> Result<(), DbErr> {
    ctx.delete_project_contents(txn, ids.clone()).await?;
    project_member::Entity::delete_many()
        .filter(project_member::Column::ProjectId.in_subquery(ids.clone()))
        .exec(txn)
        .await?;
    project::Entity::delete_many()
        .filter(project::Column::Id.in_subquery(ids))
        .exec(txn)
        .await?;
    Ok(())
}

/// The console's own records in deleted projects: their icons.
pub fn delete_icons(txn: &WriteTxn, ids: SelectStatement) -> BoxFuture<'_, Result<(), DbErr>> {
    Box::pin(async move {
        project_icon::Entity::delete_many()
            .filter(project_icon::Column::ProjectId.in_subquery(ids))
            .exec(txn)
            .await?;
        Ok(())
    })
}

/// A subquery of the ids of projects where `column` is `value`.
pub fn projects_where(column: project::Column, value: &str) -> SelectStatement {
    Query::select()
        .column(project::Column::Id)
        .from(project::Entity)
        .and_where(column.eq(value))
        .to_owned()
}
