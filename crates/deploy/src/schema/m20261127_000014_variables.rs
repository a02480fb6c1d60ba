//! `variables`: a project's and its environments' variables in one table,
//! with what they gained: `is_sensitive` (the value sealed, `key_id`
//! naming the key that sealed it), `is_enabled`, `visible_build`,
//! `visible_runtime`. A project-level variable has no `environment_id`.
//!
//! `environment_variables` is copied in, ids and times kept, and dropped.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Variables {
    Table,
    Id,
    ProjectId,
    EnvironmentId,
    Name,
    Value,
    IsJson,
    IsSensitive,
    IsInheritable,
    IsEnabled,
    VisibleBuild,
    VisibleRuntime,
    KeyId,
    CreatedAt,
    UpdatedAt,
}

fn flag(column: Variables, default: bool) -> ColumnDef {
    ColumnDef::new(column)
        .boolean()
        .not_null()
        .default(default)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Variables::Table)
                    .col(
                        ColumnDef::new(Variables::Id)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Variables::ProjectId).string().not_null())
                    .col(ColumnDef::new(Variables::EnvironmentId).string().null())
                    .col(ColumnDef::new(Variables::Name).string().not_null())
                    .col(ColumnDef::new(Variables::Value).text().not_null())
                    .col(flag(Variables::IsJson, false))
                    .col(flag(Variables::IsSensitive, false))
                    .col(flag(Variables::IsInheritable, true))
                    .col(flag(Variables::IsEnabled, true))
                    .col(flag(Variables::VisibleBuild, true))
                    .col(flag(Variables::VisibleRuntime, true))
                    .col(ColumnDef::new(Variables::KeyId).string().null())
                    .col(
                        ColumnDef::new(Variables::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Variables::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for statement in [
            "CREATE UNIQUE INDEX variables_environment_name ON variables (environment_id, name) \
             WHERE environment_id IS NOT NULL",
            "CREATE UNIQUE INDEX variables_project_name ON variables (project_id, name) \
             WHERE environment_id IS NULL",
            "CREATE INDEX variables_key ON variables (key_id) WHERE key_id IS NOT NULL",
            "INSERT INTO variables (id, project_id, environment_id, name, value, is_json, \
             is_sensitive, is_inheritable, is_enabled, visible_build, visible_runtime, key_id, \
             created_at, updated_at) \
             SELECT v.id, e.project_id, v.environment_id, v.name, v.value, v.is_json, \
             FALSE, v.inheritable, TRUE, TRUE, TRUE, NULL, v.created_at, v.updated_at \
             FROM environment_variables v JOIN environments e ON e.id = v.environment_id",
            "DROP TABLE environment_variables",
        ] {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "variables cannot be split back into environment_variables".into(),
        ))
    }
}
