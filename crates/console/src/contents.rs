//! Everything a project holds, deleted with it: members, invites,
//! environments and their variables, the icon. Deleting a project or an
//! organization goes through here, so no table is forgotten.

use actiongate_entity::{
    environment, environment_variable, invite, project, project_icon, project_member,
};
use sea_orm::sea_query::{Query, SelectStatement};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

/// Deletes the projects `ids` selects (a subquery of project ids), and
/// all they hold.
pub async fn delete_projects(db: &impl ConnectionTrait, ids: SelectStatement) -> Result<(), DbErr> {
    let environments = Query::select()
        .column(environment::Column::Id)
        .from(environment::Entity)
        .and_where(environment::Column::ProjectId.in_subquery(ids.clone()))
        .to_owned();
    environment_variable::Entity::delete_many()
        .filter(environment_variable::Column::EnvironmentId.in_subquery(environments))
        .exec(db)
        .await?;
    environment::Entity::delete_many()
        .filter(environment::Column::ProjectId.in_subquery(ids.clone()))
        .exec(db)
        .await?;
    invite::Entity::delete_many()
        .filter(invite::Column::ProjectId.in_subquery(ids.clone()))
        .exec(db)
        .await?;
    project_member::Entity::delete_many()
        .filter(project_member::Column::ProjectId.in_subquery(ids.clone()))
        .exec(db)
        .await?;
    project_icon::Entity::delete_many()
        .filter(project_icon::Column::ProjectId.in_subquery(ids.clone()))
        .exec(db)
        .await?;
    project::Entity::delete_many()
        .filter(project::Column::Id.in_subquery(ids))
        .exec(db)
        .await?;
    Ok(())
}

/// A subquery of the ids of projects where `column` is `value`.
pub fn projects_where(column: project::Column, value: &str) -> SelectStatement {
    Query::select()
        .column(project::Column::Id)
        .from(project::Entity)
        .and_where(column.eq(value))
        .to_owned()
}
